"""The embedded store's data directory as the commands open it.

Only `ihub serve` and `ihub demo` create a data directory (SqliteStore makes the one it is given);
every other command needs an existing store, so a mistyped directory is an error, not a new empty
store reported on. A running server holds the directory's exclusive lock (storage/sqlite/store.py):
a command that only reads opens the database read-only beside it instead (SQLite's WAL gives a
reader a consistent snapshot while the server writes); one that writes says in one line who holds
the lock and what to do.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from interaction_hub.settings import Settings
    from storage.base import Notify
    from storage.sqlite.store import SqliteStore

DATABASE = "interactions.sqlite3"  # SqliteStore's database file in its directory
LOCK = ".lock"  # the file SqliteStore holds an exclusive flock on while it is open


def fail(message: str) -> NoReturn:
    typer.echo(f"ihub: {message}", err=True)
    raise typer.Exit(1)


def existing(data_dir: Path) -> Path:
    """The database of the store in `data_dir`; exits with one line when there is none."""
    where = data_dir.resolve()
    if not where.is_dir():
        fail(
            f"no data directory {where}; name the store's with --data-dir or IHUB_DATA_DIR"
            " (only `ihub serve` and `ihub demo` create one)"
        )
    if not (where / DATABASE).is_file():
        fail(f"{where} holds no embedded store (no {DATABASE}); name the store's directory with --data-dir")
    return where / DATABASE


def read_only(data_dir: Path) -> sqlite3.Connection:
    """A read-only connection to the existing store in `data_dir`, served or not. It takes no lock,
    so a running server goes on serving and writing."""
    conn = sqlite3.connect(f"{existing(data_dir).as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")  # the store's own: a reader may wait briefly on a checkpoint
    return conn


def open_store(settings: Settings, *, create: bool, advice: str) -> SqliteStore:
    """The store in settings.data_dir for writing, made there first if `create`; one line naming the
    process that holds it, and `advice`, when another has it open."""
    from storage.sqlite.store import SqliteStore, StoreLocked

    if not create:
        existing(settings.data_dir)
    try:
        return SqliteStore(settings.data_dir, synchronous=settings.sqlite_synchronous)
    except StoreLocked:
        locked(settings.data_dir, advice)


def check_free(data_dir: Path, advice: str) -> None:
    """Exit with one line when another process has the store in `data_dir` open. For `ihub serve`,
    whose store opens inside uvicorn's start-up, which reports a failure there as a traceback."""
    try:
        lock = open(data_dir / LOCK)
    except FileNotFoundError:
        return  # never opened: nobody holds it
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            locked(data_dir, advice)
        # closing the file drops the probe's lock before the server takes its own


def locked(data_dir: Path, advice: str) -> NoReturn:
    holder = _holder(data_dir / LOCK)
    by = f"another process (pid {holder})" if holder else "another process"
    fail(f"the store in {data_dir.resolve()} is in use by {by}; {advice}")


def _holder(lock: Path) -> int | None:
    """The pid holding a flock on `lock`, from Linux's /proc/locks; None where that is not known."""
    try:
        stat = lock.stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in table.splitlines():  # "1: FLOCK  ADVISORY  WRITE 9541 fe:00:9978145 0 EOF"
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == inode:
            return int(fields[4])
    return None


async def subscribers_notify(settings: Settings, store: SqliteStore) -> Notify:
    """What tells the store's hub subscribers of a change a command makes in it (queued in its
    outbox, which the server delivers when it runs again)."""
    from interaction_hub.notifications import fan_out, subscribers
    from interaction_hub.references import ReferenceLinks

    found = subscribers(await store.subscriptions())
    links = ReferenceLinks.from_settings(settings)
    return lambda old, new: fan_out(found, old, new, links=links, max_pending=settings.hub_max_pending)
