"""The notification outbox and the subscriptions, in SQLite.

A change's notifications are queued (enqueue) by the same write transaction that stores the change
(SqliteStore._apply), so they are kept if and only if the change is. The dispatcher
(query_api/hub.py) then takes the head of each subscriber's queue (due_deliveries) and reports
each delivery done or failed. The store runs these functions on its writer or reader connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from storage.base import Delivery, Document


def enqueue(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    if deliveries:
        conn.executemany(
            "INSERT INTO delivery (subscription_id, callback, body, due) VALUES (?, ?, ?, 0)",
            [(d.subscription_id, d.callback, d.body) for d in deliveries],
        )


def due_deliveries(conn: sqlite3.Connection, now: float, limit: int) -> list[tuple[int, Delivery, int]]:
    # only the head of each subscriber's queue: a subscriber gets its events in order
    rows = conn.execute(
        "SELECT id, subscription_id, callback, body, attempts FROM delivery"
        " WHERE id IN (SELECT min(id) FROM delivery GROUP BY subscription_id) AND due <= ?"
        " ORDER BY id LIMIT ?",
        (now, limit),
    )
    return [(r[0], Delivery(r[1], r[2], r[3]), r[4]) for r in rows]


def delivery_done(conn: sqlite3.Connection, delivery_id: int) -> None:
    conn.execute("DELETE FROM delivery WHERE id = ?", (delivery_id,))


def delivery_failed(conn: sqlite3.Connection, delivery_id: int, retry_at: float | None) -> None:
    if retry_at is None:
        conn.execute("DELETE FROM delivery WHERE id = ?", (delivery_id,))
    else:
        conn.execute("UPDATE delivery SET attempts = attempts + 1, due = ? WHERE id = ?", (retry_at, delivery_id))


def add_subscription(conn: sqlite3.Connection, subscription_id: str, body: bytes) -> None:
    conn.execute("INSERT INTO subscription VALUES (?, ?)", (subscription_id, body))


def remove_subscription(conn: sqlite3.Connection, subscription_id: str) -> bool:
    gone = conn.execute("DELETE FROM subscription WHERE id = ?", (subscription_id,)).rowcount
    conn.execute("DELETE FROM delivery WHERE subscription_id = ?", (subscription_id,))
    return gone > 0


def subscriptions(conn: sqlite3.Connection) -> list[Document]:
    return [orjson.loads(row[0]) for row in conn.execute("SELECT doc FROM subscription")]
