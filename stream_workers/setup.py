"""What full mode needs before anything runs: the topics and the index behind its alias."""

from __future__ import annotations

from settings import Settings
from storage.search import create_client
from storage.search.store import SearchStore
from storage.search.subscriptions import SubscriptionIndex
from stream_workers.topics import ensure_topics


async def prepare(settings: Settings) -> None:
    await ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
    client = create_client(settings.search_url, engine=settings.search_engine)
    try:
        await SearchStore(client, settings.index_alias).ensure_index()
        await SubscriptionIndex(client).ensure()
    finally:
        await client.close()
