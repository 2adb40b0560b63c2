"""What faust-streaming alone costs per event on this machine: the floor under `ihub worker`.

An agent that takes the events in batches, exactly as the indexing agent does, and does nothing
with them. Its CPU per event is the part of the worker's cost no change to our code removes.
Needs the local services (`scripts/services up && eval "$(scripts/services env)"`):
    .venv/bin/python bench/faust_floor.py --events 60000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline import channel_event
from ingest.adapters import adapt


def run_agent(bootstrap: str, topic: str, group: str, expected: int, batch: int) -> None:
    """The child process: a faust worker with one no-op agent; exits after `expected` events."""
    import faust

    from stream_workers.app import App, run_worker
    from stream_workers.batching import batches

    seen = {"n": 0, "first_cpu": None, "first": None}

    def make_app() -> faust.App:
        app = App(
            group,
            broker=f"kafka://{bootstrap}",
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            consumer_auto_offset_reset="earliest",
            stream_buffer_maxsize=2 * batch,
            stream_wait_empty=False,
        )

        @app.agent(app.topic(topic, key_type=bytes, value_type=bytes), concurrency=1)
        async def noop(stream):  # type: ignore[no-untyped-def]
            async for events, ack in batches(stream, batch, 0.05):
                await ack()
                if seen["first"] is None:
                    seen["first"], seen["first_cpu"] = time.perf_counter(), time.process_time()
                seen["n"] += len(events)
                if seen["n"] >= expected:
                    elapsed = time.perf_counter() - seen["first"]
                    cpu = time.process_time() - seen["first_cpu"]
                    print(f"FLOOR {expected / elapsed:.0f} {cpu / expected * 1e6:.0f}", flush=True)
                    os._exit(0)

        return app

    run_worker(make_app, loglevel="warning")  # the same runtime tuning as `ihub worker`


async def publish(bootstrap: str, topic: str, count: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        tag = uuid4().hex[:8]
        for n in range(count):
            event = channel_event(n, tag)
            await producer.send(topic, value=event.to_bytes(), key=adapt(event).interaction_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bootstrap = os.environ.get("IHUB_KAFKA_BOOTSTRAP")
    if not bootstrap:
        raise SystemExit('run `scripts/services up && eval "$(scripts/services env)"` first')
    if args.child:
        run_agent(bootstrap, args.child[0], args.child[1], int(args.child[2]), args.batch)
        return
    topic, group = f"bench-floor-{uuid4().hex[:8]}", f"bench-floor-{uuid4().hex[:8]}"
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        finally:
            await admin.close()

    asyncio.run(create())
    asyncio.run(publish(bootstrap, topic, args.events))
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--batch", str(args.batch), "--child", topic, group, str(args.events)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # faust routes a worker's stdout into its log (stderr), so look in both
    figures = re.findall(r"FLOOR (\d+) (\d+)", out.stdout + out.stderr)
    if out.returncode != 0 or not figures:
        raise SystemExit(f"the faust worker failed: {out.stdout[-1000:]} {out.stderr[-2000:]}")
    rate, cpu_us = figures[0]  # type: ignore[misc]
    print(
        f"faust alone (no-op agent, batches of {args.batch}): {rate} events/s, {cpu_us} us CPU per event"
        f" ({time.perf_counter() - started:.1f} s incl. start-up)"
    )


if __name__ == "__main__":
    main()
