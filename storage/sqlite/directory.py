"""The party directory in SQLite (storage/identity.py): parties, the identifier keys they hold over
time, and which interactions carry or name what, as functions taking a connection. The store runs
each directory change and the re-resolution of every interaction it touches as one transaction.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence

import orjson

from schemas.party import Party, medium_key, valid_for
from storage.identity import Holding, holdings_of, sharing

DIRECTORY_SCHEMA = """
-- the party directory: each party's display name, type and contact media (TMF632 ContactMedium,
-- normalised), and the survivor it was merged into
CREATE TABLE IF NOT EXISTS party (
    id            TEXT PRIMARY KEY,
    name          TEXT,
    referred_type TEXT NOT NULL,
    media         BLOB NOT NULL,
    merged_into   TEXT
) WITHOUT ROWID;
-- each identifier key a party holds, from start_at until end_at (epoch seconds; NULL: open)
CREATE TABLE IF NOT EXISTS holding (
    key      TEXT NOT NULL,
    party    TEXT NOT NULL,
    start_at REAL,
    end_at   REAL
);
CREATE INDEX IF NOT EXISTS holding_key ON holding (key);
CREATE INDEX IF NOT EXISTS holding_party ON holding (party);
"""

IDENTIFIER_PATH = "customerIdentifier.id"
_CHUNK = 500  # keys per IN (...) list: SQLite's variable limit is far above


def holdings(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, list[Holding]]:
    found: dict[str, list[Holding]] = defaultdict(list)
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(
            "SELECT h.key, h.party, h.start_at, h.end_at, p.name, p.referred_type FROM holding h"
            f" JOIN party p ON p.id = h.party WHERE h.key IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for key, party, start_at, end_at, name, referred_type in rows:
            found[key].append(Holding(party, key, start_at, end_at, name, referred_type))
    return found


def party(conn: sqlite3.Connection, party_id: str) -> Party | None:
    row = conn.execute(
        "SELECT id, name, referred_type, media, merged_into FROM party WHERE id = ?", (party_id,)
    ).fetchone()
    return _party(row) if row else None


def _party(row: Sequence[object]) -> Party:
    party_id, name, referred_type, media, merged_into = row
    return Party.model_validate(
        {
            "id": party_id,
            "name": name,
            "@referredType": referred_type,
            "contactMedium": orjson.loads(media),  # type: ignore[arg-type]
            "mergedInto": merged_into,
        }
    )


def keys_held(conn: sqlite3.Connection, party_id: str) -> set[str]:
    return {key for (key,) in conn.execute("SELECT key FROM holding WHERE party = ?", (party_id,))}


def stored(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str | None]:
    """Which of the parties the directory holds: id -> the survivor it was merged into, or None."""
    found: dict[str, str | None] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(f"SELECT id, merged_into FROM party WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update(rows)
    return found


def put_parties(conn: sqlite3.Connection, parties: Sequence[Party]) -> set[str]:
    """Store each party as given (replacing what the directory held of it); the keys whose
    holders changed (held before or after)."""
    # only parties held before have holdings to replace (a first import has none)
    known = list(stored(conn, [p.id for p in parties]))
    touched: set[str] = set()
    for start in range(0, len(known), _CHUNK):
        chunk = known[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        touched.update(k for (k,) in conn.execute(f"SELECT key FROM holding WHERE party IN ({marks})", chunk))
        conn.execute(f"DELETE FROM holding WHERE party IN ({marks})", chunk)
    conn.executemany(
        "INSERT OR REPLACE INTO party (id, name, referred_type, media, merged_into) VALUES (?, ?, ?, ?, ?)",
        [(p.id, p.name, p.referredType, orjson.dumps(p.contactMedium), p.mergedInto) for p in parties],
    )
    rows = [
        (h.key, h.party_id, h.start, h.end)
        for p in parties
        for h in holdings_of(p.id, p.contactMedium, p.name, p.referredType)
    ]
    conn.executemany("INSERT INTO holding (key, party, start_at, end_at) VALUES (?, ?, ?, ?)", rows)
    touched.update(row[0] for row in rows)
    return touched


def remove_party(conn: sqlite3.Connection, party_id: str) -> set[str]:
    """Forget the party and its holdings; the keys it held."""
    keys = keys_held(conn, party_id)
    conn.execute("DELETE FROM holding WHERE party = ?", (party_id,))
    conn.execute("DELETE FROM party WHERE id = ?", (party_id,))
    return keys


def carrying(conn: sqlite3.Connection, keys: Iterable[str]) -> list[str]:
    """The ids of the interactions that carry any of the identifier keys."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(
            i
            for (i,) in conn.execute(
                "SELECT i.id FROM leaf l JOIN path p ON p.pid = l.pid JOIN interaction i ON i.seq = l.seq"
                f" WHERE p.path = ? AND l.v IN ({','.join('?' * len(chunk))})",
                (IDENTIFIER_PATH, *chunk),
            )
        )
    return sorted(found)


def carried(conn: sqlite3.Connection, key: str) -> int:
    """How many interactions carry the key."""
    row = conn.execute(
        "SELECT count(*) FROM leaf l JOIN path p ON p.pid = l.pid WHERE p.path = ? AND l.v = ?", (IDENTIFIER_PATH, key)
    ).fetchone()
    return int(row[0])


def naming(conn: sqlite3.Connection, party_id: str) -> list[str]:
    """The ids of the interactions whose relatedParty names the party (its timeline rows)."""
    return [i for (i,) in conn.execute("SELECT DISTINCT id FROM timeline WHERE party = ?", (party_id,))]


def holders(conn: sqlite3.Connection, key: str, at: float | None) -> list[tuple[Party, dict[str, object]]]:
    """The parties holding the key at `at` (epoch seconds; None: now or ever, unbounded), each with
    the contact medium that holds it."""
    found = []
    rows = conn.execute(
        "SELECT DISTINCT p.id, p.name, p.referred_type, p.media, p.merged_into FROM holding h"
        " JOIN party p ON p.id = h.party WHERE h.key = ?",
        (key,),
    ).fetchall()
    for row in rows:
        entry = _party(row)
        for medium in entry.contactMedium:
            if medium_key(medium, normalised=True) == key and _valid(medium, at):
                found.append((entry, medium))
                break
    return found


def _valid(medium: dict[str, object], at: float | None) -> bool:
    start, end = valid_for(medium)
    return Holding("", "", start, end).valid_at(at) if at is not None else True


def shared(conn: sqlite3.Connection, limit: int) -> list[dict[str, object]]:
    """The keys held by more than one party at once (a family phone), with who: what identity
    resolution links to nobody, for data stewards."""
    found: list[dict[str, object]] = []
    keys = conn.execute("SELECT key FROM holding GROUP BY key HAVING count(DISTINCT party) > 1 ORDER BY key")
    for (key,) in keys.fetchall():
        overlapping = sharing(holdings(conn, [key])[key])
        if overlapping:
            found.append({"contact": key, "parties": overlapping})
            if len(found) >= limit:
                break
    return found
