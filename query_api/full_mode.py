"""The API's store in full mode: reads from the search index, writes through Kafka.

The log is the source of truth: a POST, PATCH or DELETE becomes a `Change` (storage/changes.py),
published as a `tmf683.partyInteraction.*` event on the raw topic: the change itself (the merge
patch or the JSON Patch operations, and the versions If-Match accepts), never a diff against a read
that may be stale. A worker applies it to the interaction's latest state in partition order, and
the API answers only when that happened (its change record, matched by event id, arrives on the
change topic). The worker refreshes the index for batches that hold API events, so the answer
means: visible to GET by id and to list queries.
"""

# In query_api, not storage/: this is the API's side of the log, and storage may import only storage
# and schemas. Moved there, it would take the API's event for a change (ingest), the request's trace
# and the write-wait metric, and interaction_hub's health checks, topic lookup, erase markers and
# party directory as six injected collaborators every caller wires, or storage would take on Kafka.

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ingest.adapters.tmf683 import event_for
from interaction_hub import tracing
from interaction_hub.directory import SearchDirectory
from interaction_hub.erase_markers import markers, send_markers
from interaction_hub.health import engine_ready, first_reason, kafka_ready
from interaction_hub.topics import partitions_of
from query_api.observability import WRITE_WAIT
from schemas.change_record import Applied, ChangeRecord, Erased, Rejected, change_record
from schemas.channel_event import AUDIT_TOPIC, AWAITED_HEADER, CHANGES_TOPIC, DLQ_TOPIC, RAW_TOPIC
from storage.base import Document, Notify, StoredDocument, WriteNotYetApplied
from storage.changes import Change, Outcome, Refused, State
from storage.kpis import KpiGroups, KpiQuery
from storage.query import Page, Query
from storage.search import erasure
from storage.search.store import SearchStore
from storage.timeline import TimelinePage, TimelineQuery

log = logging.getLogger(__name__)


class ChangeFeed:
    """Tails the change topic from its end and resolves the writes this process waits for."""

    def __init__(self, kafka: Mapping[str, Any], index_alias: str):
        self._kafka = kafka
        self._index_alias = index_alias  # the records of workers of other deployments are not ours
        self._consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False, group_id=None)
        self._waiting: dict[str, asyncio.Future[ChangeRecord]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        assigned = [TopicPartition(CHANGES_TOPIC, p) for p in await partitions_of(self._kafka, CHANGES_TOPIC)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:  # pin the positions now: nothing published after start is missed
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name="change-feed")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    def expect(self, event_id: str) -> asyncio.Future[ChangeRecord]:
        future = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        self._waiting.pop(event_id, None)

    async def _run(self) -> None:
        async for message in self._consumer:
            if not self._waiting:
                continue
            try:
                record = change_record(message.value)
            except ValueError as exc:  # not a worker's: nobody waits for it
                log.warning("%s %d:%d is no change record: %s", CHANGES_TOPIC, message.partition, message.offset, exc)
                continue
            if not record.is_ours(self._index_alias):
                continue
            future = self._waiting.pop(record.event_id, None)
            if future is not None and not future.done():
                future.set_result(record)


class LogBackedStore:
    """InteractionStore for full mode (notifications come from the change topic, not `notify`)."""

    def __init__(
        self, search: SearchStore, kafka: Mapping[str, Any], *, timeout_s: float, erase_timeout_s: float = 120
    ):
        self.search = search
        self.feed = ChangeFeed(kafka, search.alias)
        self._kafka = kafka
        self._producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
        self._timeout_s = timeout_s
        self._erase_timeout_s = erase_timeout_s
        self.directory = SearchDirectory(search, self.publish_raw)

    async def start(self) -> None:
        await self._producer.start()
        await self.feed.start()

    async def readiness(self) -> str | None:
        """None when Kafka and the engine answer and the topics and the index alias exist; else why not."""
        kafka, engine = await asyncio.gather(
            kafka_ready(self._producer.client, (RAW_TOPIC, CHANGES_TOPIC, DLQ_TOPIC)),
            engine_ready(self.search.client, self.search.alias),
        )
        return first_reason(engine, kafka)

    async def close(self) -> None:
        await self.feed.stop()
        await self._producer.stop()
        await self.search.close()

    # reads
    async def get(self, interaction_id: str) -> StoredDocument | None:
        return await self.search.get(interaction_id)

    async def list(self, query: Query) -> Page:
        return await self.search.list(query)

    async def timeline(self, query: TimelineQuery) -> TimelinePage:
        return await self.search.timeline(query)

    async def kpis(self, query: KpiQuery) -> KpiGroups:
        return await self.search.kpis(query)

    async def audit(self, record: bytes) -> None:
        """Put an audit record on the audit topic (queued for the next batch, not awaited)."""
        await self._producer.send(AUDIT_TOPIC, value=record)

    # writes
    async def write(self, change: Change, notify: Notify) -> Outcome:
        """Publish the change itself and wait until a worker has applied it to the latest state."""
        event = event_for(change)
        applied = self.feed.expect(event.id)  # before publishing: the answer cannot be missed
        started = time.perf_counter()
        try:
            await self._producer.send_and_wait(
                RAW_TOPIC,
                value=event.to_bytes(),
                key=change.interaction_id.encode(),
                # the request's trace, to the worker's bulk write; and that a client waits
                headers=[*(tracing.kafka_headers() or ()), (AWAITED_HEADER, b"1")],
            )
            record = await asyncio.wait_for(applied, self._timeout_s)
        except TimeoutError:
            WRITE_WAIT.labels("timeout").observe(time.perf_counter() - started)
            raise WriteNotYetApplied(f"the {change.kind} is in the log but not yet applied; it will be") from None
        finally:
            self.feed.forget(event.id)
        WRITE_WAIT.labels("rejected" if isinstance(record, Rejected) else "applied").observe(
            time.perf_counter() - started
        )
        if isinstance(record, Rejected):
            raise Refused.from_code(record.refused, record.error)
        assert isinstance(record, Applied)  # a write's event id is no marker's
        old = State(0, record.old)  # the version before is not carried; nothing needs it
        return Outcome(record.kind, old, State(record.version, record.new))

    async def publish_raw(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Put (key, value) records on the raw topic and wait until every one is acknowledged by
        all in-sync replicas (vendor records: the workers adapt them; nobody waits for that)."""
        sent = [await self._producer.send(RAW_TOPIC, value=value, key=key) for key, value in records]
        for acknowledged in sent:
            await acknowledged

    # privacy (docs/privacy.md): erase markers in the log of record, applied by the workers
    async def erase_party(self, party_id: str, notify: Notify) -> builtins.list[str]:
        """Publish an erase marker into every raw partition and wait until every partition's worker
        applied it: then everything published before it that named the party is gone, for good."""
        erased = await self._erase(party_id=party_id)
        await self.directory.remove_party(party_id)  # its holdings go too: nothing links to it again
        return erased

    async def expired(self, cutoff: datetime) -> builtins.list[Document]:
        return [doc async for doc in erasure.expired_documents(self.search, cutoff)]

    async def purge_expired(self, cutoff: datetime, notify: Notify) -> builtins.list[str]:
        """Whole periods first (no DeleteEvent for those), then one by one what is left."""
        await self.search.drop_periods_before(cutoff)
        return await self._erase(before=cutoff)

    def export_party(self, party_id: str) -> AsyncIterator[bytes]:
        return erasure.export_party(self.search, party_id)

    async def _erase(self, *, party_id: str | None = None, before: datetime | None = None) -> builtins.list[str]:
        found = markers(
            len(await partitions_of(self._kafka, RAW_TOPIC)), self.search.alias, party_id=party_id, before=before
        )
        applied = [self.feed.expect(m.event_id) for m in found]  # before publishing: no answer is missed
        try:
            await send_markers(self._producer, found)
            records = await asyncio.wait_for(asyncio.gather(*applied), self._erase_timeout_s)
        except TimeoutError:
            raise WriteNotYetApplied("the erasure is in the log but not yet applied everywhere; it will be") from None
        finally:
            for m in found:
                self.feed.forget(m.event_id)
        return sorted({i for record in records if isinstance(record, Erased) for i in record.erased})
