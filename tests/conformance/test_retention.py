"""Retention on both stores: `ihub retention --dry-run` lists exactly what ended before the cut-off,
`ihub retention` purges exactly that, and a server with IHUB_RETENTION_DAYS purges on its own."""

from __future__ import annotations

import subprocess
import time
from contextlib import ExitStack
from uuid import uuid4

import httpx
import pytest

from tests.support.server import IHUB, Server, full_mode_store, own_server, running

OLD_END = "2020-01-01T10:10:00Z"


def interaction(party: str, end: str | None) -> dict:
    doc = {
        "reason": "retention",
        "direction": "inbound",
        "channel": [{"id": "web"}],
        "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual"}],
    }
    if end is not None:
        doc["interactionDate"] = {"startDateTime": "2020-01-01T10:00:00Z", "endDateTime": end}
    return doc


def create(api, party: str, end: str | None) -> str:
    response = api.post("partyInteraction", json=interaction(party, end))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([IHUB, "retention", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(params=["embedded", "search"])
def unscheduled(request, tmp_path_factory):
    """A server without a retention schedule (its own store, and worker in full mode), and a client."""
    env = {"IHUB_STORE": request.param}
    with ExitStack() as stack:
        if request.param == "search":
            env.update(stack.enter_context(full_mode_store(request, "retention-cli")))
        server = Server(tmp_path_factory.mktemp("retention-cli-store"), env)
        stack.enter_context(running(server, tmp_path_factory.mktemp("retention-cli-worker")))
        yield server, stack.enter_context(httpx.Client(base_url=server.url, timeout=10)), request.param


def test_dry_run_lists_exactly_the_old_ones_and_the_purge_removes_exactly_them(unscheduled):
    server, api, mode = unscheduled
    party = f"ret-{uuid4().hex[:8]}"
    old = sorted(create(api, party, OLD_END) for _ in range(3))
    young = sorted([create(api, party, None), create(api, party, "2099-01-01T00:00:00Z")])
    env = {**server.env, "IHUB_DATA_DIR": str(server.data_dir)}
    if mode == "embedded":
        server.stop()  # the CLI opens the store directory itself (a running server holds its lock)
    listed = cli(env, "--dry-run", "--ids", "--days", "365")
    ids = [line for line in listed.splitlines() if line and not line.startswith((" ", "purged")) and " " not in line]
    assert sorted(ids) == old, listed
    assert "2020-01  3" in listed
    purged = cli(env, "--ids", "--days", "365")
    assert sorted(line for line in purged.splitlines() if " " not in line and line) == old
    assert cli(env, "--dry-run", "--days", "365").startswith("0 interactions")
    if mode == "embedded":
        server.start()
    for interaction_id in old:
        assert api.get(f"partyInteraction/{interaction_id}").status_code == 404
    for interaction_id in young:
        assert api.get(f"partyInteraction/{interaction_id}").status_code == 200


@pytest.fixture(params=["embedded", "search"])
def scheduled(request, tmp_path_factory):
    env = {"IHUB_RETENTION_DAYS": "365", "IHUB_RETENTION_INTERVAL_S": "1"}
    with own_server(request, tmp_path_factory, "retention", env) as api:
        yield api


def test_a_server_with_retention_purges_on_its_schedule(scheduled):
    api = scheduled
    party = f"ret-{uuid4().hex[:8]}"
    young = create(api, party, None)
    old = [create(api, party, OLD_END) for _ in range(2)]
    deadline = time.monotonic() + 60
    while any(api.get(f"partyInteraction/{i}").status_code == 200 for i in old):
        assert time.monotonic() < deadline, "the scheduled purge did not remove the old interactions"
        time.sleep(0.5)
    assert api.get(f"partyInteraction/{young}").status_code == 200
