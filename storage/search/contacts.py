"""First-contact resolution in full mode: each interaction's gap to its customer's next contact
for the same reason, kept up to date by the writers.

FCR needs, for every interaction, the next contact of the same customer with the same reason. No
plain aggregation gives that, and engine scripts are not available everywhere (the Elasticsearch
build CI runs has none), so the gap is computed when interactions are written, as the embedded store
does with its `kpi_fact.gap` column. The index `<alias>-contacts` holds:

- one document per contact (customer, reason), id `c:<sha1>`, with its members as nested documents:
  interaction id, version, time, gap to the next member (null if none) and the KPI group keys.
  The KPI query counts repeats with one nested aggregation over it (`repeats_request`).
- one pointer per interaction, id `i:<interaction id>`: the contact it is a member of, and the
  version that put it there (stored, not indexed). It is how a write finds the contact an
  interaction leaves when its customer or reason changes, or when it is deleted.

Concurrency and crashes: contact documents are written with optimistic concurrency (if_seq_no), so
two workers touching one contact take turns (the loser re-reads and redoes its change). Pointers
have one writer per interaction (its partition's worker), versioned by the interaction version, and
are written last: a write killed half-way is redone in full on replay, and every step is idempotent
(a member is only ever replaced by an equal or newer version).
"""

from __future__ import annotations

import hashlib
import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from storage.kpis import GROUP_BY, KpiQuery, fact
from storage.search import engine
from storage.search.documents import MAX_KEYWORD_CHARS

log = logging.getLogger(__name__)
Document = dict[str, Any]
_KEYWORD = {"type": "keyword", "ignore_above": MAX_KEYWORD_CHARS}

MAPPINGS: dict[str, Any] = {
    "dynamic": False,  # pointers (`contact`, `version`) are kept in _source only
    "properties": {
        "customer": _KEYWORD,
        "reason": _KEYWORD,
        "members": {
            "type": "nested",
            "properties": {
                "id": _KEYWORD,
                "version": {"type": "long"},
                "gap": {"type": "double"},
                # seconds since the epoch; also as a date, for Kibana's time filter (its FCR panel)
                "at": {"type": "double", "fields": {"date": {"type": "date", "format": "epoch_second"}}},
                **{dim: _KEYWORD for dim in GROUP_BY},
            },
        },
    },
}
SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    # members per contact document (the engine's default, 10,000, is a busy business customer's
    # years of one reason); past this the contact is refused and logged, the rest keeps flowing
    "mapping.nested_objects.limit": 100_000,
}


def contact_id(customer: str, reason: str | None) -> str:
    return "c:" + hashlib.sha1(orjson.dumps([customer, reason])).hexdigest()


def member(interaction_id: str, version: int, doc: Document) -> tuple[str, str, str | None, Document] | None:
    """(contact id, customer, reason, member) of a stored interaction; None if it has no customer."""
    item = fact(doc)
    if item.customer is None:
        return None
    keys = {dim: list(item.keys(dim)) for dim in GROUP_BY}
    found = {"id": interaction_id, "version": version, "at": item.at, "gap": None, **keys}
    return contact_id(item.customer, item.reason), item.customer, item.reason, found


def with_gaps(members: Iterable[Document]) -> list[Document]:
    """Members in time order, each with the seconds to the next strictly later member (None if none)."""
    ordered = sorted(members, key=lambda m: (m["at"], m["id"]))
    times = [m["at"] for m in ordered]
    result = []
    for item in ordered:
        later = bisect_right(times, item["at"])
        result.append({**item, "gap": times[later] - item["at"] if later < len(times) else None})
    return result


@dataclass(slots=True)
class _ContactChange:
    customer: str | None = None
    reason: str | None = None
    joins: dict[str, Document] = field(default_factory=dict)  # interaction id -> member
    leaves: dict[str, int] = field(default_factory=dict)  # interaction id -> version of the change


class ContactIndex:
    def __init__(self, client: Any, index: str, *, replicas: int = 0):
        self.client = client
        self.index = index
        self.replicas = replicas  # of the index, when this creates it

    async def ensure(self) -> None:
        settings = {**SETTINGS, "number_of_replicas": self.replicas}
        await engine.ensure_index(self.client, self.index, mappings=MAPPINGS, settings=settings)

    async def update(self, states: Iterable[tuple[str, int, Document | None]], *, refresh: bool = False) -> None:
        """Make the contacts reflect these interaction states (id, version, stored resource or None
        when deleted). Older states than the ones already applied change nothing."""
        latest: dict[str, tuple[int, Document | None]] = {}
        for interaction_id, version, doc in states:
            if interaction_id not in latest or version >= latest[interaction_id][0]:
                latest[interaction_id] = (version, doc)
        if not latest:
            return
        pointers = await self._sources([f"i:{i}" for i in latest])
        changes: dict[str, _ContactChange] = defaultdict(_ContactChange)
        new_pointers: dict[str, tuple[str | None, int]] = {}
        for interaction_id, (version, doc) in latest.items():
            pointer = pointers.get(f"i:{interaction_id}")
            if pointer is not None and pointer["version"] > version:
                continue  # a newer state was applied already
            found = member(interaction_id, version, doc) if doc is not None else None
            target = found[0] if found else None
            if pointer is not None and pointer["contact"] not in (None, target):
                changes[pointer["contact"]].leaves[interaction_id] = version
            if found:
                change = changes[found[0]]
                _, change.customer, change.reason, change.joins[interaction_id] = found
            new_pointers[interaction_id] = (target, version)
        await self._apply(changes, refresh)
        await self._write_pointers(new_pointers)

    async def _sources(self, ids: list[str]) -> dict[str, Document]:
        return {d["_id"]: d["_source"] for d in await engine.mget(self.client, self.index, ids) if d.get("found")}

    async def _apply(self, changes: dict[str, _ContactChange], refresh: bool) -> None:
        """Read-modify-write every changed contact; contacts another writer changed meanwhile (409)
        are read again and redone until none is left."""
        pending = dict(changes)
        while pending:
            lines: list[bytes] = []
            order: list[str] = []
            for found in await engine.mget(self.client, self.index, list(pending)):
                cid, change = found["_id"], pending[found["_id"]]
                current = found["_source"] if found.get("found") else {}
                members = {m["id"]: m for m in current.get("members", [])}
                for interaction_id, version in change.leaves.items():
                    if interaction_id in members and members[interaction_id]["version"] <= version:
                        del members[interaction_id]
                for interaction_id, joined in change.joins.items():
                    if interaction_id not in members or members[interaction_id]["version"] <= joined["version"]:
                        members[interaction_id] = joined
                meta: dict[str, Any] = {"_index": self.index, "_id": cid}
                if found.get("found"):
                    meta.update(if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
                else:
                    meta["op_type"] = "create"
                if members:
                    document = {
                        "customer": current.get("customer", change.customer),
                        "reason": current.get("reason", change.reason),
                        "members": with_gaps(members.values()),
                    }
                    lines += [orjson.dumps({"index": meta}), orjson.dumps(document)]
                elif found.get("found"):
                    lines.append(orjson.dumps({"delete": {k: v for k, v in meta.items() if k != "op_type"}}))
                else:
                    continue
                order.append(cid)
            if not lines:
                return
            result = await engine.bulk(self.client, lines, refresh=refresh)
            again = {}
            for cid, item in zip(order, result["items"], strict=True):
                outcome = next(iter(item.values()))
                status = outcome.get("status", 500)
                if status == 409:  # another writer changed it since we read it: read it again
                    again[cid] = pending[cid]
                elif status == 429 or status >= 500:
                    raise RuntimeError(f"contact {cid} not written for now: {outcome.get('error')}")
                elif status >= 300 and status != 404:  # refused for good: retrying would stall the stream
                    log.error(
                        "contact %s (%s) refused, its first-contact figures are stale: %s",
                        cid,
                        pending[cid].customer,
                        outcome.get("error"),
                    )
            pending = again

    async def _write_pointers(self, pointers: dict[str, tuple[str | None, int]]) -> None:
        """Never refreshed for a reader: pointers are only read by id (`_sources`), which sees
        every write at once."""
        lines: list[bytes] = []
        for interaction_id, (contact, version) in pointers.items():
            meta = {
                "_index": self.index,
                "_id": f"i:{interaction_id}",
                "version": version,
                "version_type": "external_gte",
            }
            lines += [orjson.dumps({"index": meta}), orjson.dumps({"contact": contact, "version": version})]
        if not lines:
            return
        result = await engine.bulk(self.client, lines)
        for item in result["items"]:
            outcome = next(iter(item.values()))
            if outcome.get("status", 500) >= 300 and outcome.get("status") != 409:  # 409: newer pointer there
                raise RuntimeError(f"pointer {outcome.get('_id')} not written: {outcome.get('error')}")


REPEATS_PATH = ("members", "window", "repeats")


def repeats_request(query: KpiQuery, slot: int, page: int) -> dict[str, Any]:
    """Window members followed by the same contact within fcr_days, by (group key, slot)."""
    window = {
        "bool": {
            "filter": [
                {"range": {"members.at": {"gte": query.start, "lt": query.end}}},
                {"range": {"members.gap": {"lte": query.fcr_days * 86400}}},
            ]
        }
    }
    sources = [
        {"key": {"terms": {"field": f"members.{query.group_by}"}}},
        {"slot": {"histogram": {"field": "members.at", "interval": slot}}},
    ]
    composite = {"size": page, "sources": sources}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"nested": {"path": "members", "query": window}},
        "aggs": {
            "members": {
                "nested": {"path": "members"},
                "aggs": {"window": {"filter": window, "aggs": {"repeats": {"composite": composite}}}},
            }
        },
    }
