"""The KPI facts in SQLite: the kpi_fact and kpi_key rows kept beside each interaction, and the
KPI query that sums them.

storage/kpis.py says what a fact is and how groups add up; this module keeps those facts current
inside the store's write transaction (put_fact, remove_fact) so that a KPI query reads one
primary-key range of kpi_key and nothing else (read_kpis). The tables themselves are in schema.py,
whose migration also uses put_fact and NEXT_SAME_CONTACT to fill them for an older store.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from storage.base import Document
from storage.kpis import GROUP_BY, KpiQuery, Partial, assemble, bucket, fact

# a fact's gap: time to the same customer's next contact with the same reason (FCR is gap > N days)
NEXT_SAME_CONTACT = (
    "(SELECT min(n.at) FROM kpi_fact n WHERE n.customer = kpi_fact.customer AND n.reason IS kpi_fact.reason"
    " AND n.at > kpi_fact.at) - at"
)

_KEY_ROWS = "dim IN ({}) AND at = ? AND seq = ?".format(",".join("?" * len(GROUP_BY)))


def put_fact(conn: sqlite3.Connection, seq: int, doc: Document) -> None:
    remove_fact(conn, seq)
    item = fact(doc)
    conn.execute("INSERT INTO kpi_fact VALUES (?, ?, ?, ?, NULL)", (seq, item.at, item.customer, item.reason))
    figures = (item.handling, item.status == "completed", item.customer is not None)
    conn.executemany(
        "INSERT OR IGNORE INTO kpi_key VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        [(dim, item.at, seq, key, *figures) for dim in GROUP_BY for key in item.keys(dim)],
    )
    _refresh_gaps(conn, item.customer, item.reason, item.at)


def remove_fact(conn: sqlite3.Connection, seq: int) -> None:
    row = conn.execute("SELECT at, customer, reason FROM kpi_fact WHERE seq = ?", (seq,)).fetchone()
    if row is not None:
        at, customer, reason = row
        conn.execute(f"DELETE FROM kpi_key WHERE {_KEY_ROWS}", (*GROUP_BY, at, seq))
        conn.execute("DELETE FROM kpi_fact WHERE seq = ?", (seq,))
        _refresh_gaps(conn, customer, reason, at)


def _refresh_gaps(conn: sqlite3.Connection, customer: str | None, reason: str | None, at: float) -> None:
    """A contact at `at` came or went: only the contacts at `at` and the latest one before it can
    have a different next contact now."""
    if customer is None:
        return
    changed = conn.execute(
        f"UPDATE kpi_fact SET gap = {NEXT_SAME_CONTACT} WHERE customer = ? AND reason IS ? AND (at = ? OR at ="
        " (SELECT max(p.at) FROM kpi_fact p WHERE p.customer = ? AND p.reason IS ? AND p.at < ?))"
        " RETURNING gap, at, seq",
        (customer, reason, at, customer, reason, at),
    ).fetchall()
    conn.executemany(
        f"UPDATE kpi_key SET gap = ? WHERE {_KEY_ROWS}", [(gap, *GROUP_BY, at_, seq) for gap, at_, seq in changed]
    )


# summed per hour (integer arithmetic, cheap); hours roll up into the interval's buckets in read_kpis
_KPI_SQL = """
    SELECT key, CAST(at / 3600 AS INTEGER) - (at < 0) AS hour, count(*), total(handling), count(handling),
           sum(completed), sum(customer), count(CASE WHEN gap <= ? THEN 1 END)
    FROM kpi_key
    WHERE dim = ? AND at >= ? AND at < ?
    GROUP BY key, hour"""


def read_kpis(conn: sqlite3.Connection, query: KpiQuery) -> list[dict[str, Any]]:
    """The KPI groups, summed by SQL (same figures as storage.kpis.kpis on the same facts)."""
    params = (query.fcr_days * 86400, query.group_by, query.start, query.end)
    partials: dict[tuple[str, str], Partial] = defaultdict(Partial)
    for key, hour, *sums in conn.execute(_KPI_SQL, params):
        partials[(key, bucket(hour * 3600.0, query.interval))].add(Partial(*sums))
    return assemble(partials)
