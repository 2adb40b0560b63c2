"""The project's Kafka topics, created explicitly (brokers run with auto-creation off)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.channel_event import CHANGES_TOPIC, DLQ_TOPIC, RAW_TOPIC


def topic_specs(partitions: int, replication: int = 1) -> list[NewTopic]:
    # the raw topic is the log of record (the index is rebuilt from it): kept forever
    return [
        NewTopic(RAW_TOPIC, partitions, replication, topic_configs={"retention.ms": "-1"}),
        NewTopic(DLQ_TOPIC, 1, replication, topic_configs={"retention.ms": str(30 * 24 * 3600 * 1000)}),
        NewTopic(CHANGES_TOPIC, partitions, replication, topic_configs={"retention.ms": str(7 * 24 * 3600 * 1000)}),
    ]


async def ensure_topics(kafka: Mapping[str, Any], partitions: int, replication: int = 1) -> None:
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topic_specs(partitions, replication) if spec.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def partitions_of(kafka: Mapping[str, Any], topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for p in description.get("partitions", []))
    if not partitions:
        raise RuntimeError(f"topic {topic} has no partitions (error {description.get('error_code')})")
    return partitions


async def start_group_at_end(
    kafka: Mapping[str, Any], group: str, topic: str = RAW_TOPIC, *, if_new: bool = False
) -> None:
    """Commit a topic's end offsets for a consumer group, so its workers see only what comes next
    (a new group otherwise starts from the beginning of the log). `if_new`: only partitions the
    group has never committed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    partitions = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
    consumer = AIOKafkaConsumer(**kafka, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        if if_new:
            partitions = [tp for tp in partitions if await consumer.committed(tp) is None]
        if partitions:
            ends = await consumer.end_offsets(partitions)
            await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await consumer.stop()
