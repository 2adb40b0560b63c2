"""Realistic PartyInteraction create bodies, reproducible from a seed.

Used to fill a store for benchmarks and for the CTK's "large store" run; the `ihub demo` command
of the pipeline builds on it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.adapters.common import CHANNEL_NAMES, channel
from schemas.common import parse_date_time

REASONS = [
    "Billing question",
    "Bill higher than expected",
    "Upgrade mobile plan",
    "Buy TV and internet bundle",
    "Report broadband outage",
    "Roaming activation",
    "SIM replacement",
    "Porting request",
    "Cancel subscription",
    "Device repair",
    "Change of address",
    "Payment arrangement",
]
STATUSES = ["completed", "completed", "completed", "inProgress", "open", "cancelled"]
FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "João", "Kofi", "Lena"]
LAST = ["Silva", "Müller", "Dubois", "Ivanova", "Rossi", "Kowalski", "Nakamura", "Okafor", "García", "Smith"]
ORGS = ["Acme Logistics", "Blue Harbour Café", "Northwind Clinic", "Orbit Dental", "Sunrise Bakery"]
STORES = [f"store-{n:03d}" for n in range(1, 25)]
AGENTS = [f"agent-{n:04d}" for n in range(1, 120)]


# the channels the demo's own envelope speaks (a fixed list: the same seed always gives the same data)
DEMO_CHANNELS = ("web", "app", "voice", "ivr", "store", "email", "chat", "social")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def party(rng: random.Random, parties: int) -> dict[str, Any]:
    number = rng.randrange(parties)
    if number % 9 == 0:
        return {"id": f"org-{number}", "name": rng.choice(ORGS), "role": "customer", "@referredType": "Organization"}
    name = f"{FIRST[number % len(FIRST)]} {LAST[number // len(FIRST) % len(LAST)]}"
    return {"id": f"cust-{number}", "name": name, "role": "customer", "@referredType": "Individual"}


def interaction(rng: random.Random, *, parties: int = 10_000, start: datetime | None = None) -> dict[str, Any]:
    """One create body: a customer, a channel, usually an agent or a store, dates, often a note."""
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    channel_id = rng.choice(DEMO_CHANNELS)
    began = start + timedelta(seconds=rng.randrange(330 * 24 * 3600))
    handling = timedelta(seconds=int(rng.lognormvariate(5.5, 0.8)))
    body: dict[str, Any] = {
        "reason": rng.choice(REASONS),
        "direction": "outbound" if rng.random() < 0.15 else "inbound",
        "status": rng.choice(STATUSES),
        "description": f"{CHANNEL_NAMES[channel_id]} contact",
        "interactionDate": {"startDateTime": _iso(began), "endDateTime": _iso(began + handling)},
        "channel": channel(channel_id),
        "relatedParty": [party(rng, parties)],
    }
    if channel_id in ("voice", "chat", "email", "social"):
        agent = rng.choice(AGENTS)
        body["relatedParty"].append({"id": agent, "name": agent, "role": "agent", "@referredType": "PartyRole"})
    if channel_id == "store":
        store = rng.choice(STORES)
        body["relatedParty"].append({"id": store, "name": store, "role": "store", "@referredType": "Organization"})
    if rng.random() < 0.4:
        body["note"] = [{"id": "1", "author": "system", "date": _iso(began + handling), "text": "Customer informed"}]
    if rng.random() < 0.2:
        body["interactionItem"] = [
            {
                "id": "1",
                "reason": body["reason"],
                "item": {
                    "id": f"ord-{rng.randrange(10**6)}",
                    "role": "productOrder",
                    "@type": "RelatedEntity",
                    "@referredType": "ProductOrder",
                },
            }
        ]
    return body


def interactions(count: int, seed: int = 1, parties: int = 10_000) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield interaction(rng, parties=parties)


# -- stories: what `ihub demo` shows on first run -------------------------------------------
# Customers with histories (repeat contacts, chat escalated to a call, a store visit after browsing
# the web shop), agents with their own handling times, stores with very different footfall, all in
# the weeks before `anchor` so the default KPI window (the last 30 days) has something to show.

AGENT_MINUTES = {agent: 3 + (n * 7919 % 13) for n, agent in enumerate(AGENTS)}  # each agent's typical call
STORE_WEIGHTS = [1 / (rank + 1) for rank in range(len(STORES))]  # a few flagship stores, a long tail


def _body(
    rng: random.Random,
    customer: dict[str, Any],
    kind: str,
    reason: str,
    status: str,
    began: datetime,
    minutes: float,
    note: str | None = None,
    direction: str = "inbound",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reason": reason,
        "direction": direction,
        "status": status,
        "description": f"{CHANNEL_NAMES[kind]} contact",
        "interactionDate": {"startDateTime": _iso(began), "endDateTime": _iso(began + timedelta(minutes=minutes))},
        "channel": channel(kind),
        "relatedParty": [customer],
    }
    if kind in ("voice", "chat", "email", "social"):
        agent = rng.choice(AGENTS)
        body["relatedParty"].append({"id": agent, "name": agent, "role": "agent", "@referredType": "PartyRole"})
        if kind == "voice":
            minutes = max(1.0, rng.gauss(AGENT_MINUTES[agent], 1.5))
            body["interactionDate"]["endDateTime"] = _iso(began + timedelta(minutes=minutes))
    if kind == "store":
        store = rng.choices(STORES, STORE_WEIGHTS)[0]
        body["relatedParty"].append({"id": store, "name": store, "role": "store", "@referredType": "Organization"})
    if note:
        body["note"] = [{"author": "system", "date": body["interactionDate"]["endDateTime"], "text": note}]
    return body


def _story(rng: random.Random, customer: dict[str, Any], began: datetime) -> list[dict[str, Any]]:
    kind = rng.choices(["single", "escalation", "browse-then-store", "repeat"], [0.45, 0.2, 0.15, 0.2])[0]
    reason = rng.choice(REASONS)
    if kind == "escalation":  # the chat bot cannot help; the customer calls a few minutes later
        return [
            _body(
                rng,
                customer,
                "chat",
                reason,
                "cancelled",
                began,
                rng.uniform(3, 9),
                "Bot could not resolve; customer left",
            ),
            _body(
                rng,
                customer,
                "voice",
                reason,
                "completed",
                began + timedelta(minutes=rng.uniform(10, 40)),
                8,
                "Resolved by an agent after the chat",
            ),
        ]
    if kind == "browse-then-store":  # looks at offers online, buys in a store a few days later
        offer = rng.choice(["Upgrade mobile plan", "Buy TV and internet bundle", "Device repair"])
        return [
            _body(rng, customer, "web", offer, "completed", began, rng.uniform(4, 20), "Compared offers online"),
            _body(
                rng,
                customer,
                "store",
                offer,
                "completed",
                began + timedelta(days=rng.uniform(1, 5)),
                rng.uniform(10, 40),
                "Signed in store",
            ),
        ]
    if kind == "repeat":  # not solved the first time: the same reason again within days
        first = rng.choice(["voice", "ivr", "app"])
        return [
            _body(rng, customer, first, reason, "completed", began, rng.uniform(2, 12), "Customer told it was fixed"),
            _body(
                rng,
                customer,
                "voice",
                reason,
                "completed",
                began + timedelta(days=rng.uniform(0.5, 4)),
                10,
                "Called again: problem persisted",
            ),
        ]
    kind = rng.choices(DEMO_CHANNELS, [3, 3, 4, 2, 2, 1, 3, 1])[0]
    status = rng.choices(["completed", "inProgress", "open", "cancelled"], [8, 1, 1, 1])[0]
    direction = "outbound" if rng.random() < 0.1 else "inbound"
    return [_body(rng, customer, kind, reason, status, began, rng.uniform(2, 25), direction=direction)]


def stories(count: int, seed: int = 1, parties: int = 2000, anchor: datetime | None = None) -> Iterator[dict[str, Any]]:
    """`count` create bodies from customer journeys over the 90 days before `anchor` (default: now)."""
    rng = random.Random(seed)
    anchor = (anchor or datetime.now(UTC)).replace(microsecond=0)
    produced = 0
    while produced < count:
        began = anchor - timedelta(days=90) + timedelta(seconds=rng.randrange(89 * 24 * 3600))
        for body in _story(rng, party(rng, parties), began):
            if produced == count:
                return
            ended = parse_date_time(body["interactionDate"]["endDateTime"])
            assert ended is not None  # written by _iso
            if ended > anchor:
                continue  # the future has not happened yet
            produced += 1
            yield body
