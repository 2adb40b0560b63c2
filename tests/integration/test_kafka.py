"""Real Kafka: explicit topic creation, idempotent produce, group consume, offset commit."""

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
        assert topic in await admin.list_topics()

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


def test_produce_consume_with_group_and_offset_commit(kafka_bootstrap: str) -> None:
    asyncio.run(asyncio.wait_for(_produce_consume_commit(kafka_bootstrap), 120))


def test_topic_auto_creation_is_off(kafka_bootstrap: str) -> None:
    asyncio.run(asyncio.wait_for(_auto_creation_is_off(kafka_bootstrap), 60))
