"""Erasure, retention and export in the search index: finding a party's interactions, the expired
ones, and reading a party's interactions page by page.

Full mode never deletes from here directly: the workers apply erase markers in partition order
(stream_workers/pipeline.py) and use these finders at the marker. Candidates are found with the
index and then checked against the exact rule (storage/erasure_rules.py) on the documents themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson

from storage.erasure_rules import PERIODS, expired
from storage.search import engine
from storage.search.documents import field
from storage.search.store import SearchStore

PAGE = 1000  # hits per search_after page: memory stays at one page whatever the total


async def _walk(store: SearchStore, query: dict[str, Any], *, source: bool) -> AsyncIterator[dict[str, Any]]:
    """Every hit of `query`, in id order, one search_after page at a time (each interaction once;
    ids are unique, so a write during the walk cannot make one appear twice)."""
    body: dict[str, Any] = {
        "query": query,
        "sort": [{"id": "asc"}],
        "size": PAGE,
        "track_total_hits": False,
        "_source": source,
    }
    while True:
        hits = (await engine.search(store.client, store.alias, body))["hits"]["hits"]
        for hit in hits:
            yield hit
        if len(hits) < PAGE:
            return
        body["search_after"] = hits[-1]["sort"]


def _naming(party_id: str) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"relatedParty.id": party_id}}]}}


async def ids_naming(store: SearchStore, party_id: str) -> list[str]:
    """Ids of the interactions whose relatedParty names the party (by the index; check the documents)."""
    return [hit["_id"] async for hit in _walk(store, _naming(party_id), source=False)]


async def export_party(store: SearchStore, party_id: str) -> AsyncIterator[bytes]:
    """Every interaction naming the party, as JSON, one page in memory at a time."""
    async for hit in _walk(store, _naming(party_id), source=True):
        yield orjson.dumps(hit["_source"])


async def expired_documents(store: SearchStore, cutoff: datetime) -> AsyncIterator[dict[str, Any]]:
    """The interactions whose retention time is before `cutoff`: every document with one of the
    dates it may come from before it (a superset), then the exact rule."""
    at = cutoff.timestamp()
    paths = ["creationDate", *(f"{period}.{bound}" for period in PERIODS for bound in ("endDateTime", "startDateTime"))]
    query = {
        "bool": {"should": [{"range": {field("d", path): {"lt": at}}} for path in paths], "minimum_should_match": 1}
    }
    async for hit in _walk(store, query, source=True):
        if expired(hit["_source"], cutoff):
            yield hit["_source"]
