"""Real Kafka: explicit topic creation, idempotent produce (one record, and in batches), group consume,
offset commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

pytestmark = pytest.mark.integration

PARTITIONS = 2
MESSAGES = 20


async def _consume(consumer: AIOKafkaConsumer, count: int, seconds: float = 30) -> list:
    records: list = []
    deadline = asyncio.get_running_loop().time() + seconds
    while len(records) < count and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for partition_records in batch.values():
            records.extend(partition_records)
    return records


async def _produce_consume_commit(bootstrap: str) -> None:
    topic = f"ihub-it-{uuid.uuid4().hex[:12]}"
    group = f"ihub-it-group-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # Auto-creation is off on the broker: the topic must be created explicitly.
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
        # the broker answered once the controller made it; the metadata the broker serves may
        # name it a moment later
        deadline = asyncio.get_running_loop().time() + 10
        while topic not in await admin.list_topics():
            assert asyncio.get_running_loop().time() < deadline, f"{topic} was created but never listed"
            await asyncio.sleep(0.1)

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            sent = [
                await producer.send_and_wait(topic, key=f"party-{i % 5}".encode(), value=f"interaction-{i}".encode())
                for i in range(MESSAGES)
            ]
        finally:
            await producer.stop()
        assert {meta.partition for meta in sent} <= set(range(PARTITIONS))
        end_offsets: dict[int, int] = {}
        for meta in sent:
            end_offsets[meta.partition] = max(end_offsets.get(meta.partition, 0), meta.offset + 1)

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            records = await _consume(consumer, MESSAGES)
            assert sorted(r.value for r in records) == sorted(f"interaction-{i}".encode() for i in range(MESSAGES))
            # Same key, same partition, in order.
            for key in {r.key for r in records}:
                values = [int(r.value.split(b"-")[1]) for r in records if r.key == key]
                assert values == sorted(values)
            await consumer.commit()
        finally:
            await consumer.stop()

        # A second member of the group sees the committed offsets and resumes after them.
        resumed = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await resumed.start()
        try:
            for partition, end in end_offsets.items():
                assert await resumed.committed(TopicPartition(topic, partition)) == end
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
            await producer.start()
            try:
                await producer.send_and_wait(topic, key=b"party-late", value=b"interaction-late")
            finally:
                await producer.stop()
            late = await _consume(resumed, 1)
            assert [r.value for r in late] == [b"interaction-late"]
            await resumed.commit()
        finally:
            await resumed.stop()
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def _auto_creation_is_off(bootstrap: str) -> None:
    missing = f"ihub-it-missing-{uuid.uuid4().hex[:12]}"
    # A producer's metadata request asks the broker to auto-create the topic; it must not.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
            await producer.partitions_for(missing)
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert missing not in await admin.list_topics()
    finally:
        await admin.close()


async def _batched_publishing(bootstrap: str) -> None:
    from stream_workers.publishing import Record, send_all

    topic = f"ihub-it-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            keys = [f"interaction-{n}".encode() for n in range(20)]
            sent: list[Record] = [
                (topic, keys[n % 20], b"%d " % n + b"x" * 300, [("n", str(n).encode())] if n % 3 else None)
                for n in range(600)  # several batches of the producer's size to each partition
            ]
            await send_all(producer, sent)
            # `send` afterwards: the same partition per key, and the idempotent producer's sequence
            # numbers still in step with the brokers'
            where = {key: (await producer.send_and_wait(topic, key=key, value=b"probe")).partition for key in keys}
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            records = await _consume(consumer, len(sent) + len(keys))
        finally:
            await consumer.stop()
        assert len(records) == len(sent) + len(keys)  # each once
        for key in keys:
            mine = [r for r in records if r.key == key]
            assert {r.partition for r in mine} == {where[key]}
            assert [r.value for r in mine] == [value for _, k, value, _ in sent if k == key] + [b"probe"]
        headers = {r.value: list(r.headers) for r in records}
        assert all(headers[value] == list(h or []) for _, _, value, h in sent)
    finally:
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


def test_produce_consume_with_group_and_offset_commit(kafka_bootstrap: str) -> None:
    asyncio.run(asyncio.wait_for(_produce_consume_commit(kafka_bootstrap), 120))


def test_batched_publishing_lands_where_send_does_on_an_idempotent_producer(kafka_bootstrap: str) -> None:
    """stream_workers/publishing.py: each key on the partition `send` gives it, in order, headers kept."""
    asyncio.run(asyncio.wait_for(_batched_publishing(kafka_bootstrap), 120))


def test_topic_auto_creation_is_off(kafka_bootstrap: str) -> None:
    asyncio.run(asyncio.wait_for(_auto_creation_is_off(kafka_bootstrap), 60))
