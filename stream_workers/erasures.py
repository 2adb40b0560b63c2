"""What the workers and `ihub reindex` know of past erasures: the erasure log (ERASURES_TOPIC).

When a worker meets an erase (or purge) marker in a partition of the raw topic, it writes to the
erasure log, BEFORE it deletes anything, the ids it is about to erase and the marker's offset (the
watermark). Whoever applies the raw topic afterwards (the same worker after a kill -9, another
worker after a rebalance, a worker group reset to the beginning, `ihub reindex` into a fresh index)
loads the log first and never applies a raw record that lies below an erasure's watermark in its
partition and is about an erased id: the erased interactions are never rebuilt, not even for a
moment, and no change record (so no notification, no contact) is made for them again.

An erasure covers a record when the record's interaction id is one of the erasure's ids (from any
partition's marker) and its offset is below the erasure's watermark in the record's own partition.
Records published after the marker (a returning customer) are applied as usual.

Each write to the log has a key of its own (index, erasure, partition, a random suffix), so nothing
in it ever replaces anything; ids go in chunks that keep each record well under Kafka's record size.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from interaction_hub.topics import partitions_of
from schemas.channel_event import RAW_TOPIC
from schemas.erasure import ERASURES_TOPIC

log = logging.getLogger(__name__)

CHUNK = 5000  # ids per erasure-log record (~200 KB, under the brokers' 1 MB default)


def partition_for(key: str, partitions: int) -> int:
    """The raw-topic partition a key lands in: Kafka's default partitioner for keyed records
    (murmur2, as the Java client and aiokafka compute it), so each marker erases the interactions
    whose events its own partition carries."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class _Erasure:
    watermarks: dict[int, int] = field(default_factory=dict)  # raw partition -> marker offset
    ids: set[str] = field(default_factory=set)


class ErasureRegistry:
    """The erasures known to this process (in memory). `ErasureLog` keeps it in Kafka."""

    def __init__(self, index_alias: str | None = None) -> None:
        self._index_alias = index_alias  # set: only this deployment's erasures count
        self._erasures: dict[str, _Erasure] = {}
        self._by_id: dict[str, set[str]] = {}  # interaction id -> the erasures that name it
        self._recorded: set[tuple[str, str, int]] = set()  # (index, erasure, partition) written

    def covers(self, partition: int, offset: int, interaction_id: str) -> bool:
        """Whether an erasure removed this interaction after the raw record at (partition, offset)."""
        for erasure_id in self._by_id.get(interaction_id, ()):
            watermark = self._erasures[erasure_id].watermarks.get(partition)
            if watermark is not None and offset < watermark:
                return True
        return False

    def applied(self, index: str, erasure_id: str, partition: int) -> bool:
        """Whether a worker of `index` already applied this erasure's marker in this partition."""
        return (index, erasure_id, partition) in self._recorded

    def erased(self, erasure_id: str) -> set[str]:
        found = self._erasures.get(erasure_id)
        return set(found.ids) if found else set()

    def add(self, entry: Mapping[str, Any]) -> None:
        if self._index_alias is not None and entry.get("index") != self._index_alias:
            return  # another deployment's (they share the topics, not the erasures)
        erasure = self._erasures.setdefault(entry["erasure"], _Erasure())
        partition, offset = int(entry["partition"]), int(entry["offset"])
        erasure.watermarks[partition] = max(offset, erasure.watermarks.get(partition, offset))
        for interaction_id in entry.get("ids", ()):
            erasure.ids.add(interaction_id)
            self._by_id.setdefault(interaction_id, set()).add(entry["erasure"])
        self._recorded.add((entry.get("index", ""), entry["erasure"], partition))

    async def record(self, index: str, erasure_id: str, partition: int, offset: int, ids: Iterable[str]) -> None:
        """Note, before deleting them, the ids erased at the marker at (partition, offset)."""
        new = sorted(set(ids) - self.erased(erasure_id))
        if not new and (index, erasure_id, partition) in self._recorded:
            return  # a replayed marker with nothing left to erase: already written
        entries = [
            {"erasure": erasure_id, "partition": partition, "offset": offset, "index": index, "ids": new[i : i + CHUNK]}
            for i in range(0, max(len(new), 1), CHUNK)
        ]
        await self._write(entries)
        for entry in entries:
            self.add(entry)

    async def _write(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Make the entries durable (in memory only here)."""

    async def catch_up(self) -> None:
        """Learn what others wrote since (nothing to learn in memory only)."""

    async def stop(self) -> None:
        """Release what it holds."""


class ErasureLog(ErasureRegistry):
    """The registry, written to and read from ERASURES_TOPIC (acks=all: written means durable)."""

    def __init__(self, kafka: Mapping[str, Any], index_alias: str):
        super().__init__(index_alias)
        self._kafka = kafka
        self._consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False, group_id=None)
        self._producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
        self._partitions: list[TopicPartition] = []

    async def start(self) -> ErasureLog:
        await self._producer.start()
        await self._consumer.start()
        self._partitions = [TopicPartition(ERASURES_TOPIC, p) for p in await partitions_of(self._kafka, ERASURES_TOPIC)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        await self.catch_up()
        await self._forget_expired()
        return self

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._producer.stop()

    async def catch_up(self) -> None:
        """Read the log up to its end as it is now: every erasure written before this call is known."""
        ends = await self._consumer.end_offsets(self._partitions)
        remaining = {tp: end for tp, end in ends.items() if await self._consumer.position(tp) < end}
        while remaining:
            batches = await self._consumer.getmany(*remaining, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    self.add(orjson.loads(record.value))
            for tp in list(remaining):
                if await self._consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]

    async def _write(self, entries: Sequence[Mapping[str, Any]]) -> None:
        for entry in entries:
            key = f"{entry['index']}/{entry['erasure']}/{entry['partition']}/{uuid.uuid4().hex}".encode()
            await self._producer.send_and_wait(ERASURES_TOPIC, value=orjson.dumps(entry), key=key)

    async def _forget_expired(self) -> None:
        """Erasures whose every watermark lies below what the raw topic still holds (its retention
        deleted the records they cover) protect nothing any more: not kept in memory."""
        raw = [TopicPartition(RAW_TOPIC, p) for p in await partitions_of(self._kafka, RAW_TOPIC)]
        starts = {tp.partition: offset for tp, offset in (await self._consumer.beginning_offsets(raw)).items()}
        gone = [
            erasure_id
            for erasure_id, erasure in self._erasures.items()
            if all(watermark <= starts.get(partition, 0) for partition, watermark in erasure.watermarks.items())
        ]
        for erasure_id in gone:
            for interaction_id in self._erasures.pop(erasure_id).ids:
                names = self._by_id.get(interaction_id)
                if names is not None:
                    names.discard(erasure_id)
                    if not names:
                        del self._by_id[interaction_id]
        if gone:
            log.info("%d erasures lie wholly below the raw topic's retention: not loaded", len(gone))
