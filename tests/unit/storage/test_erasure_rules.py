"""Erasure, retention and export: the rules (storage/erasure_rules.py) and the embedded store's transaction."""

import asyncio
import sqlite3
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from storage.base import Delivery
from storage.changes import Change
from storage.erasure_rules import expired, redacted, retention_time
from storage.sqlite import erasure
from storage.sqlite.store import SqliteStore
from storage.tmf630 import parse_query
from stream_workers.erasures import ErasureRegistry, partition_for


def run(coro):
    return asyncio.run(coro)


def body(party: str, *, start: str = "2026-01-10T10:00:00Z", end: str | None = None, other: str = "agent-1"):
    period = {"startDateTime": start, **({"endDateTime": end} if end else {})}
    return {
        "reason": f"about {party}",
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "status": "open",
        "interactionDate": period,
        "relatedParty": [
            {"id": party, "role": "customer", "@referredType": "Individual", "name": f"Name of {party}"},
            {"id": other, "role": "agent", "@referredType": "PartyRole"},
        ],
    }


def create(store, interaction_id, doc, notify, time="2026-02-01T00:00:00Z"):
    change = Change.at("create", interaction_id, time, doc, href=f"http://h/partyInteraction/{interaction_id}")
    return run(store.write(change, notify))


def events(deliveries):
    return [orjson.loads(d.body) for d in deliveries]


class Recorder:
    """A Notify that queues one delivery per change, and remembers them."""

    def __init__(self):
        self.sent = []

    def __call__(self, old, new):
        delivery = Delivery("sub-1", "http://listener", orjson.dumps({"event": {"partyInteraction": old or new}}))
        self.sent.append((old, new))
        return [delivery]


def rows(store, sql, *params):
    conn = sqlite3.connect(store.data_dir / "interactions.sqlite3")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path):
    found = SqliteStore(tmp_path, synchronous="NORMAL")
    yield found
    run(found.close())


def test_erasure_removes_every_trace_of_the_party_and_nothing_else(store):
    notify = Recorder()
    for i in range(5):
        create(store, f"gone-{i}", body("cust-1"), notify)
    create(store, "gone-as-agent", body("cust-9", other="cust-1"), notify)  # names it in another role
    for i in range(3):
        create(store, f"kept-{i}", body("cust-2"), notify)
    run(store.add_subscription({"id": "sub-1", "callback": "http://listener"}))
    before = len(notify.sent)

    erased = run(store.erase_party("cust-1", notify))

    assert sorted(erased) == sorted([f"gone-{i}" for i in range(5)] + ["gone-as-agent"])
    assert all(run(store.get(i)) is None for i in erased)
    assert all(run(store.get(f"kept-{i}")) is not None for i in range(3))
    # one DeleteEvent each, carrying the identity only
    deletes = notify.sent[before:]
    assert len(deletes) == 6 and all(new is None for _, new in deletes)
    assert {old["id"] for old, _ in deletes} == set(erased)
    assert all(
        set(old) == {"id", "href", "relatedParty"} and old["relatedParty"] == [{"id": "cust-1"}] for old, _ in deletes
    )
    # nothing about them left in the side tables
    assert rows(store, "SELECT count(*) FROM timeline WHERE party = 'cust-1'") == [(0,)]
    assert rows(store, "SELECT count(*) FROM timeline WHERE id IN ('gone-0', 'gone-as-agent')") == [(0,)]
    assert rows(store, "SELECT count(*) FROM kpi_fact WHERE customer = 'cust-1'") == [(0,)]
    assert rows(store, "SELECT count(*) FROM interaction") == [(3,)]
    assert rows(store, "SELECT count(*) FROM timeline_words") == [(3,)]
    assert rows(store, "SELECT count(*) FROM leaf WHERE v LIKE '%cust-1%'") == [(0,)]
    # the outbox holds only the erasure's DeleteEvents about them (the earlier creates are gone)
    bodies = [orjson.loads(b)["event"]["partyInteraction"] for (b,) in rows(store, "SELECT body FROM notification")]
    about_erased = [b for b in bodies if b["id"] in erased]
    assert len(about_erased) == 6 and all("reason" not in b for b in about_erased)
    # a second erasure finds nothing
    assert run(store.erase_party("cust-1", notify)) == []


def test_erasure_is_one_transaction(store):
    notify = Recorder()
    for i in range(4):
        create(store, f"i-{i}", body("cust-1"), notify)
    calls = []

    def failing(old, new):
        calls.append(old)
        if len(calls) == 3:
            raise RuntimeError("crash half-way")
        return []

    with pytest.raises(RuntimeError):
        run(store.erase_party("cust-1", failing))
    assert all(run(store.get(f"i-{i}")) is not None for i in range(4))  # all or nothing
    assert len(run(store.erase_party("cust-1", notify))) == 4


def test_a_returning_customer_after_the_erasure_is_kept(store):
    notify = Recorder()
    create(store, "old", body("cust-1"), notify)
    run(store.erase_party("cust-1", notify))
    create(store, "new", body("cust-1"), notify)
    assert run(store.get("new")) is not None and run(store.get("old")) is None


def test_export_streams_every_interaction_of_the_party_in_pages(store):
    notify = Recorder()
    total = erasure.EXPORT_PAGE * 2 + 7
    changes = [
        Change.at(
            "create",
            f"x-{i:05d}",
            "2026-02-01T00:00:00Z",
            body("cust-1", start=f"2026-01-{1 + i % 28:02d}T10:00:00Z"),
            href=f"http://h/{i}",
        )
        for i in range(total)
    ]
    run(store.write_many(changes, lambda old, new: []))
    create(store, "other", body("cust-2"), notify)

    async def collect():
        return [orjson.loads(doc) async for doc in store.export_party("cust-1")]

    exported = run(collect())
    assert len(exported) == total and len({d["id"] for d in exported}) == total
    assert all(any(p["id"] == "cust-1" for p in d["relatedParty"]) for d in exported)


def test_retention_time_is_the_end_else_the_start_else_the_creation():
    assert retention_time(
        {"interactionDate": {"startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2021-01-01T00:00:00Z"}}
    ) == datetime(2021, 1, 1, tzinfo=UTC)
    assert retention_time(
        {"interactionDate": {"startDateTime": "2020-01-01T00:00:00Z"}, "creationDate": "2025-01-01T00:00:00Z"}
    ) == datetime(2020, 1, 1, tzinfo=UTC)
    assert retention_time({"validFor": {"endDateTime": "2019-05-01T00:00:00Z"}}) == datetime(2019, 5, 1, tzinfo=UTC)
    assert retention_time({"creationDate": "2024-03-01T00:00:00Z"}) == datetime(2024, 3, 1, tzinfo=UTC)
    assert retention_time({}) is None and not expired({}, datetime(2030, 1, 1, tzinfo=UTC))


def test_retention_lists_and_purges_exactly_the_old_ones(store):
    notify = Recorder()
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    old = {
        "ended-long-ago": body("a", start="2020-01-01T00:00:00Z", end="2020-01-01T00:10:00Z"),
        "started-long-ago": body("b", start="2024-12-31T23:59:59Z"),
    }
    young = {
        "ended-recently": body(
            "c", start="2024-12-31T00:00:00Z", end="2025-01-02T00:00:00Z"
        ),  # starts before, ends after
        "started-recently": body("d", start="2025-06-01T00:00:00Z"),
    }
    for interaction_id, doc in {**old, **young}.items():
        create(store, interaction_id, doc, notify)
    no_period = {k: v for k, v in body("e").items() if k != "interactionDate"}
    create(store, "created-recently", no_period, notify, time="2026-01-01T00:00:00Z")
    create(store, "created-long-ago", no_period, notify, time="2023-01-01T00:00:00Z")

    listed = sorted(doc["id"] for doc in run(store.expired(cutoff)))
    assert listed == sorted([*old, "created-long-ago"])
    purged = run(store.purge_expired(cutoff, notify))
    assert sorted(purged) == listed
    assert sorted(orjson.loads(d)["id"] for d in run(store.list(parse_query(""))).items) == sorted(
        [*young, "created-recently"]
    )
    assert {old["id"] for old, new in notify.sent[-3:]} == set(listed)
    assert all(set(old) == {"id", "href"} for old, _ in notify.sent[-3:])
    assert run(store.purge_expired(cutoff, notify)) == []


def test_redacted_keeps_the_identity_only():
    doc = {"id": "i", "href": "h", "reason": "secret", "relatedParty": [{"id": "p", "name": "Ana"}]}
    assert redacted(doc, "p") == {"id": "i", "href": "h", "relatedParty": [{"id": "p"}]}
    assert redacted(doc) == {"id": "i", "href": "h"}


def test_markers_erase_where_kafka_puts_the_key():
    partitioner = DefaultPartitioner()
    for n in (1, 6, 7):
        for key in ("a", "6f1c2b0e3d4a5e8b", "cust-42-interaction", "x" * 40):
            assert partition_for(key, n) == partitioner(key.encode(), list(range(n)), list(range(n)))


def test_the_registry_covers_only_records_below_the_watermark_about_erased_ids():
    registry = ErasureRegistry()
    run(registry.record("idx", "e1", 2, 100, ["x", "y"]))
    run(registry.record("idx", "e1", 3, 50, []))
    assert registry.covers(2, 99, "x") and registry.covers(3, 49, "y")
    assert not registry.covers(2, 100, "x")  # published after the marker: a returning customer
    assert not registry.covers(2, 10, "z")  # not erased
    assert not registry.covers(4, 0, "x")  # that partition's marker not applied yet: in flight
    run(registry.record("idx", "e1", 2, 100, ["x"]))  # a replayed marker adds nothing
    assert registry.erased("e1") == {"x", "y"}
