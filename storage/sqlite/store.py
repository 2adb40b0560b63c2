"""The embedded store: SQLite in a data directory, no server process.

One writer thread owns the only write connection, so writes are serialised and each is one
transaction (document, its index rows and its notifications, or nothing). Readers use their own
connections in a small thread pool, but for a read of one interaction by id, made on the event
loop's thread; WAL lets them read a consistent snapshot while a write runs.
An exclusive lock on the data directory keeps a second process from opening the same store.

This module holds the store itself: the threads and connections, and the write transaction over
the interaction and leaf tables. The rest is by job, as functions taking a connection: the tables
and their migration in schema.py, opening a connection in connection.py, the KPI facts and query
in kpi_facts.py, the customer timeline in timeline.py, notifications and subscriptions in outbox.py.
"""

from __future__ import annotations

import asyncio
import builtins
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from schemas.common import utc_now
from schemas.party import Party
from storage.base import Document, DueDeliveries, Notify, StoredDocument, Subscriptions
from storage.changes import ABSENT, Change, Invalid, Outcome, State, apply
from storage.erasure_rules import redacted
from storage.identity import RESOLUTION, keys_of, merged, resolved
from storage.kpis import KpiGroups, KpiQuery
from storage.query import Page, Query, SortKey, leaves, sort_value
from storage.sqlite import compiler, directory, erasure, outbox
from storage.sqlite.connection import connect
from storage.sqlite.kpi_facts import put_fact, read_kpis, remove_fact
from storage.sqlite.schema import SCHEMA, SCHEMA_VERSION, migrate
from storage.sqlite.timeline import add_timeline, read_timeline, remove_timeline
from storage.timeline import TimelinePage, TimelineQuery

__all__ = ["SCHEMA_VERSION", "SqliteStore", "StoreLocked"]

T = TypeVar("T")


class StoreLocked(RuntimeError):
    """Another process has this data directory open."""


def _sort_columns(doc: Document) -> tuple[float, float | None]:
    created = sort_value(doc, SortKey("creationDate"))
    started = sort_value(doc, SortKey("interactionDate.startDateTime"))
    if created is None:  # the change model keeps creationDate on every stored interaction
        raise ValueError("an interaction without creationDate")
    return created[1], (started[1] if started else None)


def _resolve(conn: sqlite3.Connection, doc: Document) -> Document:
    """Identity resolution (storage/identity.py) against the directory, inside the write transaction."""
    keys = keys_of(doc)
    if not keys and RESOLUTION not in doc:
        return doc
    return resolved(doc, directory.holdings(conn, keys))


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
        migrate(conn)
        self._pids = dict(conn.execute("SELECT path, pid FROM path"))

    # -- plumbing ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._db, self._synchronous)
            self._connections.append(conn)
        return conn

    def _inline_conn(self) -> sqlite3.Connection:
        """This thread's connection for reads on the event loop: one that never waits for a lock."""
        conn = getattr(self._local, "inline", None)
        if conn is None:
            conn = self._local.inline = connect(self._db, self._synchronous)
            conn.execute("PRAGMA busy_timeout=0")
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
            (self._pid(conn, path), scalar.text, seq, scalar.kind.value, scalar.number) for path, scalar in leaves(doc)
        ]

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
        row = conn.execute(
            "SELECT seq, version, doc FROM interaction WHERE id = ?", (change.interaction_id,)
        ).fetchone()
        current = ABSENT if row is None else State(row[1], orjson.loads(row[2]))
        outcome = apply(current, change, resolve=partial(_resolve, conn))
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
            outbox.enqueue(conn, notify(old, new))
        return outcome

    def _insert(self, conn: sqlite3.Connection, doc: Document, version: int) -> None:
        created, started = _sort_columns(doc)
        seq = conn.execute(
            "INSERT INTO interaction (id, version, doc, created, started) VALUES (?, ?, ?, ?, ?) RETURNING seq",
            (doc["id"], version, orjson.dumps(doc), created, started),
        ).fetchone()[0]
        conn.executemany("INSERT OR IGNORE INTO leaf VALUES (?, ?, ?, ?, ?)", self._leaf_rows(conn, seq, doc))
        add_timeline(conn, seq, doc)
        put_fact(conn, seq, doc)

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
        remove_timeline(conn, seq, old)
        add_timeline(conn, seq, new)
        put_fact(conn, seq, new)

    def _remove(self, conn: sqlite3.Connection, seq: int, old: Document) -> None:
        conn.execute("DELETE FROM interaction WHERE seq = ?", (seq,))
        rows = {row[:3] for row in self._leaf_rows(conn, seq, old)}
        conn.executemany("DELETE FROM leaf WHERE pid = ? AND v = ? AND seq = ?", list(rows))
        remove_timeline(conn, seq, old)
        remove_fact(conn, seq)

    async def get(self, interaction_id: str) -> StoredDocument | None:
        def fetch(conn: sqlite3.Connection) -> StoredDocument | None:
            row = conn.execute("SELECT version, doc FROM interaction WHERE id = ?", (interaction_id,)).fetchone()
            return StoredDocument(*row) if row else None

        # One row by primary key costs tens of microseconds: read on the event loop's own thread
        # rather than pay two thread hand-offs for it. In WAL mode a reader never waits for the
        # writer; should SQLite still answer busy (rare: while another connection recovers the
        # log's index), the read goes to the reader threads, which wait for it.
        try:
            return fetch(self._inline_conn())
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):  # any busy or locked
                raise
        return await self._read(fetch)

    async def list(self, query: Query) -> Page:
        page, count = compiler.page_sql(query), compiler.count_sql(query)

        def run(conn: sqlite3.Connection) -> Page:
            conn.execute("BEGIN")  # one snapshot for the count and the page
            try:
                total = conn.execute(count.text, count.params).fetchone()[0]
                rows = conn.execute(page.text, page.params).fetchall() if total else []
            finally:
                conn.execute("COMMIT")
            return Page(total, [row[0] for row in rows], [row[1] for row in rows])

        return await self._read(run)

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._lock_file.close()

    # -- privacy (storage/sqlite/erasure.py, docs/privacy.md) ---------------------------------

    async def erase_party(self, party_id: str, notify: Notify) -> builtins.list[str]:
        """Remove every interaction naming the party, in one transaction: what a DELETE removes of
        each, its undelivered notifications, and one DeleteEvent each carrying its identity only.
        The ids removed (none the second time)."""

        freed: set[str] = set()

        def find(conn: sqlite3.Connection) -> builtins.list[tuple[int, Document]]:
            freed.update(directory.remove_party(conn, party_id))  # its holdings go too
            return erasure.party_rows(conn, party_id)

        def then(conn: sqlite3.Connection) -> None:
            # another holder of what it shared may now be the only one
            self._relink(conn, directory.carrying(conn, freed), notify)

        return await self._erase(find, notify, party_id, then)

    async def expired(self, cutoff: datetime) -> builtins.list[Document]:
        """The interactions retention would purge at `cutoff` (what `ihub retention --dry-run` lists)."""
        return await self._read(lambda conn: [doc for _, doc in erasure.expired_rows(conn, cutoff)])

    async def purge_expired(self, cutoff: datetime, notify: Notify) -> builtins.list[str]:
        """Remove, as an erasure does, every interaction whose retention time is before `cutoff`."""
        return await self._erase(lambda conn: erasure.expired_rows(conn, cutoff), notify, None)

    async def _erase(
        self,
        find: Callable[[sqlite3.Connection], builtins.list[tuple[int, Document]]],
        notify: Notify,
        party_id: str | None,
        then: Callable[[sqlite3.Connection], None] | None = None,
    ) -> builtins.list[str]:
        def transaction(conn: sqlite3.Connection) -> builtins.list[str]:
            rows = find(conn)
            if rows:
                conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed, not left readable in the file
                try:
                    erasure.forget_notifications(conn, [doc["id"] for _, doc in rows])
                    for seq, doc in rows:
                        self._remove(conn, seq, doc)
                        outbox.enqueue(conn, notify(redacted(doc, party_id), None))
                finally:
                    conn.execute("PRAGMA secure_delete = OFF")
            if then is not None:  # after the removal: it reads what is left
                then(conn)
            return [doc["id"] for _, doc in rows]

        removed = await self._write(transaction)
        if removed:  # the old pages also leave the write-ahead log (best effort: a long read may hold it)
            await asyncio.get_running_loop().run_in_executor(
                self._writer, lambda: self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            )
        return removed

    async def export_party(self, party_id: str) -> AsyncIterator[bytes]:
        """Every interaction naming the party, as stored JSON, one page read at a time (keyset)."""
        after: tuple[float, str] | None = None
        while True:
            page = await self._read(partial(erasure.export_page, party_id=party_id, after=after))
            for _, _, doc in page:
                yield doc
            if len(page) < erasure.EXPORT_PAGE:
                return
            after = (page[-1][0], page[-1][1])

    # -- PartyDirectory (storage/identity.py, storage/sqlite/directory.py) ---------------------

    async def party(self, party_id: str) -> Party | None:
        return await self._read(lambda conn: directory.party(conn, party_id))

    async def put_parties(self, parties: Sequence[Party], notify: Notify) -> int:
        """Store the parties (their contact media replace what the directory held) and resolve
        again, in the same transaction, every interaction carrying a key whose holders changed
        (late binding, and unbinding). How many interactions changed."""

        def transaction(conn: sqlite3.Connection) -> int:
            held = directory.stored(conn, [p.id for p in parties])
            merged = [p.id for p in parties if held.get(p.id)]
            if merged:
                raise Invalid(f"party '{merged[0]}' was merged into another party")
            return self._relink(conn, directory.carrying(conn, directory.put_parties(conn, parties)), notify)

        return await self._write(transaction)

    async def remove_party(self, party_id: str, notify: Notify) -> int:
        """Forget the party's holdings (a party deleted in the CRM) and unlink what they linked."""
        return await self._write(
            lambda conn: self._relink(conn, directory.carrying(conn, directory.remove_party(conn, party_id)), notify)
        )

    async def merge_parties(self, survivor_id: str, duplicate_id: str, notify: Notify) -> int:
        """Merge the duplicate into the survivor: its contact media and every interaction naming
        it move to the survivor; the duplicate stays only as a pointer (mergedInto). Idempotent.
        How many interactions changed."""

        def transaction(conn: sqlite3.Connection) -> int:
            survivor, duplicate = directory.party(conn, survivor_id), directory.party(conn, duplicate_id)
            try:
                parties = merged(survivor_id, survivor, duplicate_id, duplicate)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
            keys = directory.put_parties(conn, parties)
            ids = set(directory.carrying(conn, keys)) | set(directory.naming(conn, duplicate_id))
            return self._relink(conn, sorted(ids), notify, {duplicate_id: survivor_id})

        return await self._write(transaction)

    def _relink(
        self,
        conn: sqlite3.Connection,
        interaction_ids: builtins.list[str],
        notify: Notify,
        renames: dict[str, str] | None = None,
    ) -> int:
        now = utc_now()
        body = {"renames": renames} if renames else {}
        changed = 0
        for interaction_id in interaction_ids:
            outcome = self._apply(conn, Change.at("link", interaction_id, now, body), notify)
            changed += outcome.changed
        return changed

    async def holders(self, key: str, at: float | None) -> builtins.list[tuple[Party, dict[str, Any]]]:
        return await self._read(lambda conn: directory.holders(conn, key, at))

    async def carried(self, key: str) -> int:
        return await self._read(lambda conn: directory.carried(conn, key))

    async def shared_contacts(self, limit: int) -> builtins.list[dict[str, Any]]:
        return await self._read(lambda conn: directory.shared(conn, limit))

    # -- TimelineStore ----------------------------------------------------------------------

    async def timeline(self, query: TimelineQuery) -> TimelinePage:
        return await self._read(lambda conn: read_timeline(conn, query))

    # -- KPIs --------------------------------------------------------------------------

    async def kpis(self, query: KpiQuery) -> KpiGroups:
        """The KPI groups, summed by SQL (same figures as storage.kpis.kpis on the same facts)."""
        return await self._read(lambda conn: read_kpis(conn, query))

    # -- SubscriptionStore ------------------------------------------------------------------

    async def add_subscription(self, subscription: Document) -> None:
        body = orjson.dumps(subscription)
        await self._write(lambda conn: outbox.add_subscription(conn, subscription["id"], body))

    async def remove_subscription(self, subscription_id: str) -> bool:
        return await self._write(lambda conn: outbox.remove_subscription(conn, subscription_id))

    async def subscriptions(self) -> Subscriptions:
        return await self._read(outbox.subscriptions)

    async def due_deliveries(self, now: float, limit: int) -> DueDeliveries:
        return await self._read(lambda conn: outbox.due_deliveries(conn, now, limit))

    async def delivery_done(self, delivery_id: int) -> None:
        await self._write(lambda conn: outbox.delivery_done(conn, delivery_id))

    async def delivery_failed(self, delivery_id: int, retry_at: float | None) -> None:
        await self._write(lambda conn: outbox.delivery_failed(conn, delivery_id, retry_at))
