"""The fault tests' runs on the cluster (scripts/services cluster): events, workers, an API, a
reader, exact counts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from ingest.adapters import adapt, sample_events
from ingest.publisher import Publisher
from interaction_hub.topics import ensure_topics, start_group_at_end
from schemas.channel_event import ChannelEvent
from tests.support.pipeline import Worker
from tests.support.server import Server
from tests.support.services import ROOT, SERVICES, drop_deployment

EVENTS = int(os.environ.get("IHUB_CLUSTER_EVENTS", "50000"))  # per test
SEEDS = 200  # interactions indexed before the fault, read back through the API during it
PARTITIONS = 6
# what the cluster's processes are told (scripts/services cluster env prints the same)
DURABLE = {"IHUB_TOPIC_REPLICATION": "3", "IHUB_TOPIC_MIN_INSYNC": "2", "IHUB_INDEX_REPLICAS": "1"}
UNSET = (
    "IHUB_SEARCH_USERNAME",
    "IHUB_SEARCH_PASSWORD",
    "IHUB_SEARCH_API_KEY",
    "IHUB_SEARCH_CA_FILE",
    "IHUB_KAFKA_SECURITY_PROTOCOL",
    "IHUB_KAFKA_SASL_USERNAME",
    "IHUB_KAFKA_SASL_PASSWORD",
    "IHUB_KAFKA_CA_FILE",
)


def services(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(SERVICES), "cluster", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/services cluster {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


def marked(event: ChannelEvent, marker: str, n: int) -> ChannelEvent:
    """A new interaction of the same kind, about the customer `marker` (what the counts look for)."""
    data = dict(event.data)
    for key in ("callId", "sessionId", "visitId", "messageId", "conversationId"):
        if key in data:
            data[key] = f"{data[key]}-{marker}-{n}"
    return event.model_copy(update={"id": f"{event.id}-{marker}-{n}", "subject": marker, "data": data})


def make_events(marker: str, count: int) -> tuple[list[ChannelEvent], set[str]]:
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], marker, n) for n in range(count)]
    return events, {adapt(e).interaction_id for e in events}


@dataclass
class Reader:
    """GETs of already-indexed interactions through the API, in a loop, compared with their first answer."""

    api: str
    expected: dict[str, bytes]
    ok: int = 0
    server_errors: int = 0  # 5xx: a client would retry
    transport_errors: int = 0
    wrong: list[str] = field(default_factory=list)  # any other status, or another body
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Reader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.api, timeout=30) as client:
            while not self._stop.is_set():
                for interaction_id, body in self.expected.items():
                    if self._stop.is_set():
                        return
                    try:
                        answer = client.get(f"partyInteraction/{interaction_id}")
                    except httpx.TransportError:
                        self.transport_errors += 1
                        continue
                    if answer.status_code >= 500:
                        self.server_errors += 1
                    elif answer.status_code == 200 and answer.content == body:
                        self.ok += 1
                    else:
                        self.wrong.append(f"{interaction_id}: {answer.status_code} {answer.text[:200]}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(60)


class Run:
    """One fault test: its own index alias and worker group on the cluster, its events, its counts."""

    def __init__(self, name: str, cluster: dict[str, str], tmp_path: Path):
        self.name, self.tmp_path = name, tmp_path
        self.marker = f"cluster-{name}-{uuid4().hex[:8]}"
        self.alias = self.marker
        self.search_url = cluster["IHUB_SEARCH_URL"]
        self.bootstrap = cluster["IHUB_KAFKA_BOOTSTRAP"]
        self.env = {
            **os.environ,
            **cluster,
            **DURABLE,
            "IHUB_STORE": "search",
            "IHUB_WORKER_GROUP": self.marker,
            "IHUB_INDEX_ALIAS": self.alias,
        }
        for name_ in UNSET:
            self.env.pop(name_, None)
        kafka = {"bootstrap_servers": self.bootstrap}
        asyncio.run(ensure_topics(kafka, PARTITIONS, 3, min_insync=2))
        asyncio.run(start_group_at_end(kafka, self.marker))  # only this test's events
        self.workers: list[Worker] = []
        self.server: Server | None = None
        self.reader: Reader | None = None
        self.published = 0
        self.sent = 0  # events the brokers acknowledged so far
        self.publish_retries = 0
        self.started = time.monotonic()
        self.figures: dict[str, Any] = {"test": name, "events": EVENTS}

    # -- processes ------------------------------------------------------------------------

    def worker(self) -> Worker:
        log = self.tmp_path / f"worker-{len(self.workers) + 1}" / "worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.workers.append(Worker(self.env, log).start())
        return self.workers[-1]

    def serve(self) -> Server:
        self.server = Server(self.tmp_path / "api", self.env).start()
        return self.server

    # -- counting ---------------------------------------------------------------------------

    def query(self, marker: str | None = None) -> dict[str, Any]:
        return {"term": {"relatedParty.id": marker or self.marker}}

    def count(self, marker: str | None = None) -> int:
        try:
            answer = httpx.post(
                f"{self.search_url}/{self.alias}/_count", json={"query": self.query(marker)}, timeout=30
            )
        except httpx.TransportError:
            return -1
        return int(answer.json().get("count", 0)) if answer.status_code == 200 else -1

    def indexed_ids(self) -> list[str]:
        """Every document id of this run's events, one entry per document (a scroll over the index)."""
        found: list[str] = []
        answer = httpx.post(
            f"{self.search_url}/{self.alias}/_search",
            params={"scroll": "2m"},
            json={"query": self.query(), "size": 5000, "_source": False, "sort": ["_doc"]},
            timeout=60,
        ).json()
        while answer["hits"]["hits"]:
            found += [hit["_id"] for hit in answer["hits"]["hits"]]
            scroll = {"scroll": "2m", "scroll_id": answer["_scroll_id"]}
            answer = httpx.post(f"{self.search_url}/_search/scroll", json=scroll, timeout=60).json()
        httpx.request("DELETE", f"{self.search_url}/_search/scroll", json={"scroll_id": answer["_scroll_id"]})
        return found

    def wait_count(self, at_least: int, timeout: float, what: str) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.count()
            if value >= at_least:
                return value
            time.sleep(0.5)
        pytest.fail(f"{self.name}: timed out after {timeout:.0f}s waiting for {what} (indexed {self.count()})")

    # -- the phases ---------------------------------------------------------------------------

    def seed_and_read(self) -> Reader:
        """Index SEEDS interactions, take their API answers, and start a reader that keeps asking."""
        assert self.server is not None
        seed_marker = f"{self.marker}-seed"
        events, ids = make_events(seed_marker, SEEDS)
        publish_all(self.bootstrap, events)
        deadline = time.monotonic() + 180
        while self.count(seed_marker) < len(ids):
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: the seed interactions were not indexed within 180 s")
            time.sleep(0.5)
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            expected = {}
            for interaction_id in sorted(ids):
                answer = client.get(f"partyInteraction/{interaction_id}")
                assert answer.status_code == 200, answer.text
                expected[interaction_id] = answer.content
        self.reader = Reader(self.server.url, expected).start()
        return self.reader

    def publish_in_background(self, events: list[ChannelEvent]) -> threading.Thread:
        def go() -> None:
            def progress(done: int) -> None:
                self.sent = done

            self.published, self.publish_retries = publish_all(self.bootstrap, events, progress)

        self.started = time.monotonic()
        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        return thread

    def finish(self, ids: set[str], publisher: threading.Thread, on_progress: Callable[[int], None]) -> dict[str, Any]:
        """Wait for every event (calling `on_progress` with the count on the way), then count exactly."""
        deadline = time.monotonic() + 900
        while True:
            value = self.count()
            on_progress(value)
            if value >= len(ids) and not publisher.is_alive():
                break
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: {value} of {len(ids)} indexed after 900 s")
            time.sleep(0.5)
        indexing_s = time.monotonic() - self.started
        time.sleep(3)  # anything late (a replay) would land now
        assert self.reader is not None
        self.reader.stop()
        found = self.indexed_ids()
        distinct = set(found)
        self.figures.update(
            events=len(ids),
            seconds=round(indexing_s, 1),
            events_per_s=round(len(ids) / indexing_s),
            published=self.published,
            publish_retries=self.publish_retries,
            indexed=len(found),
            duplicates=len(found) - len(distinct),
            missing=len(ids - distinct),
            unexpected=len(distinct - ids),
            count_by_marker=self.count(),
            reader_ok=self.reader.ok,
            reader_5xx=self.reader.server_errors,
            reader_transport_errors=self.reader.transport_errors,
            reader_wrong=len(self.reader.wrong),
        )
        report(self.figures)
        return self.figures

    def close(self) -> None:
        if self.reader:
            self.reader.stop()
        for worker in self.workers:
            worker.stop()
        if self.server:
            self.server.stop()
        drop_deployment(self.search_url, self.alias)


def publish_all(
    bootstrap: str, events: list[ChannelEvent], progress: Callable[[int], None] | None = None, chunk: int = 2000
) -> tuple[int, int]:
    """Publish with acks=all (ingest/publisher.py), a chunk at a time; a chunk the brokers did not
    take whole is published again (a replayed event changes nothing). (published, chunks retried)"""

    async def go() -> tuple[int, int]:
        retries = 0
        async with Publisher(bootstrap, request_timeout_ms=60_000) as publisher:
            for start in range(0, len(events), chunk):
                part = events[start : start + chunk]
                while True:
                    try:
                        await publisher.publish_many(part)
                        break
                    except Exception as exc:
                        retries += 1
                        print(f"publish: chunk at {start} again after {exc!r}", flush=True)
                        if retries > 50:
                            raise
                        await asyncio.sleep(1)
                if progress:
                    progress(start + len(part))
        return len(events), retries

    return asyncio.run(go())


def report(figures: dict[str, Any]) -> None:
    print("\n" + json.dumps(figures, indent=2), flush=True)
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / f"cluster-{figures['test']}.json").write_text(json.dumps(figures, indent=2) + "\n")


def assert_exact(figures: dict[str, Any], reader: Reader) -> None:
    assert figures["missing"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert figures["unexpected"] == 0, figures
    assert figures["indexed"] == figures["events"] == figures["count_by_marker"], figures
    assert not reader.wrong, reader.wrong[:5]
    assert reader.transport_errors == 0, figures
    assert reader.ok > 0, figures
