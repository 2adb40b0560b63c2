"""The notification outbox and the subscriptions, in SQLite.

A change's notifications are queued (enqueue) by the same write transaction that stores the change
(SqliteStore._apply), so they are kept if and only if the change is. The dispatcher
(query_api/hub.py) then takes the head of each subscriber's queue (due_deliveries) and reports
each delivery done or failed. The store runs these functions on its writer or reader connections.

An event's body is stored once (a notification row) however many subscribers it goes to; each
subscriber's outbox row points at it, and the last of them to leave takes it along (the schema's
trigger). A subscriber's queue keeps at most its deliveries' `max_pending`: past it, the oldest go.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

import orjson

from storage.base import Delivery, Document

log = logging.getLogger(__name__)


def enqueue(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    if not deliveries:
        return
    stored: dict[bytes, int] = {}  # body -> notification id: the deliveries of one event share its body
    rows = []
    for delivery in deliveries:
        notification_id = stored.get(delivery.body)
        if notification_id is None:
            notification_id = stored[delivery.body] = conn.execute(
                "INSERT INTO notification (body) VALUES (?) RETURNING id", (delivery.body,)
            ).fetchone()[0]
        rows.append((delivery.subscription_id, delivery.callback, notification_id))
    conn.executemany("INSERT INTO outbox (subscription_id, callback, notification_id, due) VALUES (?, ?, ?, 0)", rows)
    limits = {d.subscription_id: d.max_pending for d in deliveries if d.max_pending is not None}
    for subscription_id, max_pending in limits.items():
        _drop_oldest(conn, subscription_id, max_pending)


def _drop_oldest(conn: sqlite3.Connection, subscription_id: str, max_pending: int) -> None:
    """Keep the subscriber's newest `max_pending` deliveries: one that stays away must not fill the disk."""
    row = conn.execute("SELECT pending, dropped FROM subscription WHERE id = ?", (subscription_id,)).fetchone()
    if row is None or row[0] <= max_pending:
        return
    over, before = row[0] - max_pending, row[1]
    conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE subscription_id = ? ORDER BY id LIMIT ?)",
        (subscription_id, over),
    )
    conn.execute("UPDATE subscription SET dropped = dropped + ? WHERE id = ?", (over, subscription_id))
    if before.bit_length() < (before + over).bit_length():  # a line each time the count doubles, not each write
        log.warning(
            "subscription %s: more than %d notifications waiting, dropped the oldest (%d so far)",
            subscription_id,
            max_pending,
            before + over,
        )


def due_deliveries(conn: sqlite3.Connection, now: float, limit: int) -> list[tuple[int, Delivery, int]]:
    conn.execute("BEGIN")  # one snapshot: the heads and their bodies
    try:
        # only the head of each subscriber's queue: a subscriber gets its events in order
        heads = conn.execute(
            "SELECT id, subscription_id, callback, notification_id, attempts FROM outbox"
            " WHERE id IN (SELECT min(id) FROM outbox GROUP BY subscription_id) AND due <= ?"
            " ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        wanted = sorted({head[3] for head in heads})  # each body read once, however many heads share it
        bodies = dict(
            conn.execute(f"SELECT id, body FROM notification WHERE id IN ({','.join('?' * len(wanted))})", wanted)
        )
    finally:
        conn.execute("COMMIT")
    return [(h[0], Delivery(h[1], h[2], bodies[h[3]]), h[4]) for h in heads]


def delivery_done(conn: sqlite3.Connection, delivery_id: int) -> None:
    conn.execute("DELETE FROM outbox WHERE id = ?", (delivery_id,))


def delivery_failed(conn: sqlite3.Connection, delivery_id: int, retry_at: float | None) -> None:
    if retry_at is None:
        conn.execute("DELETE FROM outbox WHERE id = ?", (delivery_id,))
    else:
        conn.execute("UPDATE outbox SET attempts = attempts + 1, due = ? WHERE id = ?", (retry_at, delivery_id))


def add_subscription(conn: sqlite3.Connection, subscription_id: str, body: bytes) -> None:
    conn.execute("INSERT INTO subscription (id, doc) VALUES (?, ?)", (subscription_id, body))


def remove_subscription(conn: sqlite3.Connection, subscription_id: str) -> bool:
    gone = conn.execute("DELETE FROM subscription WHERE id = ?", (subscription_id,)).rowcount
    conn.execute("DELETE FROM outbox WHERE subscription_id = ?", (subscription_id,))
    return gone > 0


def subscriptions(conn: sqlite3.Connection) -> list[Document]:
    return [orjson.loads(row[0]) for row in conn.execute("SELECT doc FROM subscription")]
