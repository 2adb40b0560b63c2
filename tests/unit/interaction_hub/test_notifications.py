"""Which notifications a change causes and who gets them (interaction_hub/notifications.py), and
the backoff every retry uses (interaction_hub/backoff.py). Delivery over HTTP is in
tests/conformance/test_hub.py, in both modes."""

from __future__ import annotations

import orjson
import pytest

from interaction_hub.backoff import backoff_delay
from interaction_hub.notifications import fan_out, subscriber
from interaction_hub.references import ReferenceLinks

OLD = {
    "id": "i1",
    "href": "h",
    "reason": "Bill",
    "direction": "inbound",
    "channel": [{"id": "voice"}],
    "status": "open",
}
NEW = {**OLD, "status": "completed", "description": "done"}
LINKS = ReferenceLinks(
    interactions="https://ihub/tmf-api/partyInteraction/v4/partyInteraction/",
    party_api="https://crm/tmf-api/partyManagement/v4",
    party_role_api="https://crm/tmf-api/partyRoleManagement/v4",
    channel_api="https://catalogue/tmf-api/channelManagement/v4",
)


def delivered(subscriptions: list[dict], old: dict | None, new: dict | None) -> list[tuple[str, str, str | None]]:
    """(subscription id, event type, fieldPath) of each delivery, in order."""
    subscribers = tuple(subscriber(s) for s in subscriptions)
    out = []
    for delivery in fan_out(subscribers, old, new, links=LINKS):
        event = orjson.loads(delivery.body)
        out.append((delivery.subscription_id, event["eventType"], event.get("fieldPath")))
    return out


ALL = {"id": "all", "callback": "http://127.0.0.1:9/a"}
STATUS = {"id": "status", "callback": "http://127.0.0.1:9/s", "query": "eventType=PartyInteractionStatusChangeEvent"}
COMPLETED = {"id": "done", "callback": "http://127.0.0.1:9/d", "query": "event.partyInteraction.status=completed"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, OLD, [("all", "PartyInteractionCreateEvent", None)]),
        (
            OLD,
            NEW,
            [
                ("all", "PartyInteractionAttributeValueChangeEvent", "description,status"),
                ("done", "PartyInteractionAttributeValueChangeEvent", "description,status"),
                ("all", "PartyInteractionStatusChangeEvent", None),
                ("status", "PartyInteractionStatusChangeEvent", None),
                ("done", "PartyInteractionStatusChangeEvent", None),
            ],
        ),
        (OLD, {**OLD, "description": "x"}, [("all", "PartyInteractionAttributeValueChangeEvent", "description")]),
        (OLD, OLD, []),
        (NEW, None, [("all", "PartyInteractionDeleteEvent", None), ("done", "PartyInteractionDeleteEvent", None)]),
    ],
    ids=["create", "status change", "attribute change", "no change", "delete"],
)
def test_a_change_notifies_each_subscriber_whose_query_its_events_match(old, new, expected):
    assert delivered([ALL, STATUS, COMPLETED], old, new) == expected


def test_an_update_known_by_its_changed_attributes_notifies_as_one_known_by_both_states():
    """Change records carry the changed attributes' names instead of the old state."""
    subscribers = tuple(subscriber(s) for s in (ALL, STATUS, COMPLETED))

    def seen(deliveries: list) -> list[tuple[str, str, str | None]]:
        events = [(d.subscription_id, orjson.loads(d.body)) for d in deliveries]
        return [(who, event["eventType"], event.get("fieldPath")) for who, event in events]

    from_names = seen(fan_out(subscribers, None, NEW, links=LINKS, changed=["description", "status"]))
    assert from_names == seen(fan_out(subscribers, OLD, NEW, links=LINKS)) and len(from_names) == 5
    assert fan_out(subscribers, None, NEW, links=LINKS, changed=[]) == []  # unchanged: nothing to say


def test_no_subscribers_no_work():
    assert fan_out((), OLD, NEW, links=LINKS) == []


def test_notification_bodies_carry_the_resource_after_the_change_as_the_api_shows_it():
    stored = orjson.loads(orjson.dumps(OLD))
    (delivery,) = fan_out((subscriber(ALL),), None, stored, links=LINKS)
    event = orjson.loads(delivery.body)
    channel = {"id": "voice", "href": "https://catalogue/tmf-api/channelManagement/v4/channel/voice"}
    # the stored href is not shown: notifications link to the resource root
    assert event["event"]["partyInteraction"] == {**OLD, "href": f"{LINKS.interactions}i1", "channel": [channel]}
    assert event["eventId"] and event["eventTime"] == event["timeOcurred"]
    assert stored == OLD  # the links are shown, never written into the stored form


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 40, 5000])
def test_backoff_doubles_from_the_first_delay_with_jitter_and_stays_under_the_cap(attempt):
    delays = [backoff_delay(attempt, first_s=0.5, max_s=60.0) for _ in range(200)]
    ceiling = min(60.0, 0.5 * 2 ** min(attempt - 1, 62))
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered: clients retrying together spread out


def test_a_stored_subscription_whose_query_is_refused_now_is_left_out_not_fatal(caplog):
    from interaction_hub.notifications import subscribers

    stored = [ALL, {"id": "old", "callback": "http://127.0.0.1:9/o", "query": "reason.regex=(a)\\1"}, STATUS]
    with caplog.at_level("WARNING"):
        assert [s[0] for s in subscribers(stored)] == ["all", "status"]
    assert "subscription old is not served" in caplog.text


# -- TMF683 v5 listeners ------------------------------------------------------------------------

V5 = {
    "id": "v5",
    "callback": "http://127.0.0.1:9/v5",
    "query": "event.partyInteraction.relatedChannel.channel.id=voice",
    "v5": "http://api/tmf-api/partyInteraction/v5/partyInteraction/",
}


def test_a_v5_listener_gets_v5_events_filtered_on_v5_paths_beside_a_v4_one():
    from tests.tmf683_v5 import validate

    deliveries = fan_out((subscriber(ALL), subscriber(V5)), OLD, NEW, links=LINKS)
    by_subscriber: dict[str, list[dict]] = {}
    for delivery in deliveries:
        by_subscriber.setdefault(delivery.subscription_id, []).append(orjson.loads(delivery.body))
    assert [e["eventType"] for e in by_subscriber["v5"]] == [e["eventType"] for e in by_subscriber["all"]]
    schemas = {
        "PartyInteractionAttributeValueChangeEvent": "PartyInteractionAttributeValueChangeEvent",
        "PartyInteractionStatusChangeEvent": "PartyInteractionStatusChange",
    }
    for event in by_subscriber["v5"]:
        validate(event, schemas[event["eventType"]])
        interaction = event["event"]["partyInteraction"]
        assert interaction["href"] == V5["v5"] + "i1" and interaction["relatedChannel"][0]["channel"]["id"] == "voice"
        assert interaction["relatedChannel"][0]["channel"]["href"].endswith("/channelManagement/v4/channel/voice")
        assert event["@type"] == event["eventType"] and "timeOccurred" in event and "timeOcurred" not in event
    for event in by_subscriber["all"]:
        assert "channel" in event["event"]["partyInteraction"] and "@type" not in event
    # the v5 query reads the v5 event: another channel, no delivery
    elsewhere = {**NEW, "channel": [{"id": "web"}]}
    assert [d.subscription_id for d in fan_out((subscriber(V5),), None, elsewhere, links=LINKS)] == []
