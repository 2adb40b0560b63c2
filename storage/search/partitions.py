"""Time partitions of the interaction index: which period an interaction belongs to, and the names
of the indices and aliases that hold a period.

An interaction lives in the index of the period of its start (a month by default, `IHUB_INDEX_PERIOD`),
placed when it is first written and never moved: a later change, even one that moves its start,
lands where it already is. For the deployment's alias `A`:

- `A.<key>-v<N>`: the index of one period (`A.2026.12-v1`), made from the index template `A`
  (`ihub init` installs it) when the first interaction of that period comes; `N` is the generation,
  which `ihub reindex` moves on;
- `A.<key>`: the alias of one period, which the workers read and write through (a reindex moves it);
- `A`: the alias over every period, which every search reads;
- `A-locator`: which period holds each interaction (`{"p": <key>}` under its id), so a read by id
  costs two realtime GETs whatever the number of periods, never one per period.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from schemas.common import parse_date_time
from storage.erasure_rules import PERIODS

Period = Literal["day", "month", "year"]
PERIOD_FORMATS: dict[str, str] = {"day": "%Y.%m.%d", "month": "%Y.%m", "year": "%Y"}
_KEY = re.compile(r"^\d{4}(\.\d{2}(\.\d{2})?)?$")


def start_of(doc: dict[str, Any] | None) -> datetime | None:
    """The interaction's start: its period's start, else its creationDate (None: neither is a date-time)."""
    doc = doc or {}
    for name in PERIODS:
        period = doc.get(name)
        if isinstance(period, dict) and isinstance(period.get("startDateTime"), str):
            found = parse_date_time(period["startDateTime"])
            if found is not None:
                return found
    created = doc.get("creationDate")
    return parse_date_time(created) if isinstance(created, str) else None


def key_of(doc: dict[str, Any] | None, period: Period, now: datetime | None = None) -> str:
    """The key of the period an interaction starts in (`2026.12` for a month); one without any
    date-time goes to the period of `now`."""
    at = start_of(doc) or now or datetime.now(UTC)
    return at.astimezone(UTC).strftime(PERIOD_FORMATS[period])


def end_of(key: str) -> datetime:
    """The instant the period of `key` ends (exclusive)."""
    parts = [int(part) for part in key.split(".")]
    if len(parts) == 1:
        return datetime(parts[0] + 1, 1, 1, tzinfo=UTC)
    if len(parts) == 2:
        year, month = parts
        return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    day = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
    return day.fromordinal(day.toordinal() + 1).replace(tzinfo=UTC)


def period_alias(alias: str, key: str) -> str:
    return f"{alias}.{key}"


def period_index(alias: str, key: str, generation: int) -> str:
    return f"{alias}.{key}-v{generation}"


def pattern(alias: str) -> str:
    """The index pattern of every period index of `alias` (the index template's)."""
    return f"{alias}.*"


def locator(alias: str) -> str:
    return f"{alias}-locator"


def parse_index(alias: str, index: str) -> tuple[str, int] | None:
    """(key, generation) of a period index of `alias`; None for any other name."""
    prefix = f"{alias}."
    if not index.startswith(prefix):
        return None
    key, sep, generation = index[len(prefix) :].rpartition("-v")
    if not sep or not generation.isdigit() or not _KEY.match(key):
        return None
    return key, int(generation)
