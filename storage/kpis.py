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
from functools import lru_cache
from datetime import datetime, timedelta, timezone
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
    start, end = (parse_date_time(period[k]) if isinstance(period.get(k), str) else None
                  for k in ("startDateTime", "endDateTime"))
    handling = (end - start).total_seconds() if start and end and end >= start else None
    parties = [p for p in doc.get("relatedParty") or [] if isinstance(p, dict) and isinstance(p.get("id"), str)]

    def role(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p["id"] for p in parties if p.get("role") == name))

    customers = role("customer")
    return Fact(
        interaction_id=doc["id"], at=timeline_time(doc), handling=handling, status=doc.get("status"),
        direction=doc.get("direction"),
        channels=tuple(dict.fromkeys(c["id"] for c in doc.get("channel") or [] if isinstance(c, dict) and "id" in c)),
        agents=role("agent"), stores=role("store"), customer=customers[0] if customers else None,
        reason=doc.get("reason"),
    )


def bucket(at: float, interval: str) -> str:
    return _bucket_of_hour(int(at // 3600), interval)  # every bucket is made of whole hours


@lru_cache(maxsize=65536)
def _bucket_of_hour(hour: int, interval: str) -> str:
    moment = datetime.fromtimestamp(hour * 3600, timezone.utc)
    if interval == "hour":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    else:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if interval == "week":
            moment -= timedelta(days=moment.weekday())
        elif interval == "month":
            moment = moment.replace(day=1)
    return moment.isoformat().replace("+00:00", "Z")


def _figures(facts: list[Fact], repeated: set[str]) -> dict[str, Any]:
    handled = [f.handling for f in facts if f.handling is not None]
    with_customer = [f for f in facts if f.customer is not None]
    return {
        "volume": len(facts),
        "avgHandlingSeconds": round(sum(handled) / len(handled), 2) if handled else None,
        "resolutionRate": round(sum(f.status == "completed" for f in facts) / len(facts), 4),
        "firstContactResolutionRate": round(
            sum(f.interaction_id not in repeated for f in with_customer) / len(with_customer), 4
        ) if with_customer else None,
    }


def repeated_contacts(window: list[Fact], later: list[Fact], fcr_days: float) -> set[str]:
    """Ids of window facts followed by another contact of the same customer and reason within fcr_days."""
    times: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for item in later:
        if item.customer is not None:
            times[(item.customer, item.reason)].append(item.at)
    horizon = fcr_days * 86400
    return {
        f.interaction_id for f in window
        if f.customer is not None and any(f.at < t <= f.at + horizon for t in times[(f.customer, f.reason)])
    }


def kpis(query: KpiQuery, window: list[Fact], later: list[Fact]) -> list[dict[str, Any]]:
    """Groups with their figures and series. `window`: facts in [start, end); `later`: facts in
    [start, end + fcr_days) (the contacts that can make a window fact a repeat)."""
    repeated = repeated_contacts(window, later, query.fcr_days)
    groups: dict[str, list[Fact]] = defaultdict(list)
    for item in window:
        for key in item.keys(query.group_by):
            groups[key].append(item)
    result = []
    for key, members in groups.items():
        series: dict[str, list[Fact]] = defaultdict(list)
        for item in members:
            series[bucket(item.at, query.interval)].append(item)
        result.append({"key": key, **_figures(members, repeated),
                       "series": [{"t": t, **_figures(series[t], repeated)} for t in sorted(series)]})
    return sorted(result, key=lambda g: (-g["volume"], g["key"]))
