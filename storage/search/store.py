"""The search-engine store: reads for the API, idempotent versioned bulk writes for the workers.

Index layout (storage/search/partitions.py): one index per period of the interactions' start, each
behind the alias every search reads and behind an alias of its own that writes go through, and a
locator index that says which period holds each interaction. Periods are made on demand by the
writers, from the index template `ihub init` installs; `ihub reindex` builds a new generation of
every period and moves the aliases to it in one atomic update; retention drops whole periods.

Writes are idempotent and ordered by the version carried in the event (external versioning):
replaying an event, or an older event arriving late, is a version conflict that counts as done.
The locator is written in the same bulk request as the interaction, at the same version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from schemas.common import parse_date_time
from storage.base import StoredDocument
from storage.changes import ABSENT, State
from storage.erasure_rules import RETENTION_PATHS, expired
from storage.kpis import KpiGroups, KpiQuery, assemble
from storage.query import Page, Query, UnsupportedQuery
from storage.search import engine, partitions
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
    field,
    search_document,
)
from storage.search.kpis import kpi_partials
from storage.search.partitions import Period
from storage.timeline import TimelinePage, TimelineQuery, encode_cursor, stem

log = logging.getLogger(__name__)

RESULT_WINDOW = 10_000  # the engine's default index.max_result_window (from + size)
SCROLL_PAGE = 5_000
PLACED_KEPT = 100_000  # the interactions whose period a store remembers (each batch reads its own anew)
LOCATOR_MAPPINGS = {"dynamic": False, "properties": {"p": {"type": "keyword"}, "dropped": {"type": "date"}}}
EXTERNAL = {"version_type": "external_gte"}  # versions are the interactions' own (storage/changes.py)
DROPPED = "#dropped:"  # the locator's id for a period retention dropped whole: {"dropped": <its cutoff>}


@dataclass(frozen=True, slots=True)
class IndexOp:
    """One write: index the resource (`doc`) or delete it, at an external version."""

    action: Literal["index", "delete"]
    interaction_id: str
    version: int
    doc: dict[str, Any] | None = None
    # `indexed(doc)` when the writer made it beforehand (a worker, while the write before is in flight)
    body: bytes | None = None


def indexed(doc: dict[str, Any]) -> bytes:
    """The bulk line of a resource's index document."""
    return orjson.dumps(search_document(doc))


OpResults = list["OpResult"]


@dataclass(frozen=True, slots=True)
class OpResult:
    ok: bool  # applied, or already superseded by an equal/newer version (idempotent replay)
    retryable: bool = False  # 429 / 5xx: try again later
    error: str | None = None


class SearchStore:
    """The interactions behind `alias`, FCR's contacts in `<alias>-contacts` (storage/search/contacts.py)
    and the party directory in `<alias>-parties` (storage/search/directory.py)."""

    def __init__(
        self,
        client: Any,
        alias: str = "ihub-interactions",
        *,
        replicas: int = 0,
        shards: int = 1,
        period: Period = "month",
        generation: int | None = None,
    ):
        self.client = client
        self.alias = alias
        self.replicas = replicas  # replicas of each shard of the indices this store creates
        self.shards = shards  # primary shards of each period's index
        self.period = period  # of the indices new interactions go to
        # None: the live periods, through their aliases; N: generation N's indices (`ihub reindex`)
        self.generation = generation
        self.locator = partitions.locator(alias)
        self._known: set[str] = set()  # keys of the periods seen to exist
        self._placed: dict[str, str] = {}  # interaction id -> key of its period, as last read or written
        # ids the locator was last read to name no period for (`states`): the write that follows
        # places them without reading the locator again
        self._nowhere: set[str] = set()
        self.contacts = ContactIndex(client, f"{alias}-contacts", replicas=replicas)
        self.directory = PartyIndex(client, f"{alias}-parties", replicas=replicas)

    # -- index management -------------------------------------------------------------------

    async def ensure_index(self) -> None:
        """Install the index template and the locator, give an older period index the fields added
        to the mapping since, and make the current period's index if there is none (the alias every
        search reads then always exists)."""
        settings = {**SETTINGS, "number_of_shards": self.shards, "number_of_replicas": self.replicas}
        await engine.put_index_template(
            self.client, self.alias, [partitions.pattern(self.alias)], mappings=MAPPINGS, settings=settings
        )
        await engine.ensure_index(
            self.client,
            self.locator,
            mappings=LOCATOR_MAPPINGS,
            settings={"number_of_shards": self.shards, "number_of_replicas": self.replicas},
        )
        if await engine.alias_exists(self.client, self.alias):
            indices = await engine.alias_indices(self.client, self.alias)
            older = self._not_by_period(indices)
            if older:
                log.error(
                    "%s holds %s, made before interactions were kept by period: its interactions are found "
                    "by searches but not by id, and the workers wait, until `ihub reindex` rebuilds them into periods",
                    self.alias,
                    ", ".join(older),
                )
            # fields added since the indices were made (documents indexed before need `ihub reindex`)
            await engine.add_fields(self.client, self.alias, MAPPINGS["properties"])
            for index in indices:
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
                # another process's, just made: searches get 503 until its shard starts
                await engine.wait_for_primaries(self.client, index)
        else:
            await self._ensure_periods({partitions.key_of(None, self.period)})
        await self.contacts.ensure()
        await self.directory.ensure()

    async def not_by_period(self) -> list[str]:
        """The indices behind the alias that an earlier version made, holding every interaction in
        one index: until `ihub reindex` replaces them, an interaction there is not found by id, so
        nothing may be folded onto it (the workers wait: interaction_hub/provisioning.py)."""
        return self._not_by_period(await self._live_indices())

    def _not_by_period(self, indices: Iterable[str]) -> list[str]:
        return [index for index in indices if partitions.parse_index(self.alias, index) is None]

    async def periods(self) -> dict[str, str]:
        """{key: index} of the periods this store reads and writes (the live ones behind the alias,
        or those of its generation)."""
        if self.generation is None:
            indices = await self._live_indices()
        else:
            indices = await engine.matching_indices(self.client, f"{partitions.pattern(self.alias)}-v{self.generation}")
        found = {}
        for index in indices:
            parsed = partitions.parse_index(self.alias, index)
            if parsed is not None and (self.generation is None or parsed[1] == self.generation):
                found[parsed[0]] = index
        return found

    async def _live_indices(self) -> list[str]:
        """The indices behind the alias (none before the first period is made)."""
        if not await engine.alias_exists(self.client, self.alias):
            return []
        return await engine.alias_indices(self.client, self.alias)

    async def _ensure_periods(self, keys: set[str]) -> None:
        """Make the index of each period in `keys` that is not there yet (the live ones already
        behind both aliases, in one step, at the live generation)."""
        missing = keys - self._known
        if not missing:
            return
        self._known = set(await self.periods())
        missing = keys - self._known
        if not missing:
            return
        generation = self.generation or await self._live_generation()
        for key in sorted(missing):
            index = partitions.period_index(self.alias, key, generation)
            aliases: dict[str, dict[str, Any]] = {}
            if self.generation is None:
                aliases = {self.alias: {}, partitions.period_alias(self.alias, key): {"is_write_index": True}}
            if await engine.create_from_template(self.client, index, aliases):
                log.info("made the index %s", index)
            self._known.add(key)

    async def _purged_again(self, ops: Sequence[IndexOp], keys: set[str]) -> set[str]:
        """The ids among `ops` that retention already removed with their whole period (a replay of
        the log, or `ihub reindex`): what is written to a period retention dropped, and that was
        over at that drop's cutoff, is not written again. Anything else brings the period back."""
        if not keys - self._known:
            return set()
        await self._refresh_known(keys)
        missing = keys - self._known
        if not missing:
            return set()
        hits = await engine.search(
            self.client, self.locator, {"query": {"exists": {"field": "dropped"}}, "size": RESULT_WINDOW}
        )
        dropped = {
            hit["_id"].removeprefix(DROPPED): parse_date_time(hit["_source"]["dropped"]) for hit in hits["hits"]["hits"]
        }
        purged = set()
        for op in ops:
            key = self._placed.get(op.interaction_id)
            cutoff = dropped.get(key) if key in missing else None
            if cutoff is not None and (op.action == "delete" or expired(op.doc or {}, cutoff)):
                purged.add(op.interaction_id)
        return purged

    async def _live_generation(self) -> int:
        indices = await self._live_indices()
        parsed = [partitions.parse_index(self.alias, index) for index in indices]
        return max((found[1] for found in parsed if found), default=1)

    def _target(self, key: str) -> str:
        """Where the period `key` is read and written: its alias, or this generation's index."""
        if self.generation is None:
            return partitions.period_alias(self.alias, key)
        return partitions.period_index(self.alias, key, self.generation)

    async def next_generation(self) -> SearchStore:
        """A store over a new, empty generation of the periods (what `ihub reindex` fills), not
        behind the aliases yet; its periods are made as it writes."""
        new = SearchStore(
            self.client,
            self.alias,
            replicas=self.replicas,
            shards=self.shards,
            period=self.period,
            generation=await self._live_generation() + 1,
        )
        new.directory = self.directory  # the deployment's party directory: a reindex resolves against it
        return new

    async def switch_to(self, new: SearchStore) -> list[str]:
        """Point the alias, and each period's alias, at the generation of `new`, in one atomic
        update; the indices they left (kept: delete them once the new generation is trusted)."""
        assert new.generation is not None and new.alias == self.alias
        old = await self._live_indices()
        actions: list[dict[str, Any]] = []
        for index in old:
            actions.append({"remove": {"index": index, "alias": self.alias}})
            parsed = partitions.parse_index(self.alias, index)
            if parsed is not None:
                actions.append({"remove": {"index": index, "alias": partitions.period_alias(self.alias, parsed[0])}})
        for key, index in (await new.periods()).items():
            actions.append({"add": {"index": index, "alias": self.alias}})
            actions.append(
                {"add": {"index": index, "alias": partitions.period_alias(self.alias, key), "is_write_index": True}}
            )
        await engine.update_aliases(self.client, actions)
        self._known.clear()
        return old

    async def drop_periods_before(self, cutoff: datetime) -> list[str]:
        """Retention by whole periods: delete each period index that ended before `cutoff` and holds
        no interaction that retention keeps (no date at or after it, or no date at all), and forget
        their locations. The newest period always stays (the alias must have an index). What is
        left past the cutoff, in a period that straddles it, the purge deletes one by one."""
        found = await self.periods()
        dropped: list[str] = []
        # storage.erasure_rules.retention_time at or after the cutoff, or none at all
        kept: list[dict[str, Any]] = []
        for n, path in enumerate(RETENTION_PATHS):
            earlier = [{"exists": {"field": field("d", p)}} for p in RETENTION_PATHS[:n]]
            at = {"range": {field("d", path): {"gte": cutoff.timestamp()}}}
            kept.append({"bool": {"filter": [at], "must_not": earlier}})
        kept.append({"bool": {"must_not": [{"exists": {"field": field("d", p)}} for p in RETENTION_PATHS]}})
        query = {"bool": {"should": kept, "minimum_should_match": 1}}
        for key in sorted(found)[:-1]:
            if partitions.end_of(key) > cutoff or await engine.count(self.client, found[key], query):
                continue
            # remembered first: a replay of the log never brings back what it held (`_purged_again`)
            await engine.put_document(self.client, self.locator, DROPPED + key, {"dropped": cutoff.isoformat()})
            await engine.delete_indices(self.client, [found[key]])
            await self._forget_period(key)
            self._known.discard(key)
            dropped.append(found[key])
            log.info("retention: dropped %s, whose interactions all ended before %s", found[key], cutoff.isoformat())
        return dropped

    async def _forget_period(self, key: str) -> None:
        """Delete the locator's entries for a dropped period, each at the version it was read at: an
        interaction brought back there meanwhile keeps its newer one."""
        async for hits in engine.scroll(self.client, self.locator, {"term": {"p": key}}):
            deletes = [
                {"delete": {"_index": self.locator, "_id": hit["_id"], "version": hit["_version"], **EXTERNAL}}
                for hit in hits
            ]
            await engine.bulk(self.client, [orjson.dumps(line) for line in deletes])

    async def refresh(self) -> None:
        if self.generation is None:
            await engine.refresh(self.client, self.alias)
        else:
            await engine.refresh(self.client, f"{partitions.pattern(self.alias)}-v{self.generation}")

    # -- reads ------------------------------------------------------------------------------

    async def get(self, interaction_id: str) -> StoredDocument | None:
        """Two realtime reads: the locator's, then the period's (None when the period was dropped).
        A period remembered from an earlier read is tried first: an interaction never moves, and an
        id is in one period at most, so what it finds there is the interaction; only a miss asks
        the locator again."""
        remembered = self._placed.get(interaction_id)
        if remembered is not None:
            found = await self._get_from(remembered, interaction_id)
            if found is not None:
                return found
        located = await engine.get_source(self.client, self.locator, interaction_id)
        key = located.get("p") if located is not None else None
        if not isinstance(key, str):
            return None
        found = await self._get_from(key, interaction_id)
        if found is not None:
            if len(self._placed) > PLACED_KEPT:
                self._placed.clear()
            self._placed[interaction_id] = key
        return found

    async def _get_from(self, key: str, interaction_id: str) -> StoredDocument | None:
        try:
            found = await engine.get_document(self.client, self._target(key), interaction_id)
        except engine.IndexMissing:
            return None
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
        }
        aggs = {
            name: {"terms": {"field": path, "size": 1000}}
            for name, path in (("channel", "channel.id"), ("status", "status"), ("reason", "reason"))
        }
        if query.after is None:
            response = await engine.search(self.client, self.alias, {**body, "aggs": aggs})
            facets_response = response
        else:
            # the facets apart: with `search_after`, OpenSearch skips the shards (the older months)
            # that hold nothing after it, and their documents would go missing from the facets
            body["search_after"] = list(query.after)
            response, facets_response = await asyncio.gather(
                engine.search(self.client, self.alias, body),
                engine.search(self.client, self.alias, {"query": body["query"], "size": 0, "aggs": aggs}),
            )
        hits = response["hits"]["hits"]
        page = hits[: query.limit]
        cursor = encode_cursor(*page[-1]["sort"]) if len(hits) > query.limit else None
        facets = {
            name: [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]
            for name, agg in facets_response["aggregations"].items()
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

    async def _locate(self, ids: Iterable[str]) -> None:
        """Learn from the locator which period holds each of `ids` (those it does not name, or whose
        period was dropped, hold none)."""
        wanted = sorted(set(ids))
        if len(self._placed) > PLACED_KEPT:
            self._placed.clear()
        if len(self._nowhere) > PLACED_KEPT:
            self._nowhere.clear()
        for doc_id in wanted:
            self._placed.pop(doc_id, None)
        docs = await engine.mget(self.client, self.locator, wanted) if wanted else []
        keys = {doc["_id"]: doc["_source"].get("p") for doc in docs if doc.get("found")}
        if keys:
            await self._refresh_known(set(keys.values()))
        for doc_id, key in keys.items():
            if key in self._known:
                self._placed[doc_id] = key
        for doc_id in wanted:
            if doc_id in self._placed:
                self._nowhere.discard(doc_id)
            else:
                self._nowhere.add(doc_id)

    async def _refresh_known(self, keys: set[str]) -> None:
        if not keys <= self._known:
            self._known = set(await self.periods())

    async def states(self, ids: Iterable[str]) -> dict[str, State]:
        """The latest state of each interaction: realtime reads of the locator, then of the periods
        that hold them (what the last bulk wrote)."""
        wanted = sorted(set(ids))
        await self._locate(wanted)
        state = {doc_id: ABSENT for doc_id in wanted}
        placed = [(self._target(self._placed[i]), i) for i in wanted if i in self._placed]
        for doc in await engine.mget_from(self.client, placed):
            if doc.get("found"):
                state[doc["_id"]] = State(doc["_version"], doc["_source"])
        return state

    async def apply(self, ops: Sequence[IndexOp], *, refresh: bool = False) -> OpResults:
        """One bulk request; a result per op, in order. Raises only if the request itself failed.

        An interaction is written where it already is, else in the period of its start (made if
        need be); a delete of one that is nowhere is already done."""
        if not ops:
            return []
        unplaced = {op.interaction_id for op in ops if op.interaction_id not in self._placed} - self._nowhere
        if unplaced:
            await self._locate(unplaced)
        for op in ops:
            if op.action == "index" and op.interaction_id not in self._placed:
                self._placed[op.interaction_id] = partitions.key_of(op.doc, self.period)
            self._nowhere.discard(op.interaction_id)
        keys = {self._placed[op.interaction_id] for op in ops if op.interaction_id in self._placed}
        purged = await self._purged_again(ops, keys)
        await self._ensure_periods(keys - {self._placed[i] for i in purged})
        lines: list[bytes] = []
        sent: list[int] = []  # bulk actions per op
        for op in ops:
            key = self._placed.get(op.interaction_id)
            if key is None or op.interaction_id in purged:
                sent.append(0)
                continue
            versioned = {"_id": op.interaction_id, "version": op.version, **EXTERNAL}
            target: dict[str, Any] = {"_index": self._target(key), **versioned}
            if self.generation is None:
                target["require_alias"] = True  # a period dropped meanwhile is an error, never a new index
            located = {"_index": self.locator, **versioned}
            if op.action == "index":
                assert op.doc is not None, "an index op carries its document"
                lines += [
                    orjson.dumps({"index": target}),
                    op.body if op.body is not None else indexed(op.doc),
                    orjson.dumps({"index": located}),
                    orjson.dumps({"p": key}),
                ]
            else:
                target.pop("require_alias", None)  # not a delete's parameter
                lines += [orjson.dumps({"delete": target}), orjson.dumps({"delete": located})]
                del self._placed[op.interaction_id]
            sent.append(2)
        items = iter((await engine.bulk(self.client, lines, refresh=refresh))["items"] if lines else [])
        results: OpResults = []
        for op, count in zip(ops, sent, strict=True):
            parts = [_result(next(iter(next(items).values()))) for _ in range(count)]
            if any(part.error and "index_not_found" in part.error for part in parts):
                # the period went (retention, or a reindex's switch) after it was looked up: again
                self._known.clear()
                self._placed.pop(op.interaction_id, None)
                parts.append(OpResult(False, retryable=True, error="the period's index is gone"))
            failed = [part for part in parts if not part.ok]
            retryable = any(part.retryable for part in failed)
            results.append(OpResult(False, retryable, failed[0].error) if failed else OpResult(True))
        return results


def _result(item: dict[str, Any]) -> OpResult:
    status = item.get("status", 500)
    if status < 300 or status == 409 or (status == 404 and item.get("result") == "not_found"):
        # 409: an equal or newer version is already there; 404 on delete: already gone
        return OpResult(True)
    error = item.get("error")
    reason = orjson.dumps(error).decode() if error else f"HTTP {status}"
    return OpResult(False, retryable=status == 429 or status >= 500, error=reason)
