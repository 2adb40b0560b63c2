"""The event hub: subscriptions, which notifications a change causes, and their delivery.

Deliveries are written to the store in the same transaction as the change (an outbox), so a
notification is never lost to a crash; the dispatcher POSTs them to callbacks, one at a time per
subscriber (in order), retrying with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from uuid import uuid4

import httpx

from interaction_hub.backoff import backoff_delay
from interaction_hub.notifications import MAX_RETRY_DELAY_S, Subscriber, fan_out, post_event, subscriber
from schemas.events import EventSubscription, EventSubscriptionInput
from storage.base import Delivery, SubscriptionRegistry, SubscriptionStore
from storage.tmf630 import parse_filter

log = logging.getLogger(__name__)


class Hub:
    """Subscriptions, and (embedded mode) the dispatcher that drains the store's outbox.

    In full mode there is no `outbox`: notifications come from the change topic
    (stream_workers/notifier.py) and `notify` has nothing to queue.
    """

    def __init__(
        self,
        store: SubscriptionRegistry,
        *,
        outbox: SubscriptionStore | None,
        max_attempts: int,
        timeout_s: float,
        backoff_s: float,
    ):
        self._store = store
        self._outbox = outbox
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        # read by notify() on the store's writer thread; replaced, never mutated in place
        self._subscriptions: tuple[Subscriber, ...] = ()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscriptions = tuple(subscriber(s) for s in await self._store.subscriptions())
        if self._outbox is not None:
            self._task = asyncio.create_task(self._dispatch_forever(self._outbox), name="hub-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def subscribe(self, request: EventSubscriptionInput) -> EventSubscription:
        query = parse_filter(request.query) if request.query else None  # QueryError -> 400
        subscription = EventSubscription(id=uuid4().hex, callback=request.callback, query=request.query)
        await self._store.add_subscription(subscription.model_dump(exclude_none=True))
        self._subscriptions = (*self._subscriptions, (subscription.id, subscription.callback, query))
        return subscription

    async def unsubscribe(self, subscription_id: str) -> bool:
        self._subscriptions = tuple(s for s in self._subscriptions if s[0] != subscription_id)
        return await self._store.remove_subscription(subscription_id)

    def notify(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Delivery]:
        """The store's Notify: deliveries for every subscriber whose query the event matches."""
        return fan_out(self._subscriptions, old, new) if self._outbox is not None else []

    def wake(self) -> None:
        self._wake.set()

    # -- delivery ---------------------------------------------------------------------------

    async def _dispatch_forever(self, outbox: SubscriptionStore) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            while True:
                try:
                    due = await outbox.due_deliveries(time.time(), 100)
                    if due:
                        await asyncio.gather(*(self._deliver(outbox, client, *row) for row in due))
                        continue
                except Exception:  # never let the dispatcher die; the outbox keeps the work
                    log.exception("notification dispatch failed; retrying")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)

    async def _deliver(
        self, outbox: SubscriptionStore, client: httpx.AsyncClient, delivery_id: int, delivery: Delivery, attempts: int
    ) -> None:
        reason = await post_event(client, delivery.callback, delivery.body)
        if reason is None:
            await outbox.delivery_done(delivery_id)
            return
        attempts += 1
        if attempts >= self._max_attempts:
            log.warning("giving up on %s after %d attempts (%s)", delivery.callback, attempts, reason)
            await outbox.delivery_failed(delivery_id, None)
            return
        delay = backoff_delay(attempts, first_s=self._backoff_s, max_s=MAX_RETRY_DELAY_S)
        log.info("notification to %s failed (%s); retry in %.1fs", delivery.callback, reason, delay)
        await outbox.delivery_failed(delivery_id, time.time() + delay)
