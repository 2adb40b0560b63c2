"""Many records onto Kafka at once: built into batches per partition, then handed to the producer.

`producer.send` does per record what a batch needs once (the partition's batch looked up, a
future made and awaited). `send_all` builds each partition's batches itself and sends those
(`create_batch`, `send_batch`). It chooses each keyed record's partition as the producer's own
partitioner does (murmur2 of the key over the topic's partitions, aiokafka's `DefaultPartitioner`),
so a key's records land on the partition `producer.send` would put them on, and in the order given:
consumers rely on a key's order. With `enable_idempotence`, the producer gives these batches their
sequence numbers as it sends them, as it does its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

# (topic, key, value, headers)
Record = tuple[str, bytes | None, bytes, Sequence[tuple[str, bytes]] | None]

_partitioner = DefaultPartitioner()


async def send_all(producer: AIOKafkaProducer, records: Iterable[Record]) -> None:
    """Publish `records`; return once the brokers acknowledged each (as the producer's acks ask).
    A record without a key goes to any of its topic's partitions."""
    partitions: dict[str, list[int]] = {}
    chosen: dict[tuple[str, bytes], int] = {}
    batches: dict[tuple[str, int], list[Any]] = {}  # (topic, partition) -> its BatchBuilders, in order
    for topic, key, value, headers in records:
        found = partitions.get(topic)
        if found is None:
            found = partitions[topic] = sorted(await producer.partitions_for(topic))
        if key is None:
            partition = random.choice(found)
        else:
            partition = chosen.get((topic, key), -1)
            if partition < 0:
                partition = chosen[topic, key] = _partitioner(key, found, found)
        builders = batches.get((topic, partition))
        if builders is None:
            builders = batches[topic, partition] = [producer.create_batch()]
        if builders[-1].append(timestamp=None, key=key, value=value, headers=headers or []) is None:
            builders.append(producer.create_batch())  # that one is full; a first record always fits
            builders[-1].append(timestamp=None, key=key, value=value, headers=headers or [])
    # every partition's first batch, then every second one, ...: the producer takes a partition's
    # next batch only once the one before is on its way, meanwhile the others' go
    queues = [[(where, builder) for builder in builders] for where, builders in batches.items()]
    futures = []
    for round_ in zip_longest(*queues):
        for entry in round_:
            if entry is not None:
                (topic, partition), builder = entry
                builder.close()  # nothing `send` adds to it
                futures.append(await producer.send_batch(builder, topic, partition=partition))
    for future in futures:
        await future
