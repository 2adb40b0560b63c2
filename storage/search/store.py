"""The search-engine store: reads for the API, idempotent versioned bulk writes for the workers.

Index layout: a versioned index (`<alias>-v1`, `-v2`, ...) behind one alias used for reads and
writes, so `ihub reindex` can build a new index and switch the alias atomically.

Writes are idempotent and ordered by the version carried in the event (external versioning):
replaying an event, or an older event arriving late, is a version conflict that counts as done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from storage.base import StoredDocument
from storage.changes import ABSENT, State
from storage.kpis import KpiGroups, KpiQuery, assemble
from storage.query import Page, Query, UnsupportedQuery
from storage.search import engine
from storage.search.compiler import search_body
from storage.search.contacts import ContactIndex
from storage.search.directory import PartyIndex
from storage.search.documents import (
    MAPPING_META,
    MAPPING_VERSION,
    MAPPINGS,
    SETTINGS,
    TIMELINE_AT,
    TIMELINE_STEMS,
    TIMELINE_WORDS,
    search_document,
)
from storage.search.kpis import kpi_partials
from storage.timeline import TimelinePage, TimelineQuery, encode_cursor, stem

log = logging.getLogger(__name__)

RESULT_WINDOW = 10_000  # the engine's default index.max_result_window (from + size)
SCROLL_PAGE = 5_000


@dataclass(frozen=True, slots=True)
class IndexOp:
    """One write: index the resource (`doc`) or delete it, at an external version."""

    action: Literal["index", "delete"]
    interaction_id: str
    version: int
    doc: dict[str, Any] | None = None


OpResults = list["OpResult"]


@dataclass(frozen=True, slots=True)
class OpResult:
    ok: bool  # applied, or already superseded by an equal/newer version (idempotent replay)
    retryable: bool = False  # 429 / 5xx: try again later
    error: str | None = None


class SearchStore:
    """The interactions behind `alias`, FCR's contacts in `<alias>-contacts` (storage/search/contacts.py)
    and the party directory in `<alias>-parties` (storage/search/directory.py)."""

    def __init__(self, client: Any, alias: str = "ihub-interactions", *, replicas: int = 0):
        self.client = client
        self.alias = alias
        self.replicas = replicas  # replicas of each shard of the indices this store creates
        self.contacts = ContactIndex(client, f"{alias}-contacts", replicas=replicas)
        self.directory = PartyIndex(client, f"{alias}-parties", replicas=replicas)

    # -- index management -------------------------------------------------------------------

    async def ensure_index(self) -> str:
        """Create `<alias>-v1` with the mapping and the alias if no index is behind the alias."""
        if await engine.alias_exists(self.client, self.alias):
            index = await self.current_index()
            # fields added since the index was made (documents indexed before need `ihub reindex`)
            await engine.add_fields(self.client, index, MAPPINGS["properties"])
            made_by = (await engine.mapping_meta(self.client, index)).get(MAPPING_META, 1)
            if made_by < MAPPING_VERSION:
                log.warning(
                    "the index %s was made by an older version (mapping %s, now %s): until `ihub reindex` "
                    "rebuilds it, the timeline's q finds its interactions by word prefixes only, not by "
                    "word forms (charge: charges) nor without diacritics (sao: São)",
                    index,
                    made_by,
                    MAPPING_VERSION,
                )
            # the index may be another process's, just created: searches get 503 until its shard starts
            await engine.wait_for_primaries(self.client, index)
        else:
            index = f"{self.alias}-v1"
            await engine.ensure_index(self.client, index, mappings=MAPPINGS, settings=self._settings())
            await engine.add_alias(self.client, index, self.alias)
        await self.contacts.ensure()
        await self.directory.ensure()
        return index

    async def current_index(self) -> str:
        return (await engine.alias_indices(self.client, self.alias))[0]

    async def create_next_index(self) -> SearchStore:
        """A new, empty `<alias>-v(N+1)` with the current mapping, not behind the alias yet (what
        `ihub reindex` fills); a store over that index alone."""
        match = re.search(r"-v(\d+)$", await self.current_index())
        index = f"{self.alias}-v{int(match.group(1)) + 1 if match else 2}"
        await engine.create_index(self.client, index, mappings=MAPPINGS, settings=self._settings())
        new = SearchStore(self.client, index, replicas=self.replicas)
        new.directory = self.directory  # the deployment's party directory: a reindex resolves against it
        return new

    def _settings(self) -> dict[str, Any]:
        return {**SETTINGS, "number_of_replicas": self.replicas}

    async def move_alias_to(self, index: str) -> str:
        """Point the alias, for reads and writes, at `index` in one atomic update; the index it left."""
        old = await self.current_index()
        await engine.move_alias(self.client, self.alias, old=old, new=index)
        return old

    async def refresh(self) -> None:
        await engine.refresh(self.client, self.alias)

    # -- reads ------------------------------------------------------------------------------

    async def get(self, interaction_id: str) -> StoredDocument | None:
        found = await engine.get_document(self.client, self.alias, interaction_id)
        return None if found is None else StoredDocument(*found)

    async def list(self, query: Query) -> Page:
        try:
            return await self._list(query)
        except Exception as exc:
            reason = engine.refused_request(exc)
            if reason is None:
                raise
            raise UnsupportedQuery(f"the search engine cannot run this query: {reason}") from None

    async def _list(self, query: Query) -> Page:
        body = {**search_body(query), "version": True}  # each hit's version: the interaction's ETag
        if query.limit is not None and query.offset + query.limit <= RESULT_WINDOW:
            hits = (await engine.search(self.client, self.alias, body))["hits"]
            found = hits["hits"]
            items = [orjson.dumps(hit["_source"]) for hit in found]
            return Page(hits["total"]["value"], items, [hit["_version"] for hit in found])
        # everything, or past the engine's result window: walk the sort order with search_after
        body.pop("from")
        body["size"] = SCROLL_PAGE
        skip, wanted = query.offset, query.limit
        page = Page(0)
        while True:
            hits = (await engine.search(self.client, self.alias, body))["hits"]
            page.total = hits["total"]["value"]
            body["track_total_hits"] = False
            for hit in hits["hits"]:
                if skip:
                    skip -= 1
                elif wanted is None or len(page.items) < wanted:
                    page.items.append(orjson.dumps(hit["_source"]))
                    page.versions.append(hit["_version"])
            if len(hits["hits"]) < SCROLL_PAGE or (wanted is not None and len(page.items) >= wanted):
                return page
            body["search_after"] = hits["hits"][-1]["sort"]

    async def timeline(self, query: TimelineQuery) -> TimelinePage:
        filters: list[dict[str, Any]] = [{"term": {"relatedParty.id": query.party_id}}]
        for name, values in (("channel.id", query.channels), ("status", query.statuses), ("reason", query.reasons)):
            if values:
                filters.append({"terms": {name: sorted(values)}})
        if query.start is not None or query.end is not None:
            bounds = {"gte": query.start, "lte": query.end}
            filters.append({"range": {TIMELINE_AT: {k: v for k, v in bounds.items() if v is not None}}})
        # storage.timeline.matches_text: each word begins a word of the text or has the stem of one
        filters += [
            {
                "bool": {
                    "should": [{"prefix": {TIMELINE_WORDS: word}}, {"term": {TIMELINE_STEMS: stem(word)}}],
                    "minimum_should_match": 1,
                }
            }
            for word in query.text
        ]
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters}},
            "sort": [{TIMELINE_AT: "desc"}, {"id": "desc"}],
            "size": query.limit + 1,
            "track_total_hits": False,
            "aggs": {
                name: {"terms": {"field": field, "size": 1000}}
                for name, field in (("channel", "channel.id"), ("status", "status"), ("reason", "reason"))
            },
        }
        if query.after is not None:
            body["search_after"] = list(query.after)
        response = await engine.search(self.client, self.alias, body)
        hits = response["hits"]["hits"]
        page = hits[: query.limit]
        cursor = encode_cursor(*page[-1]["sort"]) if len(hits) > query.limit else None
        facets = {
            name: [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]
            for name, agg in response["aggregations"].items()
        }
        return TimelinePage([orjson.dumps(hit["_source"]) for hit in page], cursor, facets)

    async def kpis(self, query: KpiQuery) -> KpiGroups:
        """The KPI groups, from the engine's aggregations (storage/search/kpis.py)."""
        return assemble(
            await kpi_partials(
                lambda body: engine.search(self.client, self.alias, body),
                lambda body: engine.search(self.client, self.contacts.index, body),
                query,
            )
        )

    async def close(self) -> None:
        await engine.close(self.client)

    # -- writes (workers) -------------------------------------------------------------------

    async def states(self, ids: Iterable[str]) -> dict[str, State]:
        """The latest state of each interaction (a realtime multi-get: what the last bulk wrote)."""
        docs = await engine.mget(self.client, self.alias, sorted(ids))
        state = {doc["_id"]: ABSENT for doc in docs}
        for doc in docs:
            if doc.get("found"):
                state[doc["_id"]] = State(doc["_version"], doc["_source"])
        return state

    async def apply(self, ops: Sequence[IndexOp], *, refresh: bool = False) -> OpResults:
        """One bulk request; a result per op, in order. Raises only if the request itself failed."""
        if not ops:
            return []
        lines: list[bytes] = []
        for op in ops:
            meta = {
                "_index": self.alias,
                "_id": op.interaction_id,
                "version": op.version,
                "version_type": "external_gte",
            }
            lines.append(orjson.dumps({op.action: meta}))
            if op.action == "index":
                assert op.doc is not None, "an index op carries its document"
                lines.append(orjson.dumps(search_document(op.doc)))
        answer = await engine.bulk(self.client, lines, refresh=refresh)
        return [_result(next(iter(item.values()))) for item in answer["items"]]


def _result(item: dict[str, Any]) -> OpResult:
    status = item.get("status", 500)
    if status < 300 or status == 409 or (status == 404 and item.get("result") == "not_found"):
        # 409: an equal or newer version is already there; 404 on delete: already gone
        return OpResult(True)
    error = item.get("error")
    reason = orjson.dumps(error).decode() if error else f"HTTP {status}"
    return OpResult(False, retryable=status == 429 or status >= 500, error=reason)
