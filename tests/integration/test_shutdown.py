"""Operating the workers: their metrics port, and a bounded stop on SIGTERM whatever the state of
the engine, with nothing lost or applied twice after the restart.

The engine is made unreachable for the processes under test only: they reach it through a TCP
proxy of the test, which is cut; the shared engine keeps serving every other test.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from contextlib import suppress
from uuid import uuid4

import httpx
import pytest

from ingest.adapters import adapt, sample_events
from tests.integration.test_pipeline import marked
from tests.proxy import TcpProxy
from tests.support.pipeline import count, publish, wait_until
from tests.support.server import Server, free_port

pytestmark = pytest.mark.integration

SHUTDOWN_TIMEOUT_S = 5
MARGIN_S = 15  # generous: a loaded machine is slow to start and stop Python processes


def events_of(marker: str, n: int):
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[i % len(templates)], f"{marker}-{i}") for i in range(n)]
    return events, sorted({adapt(e).interaction_id for e in events})


def metric_sum(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def wait_ready(port: int, timeout: float = 120) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, timeout, "the worker to be ready")


def test_the_worker_serves_health_and_metrics_that_count_its_events(isolated, search_url, kafka_bootstrap):
    env, worker = isolated
    port = free_port()
    env["IHUB_WORKER_HTTP_PORT"] = str(port)
    worker()
    wait_until(lambda: _get(f"http://127.0.0.1:{port}/health/live") == 200, 60, "the worker's port to answer")
    wait_ready(port)
    events, ids = events_of(uuid4().hex, 60)
    publish(kafka_bootstrap, events)
    alias = env["IHUB_INDEX_ALIAS"]
    wait_until(lambda: count(search_url, alias, {"ids": {"values": ids}}) == len(ids), 120, "the events indexed")

    def counted() -> str | None:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        done = metric_sum(text, "ihub_worker_events_indexed_total") >= len(events)
        return text if done and "ihub_worker_consumer_lag{" in text else None

    text = wait_until(counted, 30, "the metrics to show the events and the lag")
    assert metric_sum(text, "ihub_worker_events_consumed_total") == len(events)
    assert metric_sum(text, "ihub_worker_events_indexed_total") == len(events)
    assert metric_sum(text, "ihub_worker_events_dead_lettered_total") == 0
    assert 'ihub_worker_consumer_lag{partition="' in text
    assert "ihub_worker_batch_size_count" in text and "ihub_worker_freshness_seconds_count" in text
    assert metric_sum(text, "ihub_worker_freshness_seconds_count") == len(events)


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return 0


def _stopped_within(process: subprocess.Popen, seconds: float) -> tuple[bool, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False, time.monotonic() - started
    return True, time.monotonic() - started


def test_sigterm_stops_worker_and_api_in_bounded_time_without_the_engine_and_loses_nothing(
    isolated, search_url, kafka_bootstrap, tmp_path
):
    env, worker = isolated
    scheme, address = search_url.split("://")
    proxy = TcpProxy(address.rstrip("/"))
    try:
        port = free_port()
        proxied = {
            "IHUB_SEARCH_URL": f"{scheme}://{proxy.address}",
            "IHUB_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
            "IHUB_WORKER_HTTP_PORT": str(port),
            "IHUB_WORKER_BATCH_SIZE": "50",
        }
        real_env = dict(env)
        env.update(proxied)
        first = worker()
        api = Server(tmp_path / "api", {**env, "IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8"}).start()
        wait_ready(port)
        alias = env["IHUB_INDEX_ALIAS"]
        before, before_ids = events_of(uuid4().hex, 100)
        publish(kafka_bootstrap, before)
        wait_until(lambda: count(search_url, alias, {"ids": {"values": before_ids}}) == 100, 120, "the first events")

        proxy.cut()  # the engine is gone for the worker and the API
        after, after_ids = events_of(uuid4().hex, 200)
        publish(kafka_bootstrap, after)
        # a write the API is waiting on when it is told to stop
        threading.Thread(
            target=lambda: _post_quietly(api.url + "partyInteraction"), name="in-flight-write", daemon=True
        ).start()
        time.sleep(4)  # the worker has taken a batch and retries its bulk write against nothing
        assert first.process.poll() is None, "the worker must wait for the engine, not crash"
        assert count(search_url, alias, {"ids": {"values": after_ids}}) == 0

        stopped, took = _stopped_within(first.process, SHUTDOWN_TIMEOUT_S + MARGIN_S)
        assert stopped, f"the worker was still running {took:.0f} s after SIGTERM"
        assert api.process is not None
        api_stopped, api_took = _stopped_within(api.process, SHUTDOWN_TIMEOUT_S + MARGIN_S)
        assert api_stopped, f"the API was still running {api_took:.0f} s after SIGTERM"

        # the next owner, against the real engine: everything, once
        env.clear()
        env.update(real_env)
        worker()
        everything = before_ids + after_ids
        wait_until(
            lambda: count(search_url, alias, {"ids": {"values": everything}}) == len(everything),
            180,
            "every event after the restart",
        )
        time.sleep(2)
        assert count(search_url, alias, {"ids": {"values": everything}}) == len(everything)
        # one document per interaction, nothing more: the events, and the API's write that was in flight
        assert count(search_url, alias) - len(everything) in (0, 1)
    finally:
        proxy.close()


def _post_quietly(url: str) -> None:
    body = {"reason": "in flight at shutdown", "direction": "inbound", "channel": [{"id": "voice"}]}
    with suppress(httpx.HTTPError):  # the server stops under it: any answer, or none, will do
        httpx.post(url, json=body, timeout=30)
