"""The API's own OpenAPI, fuzzed: schemathesis generates requests for every operation from
`GET /openapi.json` of a real server (each store) and checks that no answer is a server error,
that every status is one the operation documents, and that every body matches its documented
schema. Examples are derandomized, so a run is reproducible."""

from __future__ import annotations

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Generated cases per operation, per store, each run within about two minutes. The embedded store
# also runs schemathesis' coverage phase (each parameter and attribute at its boundaries, missing,
# of the wrong type: some 5000 cases). In full mode every write is a round trip through Kafka and a
# worker, and a DELETE /hub/{id} waits for the engine's refresh (about 1 s), so there the run keeps
# to fewer generated cases; the API's own checks, the same code for both stores, get their
# boundaries on the embedded store.
EXAMPLES = {"embedded": 100, "search": 50}
COVERAGE = {"embedded": True, "search": False}
EXISTING = ("GET", "PATCH")  # operations on one interaction that also run on a real one


@pytest.fixture(autouse=True)
def _node_id(request):
    # schemathesis' lazy schemas read the node's `_nodeid`, which pytest 9.2 no longer has
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_schema(server):
    store = server.env["IHUB_STORE"]
    config = schemathesis.Config.from_dict(
        {
            "base-url": server.root,
            "generation": {"max-examples": EXAMPLES[store]},
            "phases": {"coverage": {"enabled": COVERAGE[store]}},
        }
    )
    # a server that does not answer fails the test (the loader raises); nothing is skipped
    return schemathesis.openapi.from_url(f"{server.root}/openapi.json", config=config, timeout=10)


@pytest.fixture
def interaction(server):
    """An interaction for GET and PATCH to work on: a generated id names none."""
    body = {"reason": "fuzzed", "direction": "inbound", "channel": [{"id": "voice"}], "status": "open"}
    created = httpx.post(server.url + "partyInteraction", json=body, timeout=30)
    assert created.status_code == 201, created.text
    yield created.json()["id"]
    httpx.delete(server.url + f"partyInteraction/{created.json()['id']}", timeout=30)


# Every operation runs, POST /hub too: a callback is refused unless it resolves to a public address
# or to the networks the conformance servers allow (this machine), and what registers goes at once.
schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_openapi(case, server, interaction):
    if case.method in EXISTING and case.path.endswith("/partyInteraction/{id}") and len(case.path_parameters["id"]) % 2:
        # every other case (an odd-length generated id) on the real interaction, without a generated
        # If-Match: it names no version of it, and a PATCH would stop at 412 before its body
        case.path_parameters["id"] = interaction
        if case.headers:
            case.headers.pop("If-Match", None)
    with requests.Session() as session:
        response = case.call_and_validate(session=session, checks=CHECKS, timeout=30)
        # what a case created goes again: the session's other tests share this store and hub
        if response.status_code == 201 and case.method == "POST":
            location = response.headers["location"][0]
            session.delete(location if "://" in location else server.root + location, timeout=30)


# Past what the OpenAPI states, a request is the client's to fix: a 400 naming the problem.


def _deep(levels: int) -> object:
    value: object = 0
    for _ in range(levels):
        value = {"a": value}
    return value


JSON_PATCH = {"content-type": "application/json-patch+json"}
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (JSON_PATCH, [{"op": "copy", "from": "/~2", "path": "/note"}], "operation 0: 'from' must be a JSON Pointer"),
        (
            JSON_PATCH,
            [{"op": "replace", "path": "/reason/~", "value": "x"}],
            "operation 0: 'path' must be a JSON Pointer",
        ),
        (JSON_PATCH, [{"op": "remove", "path": "/channel/-"}], "invalid array index '-'"),
        (JSON_PATCH, [{"op": "copy", "from": "/channel/-", "path": "/note"}], "invalid array index '-'"),
        (MERGE_PATCH, {"@type": "Deep", "x": _deep(300)}, "a patch nests at most 64 levels of objects and arrays"),
        (
            JSON_PATCH,
            [
                {"op": "add", "path": "/@type", "value": "Deep"},
                {"op": "add", "path": "/x", "value": _deep(40)},
                {"op": "add", "path": "/x" + "/a" * 39, "value": _deep(40)},
            ],
            "operation 2: the PartyInteraction would nest more than 64 levels of objects and arrays",
        ),
    ],
    ids=[
        "bad-escape-in-from",
        "bad-escape-in-path",
        "remove-past-the-end",
        "copy-past-the-end",
        "deep-merge",
        "deepening",
    ],
)
def test_patches_the_change_model_cannot_apply_are_a_400(api, interaction, headers, body, message):
    """Malformed pointers, `-` where it names no element, nesting past the limit (schemas.common.MAX_DEPTH)."""
    response = api.patch(f"partyInteraction/{interaction}", json=body, headers=headers)
    assert (response.status_code, response.json()["@type"]) == (400, "Error"), response.text
    assert message in response.json()["message"]


def test_a_create_nested_past_the_limit_is_a_400(api):
    body = {"@type": "Deep", "reason": "r", "direction": "inbound", "channel": [{"id": "v"}], "x": _deep(300)}
    response = api.post("partyInteraction", json=body)
    assert response.status_code == 400, response.text
    assert "a PartyInteraction nests at most 64 levels of objects and arrays" in response.json()["message"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_no_interaction_can_have_is_a_404_at_once(api, method):
    """At once: in full mode a write for such an id would wait for workers that never take it."""
    response = api.request(method, "partyInteraction/%2B%3C", json={} if method == "PATCH" else None)
    assert response.status_code == 404, response.text
    assert response.json()["message"] == "no PartyInteraction with id '+<'"
