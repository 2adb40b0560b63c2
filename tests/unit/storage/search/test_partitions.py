"""Which period an interaction belongs to, and the names of a period's indices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.erasure_rules import RETENTION_PATHS, retention_time
from storage.search.partitions import end_of, key_of, parse_index, period_alias, period_index, start_of


def test_the_period_is_the_start_of_the_interaction_in_utc():
    doc = {
        "interactionDate": {"startDateTime": "2026-01-31T23:30:00-02:00", "endDateTime": "2026-03-01T00:00:00Z"},
        "creationDate": "2026-12-06T10:00:00Z",
    }
    assert key_of(doc, "month") == "2026.02"  # 01:30 on 1 February in UTC
    assert key_of(doc, "day") == "2026.02.01"
    assert key_of(doc, "year") == "2026"


def test_without_a_start_the_creation_date_and_without_either_now():
    assert key_of({"validFor": {"startDateTime": "2024-05-02T00:00:00Z"}}, "month") == "2024.05"
    assert key_of(
        {"interactionDate": {"startDateTime": "not a date"}, "creationDate": "2025-07-01T00:00:00Z"}, "month"
    ) == ("2025.07")
    now = datetime(2027, 3, 4, tzinfo=UTC)
    assert key_of({"description": "no dates"}, "month", now) == "2027.03"
    assert start_of(None) is None


@pytest.mark.parametrize(
    ("key", "end"),
    [
        ("2026", datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026.12", datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026.02", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2024.02.29", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2026.12.31", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_period_ends_where_the_next_begins(key, end):
    assert end_of(key) == end


def test_period_index_names_parse_back_and_nothing_else_does():
    alias = "ihub-interactions"
    assert parse_index(alias, period_index(alias, "2026.12", 3)) == ("2026.12", 3)
    assert parse_index(alias, period_index(alias, "2026", 1)) == ("2026", 1)
    for other in (
        period_alias(alias, "2026.12"),  # an alias, not an index
        f"{alias}-v1",  # the single index of older versions
        f"{alias}-contacts",
        f"{alias}-locator",
        f"{alias}.2026.12-vX",
        f"{alias}.20261-v1",
        "other.2026.12-v1",
    ):
        assert parse_index(alias, other) is None, other


def test_the_retention_paths_are_where_retention_time_looks_first_to_last():
    doc = {
        "interactionDate": {"startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2026-01-02T00:00:00Z"},
        "validFor": {"startDateTime": "2025-01-01T00:00:00Z", "endDateTime": "2025-01-02T00:00:00Z"},
        "creationDate": "2024-01-01T00:00:00Z",
    }
    for path in RETENTION_PATHS:
        name, _, bound = path.partition(".")
        expected = doc[name][bound] if bound else doc[name]
        assert retention_time(doc) == datetime.fromisoformat(expected)
        if bound:
            del doc[name][bound]
        else:
            del doc[name]
    assert retention_time(doc) is None
