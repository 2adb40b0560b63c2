"""Golden files for the two query compilers: representative TMF630 queries, compiled to SQL
(storage/sqlite/compiler.py) and to the search DSL (storage/search/compiler.py).

Each entry of QUERIES is compiled by both compilers and compared with
`tests/unit/storage/golden/sql/<name>.sql` (page SQL, count SQL and their parameters) and
`tests/unit/storage/golden/search/<name>.json` (the request body, sorted keys, 2-space indent).
A missing or different file fails with a unified diff.

After an intended change to a compiler, regenerate the files and review the diff with git:

    IHUB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/storage/test_golden_queries.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from storage.search.compiler import search_body
from storage.sqlite.compiler import count_sql, page_sql
from storage.tmf630 import parse_query

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("IHUB_UPDATE_GOLDEN") == "1"
REGENERATE = "To accept the compiled output: IHUB_UPDATE_GOLDEN=1 pytest tests/unit/storage/test_golden_queries.py"

# sentence naming the golden files -> the list request's query string
QUERIES: dict[str, str] = {
    "status equals open": "status=open",
    "related party id equals cust-42": "relatedParty.id=cust-42",
    "amount equals 42": "amount=42",
    "created at one instant": "creationDate=2026-01-01T10:00:00Z",
    "started in January 2026": (
        "interactionDate.startDateTime.gte=2026-01-01T00:00:00Z&interactionDate.startDateTime.lt=2026-02-01T00:00:00Z"
    ),
    "talk time over 300 seconds": "handling.talkSeconds.gt=300",
    "status is not closed": "status.ne=closed",
    "reason matches a case-insensitive regex": "reason.regex=(?i)bill",
    "status is open or inProgress": "status=open,inProgress",
    "created in January 2026 with symbolic operators": (
        "creationDate>=2026-01-01T00:00:00Z&creationDate<2026-02-01T00:00:00Z"
    ),
    "only reason and channel id fields": "fields=reason,channel.id",
    "newest start first then reason": "sort=-interactionDate.startDateTime,reason",
    "third page of ten": "offset=20&limit=10",
    "no conditions": "",
    "open interactions of customer cust-42": "status=open&relatedParty.id=cust-42",
}
ALLOW = ("fields", "sort", "offset", "limit")


def sql_text(raw: str) -> str:
    """The page and count SQL of a query, each with its parameters numbered in placeholder order."""
    query = parse_query(raw, allow=ALLOW)
    lines = [f"-- query: {raw!r}"]
    for title, sql in (("page", page_sql(query)), ("count", count_sql(query))):
        lines += ["", f"-- {title}", sql.text, "", f"-- {title} params"]
        lines += [f"{number}. {param!r}" for number, param in enumerate(sql.params, 1)]
    return "\n".join(lines) + "\n"


def search_text(raw: str) -> str:
    body = search_body(parse_query(raw, allow=ALLOW))
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def check_golden(path: Path, actual: str) -> None:
    """Write the golden file when updating; otherwise fail unless it exists and equals `actual`."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file is missing: {path}\n{REGENERATE}")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{path} (golden)",
            tofile=f"{path} (compiled now)",
        )
        pytest.fail(f"compiled output differs from the golden file:\n{''.join(diff)}\n{REGENERATE}")


@pytest.mark.parametrize("name", QUERIES)
def test_sql_matches_golden_file(name: str) -> None:
    check_golden(GOLDEN / "sql" / f"{name}.sql", sql_text(QUERIES[name]))


@pytest.mark.parametrize("name", QUERIES)
def test_search_dsl_matches_golden_file(name: str) -> None:
    check_golden(GOLDEN / "search" / f"{name}.json", search_text(QUERIES[name]))


def test_every_golden_file_belongs_to_a_query() -> None:
    expected = {GOLDEN / "sql" / f"{name}.sql" for name in QUERIES}
    expected |= {GOLDEN / "search" / f"{name}.json" for name in QUERIES}
    stale = sorted(str(path) for path in GOLDEN.rglob("*") if path.is_file() and path not in expected)
    assert not stale, f"golden files without an entry in QUERIES (delete them): {stale}"
