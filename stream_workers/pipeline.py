"""One batch of raw channel events -> index writes, dead letters and change records.

The worker loop (stream_workers/app.py) only decodes, calls `Projector.fold` then `Projector.write`,
publishes what the write returns and lets the batch be committed. Everything that decides what the
index holds is here:

1. decode and adapt each message (bad ones become dead letters, the rest keep flowing);
2. read the current state of the batch's interactions (one realtime multi-get), except for those
   the write in flight carries: their state is the one folded for that write (`_Flight`), which the
   store may not answer with yet;
3. fold each interaction's changes in partition order onto that state with the change model
   (storage/changes.py, the same function the embedded store calls): versions never go backwards,
   patches apply to the latest state, a refused change leaves nothing; then build the index
   document of each changed interaction as the batch leaves it;
4. (`write`) once the write before is answered, fold again from the store's real state what this
   batch folded onto a document that write had refused; then write the final state of each
   interaction in one bulk request, versioned (idempotent on replay), retrying 429/5xx/timeouts
   with exponential backoff and jitter until the engine takes them (which is the backpressure: no
   batch after the next is read meanwhile);
5. return dead letters and change records. Before the offsets commit, the loop publishes them,
   queues the hub notifications they cause and brings FCR's contacts up to date with them
   (stream_workers/contacts.py). Every touched interaction gets a change record, also an unchanged
   one (a replay after a crash between 4 and 5), so the contacts catch up on replay.

Steps 1-3 of a batch run while the batch before is in step 4 (`fold` while the other's `write` is
awaited): one write is in flight at a time, and its states are what a later fold reads first. They
are forgotten once the engine answered (the store then answers with them), or the write failed or
was cancelled; a batch folded onto a write that failed is never written (its `write` raises that
write's error), and the worker loop stops at the first error, leaving that batch and the rest unacked.

Erase and purge markers (schemas/erasure.py, docs/privacy.md) split a batch: the write in flight is
awaited, what came before a marker in the batch is written, then the marker is applied (`_erase`):
the erased ids are written to the erasure log, and only then deleted. A raw record that an erasure
covers (below its watermark, about an erased id: a replay) is never applied
(stream_workers/erasures.py); a batch that may hold replays also waits for the write in flight
before the erasure log is read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ingest.adapters import AdapterError, adapt
from interaction_hub import tracing
from interaction_hub.backoff import BACKOFF_SECONDS, RETRIES, backoff_delay, until_done
from schemas.change_record import Applied, ChangeRecord, Erased, Rejected
from schemas.channel_event import API_SOURCE, ChannelEvent
from schemas.common import describe, parse_date_time, utc_now
from schemas.dead_letter import DeadLetter
from schemas.erasure import Marker, is_marker_key
from schemas.events import changed_attributes
from schemas.relink import relink_events
from storage.changes import ABSENT, Change, Invalid, Outcome, Refused, State, apply
from storage.erasure_rules import erased_by, expired, redacted
from storage.identity import Resolver, keys_of, resolver
from storage.search import erasure
from storage.search.store import IndexOp, SearchStore, indexed
from stream_workers import metrics
from stream_workers.erasures import ErasureRegistry, partition_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float | None = None  # Kafka's, in seconds: where freshness is measured from
    headers: Sequence[tuple[str, bytes]] | None = None  # Kafka's: the trace context (interaction_hub/tracing.py)


@dataclass(slots=True)
class BatchResult:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # (key, record): published, and first read by the notifier and the contacts in this process
    changes: list[tuple[bytes, ChangeRecord]] = field(default_factory=list)
    # (key, value): relink events for the raw topic (schemas/relink.py)
    relinks: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class _Pending:
    message: Message
    event: ChannelEvent
    change: Change
    outcome: Outcome | None = None
    refusal: Refused | None = None  # the change model's, when it refused the change


@dataclass(slots=True)
class _Flight:
    """The bulk write in flight: the states it writes, by id (what a later batch folds onto), and
    the write itself, whose answer is {id: error} of the documents the engine refused."""

    states: dict[str, State]
    answer: asyncio.Task[dict[str, str]]


@dataclass(slots=True)
class Folded:
    """A batch folded and not yet written (`Projector.fold`, then `Projector.write`)."""

    result: BatchResult  # so far: its dead letters, and what its markers wrote and answered
    pending: list[_Pending] = field(default_factory=list)
    state: dict[str, State] = field(default_factory=dict)  # by id: the state after the batch's changes
    generation: int | None = None  # the party directory's, read before the resolution (None: no keys)
    onto: _Flight | None = None  # the write in flight that the fold read states from
    borrowed: set[str] = field(default_factory=set)  # the ids whose state came from `onto`
    # by id: the index document of each changed interaction's state after the batch, made in the
    # fold (while the write before is in flight) so that the write is the engine's time alone
    bodies: dict[str, bytes] = field(default_factory=dict)


def parse_cutoff(text: str) -> datetime:
    """A purge marker's `before` (ISO 8601) as an instant."""
    found = parse_date_time(text)
    if found is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    return found


def dead_letter(message: Message, reason: str, source: str | None = None) -> DeadLetter:
    return DeadLetter(message.key, message.value, reason, message.topic, message.partition, message.offset, source)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return describe(exc.errors(include_url=False))
    return str(exc) or type(exc).__name__


class Projector:
    def __init__(
        self,
        store: SearchStore,
        resource_base: str,
        *,
        max_backoff_s: float = 30.0,
        erasures: ErasureRegistry | None = None,
        index_alias: str | None = None,
    ):
        self.store = store
        # the deployment's alias (`ihub reindex` writes to a new index behind it): whose markers apply
        self.index_alias = index_alias or store.alias
        # the href a created interaction keeps: never shown (the API links to where it was asked)
        self.resource_base = resource_base.rstrip("/") + "/partyInteraction/"
        self.max_backoff_s = max_backoff_s
        self.erasures = erasures if erasures is not None else ErasureRegistry()
        self._next_offset: dict[tuple[str, int], int] = {}  # (topic, partition) -> the offset expected next
        self._flight: _Flight | None = None  # the write in flight

    async def process(self, messages: Sequence[Message]) -> BatchResult:
        """Fold a batch and write it (`fold`, then `write`), nothing in between."""
        started = time.perf_counter()
        result = await self.write(await self.fold(messages))
        log.debug(
            "batch of %d in %.1f ms: %d changes, %d dead letters",
            len(messages),
            (time.perf_counter() - started) * 1000,
            len(result.changes),
            len(result.dead_letters),
        )
        return result

    async def fold(self, messages: Sequence[Message]) -> Folded:
        """Steps 1-3 for a batch, which may run while the batch before it is written; `write`
        writes the batches in the order they were folded. A batch with a marker is written up to
        its last marker here (the write in flight first)."""
        replay = self._replay(messages)
        markers = any(is_marker_key(message.key) for message in messages)
        if replay or markers:
            await self.drain()
        if replay:
            await self._retrying("read the erasure log", self.erasures.catch_up)
        result = BatchResult()
        if not markers:
            return await self._fold(messages, result)
        segment: list[Message] = []
        for message in messages:
            if is_marker_key(message.key):
                await self.write(await self._fold(segment, result))  # everything before the marker, first
                segment = []
                await self._erase(message, result)
            else:
                segment.append(message)
        return await self._fold(segment, result)

    async def drain(self) -> None:
        """Wait until the write in flight, if any, is answered; its error if it failed."""
        flight = self._flight
        if flight is not None:
            await asyncio.shield(flight.answer)

    def _replay(self, messages: Sequence[Message]) -> bool:
        """Whether records in the batch may be replays, whose erasures must all be known before
        they are applied: a restart, a rebalance, a group reset show as a partition this process
        has not read yet, or one whose offsets do not follow on; the steady state costs nothing."""
        replay = False
        for message in messages:
            where = (message.topic, message.partition)
            if self._next_offset.get(where) != message.offset:
                replay = True
            self._next_offset[where] = message.offset + 1
        return replay

    async def _fold(self, messages: Sequence[Message], result: BatchResult) -> Folded:
        folded = Folded(result)
        consumed: Counter[str | None] = Counter()  # by event type
        for message in messages:
            event_type = None
            try:
                event = ChannelEvent.from_kafka(message.value, message.headers)
                event_type = event.type
                change = adapt(event)
            except (ValidationError, ValueError, AdapterError) as exc:
                consumed[event_type] += 1
                metrics.EVENTS_DEAD_LETTERED.labels(metrics.channel_of(event_type), "invalid").inc()
                result.dead_letters.append(dead_letter(message, _reason(exc)))
                continue
            consumed[event_type] += 1
            if self.erasures.covers(message.partition, message.offset, change.interaction_id):
                continue  # erased after this record was published: never applied again
            folded.pending.append(_Pending(message, event, change))
        metrics.count_by_channel(metrics.EVENTS_CONSUMED, consumed)
        if not folded.pending:
            return folded

        ids = {p.change.interaction_id for p in folded.pending}
        flight = self._flight
        borrowed = {i: flight.states[i] for i in ids if i in flight.states} if flight is not None else {}
        if borrowed:
            folded.onto, folded.borrowed = flight, set(borrowed)
        stored = ids - borrowed.keys()
        state = await self._retrying("read current state", self.store.states, stored) if stored else {}
        state.update(borrowed)
        folded.state = state
        resolve, folded.generation = await self._resolver(folded.pending, state)
        self._apply(folded.pending, state, resolve)
        self._index_documents(folded, folded.pending)
        return folded

    def _apply(self, items: Sequence[_Pending], state: dict[str, State], resolve: Resolver) -> None:
        """Fold each item's change onto `state` (updated), in order."""
        base = self.resource_base
        for item in items:
            interaction_id = item.change.interaction_id
            item.outcome = item.refusal = None
            try:
                item.outcome = apply(state[interaction_id], item.change, href=base + interaction_id, resolve=resolve)
            except Refused as exc:
                # kept without its frames, which hold this batch's items: no cycle to collect
                item.refusal = exc.with_traceback(None)
                exc.__context__ = exc.__cause__ = None
                continue
            state[interaction_id] = item.outcome.new

    @staticmethod
    def _index_documents(folded: Folded, items: Sequence[_Pending]) -> None:
        """The index documents of the interactions `items` changed, as the batch leaves them (and
        none for those they left unchanged or deleted)."""
        changed = {p.change.interaction_id for p in items if p.outcome is not None and p.outcome.changed}
        for interaction_id in {p.change.interaction_id for p in items}:
            doc = folded.state[interaction_id].doc
            if interaction_id in changed and doc is not None:
                folded.bodies[interaction_id] = indexed(doc)
            else:
                folded.bodies.pop(interaction_id, None)

    async def write(self, folded: Folded) -> BatchResult:
        """Steps 4-5: write a folded batch, once the write before it is answered; its result."""
        await self.drain()  # one write in flight at a time
        if folded.onto is not None:
            assert folded.onto.answer.done()  # it was in flight when the batch was folded: drained above
            again = folded.borrowed & folded.onto.answer.result().keys()  # its error, if it failed
            if again:
                await self._fold_again(folded, again)
        result = folded.result
        state = folded.state
        applied: list[_Pending] = []
        for item in folded.pending:
            if item.refusal is not None:
                self._reject(result, item, item.refusal, "refused")
            elif item.outcome is not None:
                applied.append(item)
        if not applied:
            return result

        dirty = {p.change.interaction_id for p in applied if p.outcome is not None and p.outcome.changed}
        ops = [
            IndexOp(
                "index" if state[i].doc is not None else "delete",
                i,
                state[i].version,
                state[i].doc,
                folded.bodies.get(i),
            )
            for i in sorted(dirty)
        ]
        refresh = any(p.event.source == API_SOURCE for p in applied)  # read-your-writes for the API
        with tracing.batch_span("bulk write", (p.message.headers for p in applied)):
            failed = await self._fly({i: state[i] for i in dirty}, ops, refresh=refresh)
        if folded.generation is not None:
            written = [i for i in dirty if keys_of(state[i].doc)]
            await self._relink_if_the_directory_moved(folded.generation, written, result)
        now = time.time()
        indexed: Counter[str | None] = Counter()  # by event type
        for item in applied:
            error = failed.get(item.change.interaction_id)
            if error:
                self._reject(result, item, Invalid(f"the index refused the document: {error}"), "index_rejected")
            else:
                result.changes.append((item.change.interaction_id.encode(), self._change_record(item)))
                indexed[item.event.type] += 1
                if item.message.timestamp is not None:
                    metrics.FRESHNESS_SECONDS.observe(max(0.0, now - item.message.timestamp))
        metrics.count_by_channel(metrics.EVENTS_INDEXED, indexed)
        return result

    async def _fly(self, states: dict[str, State], ops: list[IndexOp], *, refresh: bool) -> dict[str, str]:
        """`_write` with its states in flight (what a fold meanwhile reads) until it is answered."""
        if not ops:
            return {}
        flight = _Flight(states, asyncio.ensure_future(self._write(ops, refresh=refresh)))
        self._flight = flight
        try:
            return await flight.answer  # cancelled with it
        finally:
            if self._flight is flight:
                self._flight = None

    async def _fold_again(self, folded: Folded, ids: set[str]) -> None:
        """Fold the batch's changes to `ids` again from the store's state: the write in flight
        when they were folded refused the documents they were folded onto."""
        fresh = await self._retrying("read current state", self.store.states, ids)
        folded.state.update(fresh)
        items = [p for p in folded.pending if p.change.interaction_id in ids]
        resolve, generation = await self._resolver(items, folded.state)
        if folded.generation is None:  # else the earlier read: a move since then relinks
            folded.generation = generation
        self._apply(items, folded.state, resolve)
        self._index_documents(folded, items)

    async def _resolver(self, pending: Sequence[_Pending], state: dict[str, State]) -> tuple[Resolver, int | None]:
        """Identity resolution for this batch (storage/identity.py): one directory read for every
        identifier key its changes and current states carry; and the directory's generation read
        just before it (None: the batch carries no keys)."""
        keys: set[str] = set()
        for item in pending:
            if isinstance(item.change.body, dict):
                keys.update(keys_of(item.change.body))
            keys.update(keys_of(state[item.change.interaction_id].doc))
        if not keys:
            return resolver({}), None
        started = time.perf_counter()
        directory = self.store.directory
        generation = await self._retrying("read the party directory", directory.generation)
        holdings = await self._retrying("read the party directory", directory.holdings, keys)
        metrics.RESOLUTION_SECONDS.observe(time.perf_counter() - started)
        return resolver(holdings), generation

    async def _relink_if_the_directory_moved(self, before: int, written: list[str], result: BatchResult) -> None:
        """A directory change made while this batch was resolved and written may have looked for
        the interactions to relink before these were written: relink them (storage/search/directory.py)."""
        if not written or await self._retrying("read the party directory", self.store.directory.generation) == before:
            return
        result.relinks.extend(
            (event.data["interactionId"].encode(), event.to_bytes()) for event in relink_events(written)
        )

    # -- erasure and retention (docs/privacy.md) --------------------------------------------

    async def _erase(self, message: Message, result: BatchResult) -> None:
        """Apply an erase or purge marker: in this partition, every interaction it removes. The ids
        go to the erasure log first (so no replay can bring them back, even if this process dies
        half-way), then each is deleted with a change record whose old state carries its identity
        only, and the marker gets a change record of its own (the API waits for it)."""
        try:
            event = ChannelEvent.from_kafka(message.value, message.headers)
            marker = Marker.from_event(event)
        except (ValidationError, ValueError) as exc:
            result.dead_letters.append(dead_letter(message, _reason(exc)))
            return
        if marker.index not in (None, self.index_alias):
            return  # another deployment's erasure (deployments may share the raw topic)
        if self.erasures.applied(self.index_alias, marker.erasure_id, message.partition):
            # a replay of a marker this index already applied: the index holds what came after it
            # (a returning customer), so only what it wrote down is still to go (a crash between
            # the writing down and the deleting), nothing found by a new search
            candidates = sorted(self.erasures.erased(marker.erasure_id))
        else:
            await self._retrying("refresh the index", self.store.refresh)  # the search sees every write so far
            candidates = await self._retrying("find what the erasure removes", self._candidates, marker)
        mine = sorted(i for i in candidates if partition_for(i, marker.partitions) == message.partition)
        state = await self._retrying("read current state", self.store.states, mine) if mine else {}
        doomed = [i for i in mine if state[i].doc is not None and self._removes(marker, state[i].doc or {})]
        await self._retrying(
            "write the erasure log",
            self.erasures.record,
            self.index_alias,
            marker.erasure_id,
            message.partition,
            message.offset,
            doomed,
        )
        deleted: list[tuple[str, Outcome]] = []
        for interaction_id in doomed:
            change = Change.at("delete", interaction_id, event.time)
            deleted.append((interaction_id, apply(state.get(interaction_id, ABSENT), change)))
        ops = [IndexOp("delete", i, outcome.new.version) for i, outcome in deleted]
        failed = await self._write(ops, refresh=True)
        erased = []
        for interaction_id, outcome in deleted:
            if interaction_id in failed:
                log.error("erasure %s: %s not deleted: %s", marker.erasure_id, interaction_id, failed[interaction_id])
                continue
            erased.append(interaction_id)
            old = redacted(outcome.old.doc or {}, marker.party_id)
            record = Applied(
                event_id=f"{event.id}:{interaction_id}",
                source=event.source,
                type=event.type,
                time=event.time,
                interaction_id=interaction_id,
                version=outcome.new.version,
                kind="delete",
                erasure=marker.erasure_id,
                old=old,
                new=None,
                index=self.store.alias,
            )
            result.changes.append((interaction_id.encode(), record))
        answer = Erased(
            event_id=event.id,
            erasure=marker.erasure_id,
            partition=message.partition,
            erased=erased,
            at=utc_now(),
            index=self.store.alias,
        )
        result.changes.append((marker.key, answer))

    async def _candidates(self, marker: Marker) -> list[str]:
        if marker.party_id is not None:
            return await erasure.ids_naming(self.store, marker.party_id)
        cutoff = parse_cutoff(marker.before or "")
        return [doc["id"] async for doc in erasure.expired_documents(self.store, cutoff)]

    @staticmethod
    def _removes(marker: Marker, doc: dict[str, Any]) -> bool:
        if marker.party_id is not None:
            return erased_by(doc, marker.party_id)
        return expired(doc, parse_cutoff(marker.before or ""))

    def _reject(self, result: BatchResult, item: _Pending, refusal: Refused, reason: str) -> None:
        if item.event.source != API_SOURCE:
            metrics.EVENTS_DEAD_LETTERED.labels(metrics.channel_of(item.event.type), reason).inc()
            result.dead_letters.append(dead_letter(item.message, refusal.message))
            return
        # the API that published it waits for the answer, and tells its client (404, 412, 400)
        record = Rejected(
            event_id=item.event.id,
            interaction_id=item.change.interaction_id,
            refused=refusal.code,
            error=refusal.message,
            index=self.store.alias,
        )
        result.changes.append((item.change.interaction_id.encode(), record))

    # -- writing ----------------------------------------------------------------------------

    async def _write(self, ops: list[IndexOp], *, refresh: bool) -> dict[str, str]:
        """Bulk-write until every op is applied or permanently rejected: {id: error} of the rejected."""
        rejected: dict[str, str] = {}
        attempt = 0
        while ops:
            started = time.perf_counter()
            results = await self._retrying("bulk write", self.store.apply, ops, refresh=refresh)
            metrics.BULK_SECONDS.observe(time.perf_counter() - started)
            retry = []
            for op, outcome in zip(ops, results, strict=True):
                if outcome.retryable:
                    retry.append(op)
                elif not outcome.ok:
                    rejected[op.interaction_id] = outcome.error or "rejected"
            ops = retry
            if ops:
                attempt += 1
                await self._backoff(attempt, f"{len(ops)} writes refused for now (429/5xx)")
        return rejected

    async def _retrying(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call until the engine answers (connection refused, timeouts, 5xx): never give up."""
        return await until_done(what, lambda: fn(*args, **kwargs), max_backoff_s=self.max_backoff_s)

    async def _backoff(self, attempt: int, reason: str) -> None:
        delay = backoff_delay(attempt, max_s=self.max_backoff_s)
        log.warning("%s; retry %d in %.1fs", reason, attempt, delay)
        RETRIES.labels("bulk write refused").inc()
        BACKOFF_SECONDS.labels("bulk write refused").inc(delay)
        await asyncio.sleep(delay)

    def _change_record(self, item: _Pending) -> Applied:
        """The state after the change, and of the state before only what a reader needs: the whole
        of it for a delete (its notification carries what was deleted), the changed attributes'
        names for an update (its notifications name them)."""
        outcome = item.outcome
        assert outcome is not None
        old, new = outcome.old.doc, outcome.new.doc
        return Applied(
            event_id=item.event.id,
            source=item.event.source,
            type=item.event.type,
            time=item.event.time,
            interaction_id=item.change.interaction_id,
            version=outcome.new.version,
            kind=outcome.kind,
            old=old if new is None else None,
            new=new,
            changed=changed_attributes(old, new) if old is not None and new is not None else None,
            index=self.store.alias,
        )
