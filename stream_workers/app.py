"""The faust-streaming worker: raw channel events -> search index, dead letters, change records.

Thin on purpose: decode a batch, `Projector.fold` it, and while the next batch is folded, write it
(`Projector.write`), publish its dead letters and change records (acks=all, in batches per
partition: stream_workers/publishing.py) and queue the hub subscribers' notifications they cause
(stream_workers/notifier.py). The API, which answers its clients from the change records, has its
answer then. The contacts behind first-contact resolution (stream_workers/contacts.py) are updated
from the same records while the next batch is written, and only after that does faust ack the
batch: offsets are committed in batch order, each batch's once the engine acknowledged every write
of it and the brokers every record it published (at-least-once; the versioned writes make replays
idempotent). A batch whose write or publishing failed is never acked, nor is any after it.

Agent concurrency stays 1: faust-streaming's at-least-once acking is unsafe with concurrency > 1
(its issue #606). Scale out with more worker processes, up to the number of partitions.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaProducer

from ingest.sources import load as load_sources
from interaction_hub.backoff import until_done
from interaction_hub.directory import SearchDirectory
from interaction_hub.kafka_client import faust_credentials, kafka_options
from interaction_hub.search_client import search_client, search_store
from interaction_hub.settings import Settings
from interaction_hub.shutdown import arm_deadline
from schemas.change_record import ChangeRecord, Erased
from schemas.channel_event import CHANGES_TOPIC, DLQ_TOPIC, RAW_TOPIC
from storage.search.contacts import ContactIndex
from storage.search.subscriptions import SubscriptionIndex
from stream_workers import contacts, faust_patches, metrics
from stream_workers.batching import Ack, batches
from stream_workers.erasures import ErasureLog
from stream_workers.feeds import Bridged, bridge, feeds
from stream_workers.notifier import Notifier
from stream_workers.operations import WorkerState
from stream_workers.party_events import apply_party_events
from stream_workers.pipeline import BatchResult, Folded, Message, Projector
from stream_workers.publishing import Record, send_all

log = logging.getLogger(__name__)


def settle_the_heap() -> None:
    """The worker's garbage-collector settings: what start-up made is frozen out of every
    collection, and the young generation is collected past 500,000 objects (the fold leaves
    almost no cycles, so a smaller threshold only rescans a batch's live documents)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(500_000, 20, 100)


def run_worker(
    make_app: Callable[[], faust.App],
    *,
    loglevel: str = "info",
    shutdown_timeout_s: float | None = None,
    status: WorkerState | None = None,
) -> None:
    """Run a faust app tuned for many small events (`ihub worker`, and bench/faust_floor.py).

    faust is patched first (stream_workers/faust_patches.py: a short fetch wait, each message
    delivered in place).

    faust's loops (its own and the consumer thread's) run on uvloop. Per event a worker allocates
    hundreds of objects, which reference counting frees when the batch is done (the fold leaves
    almost no cycles). The cycle collector would only keep scanning them, and what faust, aiokafka
    and pydantic built at start-up: that is frozen into the permanent generation, and the young
    generation is collected only past half a million objects (more than a batch of 2,000 events
    holds), so on the ingest path it hardly ever runs; cycles are still collected. What each of
    these saves is in bench/README.md.

    With `shutdown_timeout_s` (`ihub worker`): logging is left as the caller set it up, and a
    SIGTERM or SIGINT starts faust's stop and a deadline: a worker that has not exited by then
    (Kafka or the engine gone, its commit hanging) ends with exit code 3, having committed only
    what was applied (stream_workers/batching.py)."""
    import mode.loop

    mode.loop.use("uvloop")  # before the app exists, so every loop it makes is a uvloop one
    faust_patches.apply()  # before the app builds its consumer
    app = make_app()
    settle_the_heap()
    if shutdown_timeout_s is None:
        faust.Worker(app, loglevel=loglevel).execute_from_commandline()
    timeout_s = shutdown_timeout_s

    class Worker(faust.Worker):
        def _schedule_shutdown(self, signum: signal.Signals) -> None:
            if status is not None:
                status.stopping = True
            arm_deadline(timeout_s, f"ihub worker ({signal.Signals(signum).name})")
            super()._schedule_shutdown(signum)

    Worker(app, loglevel=loglevel, override_logging=False).execute_from_commandline()


class App(faust.App):
    """faust's App without its Monitor sensor, which keeps statistics on every event of every
    stream for faust's own web views (off here), a cost on every event for nothing the worker
    shows. The worker exports its own metrics (stream_workers/metrics.py)."""

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        if self.monitor in list(self.sensors):
            self.sensors.remove(self.monitor)
        return dependencies


def create_worker(settings: Settings, status: WorkerState | None = None) -> faust.App:
    app = App(
        settings.worker_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),  # the same security as every aiokafka client
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,  # a killed worker's partitions move on within seconds
        stream_buffer_maxsize=2 * settings.worker_batch_size,
        producer_acks=-1,
        # Do not wait at shutdown/rebalance for events already taken into an agent's batch: one
        # buffered but never got to is never acked, and the wait would never end (a SIGTERM-ed
        # worker hung). Every agent here is idempotent and offsets are only committed for acked
        # events, so those events simply come again.
        stream_wait_empty=False,
        topic_partitions=settings.topic_partitions,
        # where faust keeps its tables; this worker has none, so nothing there needs to last (by
        # default faust would make the folder in the working directory)
        datadir=Path(tempfile.gettempdir()) / f"ihub-worker-{settings.worker_group}",
    )
    raw = app.topic(RAW_TOPIC, key_type=bytes, value_type=bytes, internal=False)

    @app.agent(raw, concurrency=1)
    async def project(stream: faust.StreamT[bytes]) -> None:
        client = search_client(settings)
        store = search_store(settings, client)
        notifier = Notifier(SubscriptionIndex(client, f"{settings.index_alias}-subscriptions"), settings)
        # every erasure so far, before the first record is applied (docs/privacy.md)
        erasures = await until_done(
            "loading the erasure log", lambda: ErasureLog(kafka_options(settings), settings.index_alias).start()
        )
        projector = Projector(store, settings.resource_root() + settings.base_path, erasures=erasures)
        producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True, linger_ms=0)
        await producer.start()
        # Each step of a batch comes after the same step of the batch before: its fold (here), then
        # its write and publishing (`writing`, while the next batch is folded), then its contacts and
        # ack (`following`, while the next batch is written).
        writing: asyncio.Task[asyncio.Task[None]] | None = None
        following: asyncio.Task[None] | None = None

        async def finish(folded: Folded, ack: Ack, before: asyncio.Task[None] | None) -> asyncio.Task[None]:
            """Write a folded batch and publish what it answers; then, once the batch `before` it has
            its contacts and its ack, start this one's: the task that does them."""
            started = time.perf_counter()
            result = await projector.write(folded)
            written = time.perf_counter()
            records = [record for _, record in result.changes]
            if any(isinstance(record, Erased) for record in records):
                # an erasure is answered (its change record) only once the contacts hold
                # nothing of what it removed: they are brought up to date first
                if before is not None:
                    await before
                before = None
                await update_contacts(records, store.contacts, _nothing)
                records_for_contacts: list[ChangeRecord] = []
            else:
                records_for_contacts = records
            await asyncio.gather(publish(producer, result), notifier.handle(records))
            if before is not None:
                await before  # its error, if any, is this batch's: nothing after it is acked
            log.debug(
                "batch: write %.1f ms, publish %.1f ms",
                (written - started) * 1000,
                (time.perf_counter() - written) * 1000,
            )
            contacts_task = asyncio.create_task(update_contacts(records_for_contacts, store.contacts, ack))
            contacts_task.add_done_callback(_log_failure)
            return contacts_task

        try:
            async for events, ack in batches(stream, settings.worker_batch_size, settings.worker_batch_seconds):
                batch = [_message(e) for e in events]
                metrics.BATCH_SIZE.observe(len(batch))
                started = time.perf_counter()
                folded = await projector.fold(batch)
                log.debug("batch %d: fold %.1f ms", len(batch), (time.perf_counter() - started) * 1000)
                if writing is not None:
                    following = await writing  # its error, if any, stops the agent: nothing after it is acked
                writing = asyncio.create_task(finish(folded, ack, following))
                writing.add_done_callback(_log_failure)
        finally:
            # stopped: what is still running is cancelled unacked, and its batch comes again
            if writing is not None:
                writing.cancel()
                [last] = await asyncio.gather(writing, return_exceptions=True)
                if isinstance(last, asyncio.Task):
                    last.cancel()
                    await asyncio.gather(last, return_exceptions=True)
            if following is not None:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
            await producer.stop()
            await erasures.stop()
            await notifier.close()
            await store.close()

    by_topic = feeds(load_sources(settings.sources_file)) if settings.sources_file else {}
    if by_topic:
        feed_topics = app.topic(*sorted(by_topic), key_type=bytes, value_type=bytes, internal=False)

        @app.agent(feed_topics, concurrency=1)
        async def bridge_feeds(stream: faust.StreamT[bytes]) -> None:
            """The Kafka-fed sources' records, as channel events onto the raw topic (stream_workers/feeds.py)."""
            producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True)
            await producer.start()
            try:
                async for events, ack in batches(stream, settings.worker_batch_size, settings.worker_batch_seconds):
                    result = bridge([_message(e) for e in events], by_topic)
                    await until_done("putting feed records on the raw topic", partial(send_bridged, producer, result))
                    if result.dead_letters:
                        log.warning("%d feed records dead-lettered to %s", len(result.dead_letters), DLQ_TOPIC)
                    await ack()
            finally:
                await producer.stop()

    if settings.party_events_topic:
        party_topic = app.topic(settings.party_events_topic, key_type=bytes, value_type=bytes, internal=False)

        @app.agent(party_topic, concurrency=1)
        async def keep_directory(stream: faust.StreamT[bytes]) -> None:
            """TMF632 Party Management events into the party directory (stream_workers/party_events.py)."""
            client = search_client(settings)
            store = search_store(settings, client)
            producer = AIOKafkaProducer(**kafka_options(settings), acks="all", enable_idempotence=True)
            await producer.start()
            directory = SearchDirectory(store, partial(send_raw, producer))
            try:
                async for events, ack in batches(stream, settings.worker_batch_size, settings.worker_batch_seconds):
                    batch = [_message(e) for e in events]
                    letters = await until_done(
                        "keeping the party directory",
                        partial(apply_party_events, batch, directory, settings.phone_region),
                    )
                    if letters:
                        await until_done(
                            "publishing dead letters", partial(send_bridged, producer, Bridged([], letters))
                        )
                        log.warning("%d party events dead-lettered to %s", len(letters), DLQ_TOPIC)
                    await ack()
            finally:
                await producer.stop()
                await store.close()

    async def assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        if status is not None:
            status.assigned = True
            status.partitions = len(assigned)

    app.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]  # faust's signal type wants a `signal` keyword

    @app.timer(2.0)  # type: ignore[untyped-decorator]  # faust declares no types for it
    async def measure_lag() -> None:
        """Per assigned partition: records in the log not yet committed by the group."""
        consumer = app.consumer
        metrics.CONSUMER_LAG.clear()
        for tp in consumer.assignment():
            committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor in faust
            try:
                high = consumer.highwater(tp)
            except Exception:  # not fetched yet
                continue
            if high is None or high < 0:
                continue
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - (committed or 0)))

    if settings.retention_days is not None:
        # one worker of the group (faust's leader) publishes the purge markers; every worker then
        # applies them in its partitions. Two leaders for a moment (a rebalance) only purge twice,
        # which the second time finds nothing (docs/privacy.md).
        @app.timer(settings.retention_interval_s, on_leader=True)  # type: ignore[untyped-decorator]  # faust declares no types for it
        async def purge_expired() -> None:
            try:
                await publish_purge(settings)
            except Exception:  # the next round tries again
                log.exception("the retention purge could not be published")

    return app


async def publish_purge(settings: Settings) -> str:
    """Drop the periods wholly past retention_days, then publish one purge marker per raw partition
    for what else ended more than retention_days ago."""
    from interaction_hub.erase_markers import publish_markers
    from storage.erasure_rules import retention_cutoff

    assert settings.retention_days is not None
    cutoff = retention_cutoff(settings.retention_days)
    store = search_store(settings)
    try:
        await store.drop_periods_before(cutoff)  # whole periods; the markers purge what is left
    finally:
        await store.close()
    erasure_id = await publish_markers(kafka_options(settings), settings.index_alias, before=cutoff)
    log.info("retention: purge %s of what ended before %s published", erasure_id, cutoff.isoformat())
    return erasure_id


def _message(event: Any) -> Message:
    m = event.message
    return Message(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp, m.headers)


async def send_bridged(producer: AIOKafkaProducer, result: Bridged) -> None:
    """A feed batch's events on the raw topic and its dead letters, each acknowledged (acks=all)."""
    records: list[Record] = [(RAW_TOPIC, key, value, None) for key, value in result.raw]
    records += [(DLQ_TOPIC, letter.key, letter.value, letter.headers()) for letter in result.dead_letters]
    await send_all(producer, records)


async def send_raw(producer: AIOKafkaProducer, records: Sequence[tuple[bytes, bytes]]) -> None:
    """(key, value) records on the raw topic, each acknowledged (acks=all)."""
    await send_all(producer, [(RAW_TOPIC, key, value, None) for key, value in records])


async def _nothing() -> None:
    """An ack that acknowledges nothing (the batch's own ack comes after its change records)."""


def _log_failure(task: asyncio.Task[Any]) -> None:
    """A batch's write, publishing or contacts failed: said at once (the agent stops when it next
    awaits the task, at its next batch)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a batch failed; it is not acked, nor is any after it", exc_info=task.exception())


async def update_contacts(records: list[ChangeRecord], index: ContactIndex, ack: Ack) -> None:
    """FCR's contacts from a batch's change records (retried until the engine takes them), then
    the batch's ack: its offsets commit only once its contacts are written."""
    found = contacts.states(records)
    if found:
        await until_done("updating contacts", partial(index.update, found))
    await ack()


async def publish(producer: AIOKafkaProducer, result: BatchResult) -> None:
    """Dead letters, change records and relink events, all acknowledged by the brokers before
    returning (in batches per partition: stream_workers/publishing.py).

    Retried until the brokers take them: faust acks a batch even when its body raises, and a
    dead letter is the only copy of a bad event's verdict.
    """
    records: list[Record] = [(DLQ_TOPIC, letter.key, letter.value, letter.headers()) for letter in result.dead_letters]
    records += [(CHANGES_TOPIC, key, record.to_bytes(), None) for key, record in result.changes]
    records += [(RAW_TOPIC, key, value, None) for key, value in result.relinks]
    await until_done("publishing batch results", partial(send_all, producer, records))
    if result.dead_letters:
        log.warning("%d events dead-lettered to %s", len(result.dead_letters), DLQ_TOPIC)
