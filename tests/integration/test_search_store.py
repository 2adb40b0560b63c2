"""The search store on the real engine: the same contract (oracle) as the embedded store."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import orjson
import pytest

from query_api.tmf630 import parse_query
from storage.search import create_client
from storage.search.store import IndexOp, SearchStore
from tests.store_contract import QUERIES, contract_documents, expected, random_queries

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def loaded(search_url, loop):
    store = SearchStore(create_client(search_url), alias=f"test-contract-{uuid4().hex[:8]}")
    docs = contract_documents()

    async def load():
        await store.ensure_index()
        results = await store.apply([IndexOp("index", d["id"], 1, d) for d in docs], refresh=True)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]

    loop.run_until_complete(load())
    yield store, docs
    loop.run_until_complete(store.client.indices.delete(index=f"{store.alias}-v1"))
    loop.run_until_complete(store.close())


def actual(loop, store, raw):
    page = loop.run_until_complete(store.list(parse_query(raw)))
    return page.total, [orjson.loads(item)["id"] for item in page.items]


@pytest.mark.parametrize("raw", QUERIES)
def test_search_store_agrees_with_the_reference_evaluator(loaded, loop, raw):
    store, docs = loaded
    assert actual(loop, store, raw) == expected(docs, raw)


def test_search_store_agrees_on_random_queries(loaded, loop):
    store, docs = loaded
    for raw in random_queries(docs):
        assert actual(loop, store, raw) == expected(docs, raw), raw


def test_get_returns_the_resource_without_index_fields(loaded, loop):
    store, docs = loaded
    assert orjson.loads(loop.run_until_complete(store.get(docs[5]["id"]))) == docs[5]
    assert loop.run_until_complete(store.get("no-such-id")) is None


def test_versions_never_go_backwards_and_replays_are_idempotent(search_url, loop):
    store = SearchStore(create_client(search_url), alias=f"test-versions-{uuid4().hex[:8]}")
    base = contract_documents()[0]

    async def scenario():
        await store.ensure_index()
        v2 = {**base, "status": "v2"}
        v1 = {**base, "status": "v1"}
        assert all(r.ok for r in await store.apply([IndexOp("index", base["id"], 2, v2)]))
        # an older change arriving late, and a replay of the newer one: both "done", state stays v2
        results = await store.apply([IndexOp("index", base["id"], 1, v1), IndexOp("index", base["id"], 2, v2)], refresh=True)
        assert [r.ok for r in results] == [True, True]
        assert orjson.loads(await store.get(base["id"]))["status"] == "v2"
        assert (await store.list(parse_query(f"id={base['id']}"))).total == 1
        assert all(r.ok for r in await store.apply([IndexOp("delete", base["id"], 3)], refresh=True))
        assert await store.get(base["id"]) is None
        # a late update older than the delete does not resurrect it
        assert all(r.ok for r in await store.apply([IndexOp("index", base["id"], 2, v2)], refresh=True))
        assert await store.get(base["id"]) is None
        await store.client.indices.delete(index=f"{store.alias}-v1")
        await store.close()

    loop.run_until_complete(scenario())


def test_timeline_agrees_with_the_reference_on_every_page(loaded, loop):
    from storage.timeline import reference_timeline
    from tests.store_contract import timeline_queries, walk_timeline

    store, docs = loaded

    def indexed(query):
        page = loop.run_until_complete(store.timeline(query))
        return [orjson.loads(item)["id"] for item in page.items], page.next_cursor, page.facets

    for query in timeline_queries(docs):
        assert walk_timeline(indexed, query) == walk_timeline(lambda q: reference_timeline(docs, q), query), query


@pytest.mark.parametrize("group_by", ["channel", "direction", "status", "agent", "store"])
@pytest.mark.parametrize("interval", ["hour", "day", "week", "month"])
def test_kpis_on_the_engine_agree_with_the_reference(loaded, loop, group_by, interval):
    from storage.kpis import KpiQuery, fact, kpis

    store, docs = loaded
    start, end, days = 1767225600.0 + 30 * 86400, 1767225600.0 + 250 * 86400, 20
    facts = [fact(d) for d in docs]
    query = KpiQuery(start, end, interval, group_by, days)
    expected = kpis(query, [f for f in facts if start <= f.at < end], [f for f in facts if start <= f.at < end + days * 86400])
    assert expected and any(g["firstContactResolutionRate"] not in (None, 1.0) for g in expected)
    assert loop.run_until_complete(store.kpis(query)) == expected

