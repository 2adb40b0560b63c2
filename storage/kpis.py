"""CSR and store KPIs: what they mean, stated once (the stores select `Fact`s, this aggregates them).

For interactions whose timeline time (interactionDate.startDateTime, else creationDate) lies in
[from, to):
- volume: how many;
- avgHandlingSeconds: mean of interactionDate end - start, over those that have both (null if none);
- resolutionRate: share with status `completed`;
- firstContactResolutionRate: share, among those with a customer, that no other interaction of the
  same customer with the same reason follows within `fcr_days` (null if none has a customer);
grouped by channel id, direction, status, agent (relatedParty role `agent`) or store (relatedParty
role `store`); an interaction with two values of the key (two channels) counts in both groups, one
without a value in none. Each group has a series per hour/day/week (Monday)/month bucket (UTC) with
the same figures. Groups come largest first (leaderboards), ties by key.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from schemas.common import parse_date_time
from storage.timeline import timeline_time

GROUP_BY = ("channel", "direction", "status", "agent", "store")
INTERVALS = ("hour", "day", "week", "month")


@dataclass(frozen=True, slots=True)
class KpiQuery:
    start: float  # epoch seconds, inclusive
    end: float  # exclusive
    interval: str = "day"
    group_by: str = "channel"
    fcr_days: float = 7.0


@dataclass(frozen=True, slots=True)
class Fact:
    """What the KPIs need of one interaction."""

    interaction_id: str
    at: float
    handling: float | None
    status: str | None
    direction: str | None
    channels: tuple[str, ...]
    agents: tuple[str, ...]
    stores: tuple[str, ...]
    customer: str | None
    reason: str | None

    def keys(self, group_by: str) -> tuple[str, ...]:
        if group_by == "channel":
            return self.channels
        if group_by == "agent":
            return self.agents
        if group_by == "store":
            return self.stores
        value = self.direction if group_by == "direction" else self.status
        return (value,) if value is not None else ()


def fact(doc: dict[str, Any]) -> Fact:
    period = doc.get("interactionDate") or {}
    start, end = (
        parse_date_time(period[k]) if isinstance(period.get(k), str) else None for k in ("startDateTime", "endDateTime")
    )
    handling = (end - start).total_seconds() if start and end and end >= start else None
    parties = [p for p in doc.get("relatedParty") or [] if isinstance(p, dict) and isinstance(p.get("id"), str)]

    def role(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p["id"] for p in parties if p.get("role") == name))

    customers = role("customer")
    return Fact(
        interaction_id=doc["id"],
        at=timeline_time(doc),
        handling=handling,
        status=doc.get("status"),
        direction=doc.get("direction"),
        channels=tuple(dict.fromkeys(c["id"] for c in doc.get("channel") or [] if isinstance(c, dict) and "id" in c)),
        agents=role("agent"),
        stores=role("store"),
        customer=customers[0] if customers else None,
        reason=doc.get("reason"),
    )


def bucket(at: float, interval: str) -> str:
    return _bucket_of_hour(int(at // 3600), interval)  # every bucket is made of whole hours


@lru_cache(maxsize=65536)
def _bucket_of_hour(hour: int, interval: str) -> str:
    moment = datetime.fromtimestamp(hour * 3600, UTC)
    if interval == "hour":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    else:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if interval == "week":
            moment -= timedelta(days=moment.weekday())
        elif interval == "month":
            moment = moment.replace(day=1)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Partial:
    """Sums for one (group key, bucket): what a store's GROUP BY returns."""

    volume: int = 0
    handling_sum: float = 0.0
    handled: int = 0
    completed: int = 0
    with_customer: int = 0
    repeated: int = 0

    def add(self, other: Partial) -> None:
        self.volume += other.volume
        self.handling_sum += other.handling_sum
        self.handled += other.handled
        self.completed += other.completed
        self.with_customer += other.with_customer
        self.repeated += other.repeated

    def figures(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "avgHandlingSeconds": round(self.handling_sum / self.handled, 2) if self.handled else None,
            "resolutionRate": round(self.completed / self.volume, 4),
            "firstContactResolutionRate": round((self.with_customer - self.repeated) / self.with_customer, 4)
            if self.with_customer
            else None,
        }


KpiGroups = list[dict[str, Any]]
"""The KPI figures of each group and time bucket, as the API returns them."""


def assemble(partials: dict[tuple[str, str], Partial]) -> KpiGroups:
    """Groups (largest first, ties by key) with their totals and series, from (key, bucket) sums."""
    by_key: dict[str, dict[str, Partial]] = defaultdict(dict)
    for (key, t), partial in partials.items():
        by_key[key][t] = partial
    groups = []
    for key, series in by_key.items():
        total = Partial()
        for partial in series.values():
            total.add(partial)
        groups.append(
            {"key": key, **total.figures(), "series": [{"t": t, **series[t].figures()} for t in sorted(series)]}
        )
    return sorted(groups, key=lambda g: (-g["volume"], g["key"]))


def repeated_contacts(window: list[Fact], later: list[Fact], fcr_days: float) -> set[str]:
    """Ids of window facts followed by another contact of the same customer and reason within fcr_days."""
    times: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for item in later:
        if item.customer is not None:
            times[(item.customer, item.reason)].append(item.at)
    horizon = fcr_days * 86400
    return {
        f.interaction_id
        for f in window
        if f.customer is not None and any(f.at < t <= f.at + horizon for t in times[(f.customer, f.reason)])
    }


def kpis(query: KpiQuery, window: list[Fact], later: list[Fact]) -> KpiGroups:
    """The reference: groups from facts. `window`: facts in [start, end); `later`: facts in
    [start, end + fcr_days) (the contacts that can make a window fact a repeat)."""
    repeated = repeated_contacts(window, later, query.fcr_days)
    partials: dict[tuple[str, str], Partial] = defaultdict(Partial)
    for item in window:
        t = bucket(item.at, query.interval)
        for key in item.keys(query.group_by):
            partial = partials[(key, t)]
            partial.volume += 1
            if item.handling is not None:
                partial.handling_sum += item.handling
                partial.handled += 1
            partial.completed += item.status == "completed"
            if item.customer is not None:
                partial.with_customer += 1
                partial.repeated += item.interaction_id in repeated
    return assemble(partials)
