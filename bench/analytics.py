"""Customer-360 timeline and KPI latencies on the embedded store, over real HTTP.

Uses the store that bench/embedded.py loads (default .bench-data/embedded-100k; run that first),
adds one customer with --party-size interactions (once), starts one server and measures:
- the timeline of that customer, every page (limit 20) from the first to the last, several times:
  p50/p99 overall and per depth (first, middle, last page);
- the KPI report over 30 days grouped by day and channel.
With --store search the same documents are first copied (once) into a search-engine index through
the workers' write path (versioned bulk), and `ihub serve --store search` answers instead.
Figures are printed next to their targets (timeline p99 <= 50 ms at any depth; KPI p99 <= 300 ms;
both stated for 1,000,000 interactions), never asserted. Summary: artifacts/bench-analytics-<store>.json.

    .venv/bin/python bench/analytics.py [--data-dir .bench-data/embedded-100k] [--party-size 500]
        [--store search --search-url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.embedded import create_change, free_port, percentile
from ingest.demo import interaction
from tests.support.services import drop_deployment

PARTY = {"id": "cust-bench-history", "name": "Bench Customer", "role": "customer", "@referredType": "Individual"}


async def add_history(data_dir: Path, size: int) -> int:
    from storage.sqlite.store import SqliteStore
    from storage.timeline import TimelineQuery

    started = time.perf_counter()
    store = SqliteStore(data_dir, synchronous="NORMAL")  # an older store is migrated here (timeline, facts)
    opened = time.perf_counter() - started
    try:
        present = len((await store.timeline(TimelineQuery(PARTY["id"], limit=size))).items)
        rng = random.Random(500)
        for _ in range(size - present):
            body = interaction(rng)
            body["relatedParty"] = [PARTY, *body["relatedParty"][1:]]
            await store.write(
                create_change(body, "http://127.0.0.1", "/tmf-api/partyInteraction/v4"), lambda old, new: []
            )
    finally:
        await store.close()
    return round(opened, 1)


async def copy_to_search(data_dir: Path, search_url: str, alias: str, count: int) -> float | None:
    """Index every document of the embedded store under `alias` (skipped if already complete).
    Returns the seconds it took, None if the index was already there."""
    import sqlite3

    from storage.search import create_client
    from storage.search.store import IndexOp, SearchStore

    store = SearchStore(create_client(search_url), alias=alias)
    try:
        if await store.client.indices.exists_alias(name=alias):
            indexed = (await store.client.count(index=alias))["count"]
            if indexed == count and await store.client.indices.exists(index=store.contacts.index):
                return None
            await asyncio.to_thread(drop_deployment, search_url, alias)
        await store.client.indices.delete(index=store.contacts.index, ignore_unavailable=True)
        await store.ensure_index()

        async def write(ops: list[IndexOp]) -> None:  # as the worker does: documents, then their contacts
            assert all(r.ok for r in await store.apply(ops)), "bulk refused documents"
            await store.contacts.update([(op.interaction_id, op.version, op.doc) for op in ops])

        for index in (alias, store.contacts.index):
            await store.client.indices.put_settings(index=index, settings={"refresh_interval": "-1"})
        started = time.perf_counter()
        conn = sqlite3.connect(data_dir / "interactions.sqlite3")
        rows = conn.execute("SELECT doc FROM interaction")
        pending: set[asyncio.Task] = set()
        done_count = 0
        while batch := rows.fetchmany(1000):
            ops = [IndexOp("index", doc["id"], 1, doc) for doc in map(orjson.loads, (r[0] for r in batch))]
            pending.add(asyncio.ensure_future(write(ops)))
            if len(pending) >= 3:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()
            done_count += len(batch)
            if done_count % 50_000 == 0:
                print(f"  indexed {done_count:,}/{count:,} ({done_count / (time.perf_counter() - started):,.0f}/s)")
        await asyncio.gather(*pending)
        for index in (alias, store.contacts.index):
            await store.client.indices.put_settings(index=index, settings={"refresh_interval": "1s"})
            await store.client.indices.refresh(index=index)
            await store.client.indices.forcemerge(index=index, max_num_segments=8, request_timeout=3600)
        indexed = (await store.client.count(index=alias))["count"]
        assert indexed == count, f"{indexed} indexed, {count} expected"
        return round(time.perf_counter() - started, 1)
    finally:
        await store.close()


def timed(client: httpx.Client, url: str, params: dict | None = None) -> tuple[float, dict]:
    start = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text
    return elapsed, response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench-data" / "embedded-100k")
    parser.add_argument("--party-size", type=int, default=500)
    parser.add_argument("--walks", type=int, default=10)
    parser.add_argument("--kpi-runs", type=int, default=30)
    parser.add_argument("--store", choices=["embedded", "search"], default="embedded")
    parser.add_argument("--search-url", default="http://127.0.0.1:9200")
    args = parser.parse_args()
    meta_file = args.data_dir / "bench-meta.json"
    if not meta_file.exists():
        raise SystemExit(f"no loaded store in {args.data_dir}: run bench/embedded.py first")
    count = json.loads(meta_file.read_text())["count"]
    migration_s = asyncio.run(add_history(args.data_dir, args.party_size))
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("ihub")),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(args.data_dir),
    ]
    env = dict(os.environ)
    if args.store == "search":
        alias = f"bench-analytics-{count + args.party_size}"
        print(f"copying the store into the search index {alias} (once) ...")
        took = asyncio.run(copy_to_search(args.data_dir, args.search_url, alias, count + args.party_size))
        print(f"  {'already there' if took is None else f'indexed in {took} s'}")
        command += ["--store", "search"]
        env.update(IHUB_SEARCH_URL=args.search_url, IHUB_INDEX_ALIAS=alias)
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/ihub/v1/"
    result: dict[str, object] = {
        "store": args.store,
        "interactions": count + args.party_size,
        "party_size": args.party_size,
        "open_and_migrate_s": migration_s,
    }
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(100):
                try:
                    client.get("analytics/kpis", params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            by_depth: dict[int, list[float]] = {}
            for _ in range(args.walks):
                cursor, depth = None, 0
                while True:
                    elapsed, body = timed(
                        client,
                        f"parties/{PARTY['id']}/timeline",
                        {"limit": 20, **({"cursor": cursor} if cursor else {})},
                    )
                    by_depth.setdefault(depth, []).append(elapsed)
                    cursor, depth = body["nextCursor"], depth + 1
                    if cursor is None:
                        break
            pages = max(by_depth) + 1
            every = sorted(t for ts in by_depth.values() for t in ts)

            def ms(values: list[float], p: float) -> float:
                return round(percentile(sorted(values), p) * 1000, 2)

            result["timeline"] = {
                "pages": pages,
                "requests": len(every),
                "p50_ms": ms(every, 50),
                "p99_ms": ms(every, 99),
                "first_page_p99_ms": ms(by_depth[0], 99),
                "middle_page_p99_ms": ms(by_depth[pages // 2], 99),
                "last_page_p99_ms": ms(by_depth[pages - 1], 99),
            }
            kpi = [
                timed(
                    client,
                    "analytics/kpis",
                    {
                        "from": "2026-06-01T00:00:00Z",
                        "to": "2026-07-01T00:00:00Z",
                        "interval": "day",
                        "groupBy": "channel",
                    },
                )
                for _ in range(args.kpi_runs)
            ]
            result["kpi"] = {
                "window_days": 30,
                "interactions_in_window": sum(g["volume"] for g in kpi[0][1]["groups"] if g["key"]),
                "p50_ms": ms([t for t, _ in kpi], 50),
                "p99_ms": ms([t for t, _ in kpi], 99),
            }
    finally:
        server.terminate()
        server.wait()
    t, k = result["timeline"], result["kpi"]
    print(f"store: {args.store}, {result['interactions']:,} interactions (opened and migrated in {migration_s} s)")
    print(
        f"timeline of a party with {args.party_size} interactions, {t['pages']} pages of 20, {t['requests']} requests:"
        f" p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms (first page p99 {t['first_page_p99_ms']}, middle"
        f" {t['middle_page_p99_ms']}, last {t['last_page_p99_ms']}); target p99 <= 50 ms"
    )
    print(
        f"KPIs, 30 days by day and channel ({k['interactions_in_window']:,} channel-interactions in the window):"
        f" p50 {k['p50_ms']} ms, p99 {k['p99_ms']} ms; target p99 <= 300 ms"
    )
    out = ROOT / "artifacts" / f"bench-analytics-{args.store}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"summary: {out}")


if __name__ == "__main__":
    main()
