"""Full-mode notifications: change records -> TMF683 events POSTed to hub subscribers.

Records are handled in partition order; a subscriber gets an interaction's events in order, each
retried with exponential backoff and jitter up to the configured number of attempts. Offsets are
committed after the batch's deliveries finished or gave up (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import orjson

from interaction_hub.backoff import backoff_delay
from interaction_hub.notifications import MAX_RETRY_DELAY_S, Subscriber, fan_out, post_event, subscriber
from storage.base import Delivery
from storage.search.subscriptions import SubscriptionIndex

log = logging.getLogger(__name__)

NOTIFYING_KINDS = ("create", "update", "delete")


class Notifier:
    def __init__(
        self, index: SubscriptionIndex, *, max_attempts: int, timeout_s: float, backoff_s: float, reload_s: float = 0.0
    ):
        self.index = index
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.reload_s = reload_s
        self.client = httpx.AsyncClient(timeout=timeout_s)
        self._subscribers: tuple[Subscriber, ...] = ()
        self._loaded_at = 0.0

    async def close(self) -> None:
        await self.client.aclose()

    async def subscribers(self) -> tuple[Subscriber, ...]:
        if time.monotonic() - self._loaded_at > self.reload_s:
            try:
                self._subscribers = tuple(subscriber(s) for s in await self.index.subscriptions())
                self._loaded_at = time.monotonic()
            except Exception as exc:
                log.warning("could not reload subscriptions: %r", exc)
        return self._subscribers

    async def handle(self, records: list[bytes]) -> int:
        """Deliver what a batch of change records causes; returns the number delivered."""
        subscribers = await self.subscribers()
        if not subscribers:
            return 0
        delivered = 0
        for raw in records:
            record: dict[str, Any] = orjson.loads(raw)
            if record.get("kind") not in NOTIFYING_KINDS:
                continue
            # subscribers in parallel; each one's events (e.g. AttributeValueChange, then
            # StatusChange) one after the other, in order
            per_subscriber: dict[str, list[Delivery]] = {}
            for delivery in fan_out(subscribers, record.get("old"), record.get("new")):
                per_subscriber.setdefault(delivery.subscription_id, []).append(delivery)
            results = await asyncio.gather(*(self._deliver_in_order(d) for d in per_subscriber.values()))
            delivered += sum(results)
        return delivered

    async def _deliver_in_order(self, deliveries: list[Delivery]) -> int:
        return sum([await self._deliver(delivery) for delivery in deliveries])

    async def _deliver(self, delivery: Delivery) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            reason = await post_event(self.client, delivery.callback, delivery.body)
            if reason is None:
                return True
            if attempt < self.max_attempts:
                await asyncio.sleep(backoff_delay(attempt, first_s=self.backoff_s, max_s=MAX_RETRY_DELAY_S))
        log.warning("giving up on %s after %d attempts (%s)", delivery.callback, self.max_attempts, reason)
        return False
