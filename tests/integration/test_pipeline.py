"""The whole pipeline on real Kafka and the real engine: channel event -> worker -> index -> TMF683.

Each test runs its own `ihub worker` processes (the `isolated` fixture, tests/integration/conftest.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from uuid import uuid4

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from ingest.adapters import adapt, sample_events
from schemas.channel_event import DLQ_TOPIC, RAW_TOPIC, ChannelEvent
from schemas.dead_letter import DeadLetter
from tests.proxy import TcpProxy
from tests.support.pipeline import count, publish, publish_raw, wait_until, without_links
from tests.support.server import IHUB
from tests.support.services import engine_client, engine_http

pytestmark = pytest.mark.integration


def marked(event: ChannelEvent, marker: str) -> ChannelEvent:
    """The same kind of event about a new interaction (ids made unique by `marker`)."""
    data = dict(event.data)
    for key in ("callId", "sessionId", "visitId", "messageId", "conversationId"):
        if key in data:
            data[key] = f"{data[key]}-{marker}"
    return event.model_copy(update={"id": f"{event.id}-{marker}", "data": data})


def test_every_channel_end_to_end_through_the_tmf683_api(isolated, api_and_worker, search_url, kafka_bootstrap):
    env, server = isolated[0], api_and_worker
    channel_events = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    by_type = {e.type: e for e in sample_events()}
    events = [*channel_events, by_type["tmf683.partyInteraction.create"], by_type["tmf683.partyInteraction.patch"]]
    publish(kafka_bootstrap, events)
    expected_ids = {adapt(e).interaction_id for e in events}
    ours = {"ids": {"values": sorted(expected_ids)}}
    wait_until(lambda: count(search_url, env["IHUB_INDEX_ALIAS"], ours) == len(expected_ids), 90, "indexing")
    api = httpx.Client(base_url=server.url)
    passthrough_url = f"partyInteraction/{by_type['tmf683.partyInteraction.create'].data['id']}"
    wait_until(lambda: api.get(passthrough_url).json().get("status") == "completed", 30, "the patch")
    for event in channel_events:
        change = adapt(event)
        doc = api.get(f"partyInteraction/{change.interaction_id}").json()
        assert doc["href"] == server.url + f"partyInteraction/{change.interaction_id}"
        for key, value in change.body.items() if event.type != "ihub.voice.call.started" else ():
            assert without_links(doc[key]) == without_links(value), (event.type, key)
        channel = change.body["channel"][0]["id"]
        found = api.get("partyInteraction", params={"relatedParty.id": event.subject, "channel.id": channel}).json()
        assert change.interaction_id in [item["id"] for item in found], event.type
    call = api.get(f"partyInteraction/{adapt(by_type['ihub.voice.call.ended']).interaction_id}").json()
    assert call["status"] == "completed"  # started (older version) never overwrote ended
    assert (
        call["creationDate"] == by_type["ihub.voice.call.ended"].time
        or call["creationDate"] == by_type["ihub.voice.call.started"].time
    )
    passthrough = api.get(passthrough_url).json()
    assert "description" not in passthrough  # the patch removed it
    publish(kafka_bootstrap, [by_type["tmf683.partyInteraction.delete"]])
    wait_until(lambda: api.get(f"partyInteraction/{passthrough['id']}").status_code == 404, 30, "the delete")


def read_dead_letters(bootstrap: str, marker: str, expected: int, timeout: float = 60) -> list[DeadLetter]:
    """Dead letters of `expected` distinct raw records (other consumer groups reading the same raw
    topic, like the conformance suite's worker, dead-letter them too)."""

    async def go():
        consumer = AIOKafkaConsumer(DLQ_TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        found: dict[tuple[int, int], DeadLetter] = {}
        try:
            deadline = time.monotonic() + timeout
            while len(found) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for r in records:
                        if marker.encode() in r.value:
                            letter = DeadLetter.from_record(r.key, r.value, r.headers)
                            found[(letter.partition, letter.offset)] = letter
        finally:
            await consumer.stop()
        return list(found.values())

    return asyncio.run(go())


def test_poison_events_go_to_the_dead_letter_topic_and_good_ones_keep_flowing(isolated, search_url, kafka_bootstrap):
    env, worker = isolated
    marker = uuid4().hex
    good = [marked(e, f"{marker}-{n}") for n in range(20) for e in sample_events()[:3]]
    poison = [
        (b"k1", f"not json {marker}".encode()),
        (b"k0", b"\xff\xfe not UTF-8 " + marker.encode() + b" \xc3\x28"),
        (b"k2", orjson.dumps({"id": marker, "source": "x", "type": "ihub.web.session", "time": "never", "data": {}})),
        (
            b"k3",
            orjson.dumps(
                {"id": marker, "source": "x", "type": "ihub.fax.received", "time": "2026-01-01T00:00:00Z", "data": {}}
            ),
        ),
        (
            b"k4",
            orjson.dumps(
                {
                    "id": marker,
                    "source": "urn:x",
                    "type": "ihub.voice.call.ended",
                    "time": "2026-01-01T00:00:00Z",
                    "data": {"callId": 42},
                }
            ),
        ),
        (
            b"k5",
            orjson.dumps(
                {
                    "id": marker,
                    "source": "urn:x",
                    "type": "tmf683.partyInteraction.patch",
                    "time": "2026-01-01T00:00:00Z",
                    "data": {"id": f"missing-{marker}", "patch": {"status": "x"}},
                }
            ),
        ),
    ]
    half = len(good) // 2
    publish(kafka_bootstrap, good[:half])
    publish_raw(kafka_bootstrap, poison)
    publish(kafka_bootstrap, good[half:])
    worker()
    ids = {adapt(e).interaction_id for e in good}
    wait_until(
        lambda: count(search_url, env["IHUB_INDEX_ALIAS"], {"ids": {"values": sorted(ids)}}) == len(ids),
        90,
        "good events",
    )
    letters = read_dead_letters(kafka_bootstrap, marker, len(poison))
    assert len(letters) == len(poison)
    reasons = " | ".join(letter.reason for letter in letters)
    for fragment in ("JSON", "time", "unknown event type", "callId", "no PartyInteraction with id"):
        assert fragment in reasons, reasons
    for letter in letters:
        assert letter.topic == RAW_TOPIC and letter.offset >= 0
    # each dead letter is the raw record byte for byte, invalid UTF-8 included
    assert sorted((letter.key, letter.value) for letter in letters) == sorted(poison)


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(isolated, search_url, kafka_bootstrap):
    env, worker = isolated
    env["IHUB_WORKER_BATCH_SIZE"] = "500"
    marker = uuid4().hex
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], f"{marker}-{n}") for n in range(6000)]
    ids = sorted({adapt(e).interaction_id for e in events})
    publish(kafka_bootstrap, events)
    alias = env["IHUB_INDEX_ALIAS"]
    query = {"ids": {"values": ids}}
    first = worker()
    wait_until(lambda: count(search_url, alias, query) > 500, 120, "the first batches")
    first.kill()
    partial = count(search_url, alias, query)
    assert partial < len(ids), "the kill came too late to test anything"
    worker()
    wait_until(lambda: count(search_url, alias, query) == len(ids), 180, "all events after the restart")
    time.sleep(2)
    assert count(search_url, alias, query) == len(ids)  # and not more: one document per interaction
    # the contacts behind first-contact resolution came through the kill too
    assert_contacts_match_the_documents(search_url, alias)


def assert_contacts_match_the_documents(search_url: str, alias: str) -> None:
    """Every indexed interaction with a customer is a member of exactly one contact, its own, and
    the engine's KPIs are the reference's on the indexed documents."""
    from storage.kpis import KpiQuery, fact, kpis
    from storage.search.contacts import contact_id
    from storage.search.store import SearchStore

    hits = httpx.post(
        f"{search_url}/{alias}/_search", json={"size": 10_000, "query": {"match_all": {}}}, **engine_http()
    ).json()
    facts = [fact(hit["_source"]) for hit in hits["hits"]["hits"]]
    expected = sorted((contact_id(f.customer, f.reason), f.interaction_id) for f in facts if f.customer)
    assert expected

    def members():
        httpx.post(f"{search_url}/{alias}-contacts/_refresh", **engine_http())
        contacts = httpx.post(
            f"{search_url}/{alias}-contacts/_search",
            json={"size": 10_000, "query": {"exists": {"field": "customer"}}},
            **engine_http(),
        ).json()
        return sorted((hit["_id"], m["id"]) for hit in contacts["hits"]["hits"] for m in hit["_source"]["members"])

    # a batch's contacts follow its documents by a moment: wait for them, then compare exactly
    deadline = time.monotonic() + 60
    while members() != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert members() == expected
    query = KpiQuery(min(f.at for f in facts), max(f.at for f in facts) + 1, "month", "channel", 30)

    async def engine_kpis():
        store = SearchStore(engine_client(search_url), alias)
        try:
            return await store.kpis(query)
        finally:
            await store.close()

    assert asyncio.run(engine_kpis()) == kpis(query, facts, facts)


def test_nothing_is_lost_while_the_engine_is_unavailable(isolated, search_url, kafka_bootstrap):
    env, worker = isolated
    scheme, address = search_url.split("://")
    host, port = address.split(":")
    proxy = TcpProxy(f"{host}:{port}")
    # a TCP proxy: TLS, when the engine speaks it, passes through (the certificate names 127.0.0.1)
    env["IHUB_SEARCH_URL"] = f"{scheme}://127.0.0.1:{proxy.port}"
    proxy.cut()  # down from the start: the worker must wait for it, not crash
    marker = uuid4().hex
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], f"{marker}-{n}") for n in range(300)]
    ids = sorted({adapt(e).interaction_id for e in events})
    running = worker()
    publish(kafka_bootstrap, events)
    time.sleep(8)  # the worker is retrying against a dead engine
    assert running.process.poll() is None, "the worker must not crash while the engine is down"
    assert count(search_url, env["IHUB_INDEX_ALIAS"], {"ids": {"values": ids}}) == 0
    proxy.resume()
    wait_until(
        lambda: count(search_url, env["IHUB_INDEX_ALIAS"], {"ids": {"values": ids}}) == len(ids),
        120,
        "ingestion to resume by itself",
    )


def test_reindex_rebuilds_from_the_log_and_switches_the_alias_without_downtime(isolated, search_url, kafka_bootstrap):
    env, worker = isolated
    alias = env["IHUB_INDEX_ALIAS"]
    marker = uuid4().hex
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], f"{marker}-{n}") for n in range(300)]
    ids = sorted({adapt(e).interaction_id for e in events})
    ours = {"ids": {"values": ids}}
    worker()
    publish(kafka_bootstrap, events)
    wait_until(lambda: count(search_url, alias, ours) == len(ids), 120, "indexing")

    def sources() -> dict[str, dict]:
        hits = httpx.post(
            f"{search_url}/{alias}/_search", json={"size": len(ids), "query": ours}, **engine_http()
        ).json()
        return {hit["_id"]: hit["_source"] for hit in hits["hits"]["hits"]}

    before = sources()
    seen: list[int] = []
    reindexing = True

    def watch():  # what readers of the alias see while the index is rebuilt
        while reindexing:
            seen.append(count(search_url, alias, ours))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = subprocess.run([IHUB, "reindex"], env=env, capture_output=True, text=True, timeout=600)
    finally:
        reindexing = False
        watcher.join()
    assert done.returncode == 0, done.stderr[-2000:]
    behind = list(httpx.get(f"{search_url}/_alias/{alias}", **engine_http()).json())
    assert behind and all(index.startswith(f"{alias}.") and index.endswith("-v2") for index in behind)
    assert sources() == before
    assert len(seen) > 5 and min(seen) == len(ids)  # never fewer: readers saw a complete index throughout
    # the running worker writes through the alias, so into the new index
    late = marked(templates[0], f"{marker}-late")
    publish(kafka_bootstrap, [late])
    wait_until(
        lambda: count(search_url, ",".join(behind), {"ids": {"values": [adapt(late).interaction_id]}}) == 1,
        60,
        "a new event in the new index",
    )


def test_import_publishes_the_valid_lines_of_a_file_and_names_the_bad_ones(
    isolated, search_url, kafka_bootstrap, tmp_path
):
    env, worker = isolated
    marker = uuid4().hex
    templates = [e for e in sample_events() if not e.type.startswith("tmf683.")]
    events = [marked(templates[n % len(templates)], f"{marker}-{n}") for n in range(40)]
    lines = [e.to_bytes() for e in events]
    lines.insert(7, b'{"specversion": "1.0", "id": "x"}')  # no source, type, time ...
    lines.insert(20, b"not json")
    file = tmp_path / "events.jsonl"
    file.write_bytes(b"\n".join(lines) + b"\n")
    worker()
    done = subprocess.run([IHUB, "import", str(file)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1  # some lines were rejected
    assert "line 8 rejected" in done.stderr and "line 21 rejected" in done.stderr
    assert "published 40 events, rejected 2" in done.stderr
    ids = sorted({adapt(e).interaction_id for e in events})
    wait_until(
        lambda: count(search_url, env["IHUB_INDEX_ALIAS"], {"ids": {"values": ids}}) == len(ids),
        90,
        "the imported events",
    )
