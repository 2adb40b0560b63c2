"""Access control over HTTP, in both modes, with tokens signed by a key the server trusts: who gets
401 and 403 (TMF Errors), each endpoint against its permission, and party-scoped tokens that see
and change only their own party's interactions, with totals and paging still right."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from query_api.auth import ANALYTICS, DELETE, ERASE, EXPORT, HUB, READ, WRITE
from tests.conformance.test_party_interaction import CTK_BODY, assert_tmf_error
from tests.support.server import IHUB, Server, free_port, own_server
from tests.tokens import ALL, Signer, auth_env, bearer
from tests.unit.interaction_hub.test_notifications_callbacks import Listener

SIGNER = Signer()
MERGE = {"content-type": "application/merge-patch+json"}


@pytest.fixture(scope="module", params=["embedded", "search"])
def api(request, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    env = {**auth_env(SIGNER.write_pem(keys)), "IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8"}
    with own_server(request, tmp_path_factory, "access", env) as client:
        yield client


def as_(scope: str = ALL, **claims: str) -> dict[str, str]:
    return bearer(SIGNER.token(scope, **claims))


def interaction(marker: str, *parties: str) -> dict:
    return {
        **CTK_BODY,
        "description": marker,
        "relatedParty": [{"id": p, "role": "customer", "@referredType": "Individual"} for p in parties],
    }


def url(api: httpx.Client, path: str) -> str:
    """`path` under the TMF683 base, or from the server's root when it starts with /."""
    return str(api.base_url).split("/tmf-api")[0] + path if path.startswith("/") else path


def create(api: httpx.Client, body: dict, headers: dict[str, str] | None = None) -> dict:
    response = api.post("partyInteraction", json=body, headers=headers or as_())
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- 401 ---------------------------------------------------------------------------------------------


ENDPOINTS = [
    ("GET", "partyInteraction"),
    ("GET", "partyInteraction/abc"),
    ("POST", "partyInteraction"),
    ("PATCH", "partyInteraction/abc"),
    ("DELETE", "partyInteraction/abc"),
    ("GET", "hub"),
    ("GET", "hub/abc"),
    ("POST", "hub"),
    ("DELETE", "hub/abc"),
    ("GET", "/ihub/v1/parties/cust-1/timeline"),
    ("GET", "/ihub/v1/analytics/kpis"),
    ("GET", "/nothing/here"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer x.y.z"},
        bearer(SIGNER.token(ALL, lifetime_s=-3600)),
        bearer(SIGNER.token(ALL, aud="someone-else")),
        bearer(SIGNER.token(ALL, iss="https://evil.example")),
        bearer(Signer().token(ALL)),
    ],
    ids=["none", "basic", "garbage", "expired", "audience", "issuer", "foreign-key"],
)
def test_without_a_valid_token_every_endpoint_is_401(api: httpx.Client, method: str, path: str, headers) -> None:
    response = api.request(method, url(api, path), headers=headers, json={} if method in ("POST", "PATCH") else None)
    error = assert_tmf_error(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert error["message"] == "a valid bearer token is needed"  # no hint which check failed


def test_the_api_description_and_pages_need_no_token(api: httpx.Client) -> None:
    root = str(api.base_url).split("/tmf-api")[0]
    for path in ("/docs", "/openapi.json", "/ui/"):
        assert httpx.get(root + path).status_code == 200, path


def test_the_root_needs_no_token_and_shows_only_where_things_are(api: httpx.Client) -> None:
    root = str(api.base_url).split("/tmf-api")[0]
    assert create(api, interaction(f"root-{uuid4().hex}", "cust-root"))  # something the root must not show
    browser = httpx.get(root + "/", headers={"Accept": "text/html"})
    assert (browser.status_code, browser.headers["location"], browser.content) == (307, "/ui/", b"")
    client = httpx.get(root + "/", headers={"Accept": "application/json"})
    assert (client.status_code, client.json()) == (200, {"pages": "/ui/", "docs": "/docs", "openapi": "/openapi.json"})


# --- 403: each endpoint against its permission ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "partyInteraction", READ),
        ("GET", "partyInteraction/abc", READ),
        ("POST", "partyInteraction", WRITE),
        ("PATCH", "partyInteraction/abc", WRITE),
        ("DELETE", "partyInteraction/abc", DELETE),
        ("GET", "hub", HUB),
        ("GET", "hub/abc", HUB),
        ("POST", "hub", HUB),
        ("DELETE", "hub/abc", HUB),
        ("GET", "/ihub/v1/parties/cust-1/timeline", READ),
        ("GET", "/ihub/v1/analytics/kpis", ANALYTICS),
        ("DELETE", "/ihub/v1/parties/cust-1", ERASE),
        ("GET", "/ihub/v1/parties/cust-1/export", EXPORT),
    ],
)
def test_each_endpoint_needs_its_permission_and_only_it(api: httpx.Client, method: str, path: str, needed: str) -> None:
    others = " ".join(p for p in ALL.split() if p != needed)
    body = {} if method in ("POST", "PATCH") else None
    response = api.request(method, url(api, path), headers=as_(others), json=body)
    assert_tmf_error(response, 403, needed)
    assert "insufficient_scope" in response.headers["www-authenticate"]
    enough = f"{needed} {READ}" if (method, path) == ("POST", "hub") else needed  # a listener reads too
    allowed = api.request(method, url(api, path), headers=as_(enough), json=body)
    assert allowed.status_code not in (401, 403), allowed.text


def test_a_token_with_the_permission_as_a_role_works_too(api: httpx.Client) -> None:
    marker = uuid4().hex
    created = create(api, interaction(marker, "cust-1"), bearer(SIGNER.token(None, realm_access={"roles": [WRITE]})))
    got = api.get(f"partyInteraction/{created['id']}", headers=bearer(SIGNER.token(None, roles=[READ])))
    assert got.status_code == 200 and got.json()["description"] == marker


def test_a_listener_needs_read_as_well_as_hub(api: httpx.Client) -> None:
    response = api.post("hub", json={"callback": "http://127.0.0.1:9/x"}, headers=as_(HUB))
    assert_tmf_error(response, 403, READ)


# --- party-scoped tokens -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parties(api: httpx.Client) -> dict[str, object]:
    """Two customers of this module's own: 7 interactions of `mine`, 5 of `theirs`, 1 shared."""
    mine, theirs, marker = f"c-{uuid4().hex[:8]}", f"c-{uuid4().hex[:8]}", uuid4().hex
    own = [create(api, interaction(marker, mine))["id"] for _ in range(7)]
    other = [create(api, interaction(marker, theirs))["id"] for _ in range(5)]
    shared = create(api, interaction(marker, theirs, mine))["id"]
    return {"mine": mine, "theirs": theirs, "marker": marker, "own": own, "other": other, "shared": shared}


def customer(parties: dict, scope: str = f"{READ} {WRITE} {DELETE}") -> dict[str, str]:
    return as_(scope, party_id=parties["mine"])


def test_a_party_scoped_list_holds_only_its_party_with_right_totals_and_paging(api: httpx.Client, parties) -> None:
    query = {"description": parties["marker"], "limit": "3", "sort": "id"}
    seen, offset = [], 0
    while True:
        page = api.get("partyInteraction", params={**query, "offset": str(offset)}, headers=customer(parties))
        assert page.status_code == 200, page.text
        assert page.headers["x-total-count"] == "8"
        seen += [item["id"] for item in page.json()]
        offset += 3
        if offset >= 8:
            break
    assert sorted(seen) == sorted([*parties["own"], parties["shared"]])
    fields = api.get(
        "partyInteraction", params={"description": parties["marker"], "fields": "id"}, headers=customer(parties)
    )
    assert fields.headers["x-total-count"] == "8" and len(fields.json()) == 8
    everyone = api.get("partyInteraction", params={"description": parties["marker"]}, headers=as_(READ))
    assert everyone.headers["x-total-count"] == "13"


def test_another_partys_interaction_does_not_exist_for_a_party_scoped_token(api: httpx.Client, parties) -> None:
    theirs = parties["other"][0]
    for response in (
        api.get(f"partyInteraction/{theirs}", headers=customer(parties)),
        api.get(f"partyInteraction/{theirs}", params={"fields": "id"}, headers=customer(parties)),
        api.patch(f"partyInteraction/{theirs}", json={"description": "x"}, headers={**customer(parties), **MERGE}),
        api.delete(f"partyInteraction/{theirs}", headers=customer(parties)),
    ):
        assert_tmf_error(response, 404, theirs)
    assert api.get(f"partyInteraction/{theirs}", headers=as_(READ)).json()["description"] == parties["marker"]
    mine = api.get(f"partyInteraction/{parties['shared']}", headers=customer(parties))
    assert mine.status_code == 200 and mine.headers["etag"]


def test_a_party_scoped_create_must_name_the_party(api: httpx.Client, parties) -> None:
    refused = api.post("partyInteraction", json=interaction("x", parties["theirs"]), headers=customer(parties))
    assert_tmf_error(refused, 403, parties["mine"])
    assert_tmf_error(api.post("partyInteraction", json=CTK_BODY, headers=customer(parties)), 403)
    made = api.post("partyInteraction", json=interaction("ok", parties["mine"]), headers=customer(parties))
    assert made.status_code == 201


def test_a_party_scoped_patch_cannot_give_the_interaction_away(api: httpx.Client, parties) -> None:
    target = parties["own"][0]
    before = api.get(f"partyInteraction/{target}", headers=as_(READ)).json()
    away = {"relatedParty": [{"id": parties["theirs"], "role": "customer", "@referredType": "Individual"}]}
    refused = api.patch(f"partyInteraction/{target}", json=away, headers={**customer(parties), **MERGE})
    assert_tmf_error(refused, 403, parties["mine"])
    assert api.get(f"partyInteraction/{target}", headers=as_(READ)).json() == before
    ok = api.patch(
        f"partyInteraction/{target}", json={"note": [{"text": "mine"}]}, headers={**customer(parties), **MERGE}
    )
    assert ok.status_code == 200, ok.text


def test_a_party_scoped_delete_removes_its_own(api: httpx.Client, parties) -> None:
    mine = create(api, interaction("to-go", parties["mine"]))["id"]
    assert api.delete(f"partyInteraction/{mine}", headers=customer(parties)).status_code == 204
    assert api.get(f"partyInteraction/{mine}", headers=as_(READ)).status_code == 404


def test_timeline_and_kpis_for_a_party_scoped_token(api: httpx.Client, parties) -> None:
    root = str(api.base_url).split("/tmf-api")[0]
    own = httpx.get(f"{root}/ihub/v1/parties/{parties['mine']}/timeline", headers=customer(parties))
    assert own.status_code == 200
    assert {item["id"] for item in own.json()["items"]} >= {*parties["own"][1:], parties["shared"]}
    other = httpx.get(f"{root}/ihub/v1/parties/{parties['theirs']}/timeline", headers=customer(parties))
    assert_tmf_error(other, 404)
    kpis = httpx.get(f"{root}/ihub/v1/analytics/kpis", headers=customer(parties, ANALYTICS))
    assert_tmf_error(kpis, 403)


def test_a_party_scoped_listener_hears_only_its_party(api: httpx.Client, parties) -> None:
    listener = Listener()
    try:
        scope = f"{READ} {HUB}"
        subscribed = api.post(
            "hub",
            json={"callback": listener.url, "query": "eventType=PartyInteractionCreateEvent"},
            headers=customer(parties, scope),
        )
        assert subscribed.status_code == 201, subscribed.text
        subscription = subscribed.json()
        assert subscription["query"].startswith(f"event.partyInteraction.relatedParty.id={parties['mine']}&")
        theirs = create(api, interaction("later", parties["theirs"]))["id"]
        mine = create(api, interaction("later", parties["mine"]))["id"]
        deadline = time.monotonic() + 20
        while mine not in listener.received and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # give a wrongly sent notification time to arrive
        assert mine in listener.received and theirs not in listener.attempted
        other_party = as_(scope, party_id=parties["theirs"])
        # it lists and reads only its own listeners; a token for every party sees them all
        assert api.get("hub", headers=customer(parties, HUB)).json() == [subscription]
        assert subscription["id"] not in [s["id"] for s in api.get("hub", headers=other_party).json()]
        assert subscription in api.get("hub", params={"limit": "1000"}, headers=as_(HUB)).json()
        assert_tmf_error(api.get(f"hub/{subscription['id']}", headers=other_party), 404)
        assert api.get(f"hub/{subscription['id']}", headers=customer(parties, HUB)).json() == subscription
        assert_tmf_error(api.delete(f"hub/{subscription['id']}", headers=other_party), 404)
        assert api.delete(f"hub/{subscription['id']}", headers=customer(parties, scope)).status_code == 204
    finally:
        listener.close()


# --- start-up ---------------------------------------------------------------------------------------------


def _serve(tmp_path: Path, *env: tuple[str, str]) -> subprocess.Popen[str]:
    settings = {**{k: v for k, v in os.environ.items() if not k.startswith("IHUB_AUTH")}, **dict(env)}
    return subprocess.Popen(
        [IHUB, "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path)],
        env=settings,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serving_the_network_without_a_key_source_is_refused(tmp_path: Path) -> None:
    process = _serve(tmp_path)
    output, _ = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "IHUB_AUTH=off" in output and "Traceback" not in output


def test_auth_off_on_the_network_starts_with_a_warning(tmp_path: Path) -> None:
    process = _serve(tmp_path, ("IHUB_AUTH", "off"))
    try:
        deadline = time.monotonic() + 20
        lines = []
        while time.monotonic() < deadline and process.stdout is not None:
            line = process.stdout.readline()
            lines.append(line)
            if "auth is off" in line:
                break
        assert any("WARNING: auth is off" in line for line in lines), lines
    finally:
        process.terminate()
        process.wait(10)


# --- the audit trail -------------------------------------------------------------------------------------


def test_writes_and_refusals_leave_an_audit_record_without_personal_data(tmp_path: Path) -> None:
    server = Server(tmp_path, auth_env(SIGNER.write_pem(tmp_path)))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as api:
            secret = f"card number {uuid4().hex}"
            made = create(api, {**interaction(secret, "cust-9"), "note": [{"text": secret}]}, as_(sub="agent-7"))
            assert api.get("partyInteraction", headers={"Authorization": "Bearer nope"}).status_code == 401
            assert api.delete(f"partyInteraction/{made['id']}", headers=as_(READ)).status_code == 403
            assert api.get(f"partyInteraction/{made['id']}", headers=as_(READ)).status_code == 200
    finally:
        server.stop()
    records = [json.loads(line) for line in server.output().splitlines() if line.startswith('{"log":"audit"')]
    *probes, created, unauthenticated, forbidden = records  # probes: Server.start's, without a token
    assert {(r["method"], r["status"]) for r in probes} == {("GET", 401)}
    assert [(r["method"], r["status"]) for r in (created, unauthenticated, forbidden)] == [
        ("POST", 201),
        ("GET", 401),
        ("DELETE", 403),
    ]
    assert created["sub"] == "agent-7" and created["client"] == "test-client"
    assert created["location"].endswith(made["id"])
    assert unauthenticated["sub"] is None and "nope" not in json.dumps(unauthenticated)
    assert forbidden["needed"] == DELETE and forbidden["path"].endswith(made["id"])
    assert secret not in server.output()  # bodies never reach the log


# --- TMF683 v5: the same table, the same party scope ------------------------------------------------------


def v5(api: httpx.Client, path: str) -> str:
    return url(api, f"/tmf-api/partyInteraction/v5/{path}")


def test_v5_endpoints_need_the_same_permissions(api: httpx.Client, parties) -> None:
    theirs = parties["other"][0]
    assert_tmf_error(api.get(v5(api, "partyInteraction")), 401)
    assert_tmf_error(api.get(v5(api, f"partyInteraction/{theirs}"), headers=as_(WRITE)), 403, READ)
    body = {"@type": "PartyInteraction", "reason": "r", "direction": "in", "relatedChannel": []}
    assert_tmf_error(api.post(v5(api, "partyInteraction"), json=body, headers=as_(READ)), 403, WRITE)
    patch = api.patch(v5(api, f"partyInteraction/{theirs}"), json={"status": "x"}, headers={**as_(READ), **MERGE})
    assert_tmf_error(patch, 403, WRITE)
    assert_tmf_error(api.delete(v5(api, f"partyInteraction/{theirs}"), headers=as_(f"{READ} {WRITE}")), 403, DELETE)
    hub = {"@type": "Hub", "callback": "http://127.0.0.1:9/x"}
    assert_tmf_error(api.post(v5(api, "hub"), json=hub, headers=as_(READ)), 403, HUB)
    assert_tmf_error(api.get(v5(api, "hub"), headers=as_(READ)), 403, HUB)
    assert_tmf_error(api.get(v5(api, "hub/abc"), headers=as_(READ)), 403, HUB)
    assert api.get(v5(api, "hub"), headers=as_(HUB)).status_code == 200


def test_a_party_scoped_token_cannot_read_another_party_through_v5(api: httpx.Client, parties) -> None:
    theirs = parties["other"][0]
    for response in (
        api.get(v5(api, f"partyInteraction/{theirs}"), headers=customer(parties)),
        api.get(v5(api, f"partyInteraction/{theirs}"), params={"fields": "status"}, headers=customer(parties)),
        api.patch(v5(api, f"partyInteraction/{theirs}"), json={"status": "x"}, headers={**customer(parties), **MERGE}),
        api.delete(v5(api, f"partyInteraction/{theirs}"), headers=customer(parties)),
    ):
        assert_tmf_error(response, 404, theirs)
    listed = api.get(v5(api, "partyInteraction"), params={"description": parties["marker"]}, headers=customer(parties))
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "8"
    assert sorted(item["id"] for item in listed.json()) == sorted([*parties["own"], parties["shared"]])
    # asking for the other party's interactions by their v5 path finds none
    theirs_only = api.get(
        v5(api, "partyInteraction"),
        params={"relatedParty.partyOrPartyRole.id": parties["theirs"], "description": parties["marker"]},
        headers=customer(parties),
    )
    assert [item["id"] for item in theirs_only.json()] == [parties["shared"]]
    mine = api.get(v5(api, f"partyInteraction/{parties['shared']}"), headers=customer(parties))
    assert mine.status_code == 200 and mine.json()["@type"] == "PartyInteraction"
