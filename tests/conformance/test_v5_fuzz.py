"""TM Forum's TMF683 v5.0.0 OpenAPI, fuzzed against a real server on each store: schemathesis
generates requests for every operation the spec has the server serve (its /listener/ paths are the
client's) (read from the shared/ folder, tests/tmf683_v5.py)
and checks that no answer is a server error. Half of the GET and PATCH cases on one interaction go to
a real one. Examples are derandomized, so a run is reproducible; the figures of a run go to
artifacts/v5-fuzz-<store>.json.

Only `not_a_server_error` is checked here: the spec's own response schemas cannot be used as they
stand (its `oneOf`s are not exclusive, docs/v5.md), and it lists no 412, 413 or 415. Bodies are
validated against its schemas, read as OpenAPI means them, by tests/conformance/test_v5.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.tmf683_v5 import spec_path

V5_PATH = "/tmf-api/partyInteraction/v5"
# generated cases per operation: in full mode every write is a round trip through Kafka and a worker
EXAMPLES = {"embedded": 25, "search": 10}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EXISTING = ("GET", "PATCH")
STATUSES: Counter[tuple[str, str, int]] = Counter()  # (store, operation, status) -> cases


@pytest.fixture(autouse=True)
def _node_id(request):
    # schemathesis' lazy schemas read the node's `_nodeid`, which pytest 9.2 no longer has
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def v5_schema(server):
    store = server.env["IHUB_STORE"]
    config = schemathesis.Config.from_dict(
        {
            "base-url": f"{server.root}{V5_PATH}",
            "generation": {"max-examples": EXAMPLES[store]},
            "phases": {"coverage": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_path(spec_path(), config=config)


@pytest.fixture(scope="module")
def report(server):
    store = server.env["IHUB_STORE"]
    yield
    mine = {f"{op} -> {status}": n for (s, op, status), n in sorted(STATUSES.items()) if s == store}
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {
        "store": store,
        "cases": sum(mine.values()),
        "server_errors": sum(n for (s, _, status), n in STATUSES.items() if s == store and status >= 500),
        "by_operation_and_status": mine,
    }
    (ARTIFACTS / f"v5-fuzz-{store}.json").write_text(json.dumps(figures, indent=2))


@pytest.fixture
def interaction(server):
    """A v5 interaction for GET and PATCH to work on: a generated id names none."""
    body = {
        "@type": "PartyInteraction",
        "reason": "fuzzed",
        "direction": "inbound",
        "status": "open",
        "relatedChannel": [
            {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "v"}}
        ],
    }
    created = httpx.post(f"{server.root}{V5_PATH}/partyInteraction", json=body, timeout=30)
    assert created.status_code == 201, created.text
    yield created.json()["id"]
    httpx.delete(f"{server.root}{V5_PATH}/partyInteraction/{created.json()['id']}", timeout=30)


schema = schemathesis.pytest.from_fixture("v5_schema").exclude(path_regex="/listener/")


@schema.parametrize()
@settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_v5_openapi(case, server, interaction, report):
    if case.method in EXISTING and case.path.endswith("/partyInteraction/{id}") and len(case.path_parameters["id"]) % 2:
        case.path_parameters["id"] = interaction
    with requests.Session() as session:
        response = case.call(session=session, timeout=30)
        STATUSES[(server.env["IHUB_STORE"], f"{case.method} {case.path}", response.status_code)] += 1
        case.validate_response(response, checks=[not_a_server_error])
        # what a case created goes again: the session's other tests share this store and hub
        if response.status_code == 201 and case.method == "POST":
            location = response.headers["location"]
            session.delete(location if "://" in location else server.root + location, timeout=30)
