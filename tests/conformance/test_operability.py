"""Health probes, Prometheus metrics and request ids over real HTTP, on both stores; with auth on,
the probes stay public and /metrics follows IHUB_METRICS_PUBLIC."""

from __future__ import annotations

import time
from contextlib import ExitStack
from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_party_interaction import CTK_BODY
from tests.proxy import TcpProxy
from tests.support.server import Server, full_mode_store, own_server, running
from tests.tokens import Signer, auth_env, bearer

ITEM_TEMPLATE = 'route="/tmf-api/partyInteraction/v4/partyInteraction/{id}"'


def root(client: httpx.Client) -> str:
    return str(client.base_url).split("/tmf-api/")[0]


@pytest.fixture(scope="module", params=["embedded", "search"])
def api(request, tmp_path_factory):
    with own_server(request, tmp_path_factory, "operability", {}) as client:
        yield client


def test_live_and_ready(api):
    live = httpx.get(root(api) + "/health/live")
    assert live.status_code == 200 and live.json() == {"status": "live"}
    ready = httpx.get(root(api) + "/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_a_safe_request_id_comes_back_and_any_other_is_replaced(api):
    assert (
        api.get("partyInteraction", params={"limit": 1}, headers={"X-Request-ID": "req-42.a"}).headers["x-request-id"]
        == "req-42.a"
    )
    for unsafe in ("has space", "x" * 65, "semi;colon"):
        given = api.get("partyInteraction", params={"limit": 1}, headers={"X-Request-ID": unsafe})
        assert given.headers["x-request-id"] != unsafe and len(given.headers["x-request-id"]) == 32
    assert api.get("partyInteraction", params={"limit": 1}).headers["x-request-id"]


def test_metrics_count_requests_by_route_template_never_by_raw_path(api):
    secret_id = f"no-such-{uuid4().hex}"

    def count() -> float:
        text = httpx.get(root(api) + "/metrics").text
        assert secret_id not in text
        lines = [
            line
            for line in text.splitlines()
            if line.startswith("ihub_api_requests_total{") and ITEM_TEMPLATE in line and 'status="404"' in line
        ]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines)

    before = count()
    assert api.get(f"partyInteraction/{secret_id}").status_code == 404
    assert api.get(f"partyInteraction/{secret_id}", params={"fields": "id"}).status_code == 404
    assert count() == before + 2
    text = httpx.get(root(api) + "/metrics").text
    assert "ihub_api_request_seconds_bucket" in text


def test_a_get_by_id_answers_alike_on_the_fast_path_and_through_the_route(api):
    """A plain GET by id is answered before the app's middlewares and routes; with an
    If-None-Match that matches nothing it goes through all of them. Both answers are the same:
    body, headers (the ETag, the security headers, the request id) and the metric's route."""
    created = api.post("partyInteraction", json=CTK_BODY)
    assert created.status_code == 201
    item = f"partyInteraction/{created.json()['id']}"
    fast = api.get(item, headers={"X-Request-ID": "fast-1"})
    routed = api.get(item, headers={"X-Request-ID": "routed-1", "If-None-Match": '"0"'})
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert fast.json()["href"] == str(api.base_url.join(item))
    assert (fast.headers["x-request-id"], routed.headers["x-request-id"]) == ("fast-1", "routed-1")
    for name in ("etag", "content-type", "content-length", "x-content-type-options", "referrer-policy"):
        assert fast.headers[name] == routed.headers[name], name
    assert set(fast.headers) == set(routed.headers)
    served = [
        line
        for line in httpx.get(root(api) + "/metrics").text.splitlines()
        if line.startswith("ihub_api_requests_total{") and ITEM_TEMPLATE in line and 'status="200"' in line
    ]
    assert served and sum(float(line.rsplit(" ", 1)[1]) for line in served) >= 2


@pytest.fixture(scope="module", params=["embedded", "search"])
def private_metrics(request, tmp_path_factory):
    signer = Signer()
    env = {**auth_env(signer.write_pem(tmp_path_factory.mktemp("operability-keys"))), "IHUB_METRICS_PUBLIC": "false"}
    with own_server(request, tmp_path_factory, "operability-auth", env) as client:
        yield client, signer


def test_with_auth_on_health_is_public_and_private_metrics_need_a_token(private_metrics):
    client, signer = private_metrics
    assert httpx.get(root(client) + "/health/live").status_code == 200
    assert httpx.get(root(client) + "/health/ready").status_code == 200
    assert httpx.get(root(client) + "/metrics").status_code == 401
    assert httpx.get(root(client) + "/metrics", headers=bearer("not-a-token")).status_code == 401
    with_token = httpx.get(root(client) + "/metrics", headers=bearer(signer.token(scope=None)))  # any permission
    assert with_token.status_code == 200 and "ihub_api_requests_total" in with_token.text


@pytest.fixture(scope="module")
def public_metrics_with_auth(tmp_path_factory):
    signer = Signer()
    env = {**auth_env(signer.write_pem(tmp_path_factory.mktemp("operability-keys2"))), "IHUB_STORE": "embedded"}
    server = Server(tmp_path_factory.mktemp("operability-public"), env)
    with running(server, tmp_path_factory.mktemp("operability-public-worker")):
        yield server


def test_with_auth_on_metrics_are_public_by_default(public_metrics_with_auth):
    assert httpx.get(public_metrics_with_auth.root + "/metrics").status_code == 200
    assert httpx.get(public_metrics_with_auth.url + "partyInteraction").status_code == 401


@pytest.fixture
def behind_a_proxy(request, tmp_path_factory):
    """A full-mode API and worker that reach the engine through a proxy the test can cut."""
    with ExitStack() as stack:
        env = stack.enter_context(full_mode_store(request, "operability-proxy"))
        proxy = TcpProxy(env["IHUB_SEARCH_URL"].split("://", 1)[1].rstrip("/"))
        stack.callback(proxy.close)
        scheme = env["IHUB_SEARCH_URL"].split("://", 1)[0]
        env = {**env, "IHUB_SEARCH_URL": f"{scheme}://{proxy.address}", "IHUB_WORKER_HTTP_PORT": "0"}
        server = Server(tmp_path_factory.mktemp("operability-proxy-store"), env)
        stack.enter_context(running(server, tmp_path_factory.mktemp("operability-proxy-worker")))
        yield server, proxy


def test_ready_is_503_with_a_reason_when_the_engine_is_unreachable(behind_a_proxy):
    server, proxy = behind_a_proxy
    assert httpx.get(server.root + "/health/ready", timeout=10).status_code == 200
    proxy.cut()
    answer = httpx.get(server.root + "/health/ready", timeout=10)
    for _ in range(20):  # the result is cached for about a second
        time.sleep(0.2)
        if answer.status_code == 503:
            break
        answer = httpx.get(server.root + "/health/ready", timeout=10)
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "reason": "search engine unreachable"}
    assert httpx.get(server.root + "/health/live", timeout=10).status_code == 200


def test_reads_while_the_engine_is_unreachable_are_503_to_retry_never_500_or_404(behind_a_proxy):
    server, proxy = behind_a_proxy
    created = httpx.post(server.url + "partyInteraction", json=CTK_BODY, timeout=30)
    assert created.status_code == 201
    item = server.url + f"partyInteraction/{created.json()['id']}"
    proxy.cut()
    for url in (item, server.url + "partyInteraction?limit=5"):
        answer = httpx.get(url, timeout=60)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["message"] == "the search engine is unavailable; retry shortly"
    proxy.resume()
    assert httpx.get(item, timeout=30).status_code == 200


def test_embedded_ready_is_503_while_its_data_directory_is_gone(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("operability-embedded") / "data", {"IHUB_STORE": "embedded"})
    with running(server, tmp_path_factory.mktemp("operability-embedded-worker")):
        assert httpx.get(server.root + "/health/ready", timeout=10).status_code == 200
        moved = server.data_dir.rename(server.data_dir.with_name("moved"))
        try:
            answer = httpx.get(server.root + "/health/ready", timeout=10)
            for _ in range(20):  # the result is cached for about a second
                if answer.status_code == 503:
                    break
                time.sleep(0.2)
                answer = httpx.get(server.root + "/health/ready", timeout=10)
            assert answer.status_code == 503
            assert answer.json() == {"status": "not ready", "reason": "data directory missing"}
        finally:
            moved.rename(server.data_dir)
        time.sleep(1.2)
        assert httpx.get(server.root + "/health/ready", timeout=10).status_code == 200
