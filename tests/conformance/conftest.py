"""The conformance suite's server, on each store, and what its tests ask of it."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from tests.support.server import Listener, Server, full_mode_store, running


@pytest.fixture(scope="session", params=["embedded", "search"])
def server(request, tmp_path_factory):
    """The same conformance suite against each store: embedded, and full mode (Kafka + engine + worker)."""
    env = {"IHUB_NOTIFY_BACKOFF_S": "0.2", "IHUB_STORE": request.param, "IHUB_HEADER_TIMEOUT_S": "2"}
    env["IHUB_HUB_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the tests' listeners run on this machine
    with ExitStack() as stack:
        if request.param == "search":
            env.update(stack.enter_context(full_mode_store(request, "conformance")))
        srv = Server(tmp_path_factory.mktemp("conformance-store"), env)
        yield stack.enter_context(running(srv, tmp_path_factory.mktemp("worker")))


@pytest.fixture(scope="session")
def api(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def listener():
    created = []

    def make(fail_first: int = 0) -> Listener:
        created.append(Listener(fail_first))
        return created[-1]

    yield make
    for item in created:
        item.close()


@pytest.fixture
def subscriptions(api):
    """Subscriptions made by a test are removed even when it fails (a dead callback slows the hub)."""
    made = []
    yield made
    for subscription in made:
        api.delete(f"hub/{subscription['id']}")
