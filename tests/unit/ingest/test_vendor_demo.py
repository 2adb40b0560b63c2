"""The demo's vendor deliveries (ingest/vendor_demo.py): each takes the webhook's path to valid
interactions, the same seed gives the same bytes, and `ihub demo` stores them beside the TMF683
bodies, where the KPIs count them."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.formats import FORMATS
from ingest.vendor_demo import SOURCES, Delivery, deliveries, sources, stories
from interaction_hub.cli.loading import VENDOR_SHARE, demo
from interaction_hub.settings import Settings
from query_api.routes.ingest import adapted
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, State, apply
from storage.kpis import KpiQuery
from storage.query import Query
from storage.sqlite.store import SqliteStore
from storage.timeline import TimelineQuery

ANCHOR = datetime(2026, 11, 27, 18, tzinfo=UTC)


def generated(count: int = 400, seed: int = 11) -> list[Delivery]:
    return list(deliveries(count, seed=seed, parties=200, anchor=ANCHOR))


def stored(found: list[Delivery]) -> dict[str, dict[str, Any]]:
    """The interactions the deliveries make, each record adapted as the webhook does and applied
    in turn; each checked to be a valid TMF683 resource."""
    demo_sources = sources()
    states: dict[str, State] = defaultdict(lambda: ABSENT)
    for delivery in found:
        for _, change in adapted(demo_sources[delivery.source], delivery.body, delivery.media_type, delivery.received):
            states[change.interaction_id] = apply(states[change.interaction_id], change, href="http://h/x/").new
    docs = {key: state.doc for key, state in states.items() if state.doc is not None}
    for doc in docs.values():
        validated_resource(doc)
    return docs


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_source_sends_deliveries_of_its_format_that_adapt_to_valid_interactions(source: str) -> None:
    format_id = SOURCES[source][0]
    if format_id not in FORMATS:
        pytest.skip(f"no format {format_id} in ingest/formats")
    found = [d for d in generated() if d.source == source]
    assert len(found) >= 5
    assert {d.media_type for d in found} <= set(FORMATS[format_id].media_types)
    docs = stored(found)
    assert docs
    for doc in docs.values():
        assert {e["owner"] for e in doc["externalIdentifier"]} == {source}
        # contact events name no customer endpoint: the contact's record does
        assert doc.get("customerIdentifier") or source == "demo-connect-events"


def test_every_demo_source_whose_format_is_present_is_in_the_mix() -> None:
    present = {name for name, (format_id, _) in SOURCES.items() if format_id in FORMATS}
    assert set(sources()) == present
    assert {d.source for d in generated()} == present


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others() -> None:
    first, again, other = generated(seed=5), generated(seed=5), generated(seed=6)
    assert [(d.source, d.media_type, d.body, d.received) for d in first] == [
        (d.source, d.media_type, d.body, d.received) for d in again
    ]
    assert [d.body for d in first] != [d.body for d in other]


def test_stories_make_the_interactions_they_count_and_nothing_after_the_anchor() -> None:
    told = list(stories(300, seed=3, parties=100, anchor=ANCHOR))
    assert 300 <= sum(story.interactions for story in told) < 310
    found = [d for story in told for d in story.deliveries]
    assert all(ANCHOR - timedelta(days=91) < d.at <= ANCHOR for d in found)
    assert abs(len(stored(found)) - sum(story.interactions for story in told)) <= 3  # a reply not yet sent


def test_contact_centre_records_name_agents_queues_and_handling_figures() -> None:
    docs = stored(generated())
    calls = [d for d in docs.values() if d["externalIdentifier"][0]["owner"] == "demo-connect"]
    answered = [d for d in calls if d.get("relatedParty")]
    assert len(answered) > 0.8 * len(calls)
    for doc in answered:
        (agent,) = doc["relatedParty"]
        assert agent["role"] == "agent" and agent["name"]
        assert doc["contact"]["queue"] and doc["contact"]["talkSeconds"] > 0
        assert doc["interactionDate"]["endDateTime"] > doc["interactionDate"]["startDateTime"]
    assert {d["channel"][0]["id"] for d in calls} >= {"voice", "chat"}
    assert Counter(d["status"] for d in calls)["completed"] > 0.9 * len(calls)


def test_customers_keep_their_identifiers_across_channels() -> None:
    """One customer's phone number is the same in Connect, Twilio and WhatsApp (WhatsApp writes it
    without its +), so identity resolution can link them."""
    phones: dict[str, set[str]] = defaultdict(set)
    for doc in stored(generated(800)).values():
        for found in doc.get("customerIdentifier") or []:
            if found["kind"] == "phone":
                phones["+" + found["value"].removeprefix("tel:").removeprefix("+")].add(
                    doc["externalIdentifier"][0]["owner"]
                )
    assert max(len(owners) for owners in phones.values()) >= 3


def test_a_demo_stores_vendor_interactions_beside_the_tmf683_bodies_and_the_kpis_count_them(tmp_path: Path) -> None:
    settings = Settings(store="embedded", data_dir=tmp_path / "data", sqlite_synchronous="NORMAL")
    asyncio.run(demo(settings, 300, seed=2, parties=100))
    docs, channels, agents = asyncio.run(stored_and_counted(settings.data_dir))

    assert 295 <= len(docs) <= 310
    vendor = [d for d in docs if d.get("externalIdentifier")]
    assert abs(len(vendor) - 300 * VENDOR_SHARE) <= 10
    owners = Counter(d["externalIdentifier"][0]["owner"] for d in vendor)
    assert len(owners) >= 5 and all(owner.startswith("demo-") for owner in owners)
    kinds = Counter(d["channel"][0]["id"] for d in vendor)
    assert len(kinds) >= 5
    # messaging comes from vendor records alone: the KPIs count every one of them
    assert channels["messaging"] == kinds["messaging"] > 0
    handled = [d for d in vendor if any(p["role"] == "agent" for p in d.get("relatedParty", []))]
    vendor_agents = {p["id"] for d in handled for p in d["relatedParty"] if p["role"] == "agent"}
    assert sum(agents[agent] for agent in vendor_agents) == len(handled) > 0
    # the others are the TMF683 bodies, which name the customer's party id, as the CRM's rows do
    assert all(any(p["role"] == "customer" for p in d["relatedParty"]) for d in docs if not d.get("externalIdentifier"))
    crm = next(d for d in vendor if d["externalIdentifier"][0]["owner"] == "demo-crm")
    (customer,) = (p["id"] for p in crm["relatedParty"] if p["role"] == "customer")
    assert crm["id"] in asyncio.run(history(settings.data_dir, customer))


async def stored_and_counted(data_dir: Path) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
    """Every interaction of the store, and the volumes of the last 92 days by channel and by agent."""
    store = SqliteStore(data_dir, synchronous="NORMAL")
    try:
        docs = [orjson.loads(item) for item in (await store.list(Query())).items]
        now = datetime.now(UTC).timestamp()
        window = (now - 92 * 24 * 3600, now + 60)
        by_channel = await store.kpis(KpiQuery(*window, group_by="channel", interval="month"))
        by_agent = await store.kpis(KpiQuery(*window, group_by="agent", interval="month"))
        return docs, _volumes(by_channel), _volumes(by_agent)
    finally:
        await store.close()


async def history(data_dir: Path, party_id: str) -> list[str]:
    """The ids of a party's timeline."""
    store = SqliteStore(data_dir, synchronous="NORMAL")
    try:
        return [orjson.loads(item)["id"] for item in (await store.timeline(TimelineQuery(party_id, limit=100))).items]
    finally:
        await store.close()


def _volumes(groups: list[dict[str, Any]]) -> dict[str, int]:
    return {group["key"]: group["volume"] for group in groups}
