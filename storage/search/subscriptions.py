"""Hub subscriptions in full mode: a small index of their own, shared by API and workers."""

from __future__ import annotations

from typing import Any

from storage.search import engine

MAPPINGS = {
    "dynamic": False,
    "properties": {"id": {"type": "keyword"}, "callback": {"type": "keyword"}, "query": {"type": "keyword"}},
}


class SubscriptionIndex:
    """One per deployment (named after its interaction alias: `<alias>-subscriptions`)."""

    def __init__(self, client: Any, index: str, *, replicas: int = 0):
        self.client = client
        self.index = index
        self.replicas = replicas  # of the index, when this creates it

    async def ensure(self) -> None:
        await engine.ensure_index(
            self.client, self.index, mappings=MAPPINGS, settings={"number_of_replicas": self.replicas}
        )

    async def add_subscription(self, subscription: dict[str, Any]) -> None:
        await engine.put_document(self.client, self.index, subscription["id"], subscription)

    async def remove_subscription(self, subscription_id: str) -> bool:
        return await engine.delete_document(self.client, self.index, subscription_id)

    async def subscriptions(self) -> list[dict[str, Any]]:
        response = await engine.search(self.client, self.index, {"size": 10000, "query": {"match_all": {}}})
        return [hit["_source"] for hit in response["hits"]["hits"]]
