"""The embedded store against the reference evaluator (the oracle), and its write contract."""

import asyncio
import random
from uuid import uuid4

import orjson
import pytest

from ingest.demo import interactions
from query_api.tmf630 import parse_query
from schemas import PartyInteraction
from storage.base import Delivery, NotFound
from storage.query import matches, sort_documents
from storage.sqlite.store import SqliteStore, StoreLocked


def run(coro):
    return asyncio.run(coro)


def no_notifications(old, new):
    return []


def resource(body, n):
    interaction_id = f"{n:05d}-{uuid4().hex[:6]}"
    created = f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z"
    return PartyInteraction.model_validate(
        {**body, "id": interaction_id, "href": f"http://h/pi/{interaction_id}", "creationDate": created}
    ).to_json_dict()


EXTRA = [
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 42},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 42.0},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 5},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": "42"},
    {"reason": "Mixed", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": [7, "x", 100]},
    {"reason": "Flags", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "vip": True},
    {"reason": "Offset", "direction": "in", "channel": [{"id": "web"}],
     "interactionDate": {"startDateTime": "2026-03-01T12:00:00+02:00"}},
    {"reason": "Offset", "direction": "in", "channel": [{"id": "web"}],
     "interactionDate": {"startDateTime": "2026-03-01T10:00:00.000Z"}},
    {"reason": "Comma, inside", "direction": "in", "channel": [{"id": "web"}]},
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("store"), synchronous="NORMAL")
    docs = [resource(body, n) for n, body in enumerate([*interactions(300, seed=7, parties=40), *EXTRA])]

    async def load():
        for doc in docs:
            await store.create(doc, no_notifications)

    run(load())
    yield store, docs
    run(store.close())


def expected(docs, raw):
    query = parse_query(raw)
    hits = sort_documents([d for d in docs if matches(query, d)], query.sort)
    end = None if query.limit is None else query.offset + query.limit
    return len(hits), [d["id"] for d in hits[query.offset:end]]


def actual(store, raw):
    page = run(store.list(parse_query(raw)))
    return page.total, [orjson.loads(item)["id"] for item in page.items]


QUERIES = [
    "",
    "status=completed",
    "status=completed,open",
    "status.ne=completed",
    "status.ne=completed,open",
    "relatedParty.id=cust-3",
    "relatedParty.id=cust-3&sort=-interactionDate.startDateTime&limit=5",
    "relatedParty.role=agent&channel.id=voice",
    "relatedParty.@referredType=Organization",
    "channel.name=Retail store&sort=reason,-creationDate",
    "interactionDate.startDateTime.gte=2026-06-01T00:00:00Z&interactionDate.startDateTime.lt=2026-07-01",
    "interactionDate.startDateTime%3E=2026-06-01&sort=interactionDate.startDateTime",
    "interactionDate.startDateTime%3C2026-02-01",
    "interactionDate.startDateTime=2026-03-01T10:00:00Z",
    "interactionDate.endDateTime.gt=2026-10-01&sort=-interactionDate.endDateTime&offset=3&limit=4",
    "reason.regex=^(Bill|Pay)&sort=reason",
    "reason.regex=(?i)outage",
    "reason=Comma\\, inside",
    "note.text=Customer informed&sort=-creationDate&limit=10",
    "interactionItem.item.role=productOrder",
    "score=42",
    "score.gt=6",
    "score.lte=42&sort=-score",
    "score=x",
    "score.ne=42",
    "vip=true",
    "missing=1",
    "missing.ne=1&limit=3",
    "sort=-score,creationDate&limit=12",
    "sort=relatedParty.id&limit=20",
    "sort=-relatedParty.id&offset=290",
    "sort=status,-interactionDate.startDateTime&offset=10&limit=25",
    "creationDate.gte=2026-02-10&creationDate.lt=2026-02-12&sort=-creationDate",
    "description.regex=store&status.ne=cancelled&direction=inbound",
    "limit=0",
    "offset=1000",
]


@pytest.mark.parametrize("raw", QUERIES)
def test_store_agrees_with_the_reference_evaluator(loaded, raw):
    store, docs = loaded
    assert actual(store, raw) == expected(docs, raw)


def test_store_agrees_on_random_queries(loaded):
    store, docs = loaded
    rng = random.Random(3)
    sample = [d for d in docs if "relatedParty" in d]
    for _ in range(60):
        doc = rng.choice(sample)
        party = rng.choice(doc["relatedParty"])["id"]
        start = doc["interactionDate"]["startDateTime"]
        op = rng.choice(["gt", "gte", "lt", "lte", "eq", "ne"])
        raw = f"relatedParty.id={party}&interactionDate.startDateTime.{op}={start}&sort=-interactionDate.startDateTime"
        assert actual(store, raw) == expected(docs, raw), raw


def test_crud_and_notifications_are_one_transaction(tmp_path):
    store = SqliteStore(tmp_path, synchronous="NORMAL")
    doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}], "status": "open"}, 1)
    seen = []

    def notify(old, new):
        seen.append((old and old["status"], new and new["status"]))
        return [Delivery("sub-1", "http://127.0.0.1:9/cb", b"{}")]

    async def scenario():
        await store.create(doc, notify)
        assert orjson.loads(await store.get(doc["id"])) == doc
        # a failing change leaves the document, its index rows and its deliveries untouched
        def boom(old):
            raise ValueError("rejected")

        with pytest.raises(ValueError):
            await store.update(doc["id"], boom, notify)
        assert len(await store.due_deliveries(1e12, 10)) == 1
        updated = await store.update(doc["id"], lambda old: {**old, "status": "completed"}, notify)
        assert updated["status"] == "completed"
        assert (await store.list(parse_query("status=open"))).total == 0
        assert (await store.list(parse_query("status=completed"))).total == 1
        await store.delete(doc["id"], notify)
        assert await store.get(doc["id"]) is None
        assert (await store.list(parse_query("status=completed"))).total == 0
        with pytest.raises(NotFound):
            await store.delete(doc["id"], notify)
        with pytest.raises(NotFound):
            await store.update(doc["id"], lambda old: old, notify)

    run(scenario())
    assert seen == [(None, "open"), ("open", "completed"), ("completed", None)]
    run(store.close())


def test_deliveries_are_queued_in_order_per_subscriber(tmp_path):
    store = SqliteStore(tmp_path, synchronous="NORMAL")

    async def scenario():
        doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, 1)
        bodies = iter([b"1", b"2", b"3"])
        await store.create(doc, lambda o, n: [Delivery("a", "cb", next(bodies)), Delivery("b", "cb", b"x")])
        await store.update(doc["id"], lambda old: {**old, "reason": "s"}, lambda o, n: [Delivery("a", "cb", next(bodies))])
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


def test_the_store_survives_a_restart_and_locks_its_directory(tmp_path):
    store = SqliteStore(tmp_path)
    doc = resource({"reason": "r", "direction": "in", "channel": [{"id": "web"}]}, 1)
    run(store.create(doc, no_notifications))
    with pytest.raises(StoreLocked):
        SqliteStore(tmp_path)
    run(store.close())
    reopened = SqliteStore(tmp_path)
    assert orjson.loads(run(reopened.get(doc["id"]))) == doc
    assert run(reopened.list(parse_query("channel.id=web"))).total == 1
    run(reopened.close())
