"""Opening a connection to the store's database file: the pragmas and the SQL functions.

Every connection the store uses (the writer's and each reader's) is opened here, so they all run
in WAL mode with the same settings and all have the two functions the compiled queries call
(storage/sqlite/compiler.py): `sort_value` and REGEXP (RE2, the reference evaluator's engine).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from storage.query import SortKey, compile_pattern, sort_value


def _sort_value_sql(doc: bytes, path: str, descending: int) -> float | str | None:
    value = sort_value(orjson.loads(doc), SortKey(path, bool(descending)))
    return None if value is None else value[1]


def _regexp_sql(pattern: str, value: str) -> bool:
    # compile_pattern caches the patterns; the parser has already refused the ones it cannot compile
    return compile_pattern(pattern).search(value)


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB
    conn.execute("PRAGMA mmap_size=1073741824")
    conn.create_function("sort_value", 3, _sort_value_sql, deterministic=True)
    conn.create_function("regexp", 2, _regexp_sql, deterministic=True)
    return conn
