"""Erasure, retention and export in SQLite: which rows they touch, as functions taking a connection.

The store (storage/sqlite/store.py) runs an erasure or a purge as ONE write transaction: find the
interactions (`party_rows`, `expired_rows`), drop the undelivered notifications about them
(`forget_notifications`), remove each one with its index, timeline, words and KPI rows (the same
removal a DELETE does), and queue one DeleteEvent per interaction carrying its identity only
(storage/erasure_rules.py). A kill -9 at any point leaves all of it or none of it. `secure_delete` is on
for that transaction, so the freed pages are overwritten rather than left in the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

import orjson

from storage.base import Document
from storage.erasure_rules import PERIODS, erased_by, expired

EXPORT_PAGE = 500  # interactions per read of an export: memory stays at one page whatever the total

# the date-time paths a retention time can come from (storage.erasure_rules.retention_time); the leaf
# table holds each as epoch seconds, so candidates are one index range each
_RETENTION_PATHS = tuple(f"{period}.{bound}" for period in PERIODS for bound in ("endDateTime", "startDateTime"))


def party_rows(conn: sqlite3.Connection, party_id: str) -> list[tuple[int, Document]]:
    """(seq, document) of every interaction whose relatedParty names the party. The timeline holds
    one row per party an interaction names; the document is checked again all the same."""
    rows = conn.execute(
        "SELECT i.seq, i.doc FROM timeline t JOIN interaction i ON i.seq = t.seq WHERE t.party = ?", (party_id,)
    ).fetchall()
    found = [(seq, orjson.loads(doc)) for seq, doc in rows]
    return [(seq, doc) for seq, doc in found if erased_by(doc, party_id)]


def expired_rows(conn: sqlite3.Connection, cutoff: datetime) -> list[tuple[int, Document]]:
    """(seq, document) of every interaction whose retention time is before `cutoff`: candidates
    from the date-time leaves and creationDate (each an index range), then the exact rule."""
    at = cutoff.timestamp()
    marks = ",".join("?" * len(_RETENTION_PATHS))
    candidates = conn.execute(
        f"SELECT seq, doc FROM interaction WHERE created < ? OR seq IN (SELECT l.seq FROM leaf l JOIN path p"
        f" ON p.pid = l.pid WHERE p.path IN ({marks}) AND l.num < ?)",
        (at, *_RETENTION_PATHS, at),
    )
    found = [(seq, orjson.loads(doc)) for seq, doc in candidates]
    return sorted(((seq, doc) for seq, doc in found if expired(doc, cutoff)), key=lambda row: row[0])


def forget_notifications(conn: sqlite3.Connection, interaction_ids: Iterable[str]) -> int:
    """Drop every undelivered notification about these interactions (their deliveries leave the
    outbox; the schema's trigger takes the stored body along). How many bodies went."""
    wanted = set(interaction_ids)
    if not wanted:
        return 0
    about = []
    for notification_id, body in conn.execute("SELECT id, body FROM notification"):
        event = orjson.loads(body).get("event") or {}
        resource = event.get("partyInteraction") if isinstance(event, dict) else None
        if isinstance(resource, dict) and resource.get("id") in wanted:
            about.append((notification_id,))
    conn.executemany("DELETE FROM outbox WHERE notification_id = ?", about)
    conn.executemany("DELETE FROM notification WHERE id = ?", about)  # one with no delivery left
    return len(about)


def export_page(
    conn: sqlite3.Connection, party_id: str, after: tuple[float, str] | None, limit: int = EXPORT_PAGE
) -> list[tuple[float, str, bytes]]:
    """The party's next interactions in (time, id) order after `after` (keyset: constant cost per
    page however far the export has gone): (time, id, stored JSON)."""
    if after is None:
        sql = "SELECT t.at, t.id, i.doc FROM timeline t JOIN interaction i ON i.seq = t.seq WHERE t.party = ?"
        params: tuple[object, ...] = (party_id,)
    else:
        sql = (
            "SELECT t.at, t.id, i.doc FROM timeline t JOIN interaction i ON i.seq = t.seq"
            " WHERE t.party = ? AND (t.at, t.id) > (?, ?)"
        )
        params = (party_id, *after)
    return conn.execute(sql + " ORDER BY t.at, t.id LIMIT ?", (*params, limit)).fetchall()
