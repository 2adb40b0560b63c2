"""The search store on the real engine: the same contract (oracle) as the embedded store."""

from __future__ import annotations

import asyncio
from datetime import UTC
from uuid import uuid4

import orjson
import pytest

from storage.search import engine
from storage.search.store import IndexOp, SearchStore
from storage.tmf630 import parse_query
from tests.store_contract import QUERIES, contract_documents, expected, random_queries
from tests.support.services import drop_deployment, engine_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def drop(store, search_url):
    """Delete the store's indices (those it made) and close its client."""
    await asyncio.to_thread(drop_deployment, search_url, store.alias)
    await store.close()


@pytest.fixture(scope="module")
def loaded(search_url, loop):
    store = SearchStore(engine_client(search_url), alias=f"test-contract-{uuid4().hex[:8]}")
    docs = contract_documents()

    async def load():
        await store.ensure_index()
        results = await store.apply([IndexOp("index", d["id"], 1, d) for d in docs], refresh=True)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
        await store.contacts.update([(d["id"], 1, d) for d in docs], refresh=True)

    loop.run_until_complete(load())
    yield store, docs
    loop.run_until_complete(drop(store, search_url))


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
    assert orjson.loads(loop.run_until_complete(store.get(docs[5]["id"])).body) == docs[5]
    assert loop.run_until_complete(store.get("no-such-id")) is None


def test_versions_never_go_backwards_and_replays_are_idempotent(search_url, loop):
    store = SearchStore(engine_client(search_url), alias=f"test-versions-{uuid4().hex[:8]}")
    base = contract_documents()[0]

    async def scenario():
        await store.ensure_index()
        v2 = {**base, "status": "v2"}
        v1 = {**base, "status": "v1"}
        assert all(r.ok for r in await store.apply([IndexOp("index", base["id"], 2, v2)]))
        # an older change arriving late, and a replay of the newer one: both "done", state stays v2
        results = await store.apply(
            [IndexOp("index", base["id"], 1, v1), IndexOp("index", base["id"], 2, v2)], refresh=True
        )
        assert [r.ok for r in results] == [True, True]
        assert orjson.loads((await store.get(base["id"])).body)["status"] == "v2"
        assert (await store.list(parse_query(f"id={base['id']}"))).total == 1
        assert all(r.ok for r in await store.apply([IndexOp("delete", base["id"], 3)], refresh=True))
        assert await store.get(base["id"]) is None
        # a late update older than the delete does not resurrect it
        assert all(r.ok for r in await store.apply([IndexOp("index", base["id"], 2, v2)], refresh=True))
        assert await store.get(base["id"]) is None
        await drop(store, search_url)

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
    expected = kpis(
        query, [f for f in facts if start <= f.at < end], [f for f in facts if start <= f.at < end + days * 86400]
    )
    assert expected and any(g["firstContactResolutionRate"] not in (None, 1.0) for g in expected)
    assert loop.run_until_complete(store.kpis(query)) == expected


def test_first_contact_resolution_stays_right_when_interactions_change_move_or_go(search_url, loop):
    """Deletes, reason changes (an interaction moves to another contact), late older versions,
    replays, and two writers touching the same contacts at once: the engine's KPIs still equal the
    reference on the final documents."""
    from storage.kpis import KpiQuery, fact, kpis

    store = SearchStore(engine_client(search_url), alias=f"test-fcr-{uuid4().hex[:8]}")
    docs = {d["id"]: d for d in contract_documents()[:160]}
    ids = sorted(docs)
    first = [IndexOp("index", i, 1, d) for i, d in docs.items()]

    async def write(ops):  # as the worker does: documents, then their contacts
        await store.apply(ops)
        await store.contacts.update([(op.interaction_id, op.version, op.doc) for op in ops])

    async def scenario():
        await store.ensure_index()
        # two writers at once over interleaved halves: the same contacts get written concurrently
        await asyncio.gather(write(first[0::2]), write(first[1::2]))
        later = []
        for i in ids[::7]:
            later.append(IndexOp("delete", i, 2))
            del docs[i]
        for i in ids[1::5]:
            if i in docs:
                docs[i] = {**docs[i], "reason": "Billing question"}
                later.append(IndexOp("index", i, 3, docs[i]))
        await asyncio.gather(write(later[0::2]), write(later[1::2]))
        # a late, older version and a replay change nothing
        stale = [op for op in first if op.interaction_id in docs][:20]
        await write(stale + later[:10])
        await engine.refresh(store.client, f"{store.alias},{store.contacts.index}")
        facts = [fact(d) for d in docs.values()]
        for group_by in ("channel", "agent", "status"):
            query = KpiQuery(1767225600.0, 1767225600.0 + 330 * 86400, "month", group_by, 30)
            expected = kpis(query, [f for f in facts if f.at < query.end], facts)
            assert any(g["firstContactResolutionRate"] not in (None, 1.0) for g in expected)
            assert await store.kpis(query) == expected, group_by

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(drop(store, search_url))


def test_the_kibana_fcr_panel_query_gives_the_apis_figures(loaded, loop):
    """The Vega panel's engine query (services/kibana), with Kibana's time filter filled in as Kibana
    does, on the real contacts index: its first-contact resolution per channel is the KPI API's."""
    import json
    from datetime import datetime
    from pathlib import Path

    from storage.kpis import KpiQuery

    store, _ = loaded
    objects = Path(__file__).resolve().parents[2] / "services" / "kibana" / "dashboards.ndjson"
    panel = next(o for o in map(json.loads, objects.read_text().splitlines()) if o["id"] == "ihub-fcr-by-channel")
    spec = json.loads(json.loads(panel["attributes"]["visState"])["params"]["spec"])
    start, end = 1767225600.0 + 20 * 86400, 1767225600.0 + 300 * 86400

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat()

    time_filter = {"gte": iso(start), "lte": iso(end - 0.001), "format": "strict_date_optional_time"}
    body = json.loads(
        json.dumps(spec["data"]["url"]["body"]).replace('{"%timefilter%": true}', json.dumps(time_filter))
    )
    assert time_filter["gte"] in json.dumps(body)
    response = loop.run_until_complete(engine.search(store.client, store.contacts.index, body))
    buckets = response["aggregations"]["members"]["window"]["channels"]["buckets"]
    panel_fcr = {b["key"]: round(1 - b["repeated"]["doc_count"] / b["doc_count"], 4) for b in buckets}
    api = loop.run_until_complete(store.kpis(KpiQuery(start, end, "month", "channel", 7)))
    api_fcr = {g["key"]: g["firstContactResolutionRate"] for g in api if g["firstContactResolutionRate"] is not None}
    assert panel_fcr == api_fcr and any(v < 1 for v in api_fcr.values())


def test_a_contact_the_engine_refuses_is_logged_and_the_others_are_written(search_url, loop, caplog):
    """A permanent refusal (here: more members than the index allows) must not stall the agent."""
    from storage.search import contacts

    store = SearchStore(engine_client(search_url), alias=f"test-refused-{uuid4().hex[:8]}")
    docs = [d for d in contract_documents() if any(p.get("role") == "customer" for p in d.get("relatedParty", []))]
    crowd = [{**d, "relatedParty": [{"id": "cust-crowd", "role": "customer"}], "reason": "Same"} for d in docs[:3]]
    alone = {**docs[3], "relatedParty": [{"id": "cust-alone", "role": "customer"}], "reason": "Other"}

    async def scenario():
        await engine.create_index(
            store.client,
            store.contacts.index,
            mappings=contacts.MAPPINGS,
            settings={**contacts.SETTINGS, "mapping.nested_objects.limit": 2},
        )
        await store.contacts.update([(d["id"], 1, d) for d in [*crowd, alone]], refresh=True)
        found = await engine.search(store.client, store.contacts.index, {"query": {"exists": {"field": "customer"}}})
        return [hit["_source"]["customer"] for hit in found["hits"]["hits"]]

    try:
        assert loop.run_until_complete(scenario()) == ["cust-alone"]
        assert "cust-crowd" in caplog.text and "refused" in caplog.text
    finally:
        loop.run_until_complete(drop(store, search_url))


def test_the_search_finds_word_forms_prefixes_and_words_without_diacritics(loaded, loop):
    from tests.store_contract import SEARCHES, found_by_searches

    store, _ = loaded

    def fetch(query):
        return [orjson.loads(item) for item in loop.run_until_complete(store.timeline(query)).items]

    assert found_by_searches(fetch) == SEARCHES


def test_an_index_made_before_word_forms_finds_prefixes_warns_and_reindexes(search_url, loop, caplog):
    """An index made by version 1 of the mapping: words with their diacritics, no stems."""
    import re

    from storage.search.documents import MAPPINGS, TIMELINE_STEMS, TIMELINE_WORDS, search_document
    from tests.store_contract import SEARCHED, SEARCHES, found_by_searches

    store = SearchStore(engine_client(search_url), alias=f"test-old-words-{uuid4().hex[:8]}")
    docs = contract_documents()[-len(SEARCHED) :]
    old_mappings = {k: v for k, v in MAPPINGS.items() if k != "_meta"}
    old_mappings["properties"] = {k: v for k, v in MAPPINGS["properties"].items() if k != TIMELINE_STEMS}

    def version_1_document(doc):
        texts = [doc.get("reason"), doc.get("description"), *(n["text"] for n in doc.get("note", []))]
        indexed = {k: v for k, v in search_document(doc).items() if k != TIMELINE_STEMS}
        indexed[TIMELINE_WORDS] = sorted({w for text in texts if text for w in re.findall(r"\w+", text.casefold())})
        return indexed

    def fetch(query):
        return [orjson.loads(item) for item in loop.run_until_complete(store.timeline(query)).items]

    async def made_before():
        # a period's index as that version made it, behind both aliases, with its locations
        index = f"{store.alias}.2026.01-v1"
        await engine.create_index(store.client, index, mappings=old_mappings)
        await engine.update_aliases(
            store.client,
            [{"add": {"index": index, "alias": alias}} for alias in (store.alias, f"{store.alias}.2026.01")],
        )
        await store.ensure_index()
        lines = []
        for doc in docs:
            lines += [
                orjson.dumps({"index": {"_index": index, "_id": doc["id"]}}),
                orjson.dumps(version_1_document(doc)),
                orjson.dumps({"index": {"_index": store.locator, "_id": doc["id"]}}),
                orjson.dumps({"p": "2026.01"}),
            ]
        await engine.bulk(store.client, lines, refresh=True)
        caplog.clear()
        await store.ensure_index()

    async def reindex():  # what `ihub reindex` does, from the documents instead of the log
        new = await store.next_generation()
        assert new.generation == 2
        assert all(r.ok for r in await new.apply([IndexOp("index", d["id"], 1, d) for d in docs], refresh=True))
        await store.switch_to(new)
        caplog.clear()
        await store.ensure_index()

    try:
        loop.run_until_complete(made_before())
        assert "`ihub reindex`" in caplog.text and f"{store.alias}.2026.01-v1" in caplog.text
        found = found_by_searches(fetch)
        # by prefix only: roam still finds roaming and roams, bil billing and bill; charges no
        # longer finds charged, nor sao São
        assert found["roam"] == found["roaming"] == SEARCHES["roam"]
        assert found["bil"] == SEARCHES["bil"]
        assert found["charges"] == {"Billing question"}
        assert found["sao"] == found["refund"] == set()
        loop.run_until_complete(reindex())
        assert "`ihub reindex`" not in caplog.text
        assert found_by_searches(fetch) == SEARCHES
    finally:
        loop.run_until_complete(drop(store, search_url))
