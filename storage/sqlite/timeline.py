"""The customer-360 timeline in SQLite: the timeline rows kept beside each interaction, and the
read of one party's page.

storage/timeline.py defines the rows and the filters, facets and cursor over them; this module only
stores those rows (one per party of an interaction, in the write transaction) and reads a party's
rows back, newest first, applying the reference functions to them so both answer alike.
"""

from __future__ import annotations

import sqlite3

import orjson

from storage.base import Document
from storage.timeline import (
    TimelinePage,
    TimelineQuery,
    TimelineRow,
    encode_cursor,
    facet_counts,
    row_matches,
    timeline_rows,
)


def add_timeline(conn: sqlite3.Connection, seq: int, doc: Document) -> None:
    rows = timeline_rows(doc)
    conn.executemany(
        "INSERT OR REPLACE INTO timeline VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (r.party_id, r.at, r.interaction_id, seq, orjson.dumps(list(r.channels)).decode(), r.status, r.reason)
            for r in rows
        ],
    )
    _put_words(conn, seq, rows)


def _put_words(conn: sqlite3.Connection, seq: int, rows: list[TimelineRow]) -> None:
    if rows:  # every row of an interaction has the same words (kept sorted) and stems: stored once
        words, stems = " ".join(rows[0].words), " ".join(sorted(rows[0].stems))
        conn.execute("INSERT OR REPLACE INTO timeline_words VALUES (?, ?, ?)", (seq, words, stems))


def rebuild_words(conn: sqlite3.Connection) -> None:
    """Every interaction's words and stems again, from the stored documents."""
    conn.execute("DELETE FROM timeline_words")
    for seq, doc in conn.execute("SELECT seq, doc FROM interaction"):
        _put_words(conn, seq, timeline_rows(orjson.loads(doc)))


def remove_timeline(conn: sqlite3.Connection, seq: int, doc: Document) -> None:
    conn.executemany(
        "DELETE FROM timeline WHERE party = ? AND at = ? AND id = ?",
        [(r.party_id, r.at, r.interaction_id) for r in timeline_rows(doc)],
    )
    conn.execute("DELETE FROM timeline_words WHERE seq = ?", (seq,))


def _words(words: str, stems: str) -> tuple[tuple[str, ...], frozenset[str]]:
    return tuple(words.split()), frozenset(stems.split())  # the words as stored: sorted


def read_timeline(conn: sqlite3.Connection, query: TimelineQuery) -> TimelinePage:
    conn.execute("BEGIN")  # one snapshot for the rows and their documents
    try:
        rows = [
            (seq, TimelineRow(party, at, id_, tuple(orjson.loads(channels)), status, reason, *_words(found, stems)))
            for party, at, id_, seq, channels, status, reason, found, stems in conn.execute(
                "SELECT t.party, t.at, t.id, t.seq, t.channels, t.status, t.reason, w.words, w.stems FROM timeline t"
                " JOIN timeline_words w ON w.seq = t.seq WHERE t.party = ? ORDER BY t.at DESC, t.id DESC",
                (query.party_id,),
            )
        ]
        # the filters, facets and cursor are the reference functions themselves
        matching = [(seq, row) for seq, row in rows if row_matches(query, row)]
        after = [(s, r) for s, r in matching if query.after is None or (r.at, r.interaction_id) < query.after]
        page = after[: query.limit]
        docs = (
            {
                seq: doc
                for seq, doc in conn.execute(
                    f"SELECT seq, doc FROM interaction WHERE seq IN ({','.join('?' * len(page))})", [s for s, _ in page]
                )
            }
            if page
            else {}
        )
    finally:
        conn.execute("COMMIT")
    cursor = encode_cursor(page[-1][1].at, page[-1][1].interaction_id) if len(after) > query.limit else None
    return TimelinePage([docs[s] for s, _ in page], cursor, facet_counts([r for _, r in matching]))
