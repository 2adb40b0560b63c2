"""The party directory in full mode (storage/identity.py): the index `<alias>-parties`, one document
per party (its name, type, contact media, the holdings they give and the survivor it was merged
into), read by the workers for each batch's identifier keys and written by the API, `ihub parties
import` and the Party Management events (interaction_hub/directory.py).

Writes wait for a refresh: whoever re-resolves interactions after a directory change (the workers,
on the relink events that change publishes) must read the new holdings.

The generation (a document of its own, whose version every change bumps after writing its parties
and before it looks for the interactions to relink) closes the one gap: a worker that read the
holdings before a change and writes an interaction after that change's search. The worker reads the
generation before its directory read and again after its write; when it moved, it relinks what it
wrote itself (stream_workers/pipeline.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import orjson

from schemas.party import Party, medium_key, valid_for
from storage.identity import Holding, holdings_of, sharing
from storage.search import engine
from storage.search.documents import MAX_KEYWORD_CHARS, field

log = logging.getLogger(__name__)
_KEYWORD = {"type": "keyword", "ignore_above": MAX_KEYWORD_CHARS}
MAPPINGS: dict[str, Any] = {
    "dynamic": False,  # the party itself and its holdings are kept in _source only
    "properties": {"keys": _KEYWORD, "mergedInto": _KEYWORD},
}
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "refresh_interval": "1s"}
IDENTIFIER_FIELD = field("s", "customerIdentifier.id")  # the interactions' identifier keys
PAGE = 1000
MAX_HOLDERS = 10_000  # parties read for one batch's keys (a shared number has a few, not thousands)
GENERATION = "#generation"  # no party id can be this (schemas.party.PARTY_ID)


class PartyIndex:
    def __init__(self, client: Any, index: str, *, replicas: int = 0):
        self.client = client
        self.index = index
        self.replicas = replicas

    async def ensure(self) -> None:
        settings = {**SETTINGS, "number_of_replicas": self.replicas}
        await engine.ensure_index(self.client, self.index, mappings=MAPPINGS, settings=settings)

    async def generation(self) -> int:
        """How many changes the directory has had (realtime)."""
        found = await engine.get_document(self.client, self.index, GENERATION)
        return 0 if found is None else found[0]

    async def bump(self) -> int:
        return await engine.touch_document(self.client, self.index, GENERATION)

    async def holdings(self, keys: Iterable[str]) -> dict[str, list[Holding]]:
        """Each key's holdings (one search per PAGE keys: one for a batch of channel events)."""
        wanted = sorted(set(keys))
        found: dict[str, list[Holding]] = defaultdict(list)
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            body = {
                "query": {"terms": {"keys": chunk}},
                "size": MAX_HOLDERS,
                "track_total_hits": False,
                "_source": ["holdings", "name", "@referredType"],
            }
            hits = (await engine.search(self.client, self.index, body))["hits"]["hits"]
            if len(hits) == MAX_HOLDERS:
                log.warning("%d identifiers are held by more than %d parties: the first read", len(chunk), len(hits))
            asked = set(chunk)
            for hit in hits:
                source = hit["_source"]
                name, referred_type = source.get("name"), source.get("@referredType", "Individual")
                for key, start_at, end_at in source.get("holdings", ()):
                    if key in asked:
                        found[key].append(Holding(hit["_id"], key, start_at, end_at, name, referred_type))
        return found

    async def party(self, party_id: str) -> Party | None:
        answer = await engine.get_document(self.client, self.index, party_id)
        return None if answer is None else _party(orjson.loads(answer[1]))

    async def parties(self, ids: Sequence[str]) -> dict[str, Party]:
        if not ids:
            return {}
        docs = await engine.mget(self.client, self.index, list(ids))
        return {d["_id"]: _party(d["_source"]) for d in docs if d.get("found")}

    async def put(self, parties: Sequence[Party]) -> set[str]:
        """Store the parties (each replaces what the index held of it), visible to searches when
        this returns; the keys whose holders changed (held before or after)."""
        before = await self.parties([p.id for p in parties])
        touched = {h.key for p in before.values() for h in _holdings(p)}
        lines = []
        for party in parties:
            holdings = _holdings(party)
            touched.update(h.key for h in holdings)
            lines.append(orjson.dumps({"index": {"_index": self.index, "_id": party.id}}))
            lines.append(orjson.dumps(_document(party, holdings)))
        if lines:
            answer = await engine.bulk(self.client, lines, refresh=True)
            errors = [item["index"].get("error") for item in answer.get("items", ()) if item["index"].get("error")]
            if errors:
                raise RuntimeError(f"the directory refused {len(errors)} parties: {errors[0]}")
        return touched

    async def remove(self, party_id: str) -> set[str]:
        found = await self.party(party_id)
        if found is None:
            return set()
        await engine.delete_document(self.client, self.index, party_id)
        await engine.refresh(self.client, self.index)
        return {h.key for h in _holdings(found)}

    async def holders(self, key: str, at: float | None) -> list[tuple[Party, dict[str, Any]]]:
        body = {"query": {"term": {"keys": key}}, "size": 100, "sort": [{"_doc": "asc"}]}
        found = []
        for hit in (await engine.search(self.client, self.index, body))["hits"]["hits"]:
            party = _party(hit["_source"])
            for medium in party.contactMedium:
                start, end = valid_for(medium)
                held = at is None or Holding("", key, start, end).valid_at(at)
                if held and medium_key(medium, normalised=True) == key:
                    found.append((party, medium))
                    break
        return found

    async def shared(self, limit: int) -> list[dict[str, Any]]:
        terms = {"field": "keys", "min_doc_count": 2, "size": 10_000, "order": {"_key": "asc"}}
        body = {"size": 0, "aggs": {"keys": {"terms": terms}}}
        buckets = (await engine.search(self.client, self.index, body))["aggregations"]["keys"]["buckets"]
        found: list[dict[str, Any]] = []
        for bucket in buckets:
            key = bucket["key"]
            overlapping = sharing((await self.holdings([key]))[key])
            if overlapping:
                found.append({"contact": key, "parties": overlapping})
                if len(found) >= limit:
                    break
        return found


def _holdings(party: Party) -> list[Holding]:
    return holdings_of(party.id, party.contactMedium, party.name, party.referredType)


def _document(party: Party, holdings: list[Holding]) -> dict[str, Any]:
    return {
        **party.to_json(),
        "keys": sorted({h.key for h in holdings}),
        "holdings": [[h.key, h.start, h.end] for h in holdings],
    }


def _party(source: dict[str, Any]) -> Party:
    return Party.model_validate({k: v for k, v in source.items() if k not in ("keys", "holdings")})


async def carrying(client: Any, alias: str, keys: Iterable[str]) -> AsyncIterator[list[str]]:
    """The ids of the interactions that carry any of the identifier keys, a page at a time (after a
    refresh, so every write acknowledged before is seen; an id may come in two pages)."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    await engine.refresh(client, alias)
    for start in range(0, len(wanted), PAGE):
        query = {"terms": {IDENTIFIER_FIELD: wanted[start : start + PAGE]}}
        body: dict[str, Any] = {"query": query, "sort": [{"id": "asc"}], "size": PAGE, "_source": False}
        while True:
            hits = (await engine.search(client, alias, body))["hits"]["hits"]
            if hits:
                yield [hit["_id"] for hit in hits]
            if len(hits) < PAGE:
                break
            body["search_after"] = hits[-1]["sort"]


async def carried(client: Any, alias: str, key: str) -> int:
    body = {"query": {"term": {IDENTIFIER_FIELD: key}}, "size": 0, "track_total_hits": True}
    return int((await engine.search(client, alias, body))["hits"]["total"]["value"])
