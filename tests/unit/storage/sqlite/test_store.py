"""The embedded store against the reference evaluator (the oracle), and its write contract."""

import asyncio
import sqlite3
import time

import orjson
import pytest

from storage.base import Delivery
from storage.changes import Change, Invalid, NotFound
from storage.sqlite.store import SqliteStore, StoreLocked
from storage.tmf630 import parse_query
from tests.store_contract import QUERIES, contract_documents, create_change, expected, random_queries, resource


def run(coro):
    return asyncio.run(coro)


def no_notifications(old, new):
    return []


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("store"), synchronous="NORMAL")
    docs = contract_documents()

    async def load():
        for doc in docs:
            await store.write(create_change(doc), no_notifications)

    run(load())
    yield store, docs
    run(store.close())


def actual(store, raw):
    page = run(store.list(parse_query(raw)))
    return page.total, [orjson.loads(item)["id"] for item in page.items]


@pytest.mark.parametrize("raw", QUERIES)
def test_store_agrees_with_the_reference_evaluator(loaded, raw):
    store, docs = loaded
    assert actual(store, raw) == expected(docs, raw)


def test_store_agrees_on_random_queries(loaded):
    store, docs = loaded
    for raw in random_queries(docs):
        assert actual(store, raw) == expected(docs, raw), raw


def test_crud_and_notifications_are_one_transaction(tmp_path):
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}], "status": "open"}, 1)
    seen = []

    def notify(old, new):
        seen.append((old and old["status"], new and new["status"]))
        return [Delivery("sub-1", "http://127.0.0.1:9/cb", b"{}")]

    def change(kind, body=None):
        return Change.at(kind, doc["id"], "2026-03-01T00:00:00Z", body)

    async def scenario():
        created = await store.write(create_change(doc), notify)
        stored = await store.get(doc["id"])
        assert orjson.loads(stored.body) == doc and stored.version == created.new.version
        # a refused change leaves the document, its index rows and its deliveries untouched
        with pytest.raises(Invalid):
            await store.write(change("merge", {"reason": None}), notify)
        assert await store.get(doc["id"]) == stored
        assert len(await store.due_deliveries(1e12, 10)) == 1
        updated = await store.write(change("merge", {"status": "completed"}), notify)
        assert updated.new.doc["status"] == "completed" and updated.new.version > stored.version
        assert (await store.list(parse_query("status=open"))).total == 0
        assert (await store.list(parse_query("status=completed"))).total == 1
        await store.write(change("delete"), notify)
        assert await store.get(doc["id"]) is None
        assert (await store.list(parse_query("status=completed"))).total == 0
        assert (await store.write(change("delete"), notify)).kind == "unchanged"
        with pytest.raises(NotFound):
            await store.write(change("merge", {"status": "open"}), notify)

    run(scenario())
    assert seen == [(None, "open"), ("open", "completed"), ("completed", None)]
    run(store.close())


def test_deliveries_are_queued_in_order_per_subscriber(tmp_path):
    store = SqliteStore(tmp_path, synchronous="NORMAL")

    async def scenario():
        doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, 1)
        bodies = iter([b"1", b"2", b"3"])
        await store.write(
            create_change(doc), lambda o, n: [Delivery("a", "cb", next(bodies)), Delivery("b", "cb", b"x")]
        )
        await store.write(
            Change.at("merge", doc["id"], "2026-03-01T00:00:00Z", {"reason": "s"}),
            lambda o, n: [Delivery("a", "cb", next(bodies))],
        )
        heads = await store.due_deliveries(1e12, 10)
        assert [(d.subscription_id, d.body) for _, d, _ in heads] == [("a", b"1"), ("b", b"x")]
        first = heads[0][0]
        await store.delivery_failed(first, retry_at=1e12 + 5)  # not due yet: "a" waits, in order
        heads = await store.due_deliveries(1e12, 10)
        assert [(d.subscription_id, d.body) for _, d, _ in heads] == [("b", b"x")]
        heads = await store.due_deliveries(1e12 + 10, 10)
        assert [(d.subscription_id, d.body, attempts) for _, d, attempts in heads] == [("a", b"1", 1), ("b", b"x", 0)]
        await store.delivery_done(first)
        heads = await store.due_deliveries(1e12 + 10, 10)
        assert sorted((d.subscription_id, d.body) for _, d, _ in heads) == [("a", b"2"), ("b", b"x")]

    run(scenario())
    run(store.close())


def test_a_read_by_id_answers_at_once_from_the_last_commit_while_a_write_is_open(tmp_path):
    store = SqliteStore(tmp_path)
    doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, 1)
    run(store.write(create_change(doc), no_notifications))
    committed = run(store.get(doc["id"]))
    writer = sqlite3.connect(tmp_path / "interactions.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the write lock, held by a write not yet committed
    writer.execute("UPDATE interaction SET version = version + 1 WHERE id = ?", (doc["id"],))
    try:
        started = time.monotonic()
        assert run(store.get(doc["id"])) == committed
        assert time.monotonic() - started < 1  # the connections' busy timeout is 10 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    run(store.close())


def test_the_store_survives_a_restart_and_locks_its_directory(tmp_path):
    store = SqliteStore(tmp_path)
    doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, 1)
    run(store.write(create_change(doc), no_notifications))
    with pytest.raises(StoreLocked):
        SqliteStore(tmp_path)
    run(store.close())
    reopened = SqliteStore(tmp_path)
    assert orjson.loads(run(reopened.get(doc["id"])).body) == doc
    assert run(reopened.list(parse_query("channel.id=web"))).total == 1
    run(reopened.close())


def test_timeline_agrees_with_the_reference_on_every_page(loaded):
    from storage.timeline import reference_timeline
    from tests.store_contract import timeline_queries, walk_timeline

    store, docs = loaded

    def stored(query):
        page = run(store.timeline(query))
        return [orjson.loads(item)["id"] for item in page.items], page.next_cursor, page.facets

    paged = 0
    for query in timeline_queries(docs):
        pages = walk_timeline(stored, query)
        assert pages == walk_timeline(lambda q: reference_timeline(docs, q), query), query
        paged += len(pages) > 1
    assert paged >= 4  # the cursors were exercised, not just first pages


@pytest.mark.parametrize("group_by", ["channel", "direction", "status", "agent", "store"])
@pytest.mark.parametrize("interval", ["hour", "day", "week", "month"])
def test_kpis_in_sql_agree_with_the_reference(loaded, group_by, interval):
    from storage.kpis import KpiQuery, fact, kpis

    store, docs = loaded
    start, end, days = 1767225600.0 + 30 * 86400, 1767225600.0 + 250 * 86400, 20
    facts = [fact(d) for d in docs]
    query = KpiQuery(start, end, interval, group_by, days)
    expected = kpis(
        query, [f for f in facts if start <= f.at < end], [f for f in facts if start <= f.at < end + days * 86400]
    )
    assert expected and run(store.kpis(query)) == expected


def test_kpis_stay_right_when_interactions_change_or_go(tmp_path):
    from storage.kpis import KpiQuery, fact, kpis
    from tests.store_contract import contract_documents

    store = SqliteStore(tmp_path, synchronous="NORMAL")
    docs = {d["id"]: d for d in contract_documents()[:150]}
    run(store.write_many([create_change(d) for d in docs.values()], no_notifications))
    ids = sorted(docs)
    later = "2026-12-01T00:00:00Z"
    for doc_id in ids[::7]:  # some go
        run(store.write(Change.at("delete", doc_id, later), no_notifications))
        del docs[doc_id]
    for doc_id in ids[1::5]:  # some change reason: repeats appear and disappear
        if doc_id in docs:
            change = Change.at("merge", doc_id, later, {"reason": "Billing question"})
            docs[doc_id] = run(store.write(change, no_notifications)).new.doc
    facts = [fact(d) for d in docs.values()]
    start, end, days = 1767225600.0, 1767225600.0 + 330 * 86400, 30
    query = KpiQuery(start, end, "month", "channel", days)
    expected = kpis(query, [f for f in facts if f.at < end], facts)
    assert run(store.kpis(query)) == expected
    assert any(g["firstContactResolutionRate"] not in (None, 1.0) for g in expected)  # repeats were counted
    run(store.close())


def test_a_version_5_store_is_migrated_with_the_same_kpis(tmp_path):
    """Version 5 kept the figures in kpi_fact (joined at query time); 6 copies them into kpi_key."""
    import sqlite3

    from storage.kpis import KpiQuery, fact, kpis

    docs = contract_documents()[:200]
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    run(store.write_many([create_change(d) for d in docs], no_notifications))
    run(store.close())
    with sqlite3.connect(tmp_path / "interactions.sqlite3") as conn:  # reshape the tables as version 5 had them
        conn.executescript("""
            CREATE TABLE v5_fact AS SELECT f.seq, f.at, k.handling, NULL AS status, f.customer, f.reason,
                x'00' AS fact, f.gap, max(k.completed) AS completed
                FROM kpi_fact f JOIN kpi_key k ON k.seq = f.seq GROUP BY f.seq;
            UPDATE v5_fact SET status = CASE completed WHEN 1 THEN 'completed' ELSE 'active' END;
            CREATE TABLE v5_key AS SELECT dim, at, seq, key FROM kpi_key;
            DROP TABLE kpi_key; DROP TABLE kpi_fact;
            CREATE TABLE kpi_fact AS SELECT seq, at, handling, status, customer, reason, fact, gap FROM v5_fact;
            CREATE TABLE kpi_key AS SELECT * FROM v5_key;
            DROP TABLE v5_fact; DROP TABLE v5_key;
            PRAGMA user_version = 5;
        """)
        assert conn.execute("SELECT count(*) FROM kpi_key").fetchone()[0] > len(docs)
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    try:
        facts = [fact(d) for d in docs]
        for group_by in ("channel", "agent"):
            query = KpiQuery(1767225600.0, 1767225600.0 + 330 * 86400, "week", group_by, 30)
            expected = kpis(query, [f for f in facts if f.at < query.end], facts)
            assert expected and run(store.kpis(query)) == expected
    finally:
        run(store.close())


def test_an_interactions_words_are_stored_once_whatever_its_number_of_parties(tmp_path):
    import sqlite3

    from storage.timeline import TimelineQuery

    parties = [{"id": f"p{n}", "@referredType": "Individual", "role": "customer"} for n in range(100)]
    body = {
        "reason": "r",
        "direction": "in",
        "channel": [{"id": "web"}],
        "relatedParty": parties,
        "description": " ".join(f"word{n}" for n in range(5000)) + " " + "x" * 5000,
    }
    doc = resource(body, 1)
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    run(store.write(create_change(doc), no_notifications))
    found = run(store.timeline(TimelineQuery("p42", text=("word4999",))))
    assert [orjson.loads(item)["id"] for item in found.items] == [doc["id"]]
    long_word = run(store.timeline(TimelineQuery("p7", text=("x" * 100,))))  # searched by its prefix
    assert len(long_word.items) == 1
    run(store.close())
    with sqlite3.connect(tmp_path / "interactions.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM timeline").fetchone()[0] == 100
        (stored,) = conn.execute("SELECT words FROM timeline_words").fetchall()
        assert len(stored[0]) < 60_000  # once, and no word longer than 100 characters


def test_a_version_8_store_keeps_its_timeline_words_once(tmp_path):
    import sqlite3

    from storage.timeline import TimelineQuery

    docs = contract_documents()[:50]
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    run(store.write_many([create_change(d) for d in docs], no_notifications))
    run(store.close())
    with sqlite3.connect(tmp_path / "interactions.sqlite3") as conn:  # the words in every party's row, as 8 had
        conn.executescript("""
            ALTER TABLE timeline ADD COLUMN words TEXT NOT NULL DEFAULT '';
            UPDATE timeline SET words = (SELECT words FROM timeline_words w WHERE w.seq = timeline.seq);
            DROP TABLE timeline_words;
            PRAGMA user_version = 8;
        """)
    party = docs[0]["relatedParty"][0]["id"]
    word = sorted(w for w in docs[0]["reason"].casefold().split())[0]
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    try:
        found = run(store.timeline(TimelineQuery(party, text=(word,))))
        assert docs[0]["id"] in [orjson.loads(item)["id"] for item in found.items]
    finally:
        run(store.close())
    with sqlite3.connect(tmp_path / "interactions.sqlite3") as conn:
        assert "words" not in {row[1] for row in conn.execute("PRAGMA table_info(timeline)")}
        assert conn.execute("SELECT count(*) FROM timeline_words").fetchone()[0] == 50


def test_the_search_finds_word_forms_prefixes_and_words_without_diacritics(loaded):
    from storage.timeline import reference_timeline
    from tests.store_contract import SEARCHES, found_by_searches

    store, docs = loaded
    by_id = {d["id"]: d for d in docs}
    assert found_by_searches(lambda q: [by_id[i] for i in reference_timeline(docs, q)[0]]) == SEARCHES
    assert found_by_searches(lambda q: [orjson.loads(item) for item in run(store.timeline(q)).items]) == SEARCHES


def test_a_version_9_store_gets_its_words_again_in_one_transaction_logged_once(tmp_path, caplog):
    """Version 9 kept each interaction's words with their diacritics and no stems."""
    import logging
    import re
    import sqlite3

    from storage.sqlite.connection import connect
    from storage.sqlite.schema import migrate
    from tests.store_contract import SEARCHED, SEARCHES, found_by_searches

    caplog.set_level(logging.INFO, logger="storage.sqlite.schema")
    docs = contract_documents()
    docs = docs[:20] + docs[-len(SEARCHED) :]
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    run(store.write_many([create_change(d) for d in docs], no_notifications))
    run(store.close())
    db = tmp_path / "interactions.sqlite3"

    def version_9_words(doc):  # case-folded, with their diacritics
        texts = [doc.get("reason"), doc.get("description"), *(n["text"] for n in doc.get("note", []))]
        return " ".join(sorted({w[:100] for text in texts if text for w in re.findall(r"\w+", text.casefold())}))

    with sqlite3.connect(db) as conn:  # the words as version 9 wrote them, in its table
        old_words = {
            seq: version_9_words(orjson.loads(doc)) for seq, doc in conn.execute("SELECT seq, doc FROM interaction")
        }
        assert any("são" in words.split() for words in old_words.values())
        conn.execute("DROP TABLE timeline_words")
        conn.execute("CREATE TABLE timeline_words (seq INTEGER PRIMARY KEY, words TEXT NOT NULL)")
        conn.executemany("INSERT INTO timeline_words VALUES (?, ?)", old_words.items())
        conn.execute("PRAGMA user_version = 9")

    def stems_column():
        with sqlite3.connect(db) as conn:
            return "stems" in {row[1] for row in conn.execute("PRAGMA table_info(timeline_words)")}

    # a document the rebuild cannot read, last: the migration fails whole, and the store stays as it was
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO interaction (id, version, doc, created) VALUES ('broken', 1, ?, 0)",
            (orjson.dumps({"id": "broken", "creationDate": "never", "relatedParty": [{"id": "p"}]}),),
        )
    conn = connect(db, "NORMAL")
    with pytest.raises(ValueError, match="creationDate"):
        migrate(conn)
    conn.close()  # the process that failed to open the store ends: its transaction is rolled back
    assert not stems_column()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 9
        assert conn.execute("SELECT count(*) FROM timeline_words").fetchone()[0] == len(docs)
        conn.execute("DELETE FROM interaction WHERE id = 'broken'")

    def searches_of_the_opened_store():
        store = SqliteStore(tmp_path, synchronous="NORMAL")
        try:
            return found_by_searches(lambda q: [orjson.loads(item) for item in run(store.timeline(q)).items])
        finally:
            run(store.close())

    assert searches_of_the_opened_store() == SEARCHES
    assert stems_column()
    assert searches_of_the_opened_store() == SEARCHES  # migrated on the first open only
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilding the timeline" in r.getMessage()]
    assert rebuilt == [
        "rebuilding the timeline search words of 25 interactions (word forms and prefixes)",  # the broken one
        "rebuilding the timeline search words of 24 interactions (word forms and prefixes)",
    ]
