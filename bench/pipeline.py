"""Full-mode benchmark: ingest rate against the engine's own ceiling, freshness, API latencies.

Needs real services: `scripts/services up && eval "$(scripts/services env)"`, then
    .venv/bin/python bench/pipeline.py --events 50000

All figures come from one run on the same machine, so the ratios compare like with like:
1. ceiling: a plain `_bulk` of the very documents the workers index (same mapping, same batch
   size), into a fresh index;
2. ingest: N channel events already on Kafka, one `ihub worker` (fresh consumer group and index):
   events per second from the first to the last document searchable;
3. freshness: events produced at half the measured ingest rate; produce-to-searchable latency of
   probe events (searched for by id, i.e. after a refresh made them visible);
4. API (full mode): GET by id against the engine's own GET of the same documents; POST latency
   including read-your-writes, and the engine's own time for a one-document write with refresh=true.
Timings are printed, not asserted. A JSON summary goes to artifacts/bench-pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.adapters import adapt, sample_events
from ingest.publisher import Publisher
from interaction_hub.topics import start_group_at_end
from schemas.channel_event import ChannelEvent
from storage.changes import ABSENT, apply
from storage.search.documents import MAPPINGS, SETTINGS, search_document
from tests.support.services import drop_deployment, engine_http  # the engine as scripts/services runs it: users, HTTPS

IHUB = str(Path(sys.executable).with_name("ihub"))
TEMPLATES = [e for e in sample_events() if not e.type.startswith("tmf683.")]
ID_KEYS = ("callId", "sessionId", "visitId", "messageId", "conversationId")


def channel_event(n: int, tag: str, time_: str | None = None) -> ChannelEvent:
    template = TEMPLATES[n % len(TEMPLATES)]
    data = {k: (f"{v}-{tag}-{n}" if k in ID_KEYS else v) for k, v in template.data.items()}
    update = {"id": f"{template.id}-{tag}-{n}", "data": data}
    if template.subject:  # 10,000 customers, as in the demo data (one customer for all would be one contact)
        update["subject"] = f"{template.subject}-{n % 10_000}"
    if time_:
        update["time"] = time_
    return template.model_copy(update=update)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def count(search: str, index: str) -> int:
    response = httpx.get(f"{search}/{index}/_count", **engine_http())
    return response.json()["count"] if response.status_code == 200 else 0


def ceiling(search: str, events: list[ChannelEvent], batch: int) -> tuple[float, dict[str, int]]:
    """Docs/s of a plain `_bulk` of the documents the workers would index, and the services' CPU per doc."""
    bodies = []
    for event in events:
        change = adapt(event)
        doc = apply(ABSENT, change, href=f"http://h/partyInteraction/{change.interaction_id}").new.doc
        assert doc is not None
        bodies.append((change.interaction_id, orjson.dumps(search_document(doc))))
    # warm the engine's JIT and caches first: right after a start a cold engine indexes at half
    # speed, which would make the ceiling low and the ratio flattering
    bulk_rate(search, bodies[: min(len(bodies), 10_000)], batch)
    services = ServiceCpu()
    before = services.sample()
    rate = bulk_rate(search, bodies, batch)
    return rate, services.since(before, len(bodies))


def bulk_rate(search: str, bodies: list[tuple[str, bytes]], batch: int) -> float:
    """Docs/s of plain `_bulk` requests of `bodies` into a fresh index, until searchable."""
    index = f"bench-ceiling-{uuid4().hex[:8]}"
    with httpx.Client(timeout=120, **engine_http()) as client:
        client.put(f"{search}/{index}", json={"settings": SETTINGS, "mappings": MAPPINGS}).raise_for_status()
        start = time.perf_counter()
        for i in range(0, len(bodies), batch):
            lines = []
            for doc_id, body in bodies[i : i + batch]:
                lines += [orjson.dumps({"index": {"_index": index, "_id": doc_id}}), body]
            response = client.post(
                f"{search}/_bulk", content=b"\n".join(lines) + b"\n", headers={"content-type": "application/x-ndjson"}
            )
            assert not response.json()["errors"], response.text[:500]
        client.post(f"{search}/{index}/_refresh")
        elapsed = time.perf_counter() - start
    distinct = count(search, index)
    httpx.delete(f"{search}/{index}", **engine_http())
    return distinct / elapsed


async def publish_all(bootstrap: str, events: list[ChannelEvent]) -> None:
    async with Publisher(bootstrap) as publisher:
        for i in range(0, len(events), 2000):
            await publisher.publish_many(events[i : i + 2000])


async def uncommitted(bootstrap: str, group: str) -> int:
    """Raw records the worker group has not committed yet: a batch commits once its documents,
    change records, notifications and FCR contacts are all done."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from interaction_hub.topics import partitions_of
    from schemas.channel_event import RAW_TOPIC

    partitions = [
        TopicPartition(RAW_TOPIC, p) for p in await partitions_of({"bootstrap_servers": bootstrap}, RAW_TOPIC)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        lag = 0
        for tp, end in (await consumer.end_offsets(partitions)).items():
            lag += end - ((await consumer.committed(tp)) or 0)
        return lag
    finally:
        await consumer.stop()


def wait_for_commits(bootstrap: str, group: str, timeout: float = 600) -> float:
    """Seconds until the group has committed every raw record (FCR's contacts caught up)."""
    started = time.perf_counter()
    while asyncio.run(uncommitted(bootstrap, group)) > 0:
        if time.perf_counter() - started > timeout:
            raise SystemExit("the workers did not commit every record")
        time.sleep(0.5)
    return time.perf_counter() - started


def cpu_seconds(pid: int, *, group: bool = False) -> float:
    """User + system CPU seconds a process (or, with `group`, its whole process group) has used so far."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat") if group else [Path(f"/proc/{pid}/stat")]:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended meanwhile
            continue
        if not group or int(fields[2]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def workers_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


class ServiceCpu:
    """CPU seconds used by the local engine and broker (scripts/services starts each as its own
    process group), to show where an event's CPU goes; empty when the services run elsewhere."""

    def __init__(self) -> None:
        folder = Path(os.environ.get("IHUB_SERVICES_DIR", ROOT / ".services"))
        self.groups = {}
        for name in ("search", "kafka"):
            pidfile = folder / f"{name}.pid"
            if pidfile.exists():
                self.groups[name] = int(pidfile.read_text())

    def sample(self) -> dict[str, float]:
        return {name: cpu_seconds(pid, group=True) for name, pid in self.groups.items()}

    def since(self, before: dict[str, float], per: int) -> dict[str, int]:
        """Microseconds per item since `before`, by service."""
        now = self.sample()
        return {name: round((now[name] - before[name]) / per * 1e6) for name in before}


HEADROOM = 0.7  # plan for cores busy at most 70 % of the time, so a backlog can be caught up


def sizing(cpu_us: dict[str, int], ceiling_rate: float) -> list[dict[str, int]]:
    """What the measured CPU per event asks for at a few target rates: cores of workers, engine
    and brokers (at HEADROOM), raw-topic partitions (room to double the workers) and primary
    shards (each taking at most HEADROOM of the one-shard ceiling measured here)."""
    rows = []
    for rate in (5_000, 20_000, 100_000):

        def cores(us: int | None, rate: int = rate) -> int:
            return math.ceil(rate * (us or 0) / 1e6 / HEADROOM)

        workers = cores(cpu_us.get("workers"))
        rows.append(
            {
                "events_per_s": rate,
                "worker_cores": workers,
                "engine_cores": cores(cpu_us.get("search")),
                "kafka_cores": cores(cpu_us.get("kafka")),
                "partitions": max(6, 2 * workers),
                "primary_shards": math.ceil(rate / (ceiling_rate * HEADROOM)),
            }
        )
    return rows


def print_sizing(rows: list[dict[str, int]]) -> None:
    print(
        "sizing from this run's CPU per event (one index copy, one Kafka replica; a replica costs about as much again):"
    )
    print("| events/s | worker cores | engine cores | Kafka cores | raw partitions | primary shards |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(f"{value:,}" for value in row.values()) + " |")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([IHUB, "worker"], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def ingest(
    search: str, env: dict[str, str], expected: int, processes: list[subprocess.Popen], services: ServiceCpu
) -> dict[str, Any]:
    """Events/s from the first to the last document searchable, the total time, the CPU per event
    of the worker and the services over the same span, and where that span began (`start`: the
    count then and the CPU samples). Stops at once if a worker exits."""
    workers = [process.pid for process in processes]
    alias = env["IHUB_INDEX_ALIAS"]
    first = first_count = None
    started = time.perf_counter()
    while True:
        seen = count(search, alias)
        now = time.perf_counter()
        if first is None and seen > 0:
            first, first_count, first_cpu, first_services = now, seen, workers_cpu(workers), services.sample()
        if seen >= expected:
            span = max(seen - first_count, 1)
            return {
                "rate": span / max(now - first, 1e-9),
                "elapsed": now - started,
                "start": (first_count, first_cpu, first_services),
                "cpu_us": {
                    "workers": round((workers_cpu(workers) - first_cpu) / span * 1e6),
                    **services.since(first_services, span),
                },
            }
        if now - started > 900:
            raise SystemExit(f"ingest stalled at {seen}/{expected}")
        if any(process.poll() is not None for process in processes):
            raise SystemExit(f"a worker exited at {seen}/{expected}: see artifacts/bench-pipeline-worker-*.log")
        time.sleep(0.1)


async def freshness(
    bootstrap: str, search: str, alias: str, rate: float, seconds: float, tag: str
) -> tuple[list[float], list[float]]:
    """Produce at `rate`/s; every 10th event is a probe whose searchable time is measured. Also,
    for each probe, the time until the worker applied it: its change record's timestamp (the
    rest is the engine making it searchable, its refresh)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from schemas.channel_event import CHANGES_TOPIC, RAW_TOPIC

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    changes = AIOKafkaConsumer(CHANGES_TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    await changes.start()
    await changes.seek_to_end()
    sent: dict[str, float] = {}
    sent_at: dict[bytes, float] = {}  # probe key -> wall-clock time sent, comparable to Kafka timestamps
    latencies: list[float] = []
    applied: list[float] = []
    done = asyncio.Event()

    async def tail_changes() -> None:
        async for record in changes:
            if record.key in sent_at:
                applied.append(record.timestamp / 1000 - sent_at.pop(record.key))

    async def poll() -> None:
        async with httpx.AsyncClient(timeout=10, **engine_http()) as client:
            while not (done.is_set() and not sent):
                pending = list(sent)
                if pending:
                    response = await client.post(
                        f"{search}/{alias}/_search",
                        json={"query": {"ids": {"values": pending}}, "size": len(pending), "_source": False},
                    )
                    now = time.perf_counter()
                    for hit in response.json()["hits"]["hits"]:
                        latencies.append(now - sent.pop(hit["_id"]))
                await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    tailer = asyncio.create_task(tail_changes())
    interval, n, start = 1.0 / rate, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        event = channel_event(n, tag)
        key = adapt(event).interaction_id
        await producer.send(RAW_TOPIC, value=event.to_bytes(), key=key.encode())
        if n % 10 == 0:
            sent[key] = time.perf_counter()
            sent_at[key.encode()] = time.time()
        n += 1
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await producer.flush()
    done.set()
    await asyncio.wait_for(poller, 60)
    await asyncio.sleep(0.5)  # the last change records
    tailer.cancel()
    await asyncio.gather(tailer, return_exceptions=True)
    await changes.stop()
    await producer.stop()
    return latencies, applied


def api_latencies(search: str, api: str, alias: str, ids: list[str], posts: int) -> dict[str, float]:
    with httpx.Client(timeout=30) as client, httpx.Client(timeout=30, **engine_http()) as engine:

        def timed(url: str) -> float:
            start = time.perf_counter()
            response = (engine if url.startswith(search) else client).get(url)
            assert response.status_code == 200, response.text
            return time.perf_counter() - start

        # the engine's own GET reads the month's index that holds the document; the API's first
        # GET of an id also reads the locator, and then remembers the month (the warm-up below)
        found = engine.post(
            f"{search}/{alias}/_search",
            json={"size": len(ids), "_source": False, "query": {"ids": {"values": ids}}},
        ).json()["hits"]["hits"]
        index_of = {hit["_id"]: hit["_index"] for hit in found}
        for doc_id in ids:  # warm both paths and the engine's caches for every document
            timed(f"{api}partyInteraction/{doc_id}")
            timed(f"{search}/{index_of[doc_id]}/_doc/{doc_id}")
        api_get, engine_get = [], []
        for n, doc_id in enumerate(ids):  # interleaved, alternating which goes first: same conditions
            pair = [
                (api_get, f"{api}partyInteraction/{doc_id}"),
                (engine_get, f"{search}/{index_of[doc_id]}/_doc/{doc_id}"),
            ]
            for samples, url in pair if n % 2 else reversed(pair):
                samples.append(timed(url))
        post = []
        body = {
            "reason": "Bench",
            "direction": "inbound",
            "status": "open",
            "channel": [{"id": "web"}],
            "relatedParty": [{"id": "cust-1", "@referredType": "Individual"}],
        }
        for _ in range(posts):
            start = time.perf_counter()
            response = client.post(f"{api}partyInteraction", json=body)
            assert response.status_code == 201, response.text
            post.append(time.perf_counter() - start)
        refreshed = refreshed_writes(engine, search, f"{alias}-refresh-probe", posts)

    def ms(values: list[float], p: float) -> float:
        return round(percentile(values, p) * 1000, 2)

    return {
        "api_get_p50_ms": ms(api_get, 50),
        "engine_get_p50_ms": ms(engine_get, 50),
        "api_get_p99_ms": ms(api_get, 99),
        "engine_get_p99_ms": ms(engine_get, 99),
        "get_ratio_p50": round(percentile(api_get, 50) / percentile(engine_get, 50), 2),
        "post_p50_ms": ms(post, 50),
        "post_p99_ms": ms(post, 99),
        "engine_refreshed_write_p50_ms": ms(refreshed, 50),
    }


def refreshed_writes(engine: httpx.Client, search: str, index: str, count: int) -> list[float]:
    """Seconds of each of `count` one-document `_bulk` requests with refresh=true into a fresh index
    of the same mapping: what the engine alone takes for a write made searchable at once, the
    floor under a POST with read-your-writes."""
    engine.put(f"{search}/{index}", json={"settings": SETTINGS, "mappings": MAPPINGS}).raise_for_status()
    try:
        document = orjson.dumps({"id": "probe", "status": "open", "reason": "Bench"})
        took = []
        for n in range(count):
            body = orjson.dumps({"index": {"_index": index, "_id": f"probe-{n}"}}) + b"\n" + document + b"\n"
            start = time.perf_counter()
            response = engine.post(
                f"{search}/_bulk",
                params={"refresh": "true"},
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            took.append(time.perf_counter() - start)
            assert response.status_code == 200 and not response.json()["errors"], response.text
        return took
    finally:
        engine.delete(f"{search}/{index}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--fresh-seconds", type=float, default=20)
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="worker processes in the group (one per core at most)")
    parser.add_argument("--ingest-only", action="store_true", help="stop after the ceiling and the ingest rate")
    args = parser.parse_args()
    bootstrap, search = os.environ.get("IHUB_KAFKA_BOOTSTRAP"), os.environ.get("IHUB_SEARCH_URL")
    if not bootstrap or not search:
        raise SystemExit('run `scripts/services up && eval "$(scripts/services env)"` first')
    tag = uuid4().hex[:8]
    env = {
        **os.environ,
        "IHUB_STORE": "search",
        "IHUB_WORKER_GROUP": f"bench-{tag}",
        "IHUB_INDEX_ALIAS": f"bench-{tag}",
        "IHUB_WORKER_BATCH_SIZE": str(args.batch),
    }
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    events = [channel_event(n, tag) for n in range(args.events)]
    results: dict[str, object] = {"events": args.events, "batch": args.batch}

    rate, ceiling_cpu = ceiling(search, events, args.batch)
    results["ceiling_docs_per_s"] = round(rate)
    results["ceiling_cpu_us_per_doc"] = ceiling_cpu
    print(
        f"ceiling (plain _bulk of the same documents): {results['ceiling_docs_per_s']} docs/s;"
        f" CPU per doc (us): {ceiling_cpu}"
    )

    subprocess.run([IHUB, "init"], env=env, check=True, capture_output=True)
    asyncio.run(start_group_at_end({"bootstrap_servers": bootstrap}, env["IHUB_WORKER_GROUP"]))
    asyncio.run(publish_all(bootstrap, events))
    workers = [start_worker(env, out / f"bench-pipeline-worker-{n}.log") for n in range(args.workers)]
    try:
        services = ServiceCpu()
        measured = ingest(search, env, len(events), workers, services)
        rate = measured["rate"]
        results["ingest_events_per_s"] = round(rate)
        results["ingest_ratio_to_ceiling"] = round(rate / results["ceiling_docs_per_s"], 2)
        results["ingest_cpu_us_per_event"] = measured["cpu_us"]
        print(
            f"ingest: {results['ingest_events_per_s']} events/s (ratio {results['ingest_ratio_to_ceiling']} of the"
            f" ceiling; target >= 0.5 and >= 3000/s); {len(events)} events in {measured['elapsed']:.1f}s incl."
            f" start-up; CPU per event (us): {measured['cpu_us']} on {os.cpu_count()} cores"
        )

        # a batch's FCR contacts are updated after its documents are searchable; the next phases
        # start once every batch committed, so they measure a worker that is not still busy with the backlog
        results["contacts_caught_up_after_s"] = round(wait_for_commits(bootstrap, env["IHUB_WORKER_GROUP"]), 1)
        print(
            f"contacts (FCR) caught up {results['contacts_caught_up_after_s']} s after the last document was searchable"
        )
        # all the work the events caused: until the last batch committed (contacts included)
        first_count, first_cpu, first_services = measured["start"]
        span = max(len(events) - first_count, 1)  # a small run may be searchable at once
        cpu_us = {
            "workers": round((workers_cpu([w.pid for w in workers]) - first_cpu) / span * 1e6),
            **services.since(first_services, span),
        }
        results["cpu_us_per_event"] = cpu_us
        if "search" in cpu_us and ceiling_cpu.get("search"):
            results["engine_cpu_ratio_to_ceiling"] = round(cpu_us["search"] / ceiling_cpu["search"], 2)
        print(
            f"CPU per event until every batch committed (us): {cpu_us} (worker target <= 150);"
            f" engine per event / per ceiling document: {results.get('engine_cpu_ratio_to_ceiling')} (target <= 1.3)"
        )
        results["sizing"] = sizing(cpu_us, results["ceiling_docs_per_s"])
        print_sizing(results["sizing"])
        if args.ingest_only:
            (out / "bench-pipeline.json").write_text(json.dumps(results, indent=2))
            return

        fresh_rate = max(1.0, rate / 2)
        latencies, applied = asyncio.run(
            freshness(bootstrap, search, env["IHUB_INDEX_ALIAS"], fresh_rate, args.fresh_seconds, tag + "f")
        )
        results["freshness_rate_per_s"] = round(fresh_rate)
        results["freshness_p50_s"] = round(statistics.median(latencies), 3)
        results["freshness_p99_s"] = round(percentile(latencies, 99), 3)
        results["freshness_applied_p50_s"] = round(statistics.median(applied), 3)
        results["freshness_applied_p99_s"] = round(percentile(applied, 99), 3)
        print(
            f"freshness at {results['freshness_rate_per_s']} events/s: p50 {results['freshness_p50_s']} s"
            f" (target <= 1.2), p99 {results['freshness_p99_s']} s (target <= 2.5), {len(latencies)} probes;"
            f" of which applied by the worker (its change record) p50 {results['freshness_applied_p50_s']} s,"
            f" p99 {results['freshness_applied_p99_s']} s"
        )

        wait_for_commits(bootstrap, env["IHUB_WORKER_GROUP"])
        port = 18684
        server = subprocess.Popen(
            [IHUB, "serve", "--port", str(port)],
            env={**env, "IHUB_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            stdout=open(out / "bench-pipeline-api.log", "w"),
            stderr=subprocess.STDOUT,
        )
        api = f"http://127.0.0.1:{port}/tmf-api/partyInteraction/v4/"
        try:
            for _ in range(200):
                try:
                    httpx.get(api + "partyInteraction?limit=0")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            ids = [adapt(e).interaction_id for e in events[: args.gets]]
            results.update(api_latencies(search, api, env["IHUB_INDEX_ALIAS"], ids, args.posts))
        finally:
            server.terminate()
            server.wait()
        print(
            f"GET by id: API p50 {results['api_get_p50_ms']} ms vs engine p50 {results['engine_get_p50_ms']} ms"
            f" = {results['get_ratio_p50']}x (target <= 1.5x); POST with read-your-writes p50 {results['post_p50_ms']} ms,"
            f" p99 {results['post_p99_ms']} ms (targets: p50 <= 25, p99 <= 60); the engine alone takes"
            f" p50 {results['engine_refreshed_write_p50_ms']} ms for a one-document write with refresh=true"
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(30)
        alias = env["IHUB_INDEX_ALIAS"]
        drop_deployment(search, alias)
    (out / "bench-pipeline.json").write_text(json.dumps(results, indent=2))
    print(f"summary: {out / 'bench-pipeline.json'}")


if __name__ == "__main__":
    main()
