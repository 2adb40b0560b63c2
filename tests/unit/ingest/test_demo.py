"""Demo data tells a story: repeat contacts, escalations, browse-then-buy, distinct agents and stores."""

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime
from statistics import mean

from ingest.demo import stories
from schemas import PartyInteractionCreate
from schemas.common import parse_date_time

ANCHOR = datetime(2026, 11, 27, tzinfo=UTC)


def journeys():
    bodies = list(stories(3000, seed=5, parties=800, anchor=ANCHOR))
    by_customer = defaultdict(list)
    for body in bodies:
        by_customer[body["relatedParty"][0]["id"]].append(body)
    for history in by_customer.values():
        history.sort(key=lambda b: b["interactionDate"]["startDateTime"])
    return bodies, by_customer


def test_bodies_are_valid_and_in_the_last_90_days():
    bodies, _ = journeys()
    assert len(bodies) == 3000
    for body in bodies:
        PartyInteractionCreate.model_validate(body)
        end = parse_date_time(body["interactionDate"]["endDateTime"])
        assert (ANCHOR - end).days < 91 and end <= ANCHOR


def test_histories_hold_escalations_repeats_and_store_visits_after_the_web():
    _, by_customer = journeys()
    pairs = [(a, b) for history in by_customer.values() for a, b in itertools.pairwise(history)]
    same_reason = [(a, b) for a, b in pairs if a["reason"] == b["reason"]]
    assert (
        sum(
            a["channel"][0]["id"] == "chat" and a["status"] == "cancelled" and b["channel"][0]["id"] == "voice"
            for a, b in same_reason
        )
        > 50
    )
    assert sum(a["channel"][0]["id"] == "web" and b["channel"][0]["id"] == "store" for a, b in same_reason) > 30
    assert sum(b["note"][0]["text"].startswith("Called again") for a, b in same_reason if "note" in b) > 50


def test_agents_differ_in_handling_time_and_stores_in_footfall():
    bodies, _ = journeys()
    minutes = defaultdict(list)
    for body in bodies:
        agent = next((p["id"] for p in body["relatedParty"] if p["role"] == "agent"), None)
        if agent and body["channel"][0]["id"] == "voice":
            period = body["interactionDate"]
            minutes[agent].append(
                (parse_date_time(period["endDateTime"]) - parse_date_time(period["startDateTime"])).seconds / 60
            )
    typical = sorted(mean(m) for m in minutes.values() if len(m) >= 5)
    assert typical[-1] - typical[0] > 5  # the slowest agents take minutes longer than the fastest
    stores = Counter(p["id"] for b in bodies for p in b["relatedParty"] if p["role"] == "store")
    (_, busiest), *_, (_, quietest) = stores.most_common()
    assert busiest > 4 * quietest
