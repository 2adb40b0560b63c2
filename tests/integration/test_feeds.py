"""Kafka-fed sources on real Kafka and the real engine: a worker reads each feed topic of the sources
file with its source's format (here Amazon Connect contact records as a Firehose-style batch, a
Snowplow enriched event, and the project's envelope in the binary CloudEvents content mode), puts
their events on the raw topic and applies them; a record it cannot use is a dead letter that keeps
its bytes and names its source. Events on the raw topic itself are read in both content modes."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ingest.adapters import adapt, sample_events
from ingest.formats import FORMATS, wrap
from interaction_hub.topics import ensure_topics
from schemas.channel_event import DLQ_TOPIC, RAW_TOPIC
from schemas.dead_letter import DeadLetter
from tests.integration.conftest import count, wait_until
from tests.vendor_samples import sample

pytestmark = pytest.mark.integration


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(go())


def dead_letters(bootstrap: str, source: str, timeout: float = 60) -> list[DeadLetter]:
    async def go() -> list[DeadLetter]:
        consumer = AIOKafkaConsumer(DLQ_TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        found: list[DeadLetter] = []
        try:
            deadline = time.monotonic() + timeout
            while not found and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for r in records:
                        letter = DeadLetter.from_record(r.key, r.value, r.headers)
                        if letter.source == source:
                            found.append(letter)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(go())


def test_feeds_in_their_formats_reach_the_index_and_bad_records_are_dead_letters(
    isolated, search_url, kafka_bootstrap, tmp_path
):
    env, worker = isolated
    tag = uuid4().hex[:8]
    connect, web, own = f"feed-connect-{tag}", f"feed-web-{tag}", f"feed-own-{tag}"
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[sources.connect-{tag}]\nformat = "amazon-connect-ctr"\ntopic = "{connect}"\n\n'
        f'[sources.web-{tag}]\nformat = "snowplow"\ntopic = "{web}"\n\n'
        f'[sources.own-{tag}]\nformat = "ihub"\ntopic = "{own}"\n'
    )
    env["IHUB_SOURCES_FILE"] = str(sources)
    asyncio.run(ensure_topics({"bootstrap_servers": kafka_bootstrap}, 6, feeds=[connect, web, own]))

    # a Firehose-style batch: two contact records concatenated, the second a later revision of the first
    ctr = orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json"))
    other = {**ctr, "ContactId": f"{ctr['ContactId'][:-8]}{tag}"}
    batch = orjson.dumps(ctr) + orjson.dumps(other)
    produce(kafka_bootstrap, connect, [(b"k", batch, []), (b"bad", b'{"ContactId": 7}', [])])
    produce(kafka_bootstrap, web, [(None, sample("snowplow/web-page_view-line.tsv"), [])])
    # the project's envelope in binary content mode: attributes in ce_ headers, data in the value
    event = next(e for e in sample_events() if e.type == "ihub.web.session")
    event = event.model_copy(update={"id": f"ce-{tag}", "data": {**event.data, "sessionId": f"s-{tag}"}})
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.encode()),
        ("ce_subject", (event.subject or "").encode()),
        ("content-type", b"application/json"),
    ]
    produce(kafka_bootstrap, own, [(None, orjson.dumps(event.data), headers)])
    # and on the raw topic itself, in binary mode too
    raw_event = event.model_copy(update={"id": f"ce-raw-{tag}", "data": {**event.data, "sessionId": f"r-{tag}"}})
    raw_headers = [(k, raw_event.id.encode() if k == "ce_id" else v) for k, v in headers]
    produce(
        kafka_bootstrap,
        RAW_TOPIC,
        [(adapt(raw_event).interaction_id.encode(), orjson.dumps(raw_event.data), raw_headers)],
    )

    worker()
    alias = env["IHUB_INDEX_ALIAS"]
    expected = {
        adapt(event).interaction_id,
        adapt(raw_event).interaction_id,
        *vendor_ids("amazon-connect-ctr", f"connect-{tag}", batch),
        *vendor_ids("snowplow", f"web-{tag}", sample("snowplow/web-page_view-line.tsv")),
    }
    assert len(expected) == 5  # two contacts, one web session, two envelopes
    ours = {"ids": {"values": sorted(expected)}}
    wait_until(lambda: count(search_url, alias, ours) == 5, 90, "the feeds' interactions")
    assert count(search_url, alias) == 5  # and nothing else, nothing twice
    [letter] = dead_letters(kafka_bootstrap, f"connect-{tag}")
    assert letter.value == b'{"ContactId": 7}' and letter.key == b"bad" and letter.topic == connect
    assert letter.reason


def vendor_ids(format_id: str, source: str, delivery: bytes) -> set[str]:
    """The interactions a delivery of a source makes, as the format itself keys them."""
    vendor = FORMATS[format_id]
    records = vendor.split(delivery, vendor.media_types[0])
    return {adapt(wrap(r, format_id, source, {"name": source}, "2026-01-01T00:00:00Z")).interaction_id for r in records}
