"""The pipeline on a three-broker Kafka and a two-node Elasticsearch cluster whose nodes fail.

Each test publishes IHUB_CLUSTER_EVENTS (50,000) events with acks=all through ingest/publisher.py
while a node or a worker is killed with SIGKILL and restarted, then checks that every event was
indexed exactly once (the count of the documents carrying the test's marker, and the set of their
ids against the published ones), while a reader thread GETs already-indexed interactions through
an `ihub serve` in full mode: every answer 200 with the same body, or at worst a 5xx (a client
retries it). The figures are printed and written to artifacts/cluster-<test>.json.

Not named test_*.py: the default `pytest` run leaves it out; `make test-cluster` runs it (and
starts and stops the cluster, scripts/services cluster).
"""

from __future__ import annotations

import contextlib
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cluster import EVENTS, Run, assert_exact, make_events, report, services

pytestmark = pytest.mark.cluster


class Once:
    """A step done the first time the indexed count reaches `at`."""

    def __init__(self, at: int, step):
        self.at, self.step, self.done = at, step, False

    def __call__(self, indexed: int) -> None:
        if not self.done and indexed >= self.at:
            self.done = True
            self.step()


def steps(*items: Once):
    def on_progress(indexed: int) -> None:
        for item in items:
            item(indexed)

    return on_progress


def test_a_broker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(cluster, tmp_path):
    run = Run("broker", cluster, tmp_path)
    try:
        run.worker()
        run.serve()
        reader = run.seed_and_read()
        events, ids = make_events(run.marker, EVENTS)
        publisher = run.publish_in_background(events)
        # the broker goes while events are still being published and indexed
        while run.sent < EVENTS // 2 and publisher.is_alive():
            time.sleep(0.05)
        services("kill", "kafka-2")
        killed_at = run.count()
        restart = Once(max(killed_at, 0) + EVENTS // 3, lambda: services("start", "kafka-2"))
        figures = run.finish(ids, publisher, steps(restart))
        if not restart.done:
            services("start", "kafka-2")
        figures["killed_at_indexed"] = killed_at
        assert_exact(figures, reader)
    finally:
        services("start", "kafka-2")  # whatever happened, the next test has three brokers
        run.close()


def test_an_engine_node_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(cluster, tmp_path):
    run = Run("engine-node", cluster, tmp_path)
    try:
        run.worker()
        run.serve()
        reader = run.seed_and_read()
        events, ids = make_events(run.marker, EVENTS)
        publisher = run.publish_in_background(events)
        kill = Once(EVENTS // 4, lambda: services("kill", "search-2"))
        restart = Once(EVENTS * 2 // 3, lambda: services("start", "search-2"))
        figures = run.finish(ids, publisher, steps(kill, restart))
        assert kill.done and restart.done
        assert_exact(figures, reader)
    finally:
        services("start", "search-2")
        run.close()


def test_workers_killed_added_and_restarted_one_by_one_lose_and_duplicate_nothing(cluster, tmp_path):
    run = Run("workers", cluster, tmp_path)
    try:
        for _ in range(3):
            run.worker()
        run.serve()
        reader = run.seed_and_read()
        events, ids = make_events(run.marker, EVENTS)
        publisher = run.publish_in_background(events)
        first = run.workers[0]

        def rolling_restart() -> None:
            for worker in [w for w in run.workers if w.process and w.process.poll() is None]:
                worker.stop()  # SIGTERM, as a deployment's rolling update does
                run.worker()
                time.sleep(5)  # the group settles before the next one goes

        kill = Once(EVENTS // 5, first.kill)
        add = Once(EVENTS * 2 // 5, run.worker)
        roll = Once(EVENTS * 3 // 5, rolling_restart)
        figures = run.finish(ids, publisher, steps(kill, add, roll))
        assert kill.done and add.done and roll.done
        figures["worker_processes_started"] = len(run.workers)
        assert_exact(figures, reader)
    finally:
        run.close()


def test_a_worker_stops_in_time_with_kafka_and_the_engine_gone_and_its_events_are_applied_later(cluster, tmp_path):
    """SIGTERM to a worker whose brokers and engine nodes are all down: it exits within its
    shutdown timeout (it used to keep running, logging commit errors), and having committed nothing
    it had not written, a new worker applies every event exactly once when the cluster is back."""
    events_total = 20_000
    run = Run("stop", cluster, tmp_path)
    run.env["IHUB_SHUTDOWN_TIMEOUT_S"] = "10"
    nodes = ["kafka-1", "kafka-2", "kafka-3", "search-2", "search-1"]
    try:
        worker = run.worker()
        events, ids = make_events(run.marker, events_total)
        publisher = run.publish_in_background(events)
        publisher.join(600)
        assert run.published == events_total
        at_kill = run.wait_count(1, 300, "the first events")
        for node in nodes:
            services("kill", node)
        time.sleep(5)  # the worker meets failing fetches, commits and bulk writes
        assert worker.process is not None and worker.process.poll() is None
        started = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        exit_code = worker.process.wait(60)
        stop_seconds = time.monotonic() - started
        restart_all(nodes)
        run.worker()
        run.wait_count(events_total, 900, "every event, after the restart")
        time.sleep(3)  # a replay would land now
        found = run.indexed_ids()
        figures = {
            "test": "stop",
            "events": events_total,
            "indexed_when_killed": at_kill,
            "stop_seconds": round(stop_seconds, 1),
            "exit_code": exit_code,
            "indexed": len(found),
            "duplicates": len(found) - len(set(found)),
            "missing": len(ids - set(found)),
        }
        report(figures)
        assert stop_seconds < 10 + 10, figures  # the timeout, and a margin for a loaded machine
        assert figures["duplicates"] == 0 and figures["missing"] == 0 and set(found) == ids, figures
    finally:
        with contextlib.suppress(BaseException):  # leave the cluster whole for whatever runs next
            restart_all(nodes)  # a node that runs is left alone
        run.close()


def restart_all(nodes: list[str]) -> None:
    """Start the nodes at once: a KRaft broker is ready only once a majority of the controller
    quorum runs, so starting them one after another, each waiting, would never finish."""
    with ThreadPoolExecutor(len(nodes) or 1) as pool:
        list(pool.map(lambda node: services("start", node), nodes))
