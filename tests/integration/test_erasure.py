"""Erasure stays erased, against real Kafka and a real engine: with events for the party in flight,
after a kill -9 of the worker and a replay of its whole group from the start, and after `ihub
reindex` rebuilds the index from the log. A create for the party after the erasure survives all of it."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from ingest.adapters.tmf683 import event_for
from ingest.publisher import Publisher
from interaction_hub.search_client import search_client
from interaction_hub.settings import Settings
from interaction_hub.topics import partitions_of
from query_api.full_mode import LogBackedStore
from schemas.change_record import Applied, ChangeRecord, change_record
from schemas.channel_event import CHANGES_TOPIC, RAW_TOPIC
from storage.changes import Change
from storage.search.store import SearchStore
from stream_workers.erasures import partition_for
from stream_workers.reindex import reindex
from tests.support.pipeline import wait_until
from tests.support.services import engine_http

pytestmark = pytest.mark.integration


def strict_count(search_url: str, index: str, query: dict) -> int:
    response = httpx.post(f"{search_url}/{index}/_count", json={"query": query}, **engine_http())
    assert response.status_code == 200, response.text  # never a silent 0
    return response.json()["count"]


def indexed(search_url: str, index: str, interaction_id: str) -> bool:
    """Whether the interaction is indexed (False also while the worker has not made the index yet)."""
    response = httpx.post(
        f"{search_url}/{index}/_count", json={"query": {"ids": {"values": [interaction_id]}}}, **engine_http()
    )
    return response.status_code == 200 and response.json()["count"] == 1


def naming(party: str) -> dict:
    return {"term": {"relatedParty.id": party}}


def create_event(interaction_id: str, party: str, n: int):
    body = {
        "reason": f"call {n % 3}",
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "description": f"what {party} said",
        "interactionDate": {"startDateTime": f"2026-03-{1 + n % 28:02d}T10:00:00Z"},
        "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual", "name": "Ana"}],
    }
    return event_for(
        Change.at("create", interaction_id, "2026-03-01T10:00:00Z", body, href=f"http://h/{interaction_id}")
    )


def settings_of(env: dict[str, str]) -> Settings:
    fields = {
        k[5:].lower(): v for k, v in env.items() if k.startswith("IHUB_") and k[5:].lower() in Settings.model_fields
    }
    return Settings(**fields)


async def publish(bootstrap: str, events) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(events)


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of({"bootstrap_servers": bootstrap}, topic)]
        return await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def reset_group(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for the group (its killed member must have left it first: retried until then)."""
    deadline = time.monotonic() + 60
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            await consumer.stop()
        await asyncio.sleep(1)


async def changes_since(bootstrap: str, since: dict[TopicPartition, int], alias: str) -> list[ChangeRecord]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        ends = await consumer.end_offsets(list(since))
        found: list[ChangeRecord] = []
        remaining = set(since)
        while remaining:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found += [change_record(r.value) for r in records]
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return [r for r in found if r.index == alias]
    finally:
        await consumer.stop()


def sentinel_ids(tag: str, partitions: int) -> list[str]:
    """One id for each raw partition: when all are indexed, every partition was read that far."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        candidate = f"sentinel-{tag}-{n}"
        found.setdefault(partition_for(candidate, partitions), candidate)
        n += 1
    return list(found.values())


def test_erased_stays_erased_through_kill_replay_and_reindex(isolated, kafka_bootstrap, search_url):
    env, start_worker = isolated
    settings = settings_of(env)
    alias, tag = settings.index_alias, uuid4().hex[:8]
    party, others = f"gone-{tag}", [f"kept-{tag}-{i}" for i in range(3)]
    start = asyncio.run(end_offsets(kafka_bootstrap, RAW_TOPIC))  # where the group starts
    worker = start_worker()

    # a first event, so the worker is up before the scenario begins
    asyncio.run(publish(kafka_bootstrap, [create_event(f"warm-{tag}", others[0], 0)]))
    wait_until(lambda: indexed(search_url, alias, f"warm-{tag}"), 90, "the worker")

    erased_ids = [f"{party}-{n}" for n in range(300)]
    kept = {other: [f"{other}-{n}" for n in range(100)] for other in others}
    kept[others[0]].append(f"warm-{tag}")
    in_flight = [create_event(i, party, n) for n, i in enumerate(erased_ids)]
    in_flight += [
        create_event(i, other, n) for other, ids in kept.items() for n, i in enumerate(ids) if "warm" not in i
    ]

    async def erase_with_events_in_flight() -> list[str]:
        await publish(kafka_bootstrap, in_flight)  # acknowledged by the brokers, not yet applied
        store = LogBackedStore(
            SearchStore(search_client(settings), alias), {"bootstrap_servers": kafka_bootstrap}, timeout_s=30
        )
        await store.start()
        try:
            return await store.erase_party(party, lambda old, new: [])
        finally:
            await store.close()

    erased = asyncio.run(erase_with_events_in_flight())
    assert sorted(erased) == sorted(erased_ids)  # every one published before the erasure, and only them
    assert strict_count(search_url, alias, naming(party)) == 0
    for other, ids in kept.items():
        assert strict_count(search_url, alias, naming(other)) == len(ids)

    # the customer comes back after the erasure: that interaction is theirs to keep
    returning = f"{party}-returning"
    asyncio.run(publish(kafka_bootstrap, [create_event(returning, party, 7)]))
    wait_until(lambda: strict_count(search_url, alias, naming(party)) == 1, 60, "the returning customer's interaction")
    wait_until(
        lambda: strict_count(f"{search_url}", f"{alias}-contacts", {"term": {"customer": party}}) == 1,
        60,
        "the contacts to follow",
    )
    contact = httpx.post(
        f"{search_url}/{alias}-contacts/_search", json={"query": {"term": {"customer": party}}}, **engine_http()
    ).json()["hits"]["hits"][0]["_source"]
    assert [m["id"] for m in contact["members"]] == [returning]

    # kill -9, then the whole group replays everything from where it started
    worker.kill()
    changes_before = asyncio.run(end_offsets(kafka_bootstrap, CHANGES_TOPIC))
    asyncio.run(reset_group(kafka_bootstrap, settings.worker_group, start))
    start_worker()
    sentinels = sentinel_ids(tag, len(start))
    asyncio.run(publish(kafka_bootstrap, [create_event(i, others[1], 1) for i in sentinels]))
    seen = []
    deadline = time.monotonic() + 180
    while strict_count(search_url, alias, {"ids": {"values": sentinels}}) < len(sentinels):
        seen.append(strict_count(search_url, alias, naming(party)))
        assert time.monotonic() < deadline, "the replay did not finish"
        time.sleep(0.1)
    assert set(seen) <= {1}, seen  # never more than the returning one, at any moment of the replay
    assert strict_count(search_url, alias, {"ids": {"values": erased_ids}}) == 0
    replayed = asyncio.run(changes_since(kafka_bootstrap, changes_before, alias))
    erased_again = [r for r in replayed if isinstance(r, Applied) and r.interaction_id in set(erased_ids)]
    assert not erased_again  # no record, no notification
    contact = httpx.post(
        f"{search_url}/{alias}-contacts/_search", json={"query": {"term": {"customer": party}}}, **engine_http()
    ).json()["hits"]["hits"][0]["_source"]
    assert [m["id"] for m in contact["members"]] == [returning]

    # ihub reindex: a fresh index from the raw log
    asyncio.run(reindex(settings))
    behind = httpx.get(f"{search_url}/_alias/{alias}", **engine_http()).json().keys()
    assert behind and all(index.endswith("-v2") for index in behind)
    assert strict_count(search_url, alias, naming(party)) == 1
    assert strict_count(search_url, alias, {"ids": {"values": [returning]}}) == 1
    assert strict_count(search_url, alias, {"ids": {"values": erased_ids}}) == 0
    for other, ids in kept.items():
        expected = len(ids) + (len(sentinels) if other == others[1] else 0)
        assert strict_count(search_url, alias, naming(other)) == expected
