"""The worker's own CPU per event, without Kafka and without the engine.

    .venv/bin/python bench/fold.py --events 20000 [--profile]

Runs `Projector.process` (stream_workers/pipeline.py: decode, adapt, validate, fold with the
change model, build the index documents and bulk lines, change records) over the same channel
events as bench/pipeline.py, in batches of --batch, against an in-memory stand-in for the engine
that keeps what it is given, with the worker's garbage-collector settings. It prints the process CPU time per event (time.process_time, so a busy
machine changes it little) for new interactions, and for the same events sent again under new event
ids (the interactions do not change: nothing is written, as after a replay). It also prints the bytes
per new interaction of the raw record, its change record, the dead letters and the
bulk request body. What the
worker costs in production is this plus faust and the Kafka client (bench/faust_floor.py) plus the
engine client's I/O. With --profile, the functions that take the most CPU.

Then, per vendor format (ingest/formats) beside the project's own envelope, the CPU per record of
split + wrap + adapt over --records distinct deliveries of each kind, as the webhook ingress runs
them (in full mode a worker adapts each record again); bench/ingress.py builds the deliveries from
the vendors' published examples.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingress import print_adapter_cpu
from pipeline import channel_event

from storage.changes import ABSENT, State
from storage.search.store import IndexOp, OpResult, indexed
from stream_workers.app import settle_the_heap
from stream_workers.pipeline import Message, Projector

TOPIC = "ihub.channel-events.v1"


class MemoryEngine:
    """What the Projector needs of SearchStore, in memory; it builds the same bulk lines."""

    alias = "bench-fold"

    def __init__(self) -> None:
        self.docs: dict[str, State] = {}
        self.bulk_bytes = 0

    async def states(self, ids: Sequence[str]) -> dict[str, State]:
        return {i: self.docs.get(i, ABSENT) for i in ids}

    async def apply(self, ops: Sequence[IndexOp], *, refresh: bool = False) -> list[OpResult]:
        lines = []
        for op in ops:
            meta = {"_index": self.alias, "_id": op.interaction_id, "version": op.version}
            lines.append(orjson.dumps({op.action: meta}))
            if op.doc is not None:
                lines.append(op.body if op.body is not None else indexed(op.doc))
                self.docs[op.interaction_id] = State(op.version, op.doc)
        self.bulk_bytes += len(b"\n".join(lines)) + 1
        return [OpResult(True) for _ in ops]


def messages(events: int, tag: str, first_offset: int, time_: str | None = None) -> list[Message]:
    found = []
    for n in range(events):
        event = channel_event(n, tag, time_)
        key = event.subject.encode() if event.subject else None
        found.append(Message(TOPIC, 0, first_offset + n, key, event.to_bytes(), time.time()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--records", type=int, default=2000, help="deliveries per vendor format's kind; 0: none")
    args = parser.parse_args()

    engine = MemoryEngine()
    projector = Projector(engine, "http://127.0.0.1:8683/tmf-api/partyInteraction/v4")  # type: ignore[arg-type]  # the stand-in has the two methods used
    settle_the_heap()  # as the worker does, so the collector costs what it costs there
    first = messages(args.events, "fold", 0)
    # the same events under new event ids: each interaction is already as the event says
    again = [
        Message(m.topic, m.partition, m.offset + args.events, m.key, m.value.replace(b'"id":"', b'"id":"again-', 1))
        for m in first
    ]

    # the same interactions as their channel systems send them again, later (a status that moved on
    # or an end time added look alike to the worker: a newer version of the same record)
    later = messages(args.events, "fold", 2 * args.events, time_="2099-01-01T00:00:00Z")

    written = {"raw": 0, "changes": 0, "dead letters": 0}

    async def run(batch: list[Message]) -> float:
        started = time.process_time()
        for i in range(0, len(batch), args.batch):
            result = await projector.process(batch[i : i + args.batch])
            written["changes"] += sum(len(record.to_bytes()) for _, record in result.changes)
            written["dead letters"] += sum(len(letter.value) for letter in result.dead_letters)
        return time.process_time() - started

    profile = cProfile.Profile(time.process_time) if args.profile else None
    if profile:
        profile.enable()
    bulk_before = engine.bulk_bytes
    created = asyncio.run(run(first))
    written["raw"] = sum(len(m.value) for m in first)
    written["bulk"] = engine.bulk_bytes - bulk_before
    sizes = {name: round(total / args.events) for name, total in written.items()}
    unchanged = asyncio.run(run(again))
    before = written["changes"]
    updated = asyncio.run(run(later))
    update_record_bytes = round((written["changes"] - before) / args.events)
    if profile:
        profile.disable()
    print(f"{args.events} events, batches of {args.batch}: CPU per event in the worker's fold")
    print(f"  new interactions: {created * 1e6 / args.events:6.0f} us")
    print(f"  unchanged again:  {unchanged * 1e6 / args.events:6.0f} us")
    print(f"  updated:          {updated * 1e6 / args.events:6.0f} us")
    print("bytes per new interaction: " + ", ".join(f"{name} {size}" for name, size in sizes.items()))
    print(f"bytes per update: changes {update_record_bytes}")
    if profile:
        print("(profiled: the figures above include the profiler's own cost)")
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    if args.records:
        print_adapter_cpu(args.records)


if __name__ == "__main__":
    main()
