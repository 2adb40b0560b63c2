"""The project's Kafka topics, created explicitly (brokers run with auto-creation off)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from schemas.channel_event import AUDIT_TOPIC, CHANGES_TOPIC, DLQ_TOPIC, RAW_TOPIC
from schemas.erasure import ERASURES_TOPIC

_DAY_MS = 24 * 3600 * 1000


def retention_configs(retention_days: int | None) -> dict[str, dict[str, str]]:
    """retention.ms of the topics that hold interactions' data. The raw topic is the log of record
    (the index is rebuilt from it): kept forever, unless retention (IHUB_RETENTION_DAYS) is on, when
    Kafka deletes its records that many days after they were published (docs/privacy.md). The
    erasure log is kept exactly as long (it guards the raw records below its watermarks); the dead
    letters and the change records are never kept longer than that either."""
    days = retention_days

    def bounded(default_days: int) -> str:
        return str(min(default_days, days) * _DAY_MS if days is not None else default_days * _DAY_MS)

    forever = str(days * _DAY_MS) if days is not None else "-1"
    return {
        RAW_TOPIC: {"retention.ms": forever},
        ERASURES_TOPIC: {"retention.ms": forever},
        DLQ_TOPIC: {"retention.ms": bounded(30)},
        CHANGES_TOPIC: {"retention.ms": bounded(7)},
    }


def topic_specs(
    partitions: int,
    replication: int = 1,
    retention_days: int | None = None,
    min_insync: int = 1,
    feeds: Sequence[str] = (),
) -> list[NewTopic]:
    """The topics, each with `replication` replicas of which `min_insync` must have a write before
    an acks=all producer (every producer of the project) is answered. `feeds`: the topics of
    Kafka-fed sources (the sources file), made here when their own producer has not made them."""
    kept = retention_configs(retention_days)
    durable = {"min.insync.replicas": str(min_insync)}
    return [
        *(NewTopic(feed, partitions, replication, topic_configs=durable) for feed in feeds),
        NewTopic(RAW_TOPIC, partitions, replication, topic_configs={**kept[RAW_TOPIC], **durable}),
        NewTopic(DLQ_TOPIC, 1, replication, topic_configs={**kept[DLQ_TOPIC], **durable}),
        NewTopic(CHANGES_TOPIC, partitions, replication, topic_configs={**kept[CHANGES_TOPIC], **durable}),
        # what each erasure removed (schemas/erasure.py); read whole by every worker at start
        NewTopic(ERASURES_TOPIC, 1, replication, topic_configs={**kept[ERASURES_TOPIC], **durable}),
        # a year of who did what: long enough for a privacy officer's questions, bounded all the same
        NewTopic(AUDIT_TOPIC, 1, replication, topic_configs={"retention.ms": str(365 * _DAY_MS), **durable}),
    ]


async def ensure_topics(
    kafka: Mapping[str, Any],
    partitions: int,
    replication: int = 1,
    *,
    retention_days: int | None = None,
    update_retention: bool = False,
    min_insync: int = 1,
    feeds: Sequence[str] = (),
) -> None:
    """Create the missing topics (`replication` replicas, `min_insync` of them in sync for a write).
    `update_retention` (`ihub init`, the API and the workers at start): also set the retention of
    existing ones to what `retention_days` asks (retention_configs), and their min.insync.replicas
    to `min_insync` (every process of a deployment is given the same settings)."""
    if min_insync > replication:
        raise ValueError(f"min.insync.replicas {min_insync} is more than the replication factor {replication}")
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = topic_specs(partitions, replication, retention_days, min_insync, feeds)
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(missing)
        if update_retention:
            # each of these topics has no other config of ours, so setting the whole set is safe
            # (AlterConfigs replaces a topic's whole set: min.insync.replicas is part of it)
            await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, name, configs={**configs, "min.insync.replicas": str(min_insync)}
                    )
                    for name, configs in retention_configs(retention_days).items()
                    if name in existing
                ]
            )
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
