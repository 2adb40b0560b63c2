"""The storage contract: what the API calls on a store (both stores keep it), and the
notification outbox as a separate capability."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from schemas.party import Party
from storage.changes import Change, Outcome
from storage.kpis import KpiGroups, KpiQuery
from storage.query import Page, Query
from storage.timeline import TimelinePage, TimelineQuery

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification to POST to one subscriber's callback. The deliveries of one event share
    its body (one object, and in the outbox one stored copy)."""

    subscription_id: str
    callback: str
    body: bytes
    # queuing it keeps only the subscriber's newest `max_pending` deliveries (None: no limit)
    max_pending: int | None = None


Subscriptions = list[Document]
DueDeliveries = list[tuple[int, Delivery, int]]  # (delivery id, delivery, attempts made)

# Computes, inside the write transaction, what to notify about a change.
Notify = Callable[[Document | None, Document | None], Sequence[Delivery]]


class WriteNotYetApplied(Exception):
    """Full mode: the change is in the log, but no worker applied it within the wait (it will be)."""


class StoredDocument(NamedTuple):
    """An interaction as a reader gets it: its version (the ETag) and its JSON document."""

    version: int
    body: bytes


class InteractionStore(Protocol):
    """Where PartyInteractions live. Every write is one `Change` (storage/changes.py), applied by
    `storage.changes.apply` to the latest state: atomically with its notifications, or not at all.
    Refusals are `storage.changes.Refused` (NotFound, PreconditionFailed, Invalid)."""

    async def get(self, interaction_id: str) -> StoredDocument | None: ...

    async def list(self, query: Query) -> Page: ...

    async def timeline(self, query: TimelineQuery) -> TimelinePage: ...

    async def kpis(self, query: KpiQuery) -> KpiGroups: ...

    async def write(self, change: Change, notify: Notify) -> Outcome:
        """Apply `change`; what it did (its old and new state), or Refused."""
        ...

    async def close(self) -> None: ...


class PrivacyStore(Protocol):
    """Erasure, retention and export (docs/privacy.md). Both stores keep it: the embedded store in
    one transaction, full mode through erase markers in the log of record (query_api/full_mode.py)."""

    async def erase_party(self, party_id: str, notify: Notify) -> list[str]:
        """Remove every interaction whose relatedParty names the party; the ids removed."""
        ...

    async def expired(self, cutoff: datetime) -> list[Document]:
        """The interactions whose retention time (storage.erasure_rules.retention_time) is before `cutoff`."""
        ...

    async def purge_expired(self, cutoff: datetime, notify: Notify) -> list[str]:
        """Remove those interactions, as an erasure does; the ids removed."""
        ...

    def export_party(self, party_id: str) -> AsyncIterator[bytes]:
        """Every interaction naming the party, as JSON, read page by page (constant memory)."""
        ...


class PartyDirectory(Protocol):
    """The parties and the identifiers they hold over time (storage/identity.py): the embedded
    store itself, or in full mode the engine's directory index with relink events through Kafka
    (interaction_hub/directory.py). Each change re-resolves every interaction it touches: at once
    in the embedded store, by the workers in full mode. Refusals are storage.changes.Invalid."""

    async def party(self, party_id: str) -> Party | None: ...

    async def put_parties(self, parties: Sequence[Party], notify: Notify) -> int:
        """Store the parties, each replacing what the directory held of it; how many interactions
        were (embedded) or are being (full mode) resolved again."""
        ...

    async def remove_party(self, party_id: str, notify: Notify) -> int: ...

    async def merge_parties(self, survivor_id: str, duplicate_id: str, notify: Notify) -> int: ...

    async def holders(self, key: str, at: float | None) -> list[tuple[Party, Document]]:
        """The parties holding the identifier key at `at` (None: ever), each with its contact medium."""
        ...

    async def carried(self, key: str) -> int:
        """How many interactions carry the identifier key."""
        ...

    async def shared_contacts(self, limit: int) -> list[Document]:
        """Identifier keys held by several parties at once, with the parties."""
        ...


class SubscriptionRegistry(Protocol):
    """Hub subscriptions (full mode keeps them in the engine: storage/search/subscriptions.py)."""

    async def add_subscription(self, subscription: Document) -> None: ...

    async def remove_subscription(self, subscription_id: str) -> bool: ...

    async def subscriptions(self) -> Subscriptions: ...


class SubscriptionStore(SubscriptionRegistry, Protocol):
    """Subscriptions and the durable queue of notifications still to deliver (the embedded store's
    outbox, written in the same transaction as the change that caused them)."""

    async def due_deliveries(self, now: float, limit: int) -> DueDeliveries:
        """(delivery id, delivery, attempts made) for the head of each subscriber's queue, if due."""

    async def delivery_done(self, delivery_id: int) -> None: ...

    async def delivery_failed(self, delivery_id: int, retry_at: float | None) -> None:
        """Schedule another attempt at `retry_at`, or give up (None)."""
