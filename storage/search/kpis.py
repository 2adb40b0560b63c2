"""KPIs as engine aggregations (the meaning is storage/kpis.py; the embedded store does it in SQL).

Two composite aggregations, run side by side:
- sums: over the window [from, to), by (group key, hour or day of `ihub_at`), the sums a `Partial`
  needs; days roll up into weeks and months afterwards, as in the embedded store;
- contacts: first-contact resolution needs each window interaction's next contact of the same
  customer for the same reason, which no plain aggregation gives. The engine groups the interactions
  of [from, to + fcr_days) by (customer, reason, time, group key), one bucket per distinct tuple
  (a few numbers, never documents), and the repeats are counted from those buckets here. Engine
  scripts (painless) would do it on the engine, but not every engine build has them (the
  Elasticsearch that CI runs has none), so nothing here depends on them.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from storage.kpis import KpiQuery, Partial, bucket
from storage.search.documents import KPI_AGENT, KPI_CUSTOMER, KPI_HANDLING, KPI_STORE, TIMELINE_AT

KEY_FIELDS = {"channel": "channel.id", "direction": "direction", "status": "status", "agent": KPI_AGENT,
              "store": KPI_STORE}
PAGE = 50_000  # composite buckets per request (the engine's search.max_buckets is 65,535)

Search = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Partials = dict[tuple[str, str], Partial]


def _slot(query: KpiQuery) -> int:
    """Width of the engine's time buckets: hours for hourly reports, days otherwise (they roll up)."""
    return 3600 if query.interval == "hour" else 86400


def _in_range(start: float, end: float) -> dict[str, Any]:
    return {"range": {TIMELINE_AT: {"gte": start, "lt": end}}}


def sums_request(query: KpiQuery) -> dict[str, Any]:
    sources = [{"key": {"terms": {"field": KEY_FIELDS[query.group_by]}}},
               {"slot": {"histogram": {"field": TIMELINE_AT, "interval": _slot(query)}}}]
    return {"size": 0, "track_total_hits": False, "query": _in_range(query.start, query.end), "aggs": {"groups": {
        "composite": {"size": PAGE, "sources": sources},
        "aggs": {
            "handling": {"sum": {"field": KPI_HANDLING}},
            "handled": {"value_count": {"field": KPI_HANDLING}},
            "completed": {"filter": {"term": {"status": "completed"}}},
            "customers": {"value_count": {"field": KPI_CUSTOMER}},
        },
    }}}


def contacts_request(query: KpiQuery) -> dict[str, Any]:
    sources = [{"customer": {"terms": {"field": KPI_CUSTOMER}}},
               {"reason": {"terms": {"field": "reason", "missing_bucket": True}}},
               {"at": {"terms": {"field": TIMELINE_AT}}},
               {"key": {"terms": {"field": KEY_FIELDS[query.group_by], "missing_bucket": True}}}]
    return {"size": 0, "track_total_hits": False,
            "query": _in_range(query.start, query.end + query.fcr_days * 86400),
            "aggs": {"contacts": {"composite": {"size": PAGE, "sources": sources}}}}


async def _buckets(search: Search, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every bucket of the body's one composite aggregation, page after page."""
    name = next(iter(body["aggs"]))
    found: list[dict[str, Any]] = []
    while True:
        aggregation = (await search(body))["aggregations"][name]
        found += aggregation["buckets"]
        if len(aggregation["buckets"]) < PAGE:
            return found
        composite = {**body["aggs"][name]["composite"], "after": aggregation["after_key"]}
        body = {**body, "aggs": {name: {**body["aggs"][name], "composite": composite}}}


def _add_sums(partials: Partials, query: KpiQuery, buckets: list[dict[str, Any]]) -> None:
    for item in buckets:
        partials[(item["key"]["key"], bucket(item["key"]["slot"], query.interval))].add(Partial(
            volume=item["doc_count"], handling_sum=item["handling"]["value"], handled=item["handled"]["value"],
            completed=item["completed"]["doc_count"], with_customer=item["customers"]["value"],
        ))


def _add_repeats(partials: Partials, query: KpiQuery, buckets: list[dict[str, Any]]) -> None:
    times: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for item in buckets:  # sorted by customer, reason, time: each contact's times come in order
        contact, at = (item["key"]["customer"], item["key"]["reason"]), item["key"]["at"]
        if not times[contact] or times[contact][-1] != at:
            times[contact].append(at)
    horizon = query.fcr_days * 86400
    for item in buckets:
        key, at = item["key"]["key"], item["key"]["at"]
        if key is None or at >= query.end:
            continue
        later = times[(item["key"]["customer"], item["key"]["reason"])]
        following = bisect_right(later, at)
        if following < len(later) and later[following] <= at + horizon:
            partials[(key, bucket(at, query.interval))].repeated += item["doc_count"]


async def kpi_partials(search: Search, query: KpiQuery) -> Partials:
    """(group key, bucket) sums for the query, from the engine's aggregations."""
    sums, contacts = await asyncio.gather(_buckets(search, sums_request(query)),
                                          _buckets(search, contacts_request(query)))
    partials: Partials = defaultdict(Partial)
    _add_sums(partials, query, sums)
    _add_repeats(partials, query, contacts)
    return partials
