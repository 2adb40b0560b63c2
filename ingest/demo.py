"""Realistic PartyInteraction create bodies, reproducible from a seed.

Used to fill a store for benchmarks and for the CTK's "large store" run; the `ihub demo` command
of the pipeline builds on it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

CHANNELS = [
    ("web", "Web self-care"),
    ("app", "Mobile app"),
    ("voice", "Contact centre"),
    ("ivr", "IVR"),
    ("store", "Retail store"),
    ("email", "Email"),
    ("chat", "Chat"),
    ("social", "Social"),
]
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
    start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
    channel_id, channel_name = rng.choice(CHANNELS)
    began = start + timedelta(seconds=rng.randrange(330 * 24 * 3600))
    handling = timedelta(seconds=int(rng.lognormvariate(5.5, 0.8)))
    body: dict[str, Any] = {
        "reason": rng.choice(REASONS),
        "direction": "outbound" if rng.random() < 0.15 else "inbound",
        "status": rng.choice(STATUSES),
        "description": f"{channel_name} contact",
        "interactionDate": {"startDateTime": _iso(began), "endDateTime": _iso(began + handling)},
        "channel": [{"id": channel_id, "name": channel_name, "role": "primary", "@referredType": "Channel"}],
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
                "item": {"id": f"ord-{rng.randrange(10**6)}", "role": "productOrder", "@type": "RelatedEntity",
                         "@referredType": "ProductOrder"},
            }
        ]
    return body


def interactions(count: int, seed: int = 1, parties: int = 10_000) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield interaction(rng, parties=parties)
