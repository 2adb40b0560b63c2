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
from tests.support.pipeline import count, wait_until
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


def dead_letters(bootstrap: str, *sources: str, timeout: float = 60) -> list[DeadLetter]:
    """The dead letters of these sources: those there are once one is found, or none by `timeout`."""

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
                        if letter.source in sources:
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
    [letter] = dead_letters(kafka_bootstrap, f"connect-{tag}")
    assert letter.value == b'{"ContactId": 7}' and letter.key == b"bad" and letter.topic == connect
    assert letter.reason


def vendor_ids(format_id: str, source: str, delivery: bytes, media_type: str | None = None) -> set[str]:
    """The interactions a delivery of a source makes, as the format itself keys them."""
    vendor = FORMATS[format_id]
    records = vendor.split(delivery, media_type or vendor.media_types[0])
    return {adapt(wrap(r, format_id, source, {"name": source}, "2026-01-01T00:00:00Z")).interaction_id for r in records}


def twilio_stream_event(tag: str) -> bytes:
    """An inbound message as Twilio Event Streams delivers it (Messaging.InboundMessageV1), in an array."""
    sid = f"SM{tag:0>32}"
    return orjson.dumps(
        [
            {
                "specversion": "1.0",
                "type": "com.twilio.messaging.inbound-message.received",
                "source": f"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/{sid}.json",
                "id": f"EZ{tag:0>32}",
                "datacontenttype": "application/json",
                "data": {
                    "messageSid": sid,
                    "timestamp": "2026-11-20T10:00:00.000Z",
                    "accountSid": "AC0123456789abcdef0123456789abcdef",
                    "eventName": "com.twilio.messaging.inbound-message.received",
                    "from": "+351912345678",
                    "to": "+351210000000",
                    "numMedia": 0,
                    "body": "Is my bill ready?",
                },
            }
        ]
    )


def test_every_vendor_format_arrives_by_its_kafka_feed(isolated, search_url, kafka_bootstrap, tmp_path):
    """Each format's own example on a feed topic of its own (the content-type header names the
    media type where the format takes more than one); nothing dead-lettered, nothing twice."""
    from urllib.parse import urlencode

    env, worker = isolated
    tag = uuid4().hex[:8]
    form = orjson.loads(sample("twilio/inbound-sms-webhook.json"))["form"]
    feeds = {
        "amazon-connect-event": (sample("amazon-connect/contact-event-voice-connected-to-agent.json"), None),
        "genesys-cloud": (sample("genesys-cloud/analytics-conversation-detail-chat-1.json"), None),
        "twilio": (urlencode(form).encode(), "application/x-www-form-urlencoded"),
        "twilio-event-streams": (twilio_stream_event(tag), None),
        "whatsapp-cloud": (sample("whatsapp/pywa-fixture-message-text.json"), None),
        "messenger": (sample("messenger/fbmessenger-api-hackage-wsTextMessageRequest.json"), None),
        "email-mime": (sample("email/flanker-multi-received-headers.eml"), "message/rfc822"),
    }
    table = ""
    for format_id in feeds:
        table += f'[sources.{format_id}-{tag}]\nformat = "{format_id}"\ntopic = "feed-{format_id}-{tag}"\n'
        if FORMATS[format_id].signs:
            table += "unsigned = true\n"  # signatures belong to webhooks; a feed is trusted as Kafka's ACLs say
        if FORMATS[format_id].handshake is not None:
            table += 'verify_token_env = "IHUB_TEST_FEED_TOKEN"\n'
        table += "\n"
    sources = tmp_path / "sources.toml"
    sources.write_text(table)
    env["IHUB_SOURCES_FILE"] = str(sources)
    env["IHUB_TEST_FEED_TOKEN"] = "unused-on-a-feed"
    topics = [f"feed-{format_id}-{tag}" for format_id in feeds]
    asyncio.run(ensure_topics({"bootstrap_servers": kafka_bootstrap}, 6, feeds=topics))
    expected: set[str] = set()
    for format_id, (body, media_type) in feeds.items():
        headers = [("content-type", media_type.encode())] if media_type else []
        produce(kafka_bootstrap, f"feed-{format_id}-{tag}", [(None, body, headers)])
        expected |= vendor_ids(format_id, f"{format_id}-{tag}", body, media_type)
    assert len(expected) == len(feeds)

    worker()
    alias = env["IHUB_INDEX_ALIAS"]
    ours = {"ids": {"values": sorted(expected)}}
    wait_until(lambda: count(search_url, alias, ours) == len(expected), 90, "every feed's interaction")
    assert dead_letters(kafka_bootstrap, *(f"{format_id}-{tag}" for format_id in feeds), timeout=3) == []
