"""The embedded store: SQLite in a data directory, no server process.

One writer thread owns the only write connection, so writes are serialised and each is one
transaction (document, its index rows and its notifications, or nothing). Readers use their own
connections in a small thread pool; WAL lets them read a consistent snapshot while a write runs.
An exclusive lock on the data directory keeps a second process from opening the same store.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from storage.base import Delivery, Document, Notify, StoredDocument
from storage.changes import ABSENT, Change, Outcome, State, apply
from storage.query import Page, Query, SortKey, leaves, sort_value
from storage.kpis import GROUP_BY, KpiQuery, Partial, assemble, bucket, fact
from storage.sqlite import compiler
from storage.timeline import (
    TimelinePage,
    TimelineQuery,
    TimelineRow,
    encode_cursor,
    facet_counts,
    row_matches,
    timeline_rows,
)

T = TypeVar("T")

KPI_SCHEMA = """
-- what the KPIs need of each interaction (storage/kpis.py): one kpi_fact row (what finding the
-- customer's next contact needs), and one kpi_key row per value of each grouping dimension (an
-- interaction on two channels is in both channel groups) carrying the fact's figures, so a KPI
-- query reads one primary-key range and nothing else
CREATE TABLE IF NOT EXISTS kpi_fact (
    seq      INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    customer TEXT,
    reason   TEXT,
    gap      REAL                         -- seconds to the customer's next contact with the same reason
);
CREATE INDEX IF NOT EXISTS kpi_fact_repeat ON kpi_fact (customer, reason, at) WHERE customer IS NOT NULL;
CREATE TABLE IF NOT EXISTS kpi_key (
    dim       TEXT NOT NULL,
    at        REAL NOT NULL,
    seq       INTEGER NOT NULL,
    key       TEXT NOT NULL,
    handling  REAL,
    completed INTEGER NOT NULL,           -- 1 if status is completed
    customer  INTEGER NOT NULL,           -- 1 if it has a customer
    gap       REAL,                       -- kpi_fact.gap, copied
    PRIMARY KEY (dim, at, seq, key)
) WITHOUT ROWID;
"""

SCHEMA = KPI_SCHEMA + """
CREATE TABLE IF NOT EXISTS interaction (
    seq     INTEGER PRIMARY KEY,          -- insertion order; what leaf rows point at
    id      TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,             -- storage/changes.py: only grows; the ETag
    doc     BLOB NOT NULL,                -- the resource as returned (JSON)
    created REAL NOT NULL,                -- creationDate, epoch seconds (sort column)
    started REAL                          -- interactionDate.startDateTime (sort column)
);
CREATE INDEX IF NOT EXISTS interaction_created ON interaction (created, id);
CREATE INDEX IF NOT EXISTS interaction_started ON interaction (started, id);
CREATE TABLE IF NOT EXISTS path (pid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
-- every scalar of every document: any dotted-path condition is an index range on (pid, v)
CREATE TABLE IF NOT EXISTS leaf (
    pid  INTEGER NOT NULL,
    v    TEXT NOT NULL,                   -- text form (numbers canonical)
    seq  INTEGER NOT NULL,
    kind TEXT NOT NULL,                   -- storage.query.Kind
    num  REAL,                            -- number, or date-time as epoch seconds
    PRIMARY KEY (pid, v, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leaf_num ON leaf (pid, num) WHERE num IS NOT NULL;
-- the customer-360 timeline: one row per (party, interaction), see storage/timeline.py
CREATE TABLE IF NOT EXISTS timeline (
    party    TEXT NOT NULL,
    at       REAL NOT NULL,
    id       TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    channels TEXT NOT NULL,               -- JSON array of channel ids
    status   TEXT,
    reason   TEXT,
    words    TEXT NOT NULL,               -- the searchable words, space-separated
    PRIMARY KEY (party, at, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscription (id TEXT PRIMARY KEY, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS delivery (
    id              INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    callback        TEXT NOT NULL,
    body            BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    due             REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_queue ON delivery (subscription_id, id);
"""


SCHEMA_VERSION = 7  # 2: timeline, 4: kpi_fact and kpi_key, 5: kpi_fact.gap, 6: figures in kpi_key, 7: version


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to date (new tables start empty: fill them)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    if "version" not in {row[1] for row in conn.execute("PRAGMA table_info(interaction)")}:
        # an interaction written before versions existed: the version its creation time gives it
        conn.execute("ALTER TABLE interaction ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE interaction SET version = CAST(created * 1000000 AS INTEGER)")
    if version in (4, 5):  # the facts are there: reshape them in SQL (minutes faster than from documents)
        if version == 4:
            conn.execute("ALTER TABLE kpi_fact ADD COLUMN gap REAL")
            conn.execute(f"UPDATE kpi_fact SET gap = {_NEXT_SAME_CONTACT} WHERE customer IS NOT NULL")
        conn.execute("ALTER TABLE kpi_fact RENAME TO old_kpi_fact")
        conn.execute("ALTER TABLE kpi_key RENAME TO old_kpi_key")
        conn.execute("DROP INDEX IF EXISTS kpi_fact_repeat")
        for statement in KPI_SCHEMA.split(";")[:-1]:  # not executescript: it would commit
            conn.execute(statement)
        conn.execute("INSERT INTO kpi_fact SELECT seq, at, customer, reason, gap FROM old_kpi_fact")
        conn.execute(
            "INSERT INTO kpi_key SELECT k.dim, k.at, k.seq, k.key, f.handling, f.status IS 'completed',"
            " f.customer IS NOT NULL, f.gap FROM old_kpi_key k JOIN old_kpi_fact f ON f.seq = k.seq"
        )
        conn.execute("DROP TABLE old_kpi_key")
        conn.execute("DROP TABLE old_kpi_fact")
    elif version < 4:
        conn.execute("DROP TABLE IF EXISTS fact")  # version 3's fact table, replaced by kpi_fact
        for seq, doc in conn.execute("SELECT seq, doc FROM interaction").fetchall():
            if version < 2:
                _add_timeline(conn, seq, orjson.loads(doc))
            _put_fact(conn, seq, orjson.loads(doc))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("COMMIT")


def _add_timeline(conn: sqlite3.Connection, seq: int, doc: Document) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO timeline VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.party_id, r.at, r.interaction_id, seq, orjson.dumps(list(r.channels)).decode(), r.status, r.reason,
          " ".join(sorted(r.words))) for r in timeline_rows(doc)],
    )


# a fact's gap: time to the same customer's next contact with the same reason (FCR is gap > N days)
_NEXT_SAME_CONTACT = (
    "(SELECT min(n.at) FROM kpi_fact n WHERE n.customer = kpi_fact.customer AND n.reason IS kpi_fact.reason"
    " AND n.at > kpi_fact.at) - at"
)


def _put_fact(conn: sqlite3.Connection, seq: int, doc: Document) -> None:
    _remove_fact(conn, seq)
    item = fact(doc)
    conn.execute("INSERT INTO kpi_fact VALUES (?, ?, ?, ?, NULL)", (seq, item.at, item.customer, item.reason))
    figures = (item.handling, item.status == "completed", item.customer is not None)
    conn.executemany(
        "INSERT OR IGNORE INTO kpi_key VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        [(dim, item.at, seq, key, *figures) for dim in GROUP_BY for key in item.keys(dim)],
    )
    _refresh_gaps(conn, item.customer, item.reason, item.at)


_KEY_ROWS = "dim IN ({}) AND at = ? AND seq = ?".format(",".join("?" * len(GROUP_BY)))


def _remove_fact(conn: sqlite3.Connection, seq: int) -> None:
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
        f"UPDATE kpi_fact SET gap = {_NEXT_SAME_CONTACT} WHERE customer = ? AND reason IS ? AND (at = ? OR at ="
        " (SELECT max(p.at) FROM kpi_fact p WHERE p.customer = ? AND p.reason IS ? AND p.at < ?))"
        " RETURNING gap, at, seq",
        (customer, reason, at, customer, reason, at),
    ).fetchall()
    conn.executemany(f"UPDATE kpi_key SET gap = ? WHERE {_KEY_ROWS}",
                     [(gap, *GROUP_BY, at_, seq) for gap, at_, seq in changed])


def _remove_timeline(conn: sqlite3.Connection, doc: Document) -> None:
    conn.executemany(
        "DELETE FROM timeline WHERE party = ? AND at = ? AND id = ?",
        [(r.party_id, r.at, r.interaction_id) for r in timeline_rows(doc)],
    )


class StoreLocked(RuntimeError):
    """Another process has this data directory open."""


def _sort_value_sql(doc: bytes, path: str, descending: int) -> float | str | None:
    value = sort_value(orjson.loads(doc), SortKey(path, bool(descending)))
    return None if value is None else value[1]


class _Regexps:
    """REGEXP for SQLite with compiled patterns cached (queries validate them first)."""

    def __init__(self) -> None:
        import re

        self._compile = re.compile
        self._cache: dict[str, Any] = {}

    def __call__(self, pattern: str, value: str) -> bool:
        compiled = self._cache.get(pattern)
        if compiled is None:
            if len(self._cache) > 256:
                self._cache.clear()
            compiled = self._cache[pattern] = self._compile(pattern)
        return compiled.search(value) is not None


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB
    conn.execute("PRAGMA mmap_size=1073741824")
    conn.create_function("sort_value", 3, _sort_value_sql, deterministic=True)
    conn.create_function("regexp", 2, _Regexps(), deterministic=True)
    return conn


def _sort_columns(doc: Document) -> tuple[float, float | None]:
    created = sort_value(doc, SortKey("creationDate"))
    started = sort_value(doc, SortKey("interactionDate.startDateTime"))
    return created[1], (started[1] if started else None)


class SqliteStore:
    """InteractionStore and SubscriptionStore on SQLite."""

    def __init__(self, data_dir: str | os.PathLike[str], *, readers: int = 4, synchronous: str = "FULL"):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.data_dir / ".lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreLocked(f"{self.data_dir} is in use by another process") from None
        self._db = self.data_dir / "interactions.sqlite3"
        self._synchronous = synchronous
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._pids: dict[str, int] = {}
        conn = self._conn()
        conn.executescript(SCHEMA)
        _migrate(conn)
        self._pids = dict(conn.execute("SELECT path, pid FROM path"))

    # -- plumbing ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self._db, self._synchronous)
            self._connections.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._conn()))

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def transaction() -> T:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                self._pids = dict(conn.execute("SELECT path, pid FROM path"))
                raise
            conn.execute("COMMIT")
            return result

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, transaction)

    def _pid(self, conn: sqlite3.Connection, path: str) -> int:
        pid = self._pids.get(path)
        if pid is None:
            pid = conn.execute("INSERT INTO path (path) VALUES (?) RETURNING pid", (path,)).fetchone()[0]
            self._pids[path] = pid
        return pid

    def _leaf_rows(self, conn: sqlite3.Connection, seq: int, doc: Document) -> list[tuple[Any, ...]]:
        return [
            (self._pid(conn, path), scalar.text, seq, scalar.kind.value, scalar.number)
            for path, scalar in leaves(doc)
        ]

    @staticmethod
    def _enqueue(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            conn.executemany(
                "INSERT INTO delivery (subscription_id, callback, body, due) VALUES (?, ?, ?, 0)",
                [(d.subscription_id, d.callback, d.body) for d in deliveries],
            )

    # -- InteractionStore -------------------------------------------------------------------

    async def write(self, change: Change, notify: Notify) -> Outcome:
        return await self._write(lambda conn: self._apply(conn, change, notify))

    async def write_many(self, changes: Sequence[Change], notify: Notify) -> None:
        """Several changes in one transaction (bulk loads: one commit, not one per change)."""
        def apply_all(conn: sqlite3.Connection) -> None:
            for change in changes:
                self._apply(conn, change, notify)

        await self._write(apply_all)

    def _apply(self, conn: sqlite3.Connection, change: Change, notify: Notify) -> Outcome:
        """The write transaction's one step: the change model decides, this persists what it decided."""
        row = conn.execute("SELECT seq, version, doc FROM interaction WHERE id = ?", (change.interaction_id,)).fetchone()
        outcome = apply(ABSENT if row is None else State(row[1], orjson.loads(row[2])), change)
        old, new = outcome.old.doc, outcome.new.doc
        if outcome.kind == "create":
            assert new is not None
            self._insert(conn, new, outcome.new.version)
        elif outcome.kind == "update":
            assert old is not None and new is not None
            self._replace(conn, row[0], old, new, outcome.new.version)
        elif outcome.kind == "delete":
            assert old is not None
            self._remove(conn, row[0], old)
        if outcome.changed:
            self._enqueue(conn, notify(old, new))
        return outcome

    def _insert(self, conn: sqlite3.Connection, doc: Document, version: int) -> None:
        created, started = _sort_columns(doc)
        seq = conn.execute(
            "INSERT INTO interaction (id, version, doc, created, started) VALUES (?, ?, ?, ?, ?) RETURNING seq",
            (doc["id"], version, orjson.dumps(doc), created, started),
        ).fetchone()[0]
        conn.executemany("INSERT OR IGNORE INTO leaf VALUES (?, ?, ?, ?, ?)", self._leaf_rows(conn, seq, doc))
        _add_timeline(conn, seq, doc)
        _put_fact(conn, seq, doc)

    def _replace(self, conn: sqlite3.Connection, seq: int, old: Document, new: Document, version: int) -> None:
        created, started = _sort_columns(new)
        conn.execute(
            "UPDATE interaction SET version = ?, doc = ?, created = ?, started = ? WHERE seq = ?",
            (version, orjson.dumps(new), created, started, seq),
        )
        old_rows, new_rows = self._leaf_rows(conn, seq, old), self._leaf_rows(conn, seq, new)
        gone = {row[:3] for row in old_rows} - {row[:3] for row in new_rows}
        conn.executemany("DELETE FROM leaf WHERE pid = ? AND v = ? AND seq = ?", list(gone))
        conn.executemany("INSERT OR IGNORE INTO leaf VALUES (?, ?, ?, ?, ?)", new_rows)
        _remove_timeline(conn, old)
        _add_timeline(conn, seq, new)
        _put_fact(conn, seq, new)

    def _remove(self, conn: sqlite3.Connection, seq: int, old: Document) -> None:
        conn.execute("DELETE FROM interaction WHERE seq = ?", (seq,))
        rows = {row[:3] for row in self._leaf_rows(conn, seq, old)}
        conn.executemany("DELETE FROM leaf WHERE pid = ? AND v = ? AND seq = ?", list(rows))
        _remove_timeline(conn, old)
        _remove_fact(conn, seq)

    async def get(self, interaction_id: str) -> StoredDocument | None:
        def fetch(conn: sqlite3.Connection) -> StoredDocument | None:
            row = conn.execute("SELECT version, doc FROM interaction WHERE id = ?", (interaction_id,)).fetchone()
            return StoredDocument(*row) if row else None

        return await self._read(fetch)

    async def list(self, query: Query) -> Page:
        page, count = compiler.page_sql(query), compiler.count_sql(query)

        def run(conn: sqlite3.Connection) -> Page:
            conn.execute("BEGIN")  # one snapshot for the count and the page
            try:
                total = conn.execute(count.text, count.params).fetchone()[0]
                items = [row[0] for row in conn.execute(page.text, page.params)] if total else []
            finally:
                conn.execute("COMMIT")
            return Page(total, items)

        return await self._read(run)

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._lock_file.close()

    # -- TimelineStore ----------------------------------------------------------------------

    async def timeline(self, query: TimelineQuery) -> TimelinePage:
        def read(conn: sqlite3.Connection) -> TimelinePage:
            conn.execute("BEGIN")
            try:
                rows = [
                    (seq, TimelineRow(party, at, id_, tuple(orjson.loads(channels)), status, reason,
                                      frozenset(found.split())))
                    for party, at, id_, seq, channels, status, reason, found in conn.execute(
                        "SELECT * FROM timeline WHERE party = ? ORDER BY at DESC, id DESC", (query.party_id,)
                    )
                ]
                # the filters, facets and cursor are the reference functions themselves
                matching = [(seq, row) for seq, row in rows if row_matches(query, row)]
                after = [(s, r) for s, r in matching if query.after is None or (r.at, r.interaction_id) < query.after]
                page = after[: query.limit]
                docs = {seq: doc for seq, doc in conn.execute(
                    f"SELECT seq, doc FROM interaction WHERE seq IN ({','.join('?' * len(page))})", [s for s, _ in page]
                )} if page else {}
            finally:
                conn.execute("COMMIT")
            cursor = encode_cursor(page[-1][1].at, page[-1][1].interaction_id) if len(after) > query.limit else None
            return TimelinePage([docs[s] for s, _ in page], cursor, facet_counts([r for _, r in matching]))

        return await self._read(read)

    # -- KPIs --------------------------------------------------------------------------

    async def kpis(self, query: KpiQuery) -> list[dict[str, Any]]:
        """The KPI groups, summed by SQL (same figures as storage.kpis.kpis on the same facts)."""
        # summed per hour (integer arithmetic, cheap); hours roll up into the interval's buckets below
        sql = """
            SELECT key, CAST(at / 3600 AS INTEGER) - (at < 0) AS hour, count(*), total(handling), count(handling),
                   sum(completed), sum(customer), count(CASE WHEN gap <= ? THEN 1 END)
            FROM kpi_key
            WHERE dim = ? AND at >= ? AND at < ?
            GROUP BY key, hour"""
        params = (query.fcr_days * 86400, query.group_by, query.start, query.end)

        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            partials: dict[tuple[str, str], Partial] = defaultdict(Partial)
            for key, hour, *sums in conn.execute(sql, params):
                partials[(key, bucket(hour * 3600.0, query.interval))].add(Partial(*sums))
            return assemble(partials)

        return await self._read(read)

    # -- SubscriptionStore ------------------------------------------------------------------

    async def add_subscription(self, subscription: Document) -> None:
        body = orjson.dumps(subscription)
        await self._write(
            lambda conn: conn.execute("INSERT INTO subscription VALUES (?, ?)", (subscription["id"], body))
        )

    async def remove_subscription(self, subscription_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM subscription WHERE id = ?", (subscription_id,)).rowcount
            conn.execute("DELETE FROM delivery WHERE subscription_id = ?", (subscription_id,))
            return gone > 0

        return await self._write(remove)

    async def subscriptions(self) -> list[Document]:
        return await self._read(
            lambda conn: [orjson.loads(row[0]) for row in conn.execute("SELECT doc FROM subscription")]
        )

    async def due_deliveries(self, now: float, limit: int) -> list[tuple[int, Delivery, int]]:
        def due(conn: sqlite3.Connection) -> list[tuple[int, Delivery, int]]:
            # only the head of each subscriber's queue: a subscriber gets its events in order
            rows = conn.execute(
                "SELECT id, subscription_id, callback, body, attempts FROM delivery"
                " WHERE id IN (SELECT min(id) FROM delivery GROUP BY subscription_id) AND due <= ?"
                " ORDER BY id LIMIT ?",
                (now, limit),
            )
            return [(r[0], Delivery(r[1], r[2], r[3]), r[4]) for r in rows]

        return await self._read(due)

    async def delivery_done(self, delivery_id: int) -> None:
        await self._write(lambda conn: conn.execute("DELETE FROM delivery WHERE id = ?", (delivery_id,)))

    async def delivery_failed(self, delivery_id: int, retry_at: float | None) -> None:
        def reschedule(conn: sqlite3.Connection) -> None:
            if retry_at is None:
                conn.execute("DELETE FROM delivery WHERE id = ?", (delivery_id,))
            else:
                conn.execute(
                    "UPDATE delivery SET attempts = attempts + 1, due = ? WHERE id = ?", (retry_at, delivery_id)
                )

        await self._write(reschedule)
