"""The notifications a change causes, and posting one to a subscriber's callback.

Both dispatchers use these: the embedded API's (query_api/hub.py, from the store's outbox) and the
full-mode workers' (stream_workers/notifier.py, from the change topic).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from schemas.common import utc_now
from schemas.events import change_events
from storage.base import Delivery
from storage.query import Query, matches
from storage.tmf630 import parse_filter

MAX_RETRY_DELAY_S = 300.0  # a failing callback is retried at least every five minutes


async def post_event(client: httpx.AsyncClient, callback: str, body: bytes) -> str | None:
    """POST one notification; None when the listener took it (2xx), else why not."""
    try:
        response = await client.post(callback, content=body, headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        return repr(exc)
    return None if response.is_success else f"HTTP {response.status_code}"


Subscriber = tuple[str, str, Query | None]  # (subscription id, callback, parsed query)


def subscriber(subscription: dict[str, Any]) -> Subscriber:
    query = subscription.get("query")
    return subscription["id"], subscription["callback"], parse_filter(query) if query else None


def fan_out(
    subscribers: tuple[Subscriber, ...], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[Delivery]:
    """The notifications a change causes, one per subscriber whose query the event matches."""
    if not subscribers:
        return []
    deliveries = []
    for event in change_events(old, new, utc_now()):
        body = orjson.dumps(event)
        for sub_id, callback, query in subscribers:
            if query is None or matches(query, event):
                deliveries.append(Delivery(sub_id, callback, body))
    return deliveries
