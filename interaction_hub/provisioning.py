"""What full mode needs before anything runs: the topics and the index behind its alias."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from interaction_hub.backoff import backoff_delay
from interaction_hub.kafka_client import kafka_options
from interaction_hub.search_client import search_client, search_store
from interaction_hub.settings import Settings
from interaction_hub.topics import ensure_topics, start_group_at_end
from schemas.channel_event import CHANGES_TOPIC
from storage.search import engine
from storage.search.subscriptions import SubscriptionIndex

log = logging.getLogger(__name__)


async def prepare(settings: Settings, *, wait: bool = False, feeds: Sequence[str] = ()) -> None:
    """Create topics and indices (idempotent). `wait`: retry until Kafka and the engine answer.
    `feeds`: the Kafka-fed sources' topics, made if their producers have not made them."""
    attempt = 0
    while True:
        try:
            await _prepare(settings, feeds)
            return
        except Exception as exc:
            if not wait:
                raise
            attempt += 1
            delay = backoff_delay(attempt, first_s=0.5)
            log.warning("Kafka or the search engine is not ready (%r); retry %d in %.1fs", exc, attempt, delay)
            await asyncio.sleep(delay)


async def _prepare(settings: Settings, feeds: Sequence[str]) -> None:
    await ensure_topics(
        kafka_options(settings),
        settings.topic_partitions,
        settings.topic_replication,
        retention_days=settings.retention_days,
        update_retention=True,  # the raw topic's retention follows IHUB_RETENTION_DAYS (docs/privacy.md)
        min_insync=settings.topic_min_insync,
        # made here if their producers have not made them: the workers read them
        feeds=[*feeds, *([settings.party_events_topic] if settings.party_events_topic else [])],
    )
    client = search_client(settings)
    try:
        # replicas: at creation only (an index made earlier keeps its own)
        await search_store(settings, client).ensure_index()
        await SubscriptionIndex(
            client, f"{settings.index_alias}-subscriptions", replicas=settings.index_replicas
        ).ensure()
    finally:
        await engine.close(client)


async def _no_index_of_one_piece(settings: Settings, poll_s: float = 5.0) -> None:
    """Wait while the alias holds an index an earlier version made, every interaction in one piece:
    an event about one of its interactions would be folded onto nothing (it is not found by id).
    `ihub reindex` rebuilds it into periods from the log; the worker then starts."""
    client = search_client(settings)
    store = search_store(settings, client)
    try:
        said = False
        while older := await store.not_by_period():
            if not said:
                log.error("%s holds %s: this worker waits for `ihub reindex`", settings.index_alias, ", ".join(older))
                said = True
            await asyncio.sleep(poll_s)
        if said:
            log.info("%s is kept by period now: this worker starts", settings.index_alias)
    finally:
        await engine.close(client)


async def prepare_worker(settings: Settings, feeds: Sequence[str] = ()) -> None:
    """`prepare`, waiting for the services; then, for a worker group that never ran: notifications
    are about what happens from now on, so it does not replay the change log to subscribers (the
    raw topic, the log of record, it does read from the start)."""
    await prepare(settings, wait=True, feeds=feeds)
    await _no_index_of_one_piece(settings)
    try:
        await start_group_at_end(kafka_options(settings), settings.worker_group, CHANGES_TOPIC, if_new=True)
    except Exception as exc:
        log.warning("could not set the change topic's start for %s: %r", settings.worker_group, exc)
