"""The integration tests' workers and servers of their own.

Each test runs its own `ihub worker` processes with their own consumer group and index alias, so
what it counts is only what its workers wrote.
"""

from __future__ import annotations

import asyncio
import os
from uuid import uuid4

import pytest

from interaction_hub.topics import ensure_topics, start_group_at_end
from tests.support.pipeline import Worker
from tests.support.server import Server
from tests.support.services import drop_deployment


@pytest.fixture
def isolated(kafka_bootstrap, search_url, tmp_path):
    """Environment for workers and servers of one test: own consumer group and index alias."""
    tag = uuid4().hex[:8]
    env = {
        **os.environ,
        "IHUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "IHUB_SEARCH_URL": search_url,
        "IHUB_STORE": "search",
        "IHUB_WORKER_GROUP": f"test-{tag}",
        "IHUB_INDEX_ALIAS": f"test-{tag}",
    }
    asyncio.run(ensure_topics({"bootstrap_servers": kafka_bootstrap}, 6))
    # only this test's events
    asyncio.run(start_group_at_end({"bootstrap_servers": kafka_bootstrap}, env["IHUB_WORKER_GROUP"]))
    started: list[Worker] = []

    def worker() -> Worker:
        started.append(Worker(env, tmp_path / "worker.log").start())
        return started[-1]

    yield env, worker
    for item in started:
        item.stop()
    drop_deployment(search_url, f"test-{tag}")


@pytest.fixture
def api_and_worker(isolated, tmp_path):
    """A worker and a full-mode API of this test's group and index; yields the API's Server."""
    env, worker = isolated
    server = Server(tmp_path / "unused", env)
    env["IHUB_PUBLIC_URL"] = server.root  # hrefs are built by the worker
    worker()
    server.start()
    try:
        yield server
    finally:
        server.stop()
