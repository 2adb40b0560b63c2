"""Publishing full mode's erase and purge markers (schemas/erasure.py, docs/privacy.md).

An erasure or purge is one marker per partition of the raw topic, each sent INTO its partition
(explicitly, not by key), so every partition's worker meets it after everything published there
before it. The markers are the first thing an erasure writes: nothing is deleted before the log of
record holds the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from interaction_hub.topics import partitions_of
from schemas.channel_event import RAW_TOPIC
from schemas.common import utc_now
from schemas.erasure import Marker


def markers(
    partitions: int, index: str, *, party_id: str | None = None, before: datetime | None = None
) -> list[Marker]:
    """One marker per raw partition, for an erasure of `party_id` or a purge of what ended `before`."""
    if (party_id is None) == (before is None):
        raise ValueError("a marker erases a party or purges what ended before an instant")
    erasure_id = uuid.uuid4().hex
    cutoff = before.astimezone(UTC).isoformat().replace("+00:00", "Z") if before is not None else None
    now = utc_now()
    return [Marker(erasure_id, p, partitions, party_id, cutoff, now, index) for p in range(partitions)]


async def send_markers(producer: AIOKafkaProducer, found: list[Marker]) -> None:
    """Each marker into its own partition, acknowledged by the brokers (acks=all) before returning."""
    futures = [
        await producer.send(RAW_TOPIC, value=m.event().to_bytes(), key=m.key, partition=m.partition) for m in found
    ]
    for future in futures:
        await future


async def publish_markers(
    kafka: Mapping[str, Any], index: str, *, party_id: str | None = None, before: datetime | None = None
) -> str:
    """Publish an erasure's or a purge's markers without waiting for the workers; its id."""
    found = markers(len(await partitions_of(kafka, RAW_TOPIC)), index, party_id=party_id, before=before)
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await send_markers(producer, found)
    finally:
        await producer.stop()
    return found[0].erasure_id
