"""The event hub: subscriptions, which notifications a change causes, and their delivery.

Deliveries are written to the store in the same transaction as the change (an outbox), so a
notification is never lost to a crash; the dispatcher POSTs them to callbacks, one at a time per
subscriber (in order) and each subscriber independently of the others (a slow or failing callback
holds up only its own queue), retrying with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from typing import Any
from uuid import uuid4

import httpx

from interaction_hub.backoff import backoff_delay
from interaction_hub.notifications import (
    MAX_RETRY_DELAY_S,
    CallbackRefused,
    CallbackRule,
    Endpoint,
    Subscriber,
    callback_client,
    check_callback,
    fan_out,
    post_event,
    subscribers,
)
from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from query_api.auth import auth_enabled, is_loopback
from query_api.hub_queries import check_attributes
from schemas.events import EventSubscription, EventSubscriptionInput
from storage.base import Delivery, SubscriptionRegistry, SubscriptionStore
from storage.tmf630 import parse_filter

log = logging.getLogger(__name__)


class HubFull(Exception):
    """The hub has as many subscriptions as it takes."""


def serves_this_machine_only(settings: Settings) -> bool:
    """Whether only this machine's own processes can register listeners: the embedded store served
    on a loopback address without authentication (when query_api/auth.py turns it off by default).
    Callbacks to loopback addresses then reach nothing such a caller cannot reach directly, so they
    are allowed unless IHUB_HUB_LOOPBACK_CALLBACKS says otherwise; anywhere else they would lead
    inside (SSRF). Not in full mode: its workers deliver, and cannot tell how the API is served."""
    return settings.store == "embedded" and is_loopback(settings.host) and not auth_enabled(settings)


def starts_with(subscription: dict[str, Any], condition: str) -> bool:
    """Whether a stored subscription's query starts with `condition`: every event it hears meets it."""
    query = subscription.get("query") or ""
    return bool(query == condition or query.startswith(condition + "&"))


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
        settings: Settings,
    ):
        self._store = store
        self._outbox = outbox
        self._max_attempts = settings.notify_max_attempts
        self._timeout_s = settings.notify_timeout_s
        self._backoff_s = settings.notify_backoff_s
        self._rule = CallbackRule.from_settings(settings, loopback_by_default=serves_this_machine_only(settings))
        self._max_subscriptions = settings.hub_max_subscriptions
        self._max_pending = settings.hub_max_pending
        self._links = ReferenceLinks.from_settings(settings)
        self._registering = asyncio.Lock()
        # read by notify() on the store's writer thread; replaced, never mutated in place
        self._subscriptions: tuple[Subscriber, ...] = ()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: dict[str, asyncio.Task[None]] = {}  # subscription id -> its delivery under way

    async def start(self) -> None:
        self._subscriptions = subscribers(await self._store.subscriptions())
        if self._outbox is not None:
            self._task = asyncio.create_task(self._dispatch_forever(self._outbox), name="hub-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def subscribe(
        self, request: EventSubscriptionInput, *, this_server: Collection[Endpoint] = (), v5: str | None = None
    ) -> EventSubscription:
        """Register a listener. Refusals: QueryError and CallbackRefused (the request is wrong),
        HubFull. `this_server`: where the request reached this server (not a callback). `v5`: a
        listener of TMF683 v5, and where its interactions' hrefs start (notifications.Subscriber)."""
        query = parse_filter(request.query) if request.query else None
        if query is not None:
            check_attributes(query, v5=v5 is not None)
        try:
            await asyncio.wait_for(check_callback(request.callback, self._rule.serving(*this_server)), self._timeout_s)
        except TimeoutError:
            raise CallbackRefused(f"host could not be resolved within {self._timeout_s:g} s") from None
        subscription = EventSubscription(id=uuid4().hex, callback=request.callback, query=request.query)
        async with self._registering:  # the count and the insert together
            if len(await self._store.subscriptions()) >= self._max_subscriptions:
                raise HubFull(f"the hub has its maximum of {self._max_subscriptions} subscriptions")
            stored = subscription.model_dump(exclude_none=True)
            await self._store.add_subscription(stored if v5 is None else {**stored, "v5": v5})
            self._subscriptions = (*self._subscriptions, Subscriber(subscription.id, subscription.callback, query, v5))
        return subscription

    async def listens_with(self, subscription_id: str, condition: str) -> bool:
        """Whether that subscription exists and its query starts with `condition`."""
        for subscription in await self._store.subscriptions():
            if subscription.get("id") == subscription_id:
                return starts_with(subscription, condition)
        return False

    async def registered(self) -> list[dict[str, Any]]:
        """Every subscription, as stored: `id`, `callback`, `query` unless it has none, and `v5` for
        a listener of TMF683 v5."""
        return await self._store.subscriptions()

    async def unsubscribe(self, subscription_id: str) -> bool:
        self._subscriptions = tuple(s for s in self._subscriptions if s[0] != subscription_id)
        return await self._store.remove_subscription(subscription_id)

    def notify(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Delivery]:
        """The store's Notify: deliveries for every subscriber whose query the event matches."""
        if self._outbox is None:
            return []
        return fan_out(self._subscriptions, old, new, links=self._links, max_pending=self._max_pending)

    def wake(self) -> None:
        self._wake.set()

    # -- delivery ---------------------------------------------------------------------------

    async def _dispatch_forever(self, outbox: SubscriptionStore) -> None:
        async with callback_client(self._timeout_s) as client:
            try:
                while True:
                    self._wake.clear()
                    try:
                        # the head of every subscriber's queue (one each, so at most one per
                        # subscription); a subscriber whose delivery is under way keeps its pace.
                        # One that was under way when the read began is skipped too: the read may
                        # predate its outcome (its end wakes the next round).
                        busy = set(self._sending)
                        due = await outbox.due_deliveries(time.time(), len(self._subscriptions))
                        for delivery_id, delivery, attempts in due:
                            sub = delivery.subscription_id
                            if sub not in busy and sub not in self._sending:
                                self._sending[sub] = asyncio.create_task(
                                    self._send(outbox, client, delivery_id, delivery, attempts)
                                )
                    except Exception:  # never let the dispatcher die; the outbox keeps the work
                        log.exception("notification dispatch failed; retrying")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            finally:
                sending = list(self._sending.values())
                for task in sending:
                    task.cancel()
                await asyncio.gather(*sending, return_exceptions=True)

    async def _send(
        self, outbox: SubscriptionStore, client: httpx.AsyncClient, delivery_id: int, delivery: Delivery, attempts: int
    ) -> None:
        try:
            await self._deliver(outbox, client, delivery_id, delivery, attempts)
            self._wake.set()  # the subscriber's next delivery may be waiting
        except Exception:  # the outbox keeps the delivery: it is tried again
            log.exception("delivery to %s failed", delivery.callback)
        finally:
            del self._sending[delivery.subscription_id]

    async def _deliver(
        self, outbox: SubscriptionStore, client: httpx.AsyncClient, delivery_id: int, delivery: Delivery, attempts: int
    ) -> None:
        reason = await post_event(client, delivery.callback, delivery.body, self._rule, self._timeout_s)
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
