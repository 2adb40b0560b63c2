"""`ihub reindex`: rebuild every period's index from the Kafka log into a new generation and
move the aliases to it.

1. a store over generation N+1 of the periods (storage/search/partitions.py), made as it writes;
2. replay the raw topic from the beginning up to the end offsets seen at the start, then again
   up to the new end (what live workers indexed meanwhile), and refresh: the new generation is
   complete and searchable;
3. point the alias every search reads, and each period's alias, at the new generation in one
   atomic alias update;
4. replay what came in the moment before the switch, and refresh (writes are versioned, so
   replaying is harmless).
Queries keep working throughout: the aliases only ever point at complete, searchable indices, and a
mapping change reaches every document without a moment of downtime.

Resumable: the replay commits its offsets under a consumer group of its own generation
(`<alias>-reindex-v<N>`), so a reindex stopped half-way goes on from where it was when run again
(the indices it filled are still there); a finished one leaves nothing to resume.

Erasures (docs/privacy.md): the erasure log is loaded before the first record is replayed, and no
record an erasure covers is applied, so an erased interaction is not in the new generation, not even
for a moment; the erase markers in the log are met again in order and change nothing more.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import Progress

from interaction_hub.kafka_client import kafka_options
from interaction_hub.provisioning import prepare
from interaction_hub.search_client import search_store
from interaction_hub.settings import Settings
from interaction_hub.topics import partitions_of
from schemas.channel_event import RAW_TOPIC
from stream_workers.erasures import ErasureLog
from stream_workers.pipeline import Message, Projector

console = Console(stderr=True)


async def reindex(settings: Settings) -> str:
    await prepare(settings)
    store = search_store(settings)
    consumer: AIOKafkaConsumer | None = None
    erasures: ErasureLog | None = None
    try:
        # only the interaction indices are rebuilt: the FCR contacts stay as the workers keep them
        new = await store.next_generation()
        group = f"{settings.index_alias}-reindex-v{new.generation}"
        consumer = AIOKafkaConsumer(**kafka_options(settings), enable_auto_commit=False, group_id=group)
        await consumer.start()
        erasures = await ErasureLog(kafka_options(settings), settings.index_alias).start()  # before any record
        projector = Projector(
            new, settings.resource_root() + settings.base_path, erasures=erasures, index_alias=settings.index_alias
        )

        # from the brokers' metadata: a consumer that has not fetched yet knows no partitions
        partitions = [TopicPartition(RAW_TOPIC, p) for p in await partitions_of(kafka_options(settings), RAW_TOPIC)]
        consumer.assign(partitions)
        resumed = 0
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
                resumed += committed
        if resumed:
            console.print(f"going on with generation {new.generation} from {resumed} events already replayed")
        replayed = await _replay(consumer, projector, await consumer.end_offsets(partitions), "replaying the log")
        replayed += await _replay(consumer, projector, await consumer.end_offsets(partitions), "catching up")
        # searchable before readers get it: an unrefreshed index shows only part of its documents
        await new.refresh()
        old = await store.switch_to(new)
        replayed += await _replay(consumer, projector, await consumer.end_offsets(partitions), "the last events")
        await new.refresh()
        periods = len(await new.periods())
        return (
            f"reindexed {replayed} events from {RAW_TOPIC} into {periods} periods of generation {new.generation}; "
            f"{store.alias} left {', '.join(old) or 'nothing'} (kept: delete them when the new ones are trusted)"
        )
    finally:
        if erasures is not None:
            await erasures.stop()
        if consumer is not None:
            await consumer.stop()
        await store.close()


async def _replay(consumer: AIOKafkaConsumer, projector: Projector, ends: dict[TopicPartition, int], label: str) -> int:
    remaining: dict[TopicPartition, int] = {}
    total = 0
    for tp, end in ends.items():
        position = await consumer.position(tp)
        if position < end:
            remaining[tp] = end
            total += end - position
    done = 0
    with Progress(console=console) as progress:
        task = progress.add_task(label, total=total)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            messages = [
                Message(tp.topic, tp.partition, r.offset, r.key, r.value)
                for tp, records in batches.items()
                for r in records
                if r.offset < remaining[tp]
            ]
            await projector.process(messages)  # dead letters and change records were published the first time
            await consumer.commit()  # what a stopped reindex goes on from
            done += len(messages)
            progress.advance(task, len(messages))
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
    return done
