"""The store's tables on disk: the schema (SCHEMA), its version (SCHEMA_VERSION) and the migration
that brings a data directory written by an older version up to it.

What each table is for reads here in one place; the code that keeps each table's rows lives with
its job: interaction and leaf in store.py, kpi_fact and kpi_key in kpi_facts.py, timeline in
timeline.py, subscription, notification and outbox in outbox.py, party and holding in directory.py.
The migration borrows that code to fill the tables an older store lacks.
"""

from __future__ import annotations

import logging
import sqlite3

import orjson

from storage.sqlite.directory import DIRECTORY_SCHEMA
from storage.sqlite.kpi_facts import NEXT_SAME_CONTACT, put_fact
from storage.sqlite.timeline import add_timeline, rebuild_words

log = logging.getLogger(__name__)

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

SCHEMA = (
    KPI_SCHEMA
    + DIRECTORY_SCHEMA
    + """
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
    PRIMARY KEY (party, at, id)
) WITHOUT ROWID;
-- an interaction's searchable words (sorted) and their stems, space-separated (storage/timeline.py):
-- once, however many parties it has
CREATE TABLE IF NOT EXISTS timeline_words (seq INTEGER PRIMARY KEY, words TEXT NOT NULL, stems TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscription (
    id      TEXT PRIMARY KEY,
    doc     BLOB NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,   -- its rows in outbox (kept by the triggers)
    dropped INTEGER NOT NULL DEFAULT 0    -- deliveries dropped because too many were waiting
);
-- the body of a notification, stored once for all the subscribers it goes to
CREATE TABLE IF NOT EXISTS notification (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
-- the deliveries still to make: each subscriber's, in order of id
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    callback        TEXT NOT NULL,
    notification_id INTEGER NOT NULL,     -- notification.id
    attempts        INTEGER NOT NULL DEFAULT 0,
    due             REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (subscription_id, id);
CREATE INDEX IF NOT EXISTS outbox_notification ON outbox (notification_id);
-- whichever way a delivery leaves the outbox (done, given up, dropped, unsubscribed): the
-- subscriber's count follows, and the last delivery of a notification takes its body along
CREATE TRIGGER IF NOT EXISTS outbox_added AFTER INSERT ON outbox
BEGIN
    UPDATE subscription SET pending = pending + 1 WHERE id = NEW.subscription_id;
END;
CREATE TRIGGER IF NOT EXISTS outbox_removed AFTER DELETE ON outbox
BEGIN
    UPDATE subscription SET pending = pending - 1 WHERE id = OLD.subscription_id;
    DELETE FROM notification WHERE id = OLD.notification_id
        AND NOT EXISTS (SELECT 1 FROM outbox WHERE notification_id = OLD.notification_id);
END;
"""
)


# 2: timeline, 4: kpi_fact and kpi_key, 5: kpi_fact.gap, 6: figures in kpi_key, 7: version, 8: one
# stored body per notification (notification and outbox replace delivery), subscription.pending/dropped,
# 9: timeline words once per interaction (timeline_words), not once per party, 10: timeline words
# without diacritics, and their stems (timeline_words.stems), 11: the party directory (party, holding;
# new tables, empty until filled)
SCHEMA_VERSION = 11


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to date (new tables start empty: fill them)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    if "version" not in {row[1] for row in conn.execute("PRAGMA table_info(interaction)")}:
        # an interaction written before versions existed: the version its creation time gives it
        conn.execute("ALTER TABLE interaction ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE interaction SET version = CAST(created * 1000000 AS INTEGER)")
    # timeline words kept with their diacritics and without stems (in every party's row before 9):
    # the search by word forms and prefixes needs every interaction's words again, from its document
    old_words = False
    if "words" in {row[1] for row in conn.execute("PRAGMA table_info(timeline)")}:
        conn.execute("ALTER TABLE timeline DROP COLUMN words")
        old_words = True
    if "stems" not in {row[1] for row in conn.execute("PRAGMA table_info(timeline_words)")}:
        conn.execute("ALTER TABLE timeline_words ADD COLUMN stems TEXT NOT NULL DEFAULT ''")
        old_words = True
    if old_words:
        count = conn.execute("SELECT count(*) FROM interaction").fetchone()[0]
        log.info("rebuilding the timeline search words of %d interactions (word forms and prefixes)", count)
        rebuild_words(conn)
    if version in (4, 5):  # the facts are there: reshape them in SQL (minutes faster than from documents)
        if version == 4:
            conn.execute("ALTER TABLE kpi_fact ADD COLUMN gap REAL")
            conn.execute(f"UPDATE kpi_fact SET gap = {NEXT_SAME_CONTACT} WHERE customer IS NOT NULL")
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
                add_timeline(conn, seq, orjson.loads(doc))
            put_fact(conn, seq, orjson.loads(doc))
    # before the outbox triggers first fire (SQLite resolves their columns then)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(subscription)")}
    for column in ("pending", "dropped"):
        if column not in columns:
            conn.execute(f"ALTER TABLE subscription ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'delivery'").fetchone():
        # each queued delivery had its own copy of the body: keep the deliveries (their ids, so
        # their order, attempts and due times) with one stored body per distinct body; the
        # outbox_added trigger counts them into subscription.pending
        conn.execute("INSERT INTO notification (id, body) SELECT min(id), body FROM delivery GROUP BY body")
        conn.execute(
            "INSERT INTO outbox (id, subscription_id, callback, notification_id, attempts, due)"
            " SELECT id, subscription_id, callback, min(id) OVER (PARTITION BY body), attempts, due FROM delivery"
        )
        conn.execute("DROP TABLE delivery")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("COMMIT")
