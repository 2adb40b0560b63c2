"""Real search engine: explicit mapping, bulk index, refresh, search (incl. nested)."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from storage.search.engine import (
    IndexMissing,
    bulk,
    close,
    create_index,
    delete_indices,
    get_document,
    outage,
    refresh,
    search,
)
from tests.support.services import engine_client

pytestmark = pytest.mark.integration

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "status": {"type": "keyword"},
        "channel": {"type": "keyword"},
        "reason": {"type": "text"},
        "interactionDate": {"type": "date"},
        "relatedParty": {
            "type": "nested",
            "properties": {"id": {"type": "keyword"}, "role": {"type": "keyword"}},
        },
    },
}

DOCS = [
    {
        "id": "pi-1",
        "status": "open",
        "channel": "email",
        "reason": "Billing question about the last invoice",
        "interactionDate": "2026-11-01T10:00:00Z",
        "relatedParty": [{"id": "p-1", "role": "customer"}, {"id": "a-7", "role": "agent"}],
    },
    {
        "id": "pi-2",
        "status": "closed",
        "channel": "phone",
        "reason": "Router does not connect",
        "interactionDate": "2026-11-02T11:30:00Z",
        # p-1 is here too, but as an agent: a nested query must not match it as customer.
        "relatedParty": [{"id": "p-2", "role": "customer"}, {"id": "p-1", "role": "agent"}],
    },
    {
        "id": "pi-3",
        "status": "open",
        "channel": "chat",
        "reason": "Invoice copy requested",
        "interactionDate": "2026-11-03T09:15:00Z",
        "relatedParty": [{"id": "p-1", "role": "customer"}],
    },
]


def _index_lines(index: str, docs: list[dict]) -> list[bytes]:
    return [orjson.dumps(line) for doc in docs for line in ({"index": {"_index": index, "_id": doc["id"]}}, doc)]


async def _major_version(client) -> int:
    """The nodes API, not `GET /`: the integ-test Elasticsearch that CI runs has no root endpoint."""
    nodes = (await client.nodes.info(node_id="_local", filter_path="nodes.*.version"))["nodes"]
    return int(next(iter(nodes.values()))["version"].split(".", 1)[0])


async def _index_refresh_search(url: str) -> None:
    client = engine_client(url)
    index = f"ihub-it-{uuid.uuid4().hex[:12]}"
    try:
        opensearch = type(client).__module__.startswith("opensearchpy")
        assert await _major_version(client) >= (2 if opensearch else 8)

        await create_index(client, index, mappings=MAPPINGS, settings={"number_of_shards": 1})
        indexed = await bulk(client, _index_lines(index, DOCS))
        assert not indexed["errors"] and len(indexed["items"]) == len(DOCS)
        await refresh(client, index)

        hits = (await search(client, index, {"query": {"term": {"status": "open"}}, "sort": [{"id": "asc"}]}))["hits"]
        assert [h["_id"] for h in hits["hits"]] == ["pi-1", "pi-3"]

        nested = {
            "query": {
                "nested": {
                    "path": "relatedParty",
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"relatedParty.id": "p-1"}},
                                {"term": {"relatedParty.role": "customer"}},
                            ]
                        }
                    },
                }
            },
            "sort": [{"interactionDate": "desc"}],
        }
        result = await search(client, index, nested)
        assert [h["_id"] for h in result["hits"]["hits"]] == ["pi-3", "pi-1"]
        assert result["hits"]["total"]["value"] == 2

        text = await search(client, index, {"query": {"match": {"reason": "invoice"}}, "sort": [{"id": "asc"}]})
        assert [h["_id"] for h in text["hits"]["hits"]] == ["pi-1", "pi-3"]

        ranged = await search(
            client,
            index,
            {
                "query": {"range": {"interactionDate": {"gte": "2026-11-02T00:00:00Z"}}},
                "size": 0,
                "aggs": {"by_channel": {"terms": {"field": "channel"}}},
            },
        )
        buckets = {b["key"]: b["doc_count"] for b in ranged["aggregations"]["by_channel"]["buckets"]}
        assert buckets == {"phone": 1, "chat": 1}

        # The mapping is strict: an unknown field is rejected, not silently mapped.
        refused = await bulk(client, _index_lines(index, [{"id": "bad", "unknown": 1}]))
        assert refused["errors"] and "error" in refused["items"][0]["index"]
    finally:
        await delete_indices(client, [index])
        await close(client)


async def _index_template_applies(url: str) -> None:
    client = engine_client(url)
    prefix = f"ihub-it-tpl-{uuid.uuid4().hex[:8]}"
    try:
        await client.indices.put_index_template(
            name=prefix,
            body={
                "index_patterns": [f"{prefix}-*"],
                "template": {"settings": {"number_of_replicas": 0}, "mappings": MAPPINGS},
            },
        )
        index = f"{prefix}-000001"
        assert not (await bulk(client, _index_lines(index, DOCS[:1]), refresh=True))["errors"]
        mapping = await client.indices.get_mapping(index=index)
        assert mapping[index]["mappings"]["properties"]["relatedParty"]["type"] == "nested"
        await delete_indices(client, [index])
    finally:
        await client.indices.delete_index_template(name=prefix)
        await close(client)


def test_index_refresh_and_search(search_url: str) -> None:
    asyncio.run(asyncio.wait_for(_index_refresh_search(search_url), 120))


def test_index_template_applies_to_new_indices(search_url: str) -> None:
    asyncio.run(asyncio.wait_for(_index_template_applies(search_url), 120))


def test_get_document_returns_version_and_stored_bytes_for_any_id_and_none_only_when_absent(search_url):
    """The API's GET by id path (engine.get_document) with ids that need escaping in a URL."""

    async def scenario():
        client = engine_client(search_url)
        index = f"test-raw-{uuid.uuid4().hex[:8]}"
        try:
            await client.indices.create(index=index)
            ids = ["a/b", "a b", "ü-ß", "a%2Fb", "a?b=c", "a#b", "x+y", "a/../b", "..."]
            for n, doc_id in enumerate(ids, 1):
                await client.index(
                    index=index,
                    id=doc_id,
                    body={"id": doc_id, "n": '"_source":'},  # (both clients take `body`)
                    version=1000 + n,
                    version_type="external",
                    refresh=True,
                )
            for n, doc_id in enumerate(ids, 1):
                version, body = await get_document(client, index, doc_id)
                assert (version, orjson.loads(body)) == (1000 + n, {"id": doc_id, "n": '"_source":'})
            for absent in ("..", ".", "nope"):
                assert await get_document(client, index, absent) is None
            # a missing index is an outage to report, never "no such interaction"
            with pytest.raises(IndexMissing) as missing:
                await get_document(client, f"{index}-missing", "a b")
            assert outage(missing.value)
        finally:
            await delete_indices(client, [index])
            await close(client)

    asyncio.run(scenario())
