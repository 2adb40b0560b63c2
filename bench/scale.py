"""Cost against size: what each read, write and operation costs as the interactions at rest grow.

For each size (default 100,000 and 1,000,000) and each store, load the demo generator's mix of
channels and customers (a year of them, so full mode spreads them over its month indices), then
print, never assert:
- disk bytes per interaction (full mode: the period indices, the locator and FCR's contacts, and
  the Kafka raw topic's bytes per event from a sample published to a topic of its own; embedded: the
  SQLite files), against the interaction's own TMF683 JSON;
- the load rate;
- GET by id, a customer's list (`relatedParty.id=`, newest first, 20 a page), the timeline's first
  page with its facets, and a 30-day KPI report by channel: p50/p99 over sequential calls of the
  store itself (what the API adds is measured by bench/embedded.py);
- full mode: the rate of a reindex (the workers' projector replaying raw events into a new
  generation of the indices, as `ihub reindex` does, without the Kafka fetch);
- the erasure of a party with 50 interactions (full mode: the workers' erase path for a marker).

Full mode loads through the workers' write path (the change model, then SearchStore.apply: the
same documents, locator entries and versions a worker writes, and FCR's contacts), with several
bulk requests in flight; the embedded store through its batched writer (bench/embedded.py).
The stores are kept under .bench-data/ (and `scale-<size>` aliases) and reused by later runs.

    eval "$(scripts/services env)"   # full mode: Kafka and the engine
    .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--stores search,embedded]

Summary: artifacts/bench-scale.json (bench/README.md has the table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.embedded import create_change, load_store, percentile
from ingest.demo import interaction, interactions

SAMPLES = 300  # sequential calls per read
ERASED = {"id": "cust-scale-erased", "name": "Erased Customer", "role": "customer", "@referredType": "Individual"}
KAFKA_DATA = ROOT / ".services" / "kafka" / "data"
ROOT_URL, BASE_PATH = "http://127.0.0.1:8000", "/tmf-api/partyInteraction/v4"


def say(text: str = "") -> None:
    print(text, flush=True)


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(percentile(ordered, 50) * 1000, 2), "p99": round(percentile(ordered, 99) * 1000, 2)}


async def timed(calls: list[Any]) -> dict[str, float]:
    """p50/p99 in ms of awaiting each call in turn (a few first calls warm the caches, not counted)."""
    for call in calls[:5]:
        await call()
    samples = []
    for call in calls:
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return ms(samples)


def busiest_customers(parties: int, count: int) -> list[str]:
    """Customers of the generated data (the generator draws them with a skew: the first ones are busy)."""
    rng = random.Random(7)
    found = set()
    for body in interactions(min(count, 20_000), seed=1, parties=parties):
        found.update(p["id"] for p in body["relatedParty"] if p["role"] == "customer")
    return sorted(found)[:200] if len(found) < 200 else rng.sample(sorted(found), 200)


def kpi_window() -> tuple[float, float]:
    """30 days in the generated year (2026-01-01 plus 330 days): June 2026."""
    start = datetime(2026, 6, 1, tzinfo=UTC)
    return start.timestamp(), (start + timedelta(days=30)).timestamp()


async def reads(store: Any, ids: list[str], customers: list[str]) -> dict[str, Any]:
    from storage.kpis import KpiQuery
    from storage.timeline import TimelineQuery
    from storage.tmf630 import parse_query

    rng = random.Random(3)
    start, end = kpi_window()
    picked = [rng.choice(ids) for _ in range(SAMPLES)]
    parties = [rng.choice(customers) for _ in range(SAMPLES)]

    def get(i: str) -> Any:
        return lambda: store.get(i)

    def listing(p: str) -> Any:
        query = parse_query(f"relatedParty.id={p}&sort=-interactionDate.startDateTime&limit=20")
        return lambda: store.list(query)

    def timeline(p: str) -> Any:
        return lambda: store.timeline(TimelineQuery(p, limit=20))

    def kpis() -> Any:
        return store.kpis(KpiQuery(start, end, interval="day", group_by="channel"))

    found = await store.get(picked[0])
    assert found is not None, "a loaded interaction is not found by id"
    return {
        "get_ms": await timed([get(i) for i in picked]),
        "list_ms": await timed([listing(p) for p in parties]),
        "timeline_ms": await timed([timeline(p) for p in parties]),
        "kpi_30d_ms": await timed([kpis for _ in range(max(20, SAMPLES // 10))]),
    }


def erased_bodies() -> list[dict[str, Any]]:
    rng = random.Random(50)
    bodies = []
    for _ in range(50):
        body = interaction(rng)
        body["relatedParty"] = [ERASED, *body["relatedParty"][1:]]
        bodies.append(body)
    return bodies


# -- the embedded store ---------------------------------------------------------------------------


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def embedded(size: int, parties: int) -> dict[str, Any]:
    from storage.sqlite.store import SqliteStore

    data_dir = ROOT / ".bench-data" / f"scale-embedded-{size}"
    meta_file = data_dir / "bench-meta.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        say(f"  reusing {data_dir} (loaded at {meta['count'] / meta['load_seconds']:,.0f}/s)")
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        say(f"  loading {size:,} interactions into {data_dir} ...")
        meta = await load_store(data_dir, size, 1, parties, ROOT_URL, BASE_PATH)
    ids = (data_dir / "bench-ids.txt").read_text().split()
    customers = [c for c, _ in json.loads((data_dir / "bench-parties.json").read_text())["customers"]][:200]
    sqlite_bytes = sum(du(p) if p.is_dir() else p.stat().st_size for p in data_dir.glob("interactions.sqlite3*"))
    store = SqliteStore(data_dir, synchronous="NORMAL")
    try:
        figures: dict[str, Any] = {
            "load_per_s": round(meta["count"] / meta["load_seconds"]),
            "disk_bytes_per_interaction": round(sqlite_bytes / size),
            **await reads(store, ids, customers),
        }
        for body in erased_bodies():
            await store.write(create_change(body, ROOT_URL, BASE_PATH), lambda old, new: [])
        started = time.perf_counter()
        erased = await store.erase_party(ERASED["id"], lambda old, new: [])
        figures["erase_50_s"] = round(time.perf_counter() - started, 3)
        assert len(erased) == 50, f"{len(erased)} erased"
    finally:
        await store.close()
    return figures


# -- full mode ----------------------------------------------------------------------------------


async def search_load(store: Any, size: int, parties: int) -> float:
    """Load `size` interactions through the workers' write path; the seconds it took."""
    from storage.changes import ABSENT, apply
    from storage.search.store import IndexOp

    async def write(ops: list[IndexOp]) -> None:  # as the worker does: documents, then their contacts
        assert all(r.ok for r in await store.apply(ops)), "bulk refused documents"
        await store.contacts.update([(op.interaction_id, op.version, op.doc) for op in ops])

    started = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()
    batch: list[IndexOp] = []
    for n, body in enumerate(interactions(size, seed=1, parties=parties), 1):
        change = create_change(body, ROOT_URL, BASE_PATH)
        new = apply(ABSENT, change).new
        batch.append(IndexOp("index", change.interaction_id, new.version, new.doc))
        if len(batch) < 1000:
            continue
        pending.add(asyncio.ensure_future(write(batch)))
        batch = []
        if len(pending) >= 3:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                task.result()
        if n % 100_000 == 0:
            say(f"    {n:,}/{size:,} ({n / (time.perf_counter() - started):,.0f}/s)")
    if batch:
        pending.add(asyncio.ensure_future(write(batch)))
    for task in await asyncio.gather(*pending, return_exceptions=True):
        if isinstance(task, BaseException):
            raise task
    return time.perf_counter() - started


async def index_bytes(store: Any) -> dict[str, int]:
    from storage.search import engine

    await engine.refresh(store.client, f"{store.alias},{store.locator},{store.contacts.index}")
    await store.client.indices.flush(index=f"{store.alias},{store.locator},{store.contacts.index}")
    sizes = {}
    for name, index in (("periods", store.alias), ("locator", store.locator), ("contacts", store.contacts.index)):
        stats = await store.client.indices.stats(index=index, metric="store")
        sizes[name] = int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    return sizes


async def kafka_bytes_per_event(sample: list[Any]) -> float | None:
    """The raw topic's bytes on disk per event: a sample published to a topic of its own, one partition."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from ingest.adapters.tmf683 import event_for
    from ingest.publisher import Publisher
    from interaction_hub.kafka_client import kafka_options
    from interaction_hub.settings import Settings

    if not KAFKA_DATA.is_dir():
        return None
    options = kafka_options(Settings())
    topic = f"ihub-scale-raw-{os.getpid()}"
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        bootstrap = options.pop("bootstrap_servers")
        async with Publisher(bootstrap, topic=topic, **options) as publisher:
            await publisher.publish_many(event_for(change) for change in sample)
        await asyncio.sleep(2)
        size = sum(p.stat().st_size for p in (KAFKA_DATA / f"{topic}-0").glob("*.log"))  # indices are sparse
        return round(size / len(sample), 1)
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def reindex_rate(store: Any, sample: list[Any]) -> float:
    """Events per second of the workers' projector replaying `sample` into a new generation."""
    from ingest.adapters.tmf683 import event_for
    from storage.search import engine
    from stream_workers.pipeline import Message, Projector

    new = await store.next_generation()
    projector = Projector(new, ROOT_URL + BASE_PATH, index_alias=store.alias)
    messages = [
        Message("raw", 0, n, change.interaction_id.encode(), event_for(change).to_bytes())
        for n, change in enumerate(sample)
    ]
    started = time.perf_counter()
    for start in range(0, len(messages), 2000):
        result = await projector.process(messages[start : start + 2000])
        assert not result.dead_letters, result.dead_letters[:1]
    seconds = time.perf_counter() - started
    await engine.delete_indices(store.client, list((await new.periods()).values()))
    # and the sample's locations, which the replay wrote beside the loaded interactions'
    forget = [orjson.dumps({"delete": {"_index": store.locator, "_id": c.interaction_id}}) for c in sample]
    await engine.bulk(store.client, forget)
    return len(messages) / seconds


async def erase_seconds(store: Any) -> float:
    """The workers' erase path for one party with 50 interactions (one partition holds them all)."""
    from ingest.adapters.tmf683 import event_for
    from interaction_hub.erase_markers import markers
    from schemas.change_record import Erased
    from stream_workers.pipeline import Message, Projector

    projector = Projector(store, ROOT_URL + BASE_PATH, index_alias=store.alias)
    creates = [create_change(body, ROOT_URL, BASE_PATH) for body in erased_bodies()]
    await projector.process(
        [Message("raw", 0, n, c.interaction_id.encode(), event_for(c).to_bytes()) for n, c in enumerate(creates)]
    )
    marker = markers(1, store.alias, party_id=ERASED["id"])[0]
    message = Message("raw", 0, len(creates), marker.key, marker.event().to_bytes())
    started = time.perf_counter()
    result = await projector.process([message])
    seconds = time.perf_counter() - started
    erased = [r for _, r in result.changes if isinstance(r, Erased)]
    assert erased and len(erased[0].erased) == 50, erased
    return seconds


async def search(size: int, parties: int) -> dict[str, Any]:
    from interaction_hub.search_client import search_client
    from interaction_hub.settings import Settings
    from storage.changes import ABSENT, apply
    from storage.search.store import SearchStore

    store = SearchStore(search_client(Settings()), alias=f"scale-{size}")
    meta_file = ROOT / ".bench-data" / f"scale-search-{size}.json"
    try:
        if meta_file.exists() and await store.client.indices.exists_alias(name=store.alias):
            meta = json.loads(meta_file.read_text())
            say(f"  reusing the alias {store.alias} (loaded at {meta['load_per_s']:,}/s)")
        else:
            await store.ensure_index()
            say(f"  loading {size:,} interactions into {store.alias} ...")
            seconds = await search_load(store, size, parties)
            (ROOT / ".bench-data").mkdir(exist_ok=True)
            meta = {"load_per_s": round(size / seconds), "ids": await _ids(store)}
            meta_file.write_text(json.dumps(meta))
        sizes = await index_bytes(store)
        # new interactions of the same mix (another seed): the reindex's and the Kafka sample
        sample = [create_change(b, ROOT_URL, BASE_PATH) for b in interactions(20_000, seed=2, parties=parties)]
        json_bytes = sum(len(orjson.dumps(apply(ABSENT, c).new.doc)) for c in sample[:5000]) / 5000
        customers = busiest_customers(parties, size)
        figures: dict[str, Any] = {
            "load_per_s": meta["load_per_s"],
            "periods": len(await store.periods()),
            "disk_bytes_per_interaction": round(sum(sizes.values()) / size),
            "disk_by_index_per_interaction": {k: round(v / size) for k, v in sizes.items()},
            "tmf683_json_bytes": round(json_bytes),
            "kafka_bytes_per_event": await kafka_bytes_per_event(sample[:20_000]),
            **await reads(store, meta["ids"], customers),
            "reindex_per_s": round(await reindex_rate(store, sample[:20_000])),
            "erase_50_s": round(await erase_seconds(store), 3),
        }
        figures["disk_vs_json"] = round(figures["disk_bytes_per_interaction"] / json_bytes, 2)
        return figures
    finally:
        await store.close()


async def _ids(store: Any) -> list[str]:
    """Up to 5,000 ids of what was loaded (GETs pick among them)."""
    from storage.search import engine

    await store.refresh()
    hits = await engine.search(store.client, store.alias, {"size": 5000, "_source": False, "query": {"match_all": {}}})
    return [hit["_id"] for hit in hits["hits"]["hits"]]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "?",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "load": os.getloadavg()[0],
        "engine": os.environ.get("IHUB_SEARCH_ENGINE", "elasticsearch"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--stores", default="search,embedded")
    parser.add_argument(
        "--parties", type=int, default=0, help="distinct customers (0: a tenth of the size, ten interactions each)"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "artifacts" / "bench-scale.json")
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(args.output.read_text()) if args.output.exists() else {}
    results["machine"] = machine()
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.stores.split(","):
            say(f"{kind}, {size:,} interactions")
            parties = args.parties or max(1000, size // 10)
            figures = asyncio.run((search if kind == "search" else embedded)(size, parties))
            figures["load_at_end"] = round(os.getloadavg()[0], 1)
            results.setdefault(kind, {})[str(size)] = figures
            say("  " + json.dumps(figures))
            args.output.parent.mkdir(exist_ok=True)
            args.output.write_text(json.dumps(results, indent=2))
    table(results)


def table(results: dict[str, Any]) -> None:
    rows = [
        ("disk B/interaction", lambda f: f["disk_bytes_per_interaction"]),
        ("load /s", lambda f: f["load_per_s"]),
        ("GET p50/p99 ms", lambda f: f"{f['get_ms']['p50']}/{f['get_ms']['p99']}"),
        ("list p50/p99 ms", lambda f: f"{f['list_ms']['p50']}/{f['list_ms']['p99']}"),
        ("timeline p50/p99 ms", lambda f: f"{f['timeline_ms']['p50']}/{f['timeline_ms']['p99']}"),
        ("KPI 30d p50/p99 ms", lambda f: f"{f['kpi_30d_ms']['p50']}/{f['kpi_30d_ms']['p99']}"),
        ("reindex /s", lambda f: f.get("reindex_per_s", "n/a")),
        ("erase 50 s", lambda f: f["erase_50_s"]),
    ]
    for kind in ("search", "embedded"):
        sizes = sorted(results.get(kind, {}), key=int)
        if not sizes:
            continue
        say(f"\n{kind}: " + " | ".join(f"{int(s):,}" for s in sizes))
        for label, value in rows:
            say(f"  {label:<22}" + " | ".join(str(value(results[kind][s])) for s in sizes))


if __name__ == "__main__":
    main()
