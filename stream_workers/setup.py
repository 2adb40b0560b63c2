"""What full mode needs before anything runs: the topics and the index behind its alias."""

from __future__ import annotations

import asyncio
import logging

from settings import Settings
from storage.search import create_client
from storage.search.store import SearchStore
from storage.search.subscriptions import SubscriptionIndex
from stream_workers.topics import ensure_topics

log = logging.getLogger(__name__)


async def prepare(settings: Settings, *, wait: bool = False) -> None:
    """Create topics and indices (idempotent). `wait`: retry until Kafka and the engine answer."""
    attempt = 0
    while True:
        try:
            await _prepare(settings)
            return
        except Exception as exc:  # noqa: BLE001 - either service may still be starting
            if not wait:
                raise
            attempt += 1
            delay = min(30.0, 0.5 * 2 ** (attempt - 1))
            log.warning("Kafka or the search engine is not ready (%r); retry %d in %.0fs", exc, attempt, delay)
            await asyncio.sleep(delay)


async def _prepare(settings: Settings) -> None:
    await ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
    client = create_client(settings.search_url, engine=settings.search_engine)
    try:
        await SearchStore(client, settings.index_alias).ensure_index()
        await SubscriptionIndex(client).ensure()
    finally:
        await client.close()
