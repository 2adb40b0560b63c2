"""Workers of a test's own, publishing to Kafka, counting in the engine, waiting."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from ingest.publisher import Publisher
from schemas.channel_event import RAW_TOPIC, ChannelEvent
from tests.support.server import IHUB
from tests.support.services import engine_http


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
