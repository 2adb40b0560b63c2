"""Publisher SDK for channel systems: validated channel events onto Kafka, correctly keyed.

    async with Publisher("kafka:9092") as publisher:
        await publisher.publish(ChannelEvent(id=..., source=..., type="ihub.voice.call.ended", ...))

Events are checked with the same adapters the workers run, so a bad event fails here, in the
channel system, instead of landing in the dead-letter topic. The key is the interaction id, so
every event about one interaction goes to one partition, in order. The producer waits for all
in-sync replicas (acks=all) and is idempotent (no duplicates from its own retries).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from ingest.adapters import adapt
from schemas.channel_event import RAW_TOPIC, ChannelEvent


class Publisher:
    def __init__(self, bootstrap_servers: str, *, topic: str = RAW_TOPIC, **producer_options: Any):
        self.topic = topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            **producer_options,
        )

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, event: ChannelEvent) -> tuple[int, int]:
        """Validate, publish and wait for the broker: (partition, offset). Raises AdapterError."""
        change = adapt(event)
        metadata = await self._producer.send_and_wait(
            self.topic, value=event.to_bytes(), key=change.interaction_id.encode()
        )
        return metadata.partition, metadata.offset

    async def publish_many(self, events: Iterable[ChannelEvent]) -> int:
        """Publish a batch (pipelined), waiting until the broker has all of them."""
        futures = []
        for event in events:
            change = adapt(event)
            futures.append(
                await self._producer.send(self.topic, value=event.to_bytes(), key=change.interaction_id.encode())
            )
        for future in futures:
            await future
        return len(futures)
