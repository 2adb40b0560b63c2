"""Where adapted vendor records become durable, one way per mode (query_api/deps.Intake).

Embedded: their changes in one SQLite transaction, through the change model, hub notifications
queued with them. Full mode: their events on the raw topic, keyed by interaction id, each
acknowledged by every in-sync replica (acks=all); the workers adapt them again and apply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from query_api.deps import Intake
from query_api.full_mode import LogBackedStore
from schemas.channel_event import ChannelEvent
from storage.base import Notify
from storage.changes import Change
from storage.sqlite.store import SqliteStore


def embedded_intake(store: SqliteStore, notify: Notify, interactions_url: str) -> Intake:
    """`interactions_url`: the TMF683 collection's URL, where created interactions live."""

    async def intake(items: Sequence[tuple[ChannelEvent, Change]]) -> None:
        changes = [replace(change, href=f"{interactions_url}/{change.interaction_id}") for _, change in items]
        await store.write_many(changes, notify)

    return intake


def kafka_intake(store: LogBackedStore) -> Intake:
    async def intake(items: Sequence[tuple[ChannelEvent, Change]]) -> None:
        await store.publish_raw([(change.interaction_id.encode(), event.to_bytes()) for event, change in items])

    return intake
