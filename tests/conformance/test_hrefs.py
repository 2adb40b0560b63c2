"""An interaction's href is the answering server's, in v4 and v5 and in both modes: IHUB_PUBLIC_URL,
else the address the request reached (scheme, Host header), whoever wrote the interaction (the API,
or a channel event applied by the workers in full mode, whose stored href names their own default
address). Stored hrefs are never shown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from uuid import uuid4

import httpx
import orjson
import pytest

from ingest.adapters import adapt, sample_events
from schemas.channel_event import ChannelEvent
from tests.conformance.test_party_interaction import CTK_BODY, MERGE
from tests.support.server import BASE_PATH, Listener, Server, full_mode_store, running, subscribe

V5_PATH = "/tmf-api/partyInteraction/v5"
PUBLIC = "https://interactions.example:8443"  # where no test client reaches the server
API_KEY = "k-hrefs"
SOURCES = '[sources.own]\nformat = "ihub"\napi_key_env = "IHUB_TEST_OWN_KEY"\n'


@dataclass
class Served:
    server: Server
    public: bool

    def client(self, host: str) -> httpx.Client:
        return httpx.Client(base_url=f"http://{host}:{self.server.port}", timeout=15)

    def hrefs(self, host: str, path: str = BASE_PATH) -> str:
        """Where the interactions' hrefs start in an answer to a client that used `host`."""
        return f"{PUBLIC if self.public else f'http://{host}:{self.server.port}'}{path}/partyInteraction/"


@pytest.fixture(
    scope="module",
    params=[("embedded", False), ("embedded", True), ("search", False), ("search", True)],
    ids=["embedded-own-address", "embedded-public-url", "search-own-address", "search-public-url"],
)
def served(request, tmp_path_factory) -> Iterator[Served]:
    mode, public = request.param
    sources = tmp_path_factory.mktemp("hrefs-sources") / "sources.toml"
    sources.write_text(SOURCES)
    env = {
        "IHUB_STORE": mode,
        "IHUB_SOURCES_FILE": str(sources),
        "IHUB_TEST_OWN_KEY": API_KEY,
        "IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8",  # the listener runs on this machine
        "IHUB_NOTIFY_BACKOFF_S": "0.2",
    }
    with ExitStack() as stack:
        if mode == "search":
            env.update(stack.enter_context(full_mode_store(request, "hrefs")))
        server = Server(tmp_path_factory.mktemp("hrefs-store"), env)
        if public:
            server.env["IHUB_PUBLIC_URL"] = PUBLIC
        else:
            del server.env["IHUB_PUBLIC_URL"]  # the server's and the worker's: neither knows its address
        stack.enter_context(running(server, tmp_path_factory.mktemp("hrefs-worker")))
        if mode == "search":
            until_the_worker_writes(server)
        yield Served(server, public)


def until_the_worker_writes(server: Server, timeout: float = 60) -> None:
    """Return once the API's writes go through: a worker just started may take longer to join its
    group than the API waits for a write (its 504)."""
    deadline = time.monotonic() + timeout
    while (answer := httpx.post(f"{server.url}partyInteraction", json=CTK_BODY, timeout=15)).status_code == 504:
        assert time.monotonic() < deadline, "the worker did not apply a write within 60 s"
    assert answer.status_code == 201, answer.text


def eventually(client: httpx.Client, url: str, timeout: float = 30, **params: str) -> httpx.Response:
    """GET `url` once it answers 200 with something (full mode applies a channel event after taking
    it, and a list sees what the engine has refreshed)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(url, params=params)
        if (answer.status_code == 200 and answer.json()) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def assert_shown_at(served: Served, interaction_id: str) -> None:
    """Every read of the interaction, over each address, links to that address (or the public URL)."""
    for host in ("127.0.0.1", "localhost"):
        v4, v5 = served.hrefs(host) + interaction_id, served.hrefs(host, V5_PATH) + interaction_id
        with served.client(host) as client:
            assert eventually(client, f"{BASE_PATH}/partyInteraction/{interaction_id}").json()["href"] == v4
            projected = client.get(f"{BASE_PATH}/partyInteraction/{interaction_id}", params={"fields": "none"})
            assert projected.json() == {"id": interaction_id, "href": v4}
            for projection in ({}, {"fields": "reason"}):
                listed = eventually(client, f"{BASE_PATH}/partyInteraction", id=interaction_id, **projection)
                assert [item["href"] for item in listed.json()] == [v4], projection
            # a filter on href finds what is shown, not what is stored
            assert [i["id"] for i in eventually(client, f"{BASE_PATH}/partyInteraction", href=v4).json()] == [
                interaction_id
            ]
            elsewhere = f"http://127.0.0.1:8683{BASE_PATH}/partyInteraction/{interaction_id}"
            assert client.get(f"{BASE_PATH}/partyInteraction", params={"href": elsewhere}).json() == []
            assert client.get(f"{V5_PATH}/partyInteraction/{interaction_id}").json()["href"] == v5
            listed = eventually(client, f"{V5_PATH}/partyInteraction", id=interaction_id)
            assert [item["href"] for item in listed.json()] == [v5]


def test_an_interaction_written_through_the_api_links_to_where_each_answer_was_asked(served):
    party = f"cust-{uuid4().hex[:8]}"
    body = {**CTK_BODY, "relatedParty": [{"id": party, "@referredType": "Individual", "role": "customer"}]}
    with served.client("localhost") as client:
        created = client.post(f"{BASE_PATH}/partyInteraction", json=body)
        assert created.status_code == 201, created.text
        interaction_id = created.json()["id"]
        href = served.hrefs("localhost") + interaction_id
        assert created.json()["href"] == created.headers["location"] == href
        patched = client.patch(f"{BASE_PATH}/partyInteraction/{interaction_id}", json={"status": "open"}, headers=MERGE)
        assert patched.json()["href"] == href
        v5 = client.patch(f"{V5_PATH}/partyInteraction/{interaction_id}", json={"description": "noted"}, headers=MERGE)
        assert v5.status_code == 200, v5.text
        assert v5.json()["href"] == served.hrefs("localhost", V5_PATH) + interaction_id
    assert_shown_at(served, interaction_id)
    with served.client("127.0.0.1") as client:
        timeline = client.get(f"/ihub/v1/parties/{party}/timeline")  # the lists above found it: so does this
        assert [item["href"] for item in timeline.json()["items"]] == [served.hrefs("127.0.0.1") + interaction_id]
        exported = client.get(f"/ihub/v1/parties/{party}/export")
        shown = [orjson.loads(line) for line in exported.content.splitlines()]
        assert [item["href"] for item in shown] == [served.hrefs("127.0.0.1") + interaction_id]


def test_an_interaction_created_through_v5_links_to_where_it_was_asked(served):
    resource = {
        "@type": "PartyInteraction",
        "reason": "Porting request",
        "direction": "inbound",
        "relatedChannel": [
            {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "web"}}
        ],
    }
    with served.client("localhost") as client:
        created = client.post(f"{V5_PATH}/partyInteraction", json=resource)
        assert created.status_code == 201, created.text
        href = served.hrefs("localhost", V5_PATH) + created.json()["id"]
        assert created.json()["href"] == created.headers["location"] == href
    assert_shown_at(served, created.json()["id"])


def test_an_interaction_written_by_a_channel_event_links_to_the_answering_server(served):
    sample = next(e for e in sample_events() if e.type == "ihub.voice.call.ended")
    event = orjson.loads(sample.to_bytes())
    marker = uuid4().hex[:8]
    event = {**event, "id": f"evt-{marker}", "data": {**event["data"], "callId": f"call-{marker}"}}
    with served.client("127.0.0.1") as client:
        answer = client.post(
            "/ingest/v1/sources/own",
            content=orjson.dumps(event),
            headers={"content-type": "application/json", "x-api-key": API_KEY},
        )
        assert answer.status_code == 200, answer.text
    assert_shown_at(served, adapt(ChannelEvent.model_validate(event)).interaction_id)


def test_a_host_header_reaches_only_its_own_answer(served):
    with served.client("127.0.0.1") as client:
        forged = client.post(f"{BASE_PATH}/partyInteraction", json=CTK_BODY, headers={"host": "evil.example"})
        assert forged.status_code == 201, forged.text
        interaction_id = forged.json()["id"]
        assert forged.json()["href"] == (PUBLIC if served.public else "http://evil.example") + (
            f"{BASE_PATH}/partyInteraction/{interaction_id}"
        )
        # a Host header that names no host[:port]: the address the request reached
        odd = client.get(f"{BASE_PATH}/partyInteraction/{interaction_id}", headers={"host": "a b/c"})
        assert odd.json()["href"] == served.hrefs("127.0.0.1") + interaction_id
    assert_shown_at(served, interaction_id)


def test_notifications_link_to_the_public_url_else_to_the_notifying_process(served):
    """A notification answers no request: it links to IHUB_PUBLIC_URL, else to the address of the
    process that sends it (the API's in embedded mode, a worker's in full mode: README)."""
    sink = Listener()
    try:
        with served.client("localhost") as client:
            client.base_url = f"{client.base_url}{BASE_PATH}/"
            subscription = subscribe(client, sink.url)
            created = client.post("partyInteraction", json=CTK_BODY).json()
            events = [e for e in sink.wait_for(1) if e["event"]["partyInteraction"]["id"] == created["id"]]
            links = [e["event"]["partyInteraction"]["href"] for e in events]
            if served.public:
                assert links == [created["href"]] and created["href"].startswith(PUBLIC)
            else:
                assert len(links) == 1 and links[0].startswith("http://127.0.0.1:")
                assert links[0].endswith(f"{BASE_PATH}/partyInteraction/{created['id']}")
            client.delete(f"hub/{subscription['id']}")
    finally:
        sink.close()
