"""Identity resolution: a CRM's bulk import, what resolution adds to the worker, late binding.

    eval "$(scripts/services env)"
    .venv/bin/python bench/identity.py [--parties 1000000] [--directory 1000000,5000000] [--late 10000]
                                       [--only import|resolve|late]

Figures are printed, never asserted; bench/README.md keeps them. They were taken on 2 cores (Intel
Xeon VM), 23 GB of memory, Python 3.11, with Kafka and Elasticsearch on the same machine and other
work running beside (each figure line prints the load average).
1. import: `ihub parties import` of --parties generated TMF632 parties (4 Individuals to 1
   Organization, each with a mobile number and an email address) into a fresh embedded store:
   parties per second, from the command's start to its exit.
2. resolve: the full-mode directory index (`<alias>-parties`, storage/search/directory.py) is bulk
   loaded to each size of --directory (parties; two identifier keys each), the load rate printed
   first. At each size, `Projector.process` (stream_workers/pipeline.py, against the real engine as
   bench/pipeline.py runs it) takes batches of 2,000 Amazon Connect contact records, half of them
   from numbers the directory holds, half from numbers nobody holds: per event, the wall and process
   CPU time of `Projector._resolver` (the directory read) and of the resolution itself (the resolver
   the change model calls), beside the whole `process`; and the RSS of this process (it runs the
   Projector as a worker does) before and after. The directory lives in the engine, whatever its
   size: a worker holds one batch's holdings only.
3. late: an `ihub worker` and an `ihub serve` (full mode, an index alias and consumer group of their
   own) index --late contact records from one phone number (published on the raw topic as the
   ingress publishes them); then one `PUT /ihub/v1/parties/{id}/contactMedium` adds that number: the
   time from the request to every interaction linked (searchable with the party as customer), and
   the worker's RSS once the calls were indexed and once they were linked.
Each run makes its own indices (alias `bench-identity-<tag>`) and deletes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.formats import FORMATS, wrap
from ingest.publisher import Publisher
from ingest.sources import parse as parse_sources
from interaction_hub.topics import start_group_at_end
from schemas.channel_event import ChannelEvent
from schemas.party import Party
from storage.identity import Holding
from storage.search import engine
from storage.search.directory import IDENTIFIER_FIELD, _document
from storage.search.store import SearchStore
from storage.sqlite.store import SqliteStore
from stream_workers.pipeline import Message, Projector
from tests.support.services import drop_deployment, engine_http  # the engine as scripts/services runs it: users, HTTPS
from tests.vendor_samples import sample

IHUB = str(Path(sys.executable).with_name("ihub"))
TOPIC = "ihub.channel-events.v1"
CONNECT = "amazon-connect-ctr"
SOURCES = f'[sources.connect]\nformat = "{CONNECT}"\n'
BATCH = 2000
LOAD_BATCH = 5000  # parties per bulk request while loading the directory
DOMAINS = [f"mail{n}.example" for n in range(50)]


def mobile(n: int) -> str:
    """The n-th customer's mobile number (Portuguese, E.164): 91xxxxxxx holds up to 10 million."""
    return f"+35191{n:07d}"


def unknown(n: int) -> str:
    return f"+35193{n:07d}"  # nobody in the directory holds a 93 number


def tmf632(n: int) -> dict[str, Any]:
    media = [
        {"mediumType": "mobile", "characteristic": {"phoneNumber": mobile(n)}},
        {"mediumType": "email", "characteristic": {"emailAddress": f"customer{n}@{DOMAINS[n % len(DOMAINS)]}"}},
    ]
    if n % 5 == 4:
        return {"@type": "Organization", "id": f"P-{n}", "tradingName": f"Company {n}", "contactMedium": media}
    return {
        "@type": "Individual",
        "id": f"P-{n}",
        "givenName": "Ana",
        "familyName": f"Silva {n}",
        "contactMedium": media,
    }


def rss_mb() -> float:
    return process_rss_mb("self")


def process_rss_mb(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drop_indices(search: str, alias: str) -> None:
    drop_deployment(search, alias)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- 1. the bulk import ----------------------------------------------------------------------------


def bench_import(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        where = Path(tmp)
        asyncio.run(SqliteStore(where / "data", synchronous="NORMAL").close())
        with open(where / "parties.ndjson", "wb") as out:
            for n in range(count):
                out.write(orjson.dumps(tmf632(n)) + b"\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [IHUB, "parties", "import", "--store", "embedded", "--data-dir", str(where / "data"), "parties.ndjson"],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"ihub parties import failed: {done.stderr[-2000:]}")
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(
            f"import: {count} parties in {elapsed:.1f} s = {count / elapsed:,.0f} parties/s (target >= 20,000);"
            f" CPU {cpu:.1f} s in all processes = {cpu / count * 1e6:.0f} us per party; load average {load_average()}"
        )
        print(f"  {done.stdout.strip()}")


# -- 2. resolution in the worker -------------------------------------------------------------------


async def load_directory(store: SearchStore, first: int, last: int) -> float:
    """Parties first..last-1 into the directory index, as PartyIndex.put writes them (without its
    read of what was there and its refresh per request); parties per second."""
    started = time.perf_counter()
    for start in range(first, last, LOAD_BATCH):
        lines = []
        for n in range(start, min(start + LOAD_BATCH, last)):
            resource_ = tmf632(n)
            name = resource_.get("tradingName") or f"{resource_.get('givenName')} {resource_.get('familyName')}"
            party = Party.model_validate(
                {
                    "id": resource_["id"],
                    "name": name,
                    "@referredType": resource_["@type"],
                    "contactMedium": resource_["contactMedium"],
                }
            )
            email = resource_["contactMedium"][1]["characteristic"]["emailAddress"]
            holdings = [
                Holding(party.id, key, None, None, name, party.referredType)
                for key in (f"phone:{mobile(n)}", f"email:{email}")
            ]
            lines.append(orjson.dumps({"index": {"_index": store.directory.index, "_id": party.id}}))
            lines.append(orjson.dumps(_document(party, holdings)))
        answer = await engine.bulk(store.client, lines, refresh=False)
        if answer.get("errors"):
            raise SystemExit(f"the directory refused a party: {answer['items'][0]}")
    await engine.refresh(store.client, store.directory.index)
    return (last - first) / (time.perf_counter() - started)


def contact_records(numbers: list[str]) -> list[ChannelEvent]:
    """An Amazon Connect contact record (the vendor's example) of a call from each number, as the
    ingress puts it on the raw topic."""
    vendor, source = FORMATS[CONNECT], parse_sources(SOURCES, check_env=False)["connect"]
    template = orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))
    found = []
    for number in numbers:
        record = copy.deepcopy(template)
        record["ContactId"] = str(uuid.uuid4())
        record["CustomerEndpoint"] = {"Address": number, "Type": "TELEPHONE_NUMBER"}
        [parsed] = vendor.split(orjson.dumps(record), vendor.media_types[0])
        found.append(wrap(parsed, CONNECT, source.name, source.settings(), record["InitiationTimestamp"]))
    return found


def connect_messages(count: int, known: int, offset: int, rng: random.Random) -> list[Message]:
    """`count` contact records as the worker reads them: half from a number one of the `known`
    parties holds, half from a number nobody holds."""
    numbers = [mobile(rng.randrange(known)) if n % 2 == 0 else unknown(rng.randrange(10**7)) for n in range(count)]
    return [
        Message(TOPIC, 0, offset + n, event.subject.encode() if event.subject else None, event.to_bytes(), time.time())
        for n, event in enumerate(contact_records(numbers))
    ]


class Timed:
    """Wall and process CPU seconds spent in the calls it wraps."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu

        return timed

    def coroutine(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu

        return timed


async def bench_resolve(search_url: str, sizes: list[int], batches: int) -> None:
    from interaction_hub.search_client import search_client
    from interaction_hub.settings import Settings

    tag = uuid.uuid4().hex[:8]
    alias = f"bench-identity-{tag}"
    store = SearchStore(search_client(Settings()), alias)  # IHUB_SEARCH_URL and its credentials
    await store.ensure_index()
    rng = random.Random(1)
    try:
        loaded = 0
        for size in sizes:
            if loaded == 0:  # the first 100,000 tell how long the rest takes
                probe = min(size, 100_000)
                rate = await load_directory(store, 0, probe)
                loaded = probe
                print(
                    f"directory load: {rate:,.0f} parties/s ({2 * rate:,.0f} keys/s) over the first {probe:,};"
                    f" 10 million keys would take {5_000_000 / rate / 60:.0f} min"
                )
            if size > loaded:
                rate = await load_directory(store, loaded, size)
                print(f"directory load: {loaded:,} to {size:,} parties at {rate:,.0f} parties/s")
                loaded = size
            await resolve_at(store, size, batches, rng)
    finally:
        await store.close()
        drop_indices(search_url, alias)


async def resolve_at(store: SearchStore, size: int, batches: int, rng: random.Random) -> None:
    projector = Projector(store, "http://127.0.0.1:8683/tmf-api/partyInteraction/v4")
    resolver, resolution = Timed(), Timed()
    original = projector._resolver

    async def timed_resolver(pending: Any, state: Any) -> Any:
        resolve, generation = await resolver.coroutine(original)(pending, state)
        return resolution.sync(resolve), generation

    projector._resolver = timed_resolver  # type: ignore[method-assign]
    warm = connect_messages(BATCH, size, 0, rng)
    await projector.process(warm)  # connections, caches: not measured
    rss_before = rss_mb()
    resolver.wall = resolver.cpu = resolution.wall = resolution.cpu = 0.0
    total_wall = total_cpu = 0.0
    linked = 0
    for b in range(batches):
        messages = connect_messages(BATCH, size, (b + 1) * BATCH, rng)
        wall, cpu = time.perf_counter(), time.process_time()
        result = await projector.process(messages)
        total_wall += time.perf_counter() - wall
        total_cpu += time.process_time() - cpu
        linked += sum(
            record["new"].get("customerResolution", {}).get("status") == "linked" for _, record in result.changes
        )
    events = batches * BATCH
    print(
        f"resolve with {size:,} parties ({2 * size:,} keys): per event, directory read (_resolver)"
        f" {resolver.wall / events * 1e6:.0f} us wall / {resolver.cpu / events * 1e6:.0f} us CPU;"
        f" resolution {resolution.wall / events * 1e6:.1f} us wall / {resolution.cpu / events * 1e6:.1f} us CPU;"
        f" whole process {total_wall / events * 1e6:.0f} us wall / {total_cpu / events * 1e6:.0f} us CPU"
        f" ({events} events in batches of {BATCH}, {linked} linked); this process's RSS {rss_before:.0f} -> {rss_mb():.0f} MB;"
        f" load average {load_average()}"
    )


# -- 3. late binding in full mode ------------------------------------------------------------------


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def exact_count(search: str, alias: str, query: dict[str, Any]) -> int:
    httpx.post(f"{search}/{alias}/_refresh", **engine_http())
    answer = httpx.post(f"{search}/{alias}/_count", json={"query": query}, **engine_http())
    return int(answer.json()["count"]) if answer.status_code == 200 else 0


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def bench_late(bootstrap: str, search: str, count: int) -> None:
    tag = uuid.uuid4().hex[:8]
    alias, party, number = f"bench-identity-{tag}", f"late-{tag}", mobile(random.randrange(10**7))
    port = 18685
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        (Path(tmp) / "sources.toml").write_text(SOURCES)
        env = {
            **os.environ,
            "IHUB_STORE": "search",
            "IHUB_WORKER_GROUP": f"bench-{tag}",
            "IHUB_INDEX_ALIAS": alias,
            "IHUB_SOURCES_FILE": str(Path(tmp) / "sources.toml"),
            "IHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        subprocess.run([IHUB, "init"], env=env, check=True, capture_output=True)
        asyncio.run(start_group_at_end({"bootstrap_servers": bootstrap}, env["IHUB_WORKER_GROUP"]))
        worker = start([IHUB, "worker"], env, Path(tmp) / "worker.log")
        server = start([IHUB, "serve", "--port", str(port)], env, Path(tmp) / "api.log")
        try:
            asyncio.run(_publish(bootstrap, contact_records([number] * count)))
            carrying = {"term": {IDENTIFIER_FIELD: f"phone:{number}"}}
            linked = {"term": {"relatedParty.id": party}}
            wait(lambda: exact_count(search, alias, carrying) == count, 600, "the calls to be indexed")
            rss_indexed = process_rss_mb(worker.pid)
            wait(lambda: _up(port), 60, "the API")
            started = time.perf_counter()
            answer = httpx.put(
                f"http://127.0.0.1:{port}/ihub/v1/parties/{party}/contactMedium",
                json=[{"mediumType": "mobile", "characteristic": {"phoneNumber": number}}],
                params={"name": "Late Binder"},
                timeout=120,
            )
            answered = time.perf_counter() - started
            if answer.status_code != 200:
                raise SystemExit(f"PUT contactMedium: {answer.status_code} {answer.text}")
            wait(lambda: exact_count(search, alias, linked) == count, 300, "every call to be linked")
            elapsed = time.perf_counter() - started
            rss_linked = process_rss_mb(worker.pid)
            print(
                f"late binding: {count} interactions from one number linked {elapsed:.1f} s after the PUT"
                f" (target <= 10 s; the PUT answered in {answered:.1f} s, its relink events on the raw topic);"
                f" worker RSS {rss_indexed:.0f} MB once the calls were indexed, {rss_linked:.0f} MB once linked;"
                f" load average {load_average()}"
            )
        finally:
            for process in (server, worker):
                process.terminate()
            for process in (server, worker):
                process.wait(30)
            drop_indices(search, alias)


def _up(port: int) -> bool:
    try:
        return (
            httpx.get(f"http://127.0.0.1:{port}/tmf-api/partyInteraction/v4/partyInteraction?limit=0").status_code
            == 200
        )
    except httpx.TransportError:
        return False


async def _publish(bootstrap: str, events: list[ChannelEvent]) -> None:
    async with Publisher(bootstrap) as publisher:
        for start_ in range(0, len(events), 500):
            await publisher.publish_many(events[start_ : start_ + 500])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parties", type=int, default=1_000_000, help="parties the import bench imports")
    parser.add_argument("--directory", default="1000000,5000000", help="directory sizes (parties) resolved against")
    parser.add_argument("--batches", type=int, default=5, help="batches of 2,000 events measured at each size")
    parser.add_argument("--late", type=int, default=10_000, help="interactions the late binding links")
    parser.add_argument("--only", choices=["import", "resolve", "late"])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {load_average()}")
    if args.only in (None, "import"):
        bench_import(args.parties)
    if args.only in ("resolve", "late") or args.only is None:
        bootstrap, search = os.environ.get("IHUB_KAFKA_BOOTSTRAP"), os.environ.get("IHUB_SEARCH_URL")
        if not bootstrap or not search:
            raise SystemExit('run `eval "$(scripts/services env)"` first')
        if args.only in (None, "resolve"):
            asyncio.run(bench_resolve(search, [int(s) for s in args.directory.split(",")], args.batches))
        if args.only in (None, "late"):
            bench_late(bootstrap, search, args.late)


if __name__ == "__main__":
    main()
