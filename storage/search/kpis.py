"""KPIs as engine aggregations (the meaning is storage/kpis.py; the embedded store does it in SQL).

Two composite aggregations, run side by side:
- sums, on the interaction index: over the window [from, to), by (group key, hour or day of
  `ihub_at`), the sums a `Partial` needs;
- repeats, on the contacts index (storage/search/contacts.py): window interactions whose customer
  came back for the same reason within fcr_days (their stored gap), by the same (key, hour or day).
Days roll up into weeks and months afterwards, as in the embedded store.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from storage.kpis import KpiQuery, Partial, bucket
from storage.search.contacts import REPEATS_PATH, repeats_request
from storage.search.documents import KPI_AGENT, KPI_CUSTOMER, KPI_HANDLING, KPI_STORE, TIMELINE_AT

KEY_FIELDS = {
    "channel": "channel.id",
    "direction": "direction",
    "status": "status",
    "agent": KPI_AGENT,
    "store": KPI_STORE,
}
PAGE = 10_000  # composite buckets per request

Search = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
Partials = dict[tuple[str, str], Partial]


def slot_seconds(query: KpiQuery) -> int:
    """Width of the engine's time buckets: hours for hourly reports, days otherwise (they roll up)."""
    return 3600 if query.interval == "hour" else 86400


def sums_request(query: KpiQuery) -> dict[str, Any]:
    sources = [
        {"key": {"terms": {"field": KEY_FIELDS[query.group_by]}}},
        {"slot": {"histogram": {"field": TIMELINE_AT, "interval": slot_seconds(query)}}},
    ]
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"range": {TIMELINE_AT: {"gte": query.start, "lt": query.end}}},
        "aggs": {
            "groups": {
                "composite": {"size": PAGE, "sources": sources},
                "aggs": {
                    "handling": {"sum": {"field": KPI_HANDLING}},
                    "handled": {"value_count": {"field": KPI_HANDLING}},
                    "completed": {"filter": {"term": {"status": "completed"}}},
                    "customers": {"value_count": {"field": KPI_CUSTOMER}},
                },
            }
        },
    }


async def composite_buckets(search: Search, body: dict[str, Any], path: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every bucket of the composite aggregation at `path` (names of nested aggregations), page after page."""
    found: list[dict[str, Any]] = []
    while True:
        result: Any = await search(body)
        result = result["aggregations"]
        for name in path:
            result = result[name]
        found += result["buckets"]
        if len(result["buckets"]) < PAGE:  # every composite here asks for PAGE buckets a request
            return found
        body = _after(body, path, result["after_key"])


def _after(body: dict[str, Any], path: tuple[str, ...], after: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` asking for the page after `after`."""
    if not path:
        return {**body, "composite": {**body["composite"], "after": after}}
    head, *rest = path
    return {**body, "aggs": {**body["aggs"], head: _after(body["aggs"][head], tuple(rest), after)}}


async def kpi_partials(search_interactions: Search, search_contacts: Search, query: KpiQuery) -> Partials:
    """(group key, bucket) sums for the query, from the engine's aggregations."""
    slot = slot_seconds(query)
    sums, repeats = await asyncio.gather(
        composite_buckets(search_interactions, sums_request(query), ("groups",)),
        composite_buckets(search_contacts, repeats_request(query, slot, PAGE), REPEATS_PATH),
    )
    partials: Partials = defaultdict(Partial)
    for item in sums:
        partials[(item["key"]["key"], bucket(item["key"]["slot"], query.interval))].add(
            Partial(
                volume=item["doc_count"],
                handling_sum=item["handling"]["value"],
                handled=item["handled"]["value"],
                completed=item["completed"]["doc_count"],
                with_customer=item["customers"]["value"],
            )
        )
    for item in repeats:
        cell = (item["key"]["key"], bucket(item["key"]["slot"], query.interval))
        if cell in partials:  # else a write is between the two indices this very moment
            partials[cell].repeated += item["doc_count"]
    return partials
