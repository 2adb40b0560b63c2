"""One batch of raw channel events -> index writes, dead letters and change records.

The worker loop (stream_workers/app.py) only decodes, calls `Projector.process`, publishes what it
returns and lets the batch be committed. Everything that decides what the index holds is here:

1. decode and adapt each message (bad ones become dead letters, the rest keep flowing);
2. read the current state of the batch's interactions (one realtime multi-get);
3. fold each interaction's changes in partition order onto that state with the change model
   (storage/changes.py, the same function the embedded store calls): versions never go backwards,
   patches apply to the latest state, a refused change leaves nothing;
4. write the final state of each interaction in one bulk request, versioned (idempotent on
   replay), retrying 429/5xx/timeouts with exponential backoff and jitter until the engine takes
   them (which is the backpressure: no new batch is read meanwhile);
5. return dead letters and change records, which the loop publishes before the offsets commit.
   Every touched interaction gets a change record, also an unchanged one (a replay after a crash
   between 4 and 5): the contacts agent (stream_workers/contacts.py) keeps FCR's contacts from them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ingest.adapters import AdapterError, adapt
from interaction_hub.backoff import backoff_delay, until_done
from schemas.channel_event import API_SOURCE, ChannelEvent
from schemas.common import describe
from storage.changes import Change, Invalid, Outcome, Refused, apply
from storage.search.store import IndexOp, SearchStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(slots=True)
class BatchResult:
    dead_letters: list[tuple[bytes | None, bytes]] = field(default_factory=list)  # (key, record)
    changes: list[tuple[bytes, bytes]] = field(default_factory=list)  # (interaction id, record)


@dataclass(slots=True)
class _Pending:
    message: Message
    event: ChannelEvent
    change: Change
    outcome: Outcome | None = None


def dead_letter(message: Message, reason: str) -> tuple[bytes | None, bytes]:
    record = {
        "error": reason,
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key.decode(errors="replace") if message.key else None,
        "payload": message.value.decode(errors="replace"),
    }
    return message.key, orjson.dumps(record)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return describe(exc.errors(include_url=False))
    return str(exc) or type(exc).__name__


class Projector:
    def __init__(self, store: SearchStore, resource_base: str, *, max_backoff_s: float = 30.0):
        self.store = store
        self.resource_base = resource_base.rstrip("/") + "/partyInteraction/"
        self.max_backoff_s = max_backoff_s

    async def process(self, messages: Sequence[Message]) -> BatchResult:
        started = time.perf_counter()
        result = await self._process(messages)
        log.debug(
            "batch of %d in %.1f ms: %d changes, %d dead letters",
            len(messages),
            (time.perf_counter() - started) * 1000,
            len(result.changes),
            len(result.dead_letters),
        )
        return result

    async def _process(self, messages: Sequence[Message]) -> BatchResult:
        result = BatchResult()
        pending: list[_Pending] = []
        for message in messages:
            try:
                event = ChannelEvent.from_bytes(message.value)
                pending.append(_Pending(message, event, adapt(event)))
            except (ValidationError, ValueError, AdapterError) as exc:
                result.dead_letters.append(dead_letter(message, _reason(exc)))
        if not pending:
            return result

        state = await self._retrying(
            "read current state", self.store.states, {p.change.interaction_id for p in pending}
        )
        applied: list[_Pending] = []
        for item in pending:
            interaction_id = item.change.interaction_id
            try:
                item.outcome = apply(state[interaction_id], item.change, href=self.resource_base + interaction_id)
            except Refused as exc:
                self._reject(result, item, exc)
                continue
            state[interaction_id] = item.outcome.new
            applied.append(item)

        dirty = {p.change.interaction_id for p in applied if p.outcome is not None and p.outcome.changed}
        ops = [
            IndexOp("index" if state[i].doc is not None else "delete", i, state[i].version, state[i].doc)
            for i in sorted(dirty)
        ]
        refresh = any(p.event.source == API_SOURCE for p in applied)  # read-your-writes for the API
        failed = await self._write(ops, refresh=refresh)
        for item in applied:
            error = failed.get(item.change.interaction_id)
            if error:
                self._reject(result, item, Invalid(f"the index refused the document: {error}"))
            else:
                result.changes.append((item.change.interaction_id.encode(), self._change_record(item)))
        return result

    def _reject(self, result: BatchResult, item: _Pending, refusal: Refused) -> None:
        if item.event.source != API_SOURCE:
            result.dead_letters.append(dead_letter(item.message, refusal.message))
            return
        # the API that published it waits for the answer, and tells its client (404, 412, 400)
        record = {
            "index": self.store.alias,
            "eventId": item.event.id,
            "interactionId": item.change.interaction_id,
            "kind": "rejected",
            "refused": refusal.code,
            "error": refusal.message,
        }
        result.changes.append((item.change.interaction_id.encode(), orjson.dumps(record)))

    # -- writing ----------------------------------------------------------------------------

    async def _write(self, ops: list[IndexOp], *, refresh: bool) -> dict[str, str]:
        """Bulk-write until every op is applied or permanently rejected: {id: error} of the rejected."""
        rejected: dict[str, str] = {}
        attempt = 0
        while ops:
            results = await self._retrying("bulk write", self.store.apply, ops, refresh=refresh)
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
        await asyncio.sleep(delay)

    def _change_record(self, item: _Pending) -> bytes:
        outcome = item.outcome
        assert outcome is not None
        return orjson.dumps(
            {
                "index": self.store.alias,
                "eventId": item.event.id,
                "source": item.event.source,
                "type": item.event.type,
                "time": item.event.time,
                "interactionId": item.change.interaction_id,
                "version": outcome.new.version,
                "kind": outcome.kind,
                "old": outcome.old.doc,
                "new": outcome.new.doc,
            }
        )
