"""What the integration tests share: workers of their own, publishing, waiting.

Each test runs its own `ihub worker` processes with their own consumer group and index alias, so
what it counts is only what its workers wrote.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from ingest.publisher import Publisher
from interaction_hub.topics import ensure_topics, start_group_at_end
from schemas.channel_event import RAW_TOPIC, ChannelEvent
from tests.conformance.conftest import Server
from tests.conftest import engine_http

IHUB = str(Path(sys.executable).with_name("ihub"))


class Worker:
    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.process = subprocess.Popen(
            [IHUB, "worker"],
            env=self.env,
            cwd=self.log.parent,  # faust keeps data in cwd
            stdout=open(self.log, "a"),
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


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
    httpx.delete(
        f"{search_url}/test-{tag}-v1,test-{tag}-v2,test-{tag}-contacts,test-{tag}-subscriptions",
        params={"ignore_unavailable": "true"},
        **engine_http(),
    )


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


def count(search_url: str, alias: str, query: dict | None = None) -> int:
    response = httpx.post(f"{search_url}/{alias}/_count", json={"query": query or {"match_all": {}}}, **engine_http())
    return response.json().get("count", 0) if response.status_code == 200 else 0


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def publish(bootstrap: str, events: list[ChannelEvent]) -> None:
    async def go():
        async with Publisher(bootstrap) as publisher:
            await publisher.publish_many(events)

    asyncio.run(go())


def publish_raw(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    async def go():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(RAW_TOPIC, value=value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def without_links(value):
    """`value` without the `href` of the references in it: answers link every channel and party
    (interaction_hub/references.py), while what a channel system sent has no links."""
    if isinstance(value, dict):
        return {k: without_links(v) for k, v in value.items() if k != "href"}
    if isinstance(value, list):
        return [without_links(v) for v in value]
    return value
