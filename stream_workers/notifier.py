"""Full-mode notifications: change records -> TMF683 events POSTed to hub subscribers.

The worker hands each batch's records over in partition order, and each subscriber's deliveries
join its own queue, which a task of its own delivers in order, each retried with exponential
backoff and jitter up to the configured number of attempts. A slow or failing subscriber holds up
only its own queue: `handle` queues a batch's deliveries and returns without waiting for any
callback. The queues are in memory: what a worker had not delivered when it stops is lost (at most
`hub_max_pending` per subscriber; past that the oldest are dropped), unlike the embedded store's
outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from interaction_hub.backoff import backoff_delay
from interaction_hub.notifications import (
    MAX_RETRY_DELAY_S,
    CallbackRule,
    Subscriber,
    callback_client,
    fan_out,
    post_event,
    subscribers,
)
from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from schemas.change_record import NOTIFYING_KINDS, Applied, ChangeRecord
from storage.base import Delivery
from storage.search.subscriptions import SubscriptionIndex
from stream_workers import metrics

log = logging.getLogger(__name__)


@dataclass
class _Queue:
    """One subscriber's deliveries; the first is the one under way."""

    waiting: deque[Delivery] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    dropped: int = 0


class Notifier:
    def __init__(
        self,
        index: SubscriptionIndex,
        settings: Settings,
        *,
        reload_s: float = 0.0,
    ):
        self.index = index
        self.max_attempts = settings.notify_max_attempts
        self.timeout_s = settings.notify_timeout_s
        self.backoff_s = settings.notify_backoff_s
        self.reload_s = reload_s
        self.rule = CallbackRule.from_settings(settings)
        self.max_pending = settings.hub_max_pending
        self.links = ReferenceLinks.from_settings(settings)
        self.client = callback_client(self.timeout_s)
        self._subscribers: tuple[Subscriber, ...] = ()
        self._loaded_at = 0.0
        self._queues: dict[str, _Queue] = {}  # subscription id -> its queue

    async def close(self) -> None:
        tasks = [queue.task for queue in self._queues.values() if queue.task]
        if tasks:  # a stopping worker gives what is queued one attempt's time to go out
            await asyncio.wait(tasks, timeout=self.timeout_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    async def subscribers(self) -> tuple[Subscriber, ...]:
        if time.monotonic() - self._loaded_at > self.reload_s:
            try:
                self._subscribers = subscribers(await self.index.subscriptions())
                self._loaded_at = time.monotonic()
            except Exception as exc:
                log.warning("could not reload subscriptions: %r", exc)
        return self._subscribers

    async def handle(self, records: list[ChangeRecord]) -> int:
        """Queue what a batch's change records (the worker's own, from the batch it just wrote)
        cause; returns the number of deliveries queued."""
        subscribers = await self.subscribers()
        self._forget_all_but({s[0] for s in subscribers})
        queued = 0
        for record in records:
            if not isinstance(record, Applied):
                continue
            if record.erasure is not None:
                # erased (docs/privacy.md): what was still waiting about it must not go out now
                self._forget_interaction(record.interaction_id)
            if subscribers and record.kind in NOTIFYING_KINDS:
                for delivery in fan_out(subscribers, record.old, record.new, links=self.links, changed=record.changed):
                    self._queue(delivery)
                    queued += 1
        return queued

    def _forget_interaction(self, interaction_id: Any) -> None:
        """Drop every queued delivery about the interaction (an attempt under way ends, and is not
        retried: `_drain` and `_deliver` notice it left the head of the queue)."""
        for queue in self._queues.values():
            queue.waiting = deque(d for d in queue.waiting if _about(d) != interaction_id)

    def _forget_all_but(self, subscription_ids: set[str]) -> None:
        """Drop the queues of subscriptions that were removed."""
        for subscription_id in self._queues.keys() - subscription_ids:
            metrics.forget_subscription(subscription_id)
            task = self._queues.pop(subscription_id).task
            if task:
                task.cancel()

    def _queue(self, delivery: Delivery) -> None:
        queue = self._queues.setdefault(delivery.subscription_id, _Queue())
        queue.waiting.append(delivery)
        if len(queue.waiting) > self.max_pending:
            queue.waiting.popleft()  # the oldest; if it is under way, its retries stop
            queue.dropped += 1
            if queue.dropped & (queue.dropped - 1) == 0:  # a line each time the count doubles, not each one
                log.warning(
                    "subscription %s: more than %d notifications waiting, dropped the oldest (%d so far)",
                    delivery.subscription_id,
                    self.max_pending,
                    queue.dropped,
                )
        if queue.task is None or queue.task.done():
            queue.task = asyncio.create_task(self._drain(queue))

    async def _drain(self, queue: _Queue) -> None:
        while queue.waiting:
            delivery = queue.waiting[0]
            try:
                await self._deliver(delivery, queue)
            except Exception:  # not the callback's doing (post_event answers for that): go on
                log.exception("delivery to %s failed", delivery.callback)
            if queue.waiting and queue.waiting[0] is delivery:
                queue.waiting.popleft()

    async def _deliver(self, delivery: Delivery, queue: _Queue) -> None:
        for attempt in range(1, self.max_attempts + 1):
            reason = await post_event(self.client, delivery.callback, delivery.body, self.rule, self.timeout_s)
            if reason is None:
                metrics.NOTIFICATIONS_DELIVERED.labels(delivery.subscription_id).inc()
                return
            if attempt < self.max_attempts:
                await asyncio.sleep(backoff_delay(attempt, first_s=self.backoff_s, max_s=MAX_RETRY_DELAY_S))
                if not queue.waiting or queue.waiting[0] is not delivery:
                    return  # dropped meanwhile: the queue was full
        metrics.NOTIFICATIONS_FAILED.labels(delivery.subscription_id).inc()
        log.warning("giving up on %s after %d attempts (%s)", delivery.callback, self.max_attempts, reason)


def _about(delivery: Delivery) -> Any:
    """The id of the interaction a notification is about."""
    event = orjson.loads(delivery.body).get("event") or {}
    resource = event.get("partyInteraction") if isinstance(event, dict) else None
    return resource.get("id") if isinstance(resource, dict) else None
