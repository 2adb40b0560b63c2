"""Soak: mixed API load against a full-mode `ihub serve` while ingest runs, for a bounded time.

Needs full-mode services; on the fault-test cluster:
    scripts/services cluster up && eval "$(scripts/services cluster env)"
    .venv/bin/python bench/soak.py --seconds 120
(or on the single-node services: `eval "$(scripts/services env)"` and `--services single`).

It starts its own `ihub worker` processes and one `ihub serve --store search` (a fresh index alias and
consumer group), indexes a few thousand interactions first, then for --seconds:
- ingest: channel events published at --rate per second (acks=all, ingest/publisher.py);
- API load from --clients concurrent clients, each request one of: read (GET by id), list (a
  TMF630 query), write (POST, answered after read-your-writes), timeline (a customer's 360 page),
  kpis (a day's KPI report).
It prints p50/p99 per operation, the errors (any answer but the expected one, or no answer; the goal
is 0), and the resident memory (RSS) of every process (API, workers, Kafka, Elasticsearch) at the
start and the end. Figures are printed, never asserted. Summary: artifacts/bench-soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.adapters import adapt, sample_events
from ingest.publisher import Publisher
from interaction_hub.topics import start_group_at_end
from schemas.channel_event import ChannelEvent
from tests.support.services import drop_deployment

IHUB = str(Path(sys.executable).with_name("ihub"))
BASE = "/tmf-api/partyInteraction/v4"
TEMPLATES = [e for e in sample_events() if not e.type.startswith("tmf683.")]
ID_KEYS = ("callId", "sessionId", "visitId", "messageId", "conversationId")
CUSTOMERS = 200
MIX = {"read": 50, "list": 15, "write": 10, "timeline": 15, "kpis": 10}


def channel_event(n: int, tag: str) -> ChannelEvent:
    template = TEMPLATES[n % len(TEMPLATES)]
    data = {k: (f"{v}-{tag}-{n}" if k in ID_KEYS else v) for k, v in template.data.items()}
    return template.model_copy(update={"id": f"{template.id}-{tag}-{n}", "data": data, "subject": customer(tag, n)})


def customer(tag: str, n: int) -> str:
    return f"soak-{tag}-{n % CUSTOMERS}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- memory ---------------------------------------------------------------------------------------


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def group_members(pgid: int) -> list[int]:
    """Every process of a process group (a service started by scripts/services: launcher and JVMs)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def service_groups(kind: str) -> dict[str, int]:
    """name -> process group of each service scripts/services runs (its pid files)."""
    folder = ROOT / ".services" / ("cluster" if kind == "cluster" else "")
    names = ["kafka-1", "kafka-2", "kafka-3", "search-1", "search-2"] if kind == "cluster" else ["kafka", "search"]
    groups = {}
    for name in names:
        pidfile = folder / f"{name}.pid"
        if pidfile.exists() and pidfile.read_text().strip():
            groups[name] = int(pidfile.read_text().strip())
    return groups


def memory(processes: dict[str, subprocess.Popen], services: dict[str, int]) -> dict[str, float]:
    found = {name: rss_mb([p.pid]) for name, p in processes.items()}
    found.update({name: rss_mb(group_members(pgid)) for name, pgid in services.items()})
    return found


# -- the load -------------------------------------------------------------------------------------


def count(search: str, alias: str, subject_prefix: str) -> int:
    query = {"prefix": {"relatedParty.id": subject_prefix}}
    try:
        answer = httpx.post(f"{search}/{alias}/_count", json={"query": query}, timeout=30)
    except httpx.TransportError:
        return 0
    return int(answer.json().get("count", 0)) if answer.status_code == 200 else 0


def engine_copies(search: str, alias: str, interaction_id: str) -> dict[str, object]:
    """What each node's own copy of the shard says of a document (was it ever written again?)."""
    nodes = httpx.get(f"{search}/_nodes/http", timeout=30).json()["nodes"].values()
    month = httpx.get(f"{search}/{alias}-locator/_doc/{interaction_id}", timeout=30).json()["_source"]["p"]
    found: dict[str, object] = {}
    for node in nodes:
        url = f"http://{node['http']['publish_address']}/{alias}.{month}/_doc/{interaction_id}"
        answer = httpx.get(url, params={"preference": "_only_local"}, timeout=30).json()
        found[node["name"]] = {k: answer.get(k) for k in ("found", "_version", "_seq_no", "_primary_term")}
    return found


def publish(bootstrap: str, events: list[ChannelEvent]) -> None:
    async def go() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish_many(events)

    asyncio.run(go())


def ingest(bootstrap: str, tag: str, rate: int, stop: threading.Event, sent: list[int]) -> None:
    """Events at `rate` per second (one batch every 100 ms) until `stop`."""

    async def go() -> None:
        n = 0
        async with Publisher(bootstrap) as publisher:
            started = time.monotonic()
            while not stop.is_set():
                due = int((time.monotonic() - started) * rate)
                if due > n:
                    await publisher.publish_many([channel_event(i, tag) for i in range(n, due)])
                    n = due
                    sent[0] = n
                await asyncio.sleep(0.1)

    asyncio.run(go())


async def client_loop(
    api: httpx.AsyncClient,
    tag: str,
    ids: list[str],
    deadline: float,
    timings: dict[str, list[float]],
    errors: dict[str, list[str]],
) -> None:
    rng = random.Random()
    ops, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        op = rng.choices(ops, weights)[0]
        at = time.strftime("%H:%M:%S")
        party = customer(tag, rng.randrange(CUSTOMERS))
        started = time.perf_counter()
        try:
            if op == "read":
                answer = await api.get(f"{BASE}/partyInteraction/{rng.choice(ids)}")
                expected = 200
            elif op == "list":
                params = {"relatedParty.id": party, "limit": "20", "sort": "-creationDate"}
                answer = await api.get(f"{BASE}/partyInteraction", params=params)
                expected = 200  # a page of more is a 200 too (206 only with IHUB_PARTIAL_CONTENT_206)
            elif op == "write":
                body = {
                    "reason": "Soak test",
                    "direction": "inbound",
                    "status": "open",
                    "interactionDate": {"startDateTime": "2026-11-20T09:30:00Z"},
                    "channel": [{"id": "voice", "name": "Contact centre", "role": "primary"}],
                    # customers of their own, so that the ingest count at the end counts only ingest
                    "relatedParty": [{"id": f"api-{party}", "role": "customer", "@referredType": "Individual"}],
                }
                answer = await api.post(f"{BASE}/partyInteraction", json=body)
                expected = 201
            elif op == "timeline":
                answer = await api.get(f"/ihub/v1/parties/{party}/timeline", params={"limit": "20"})
                expected = 200
            else:
                params = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
                answer = await api.get("/ihub/v1/analytics/kpis", params=params)
                expected = 200
        except httpx.HTTPError as exc:
            errors[op].append(f"{exc!r} at {at}")
            continue
        timings[op].append((time.perf_counter() - started) * 1000)
        if answer.status_code != expected:
            errors[op].append(f"{answer.status_code} {answer.text[:200]} at {at}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--rate", type=int, default=200, help="ingested events per second")
    parser.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    parser.add_argument("--workers", type=int, default=2, help="ihub worker processes")
    parser.add_argument("--seed-events", type=int, default=3000)
    parser.add_argument("--services", choices=["cluster", "single"], default="cluster")
    args = parser.parse_args()

    bootstrap = os.environ.get("IHUB_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    search = os.environ.get("IHUB_SEARCH_URL", "http://127.0.0.1:9200")
    tag = uuid4().hex[:8]
    alias = f"soak-{tag}"
    env = {**os.environ, "IHUB_STORE": "search", "IHUB_INDEX_ALIAS": alias, "IHUB_WORKER_GROUP": alias}
    # a new group would start at the log's beginning: this run indexes only its own events
    asyncio.run(start_group_at_end({"bootstrap_servers": bootstrap}, alias))
    work = ROOT / ".bench-data" / "soak" / tag
    work.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen] = {}
    port = free_port()
    env["IHUB_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    try:
        for n in range(args.workers):
            folder = work / f"worker-{n + 1}"
            folder.mkdir()
            processes[f"worker-{n + 1}"] = subprocess.Popen(
                [IHUB, "worker"], env=env, cwd=folder, stdout=open(folder / "log", "w"), stderr=subprocess.STDOUT
            )
        processes["api"] = subprocess.Popen(
            [IHUB, "serve", "--store", "search", "--port", str(port), "--data-dir", str(work / "api")],
            env=env,
            stdout=open(work / "api.log", "w"),
            stderr=subprocess.STDOUT,
        )
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{root}{BASE}/partyInteraction?limit=1", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or processes["api"].poll() is not None:
                sys.exit(f"the API did not start (log: {work / 'api.log'})")
            time.sleep(0.5)
        seeds = [channel_event(n, f"{tag}s") for n in range(args.seed_events)]
        ids = [adapt(e).interaction_id for e in seeds]
        publish(bootstrap, seeds)
        deadline = time.monotonic() + 600
        while count(search, alias, f"soak-{tag}s-") < len(ids):
            if time.monotonic() > deadline:
                sys.exit("the seed events were not indexed within 600 s")
            time.sleep(1)
        services = service_groups(args.services)
        before = memory(processes, services)
        print(
            f"soak: {args.seconds} s, ingest {args.rate}/s, {args.clients} API clients, {args.workers} workers, "
            f"{len(ids)} interactions indexed first",
            flush=True,
        )

        stop, sent = threading.Event(), [0]
        ingester = threading.Thread(target=ingest, args=(bootstrap, tag, args.rate, stop, sent), daemon=True)
        ingester.start()
        timings: dict[str, list[float]] = {op: [] for op in MIX}
        errors: dict[str, list[str]] = {op: [] for op in MIX}

        async def load() -> None:
            limits = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(base_url=root, timeout=30, limits=limits) as api:
                end = time.monotonic() + args.seconds
                await asyncio.gather(*(client_loop(api, tag, ids, end, timings, errors) for _ in range(args.clients)))

        started = time.monotonic()
        asyncio.run(load())
        elapsed = time.monotonic() - started
        stop.set()
        ingester.join(60)
        ingested_prefix = f"soak-{tag}-"
        deadline = time.monotonic() + 300
        while count(search, alias, ingested_prefix) < sent[0] and time.monotonic() < deadline:
            time.sleep(1)
        indexed = count(search, alias, ingested_prefix)
        after = memory(processes, services)
        # a read that found nothing: asked again now, and of the engine itself (is it gone, or was
        # the answer wrong at that moment?)
        missed = sorted({e.split("'")[1] for e in errors["read"] if e.startswith("404") and "'" in e})
        recheck = {
            interaction_id: {
                "api": httpx.get(f"{root}{BASE}/partyInteraction/{interaction_id}", timeout=30).status_code,
                "engine": engine_copies(search, alias, interaction_id),
            }
            for interaction_id in missed
        }
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        with contextlib.suppress(httpx.HTTPError):
            drop_deployment(search, alias)

    result = {
        "read_404_asked_again": recheck,
        "seconds": round(elapsed, 1),
        "ingest": {"rate": args.rate, "published": sent[0], "indexed": indexed},
        "operations": {
            op: {
                "requests": len(timings[op]) + len([e for e in errors[op] if not e[:3].isdigit()]),
                "per_s": round(len(timings[op]) / elapsed, 1),
                "p50_ms": round(percentile(timings[op], 50), 1),
                "p99_ms": round(percentile(timings[op], 99), 1),
                "errors": len(errors[op]),
                "first_errors": errors[op][:20],
            }
            for op in MIX
        },
        "rss_mb": {name: {"start": before.get(name), "end": after.get(name)} for name in after},
    }
    print(f"\ningest: {sent[0]} events published at {args.rate}/s, {indexed} indexed")
    print(f"{'operation':10} {'requests':>8} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for op, figures in result["operations"].items():
        print(
            f"{op:10} {figures['requests']:8} {figures['per_s']:7} {figures['p50_ms']:8} {figures['p99_ms']:8} "
            f"{figures['errors']:6}"
        )
    print(f"errors in total: {sum(len(e) for e in errors.values())} (goal 0)")
    print(f"\n{'process':10} {'RSS start MB':>12} {'RSS end MB':>11}")
    for name, rss in result["rss_mb"].items():
        print(f"{name:10} {rss['start']!s:>12} {rss['end']!s:>11}")
    out = ROOT / "artifacts" / "bench-soak.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsummary: {out}")


if __name__ == "__main__":
    main()
