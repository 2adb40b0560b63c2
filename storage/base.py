"""The storage contract: a handful of async methods; notification outbox as a separate capability."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from storage.query import Page, Query

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification to POST to one subscriber's callback."""

    subscription_id: str
    callback: str
    body: bytes


# Computes, inside the write transaction, what to notify about a change.
Notify = Callable[[Document | None, Document | None], Sequence[Delivery]]


class NotFound(Exception):
    """No interaction with that id."""


class InteractionStore(Protocol):
    """Where PartyInteractions live. Writes are atomic: document and its notifications, or nothing."""

    async def create(self, doc: Document, notify: Notify) -> Document:
        """Store a new resource; returns it as stored."""

    async def get(self, interaction_id: str) -> bytes | None:
        """The stored JSON document, or None."""

    async def list(self, query: Query) -> Page: ...

    async def update(
        self, interaction_id: str, change: Callable[[Document], Document], notify: Notify
    ) -> Document:
        """Read-modify-write under the store's write lock; raises NotFound."""

    async def delete(self, interaction_id: str, notify: Notify) -> Document:
        """Remove and return the document; raises NotFound."""

    async def close(self) -> None: ...


class SubscriptionStore(Protocol):
    """Hub subscriptions and the durable queue of notifications still to deliver."""

    async def add_subscription(self, subscription: Document) -> None: ...

    async def remove_subscription(self, subscription_id: str) -> bool: ...

    async def subscriptions(self) -> list[Document]: ...

    async def due_deliveries(self, now: float, limit: int) -> list[tuple[int, Delivery, int]]:
        """(delivery id, delivery, attempts made) for the head of each subscriber's queue, if due."""

    async def delivery_done(self, delivery_id: int) -> None: ...

    async def delivery_failed(self, delivery_id: int, retry_at: float | None) -> None:
        """Schedule another attempt at `retry_at`, or give up (None)."""
