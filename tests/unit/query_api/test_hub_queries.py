"""A listener's query names what the hub's events have: a condition on an attribute no event has, or
on an object rather than a value, is refused at registration (it could never hold); extension
attributes stay open; every value of a real event, in either version's shape, can be named."""

from __future__ import annotations

import pytest

from ingest.adapters import adapt, sample_events
from query_api.hub_queries import check_attributes
from query_api.routes.hub import party_filter
from schemas.events import change_events
from schemas.party_interaction import stored_resource
from schemas.party_interaction_v5 import from_v5, v5_event
from storage.query import Condition, Op, Operand, Query, leaves
from storage.tmf630 import QueryError, parse_filter
from tests.unit.schemas.test_party_interaction_v5 import AT, V4_DOCS, V5_RESOURCES


def check(query: str, *, v5: bool = False) -> None:
    check_attributes(parse_filter(query), v5=v5)


@pytest.mark.parametrize(
    "query",
    [
        "eventType=PartyInteractionStatusChangeEvent&event.partyInteraction.status=completed",
        "eventId!=x&fieldPath.regex=status&timeOcurred>2026-11-01&domain=partyInteraction",
        "event.partyInteraction.channel.id=voice&event.partyInteraction.relatedParty.role=customer",
        "event.partyInteraction.interactionDate.startDateTime.gte=2026-11-01",
        "event.partyInteraction.interactionItem.item.role=productOrder",
        # extension attributes of a subclass, at any level
        "event.partyInteraction.@type=VoiceCallInteraction&event.partyInteraction.handling.talkSeconds.gt=300",
        "event.partyInteraction.relatedParty.partyOrPartyRole.@type=Individual",
        party_filter("cust-42"),
    ],
)
def test_a_v4_query_on_what_events_have_is_accepted(query):
    check(query)


@pytest.mark.parametrize(
    "query",
    [
        "@type=PartyInteractionCreateEvent&timeOccurred>2026-11-01",
        "event.partyInteraction.relatedChannel.channel.id=web&event.partyInteraction.lastUpdate>2026-11-01",
        "event.partyInteraction.interactionItem.item.entity.@referredType=ProductOrder",
        "event.partyInteraction.interactionItem.interactionItemType=Case",  # v5 item attributes
        "event.partyInteraction.relatedParty.partyOrPartyRole.partyId=emp-1",  # a party by value
        party_filter("cust-42", v5=True),
    ],
)
def test_a_v5_query_on_what_v5_events_have_is_accepted(query):
    check(query, v5=True)


ENVELOPE = "eventId, eventTime, eventType, correlationId, domain, title, description, priority, timeOcurred, fieldPath"
UNDER = "(the interaction's attributes are under event.partyInteraction.)"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "nonsense.path=1",
            f"'nonsense.path' is not an attribute of a TMF683 event: an event has {ENVELOPE}, event {UNDER}",
        ),
        (  # the interaction's attribute without the event's path to it
            "eventType=PartyInteractionCreateEvent&status=open",
            f"'status' is not an attribute of a TMF683 event: an event has {ENVELOPE}, event {UNDER}",
        ),
        (
            "timeOccurred>2026-11-01",
            f"'timeOccurred' is not an attribute of a TMF683 event: an event has {ENVELOPE}, event {UNDER}",
        ),
        ("event.status=open", "'event.status' is not an attribute of a TMF683 event: event has partyInteraction"),
        (
            "event.partyInteraction.status.code=1",
            "'event.partyInteraction.status.code': 'event.partyInteraction.status' is a value of a TMF683 event, "
            "without attributes",
        ),
        ("eventType.name=x", "'eventType.name': 'eventType' is a value of a TMF683 event, without attributes"),
        (
            "event.partyInteraction.channel=voice",
            "'event.partyInteraction.channel' is an object of a TMF683 event, not a value: its attributes are "
            "@type, @baseType, @schemaLocation, id, href, name, @referredType, role",
        ),
        (
            "event.partyInteraction!=x",  # even `!=`, which an absent value meets, names nothing an event has
            "'event.partyInteraction' is an object of a TMF683 event, not a value: its attributes are "
            "@type, @baseType, @schemaLocation, creationDate, description, reason, status, statusChangeDate, "
            "attachment, channel, interactionDate, interactionItem, interactionRelationship, note, relatedParty, "
            "externalIdentifier, direction, id, href",
        ),
    ],
)
def test_a_v4_query_on_what_no_event_has_is_refused_naming_it(query, message):
    with pytest.raises(QueryError) as refused:
        check(query)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (  # a v5 list's path, without the event's path to the interaction
            "relatedParty.partyOrPartyRole.id=cust-42",
            "'relatedParty.partyOrPartyRole.id' is not an attribute of a TMF683 v5 event: an event has @type, "
            "eventId, eventTime, eventType, correlationId, domain, title, description, priority, timeOccurred, "
            f"fieldPath, event {UNDER}",
        ),
        (
            "event.partyInteraction.relatedChannel.channel.role=origin",
            "'event.partyInteraction.relatedChannel.channel.role' is not an attribute of a TMF683 v5 event: "
            "event.partyInteraction.relatedChannel.channel has @type, id, href, name, @referredType",
        ),
        (
            "event.partyInteraction.interactionItem.item.id=o-1",
            "'event.partyInteraction.interactionItem.item.id' is not an attribute of a TMF683 v5 event: "
            "event.partyInteraction.interactionItem.item has @type, role, entity",
        ),
    ],
)
def test_a_v5_query_on_what_no_v5_event_has_is_refused_naming_it(query, message):
    with pytest.raises(QueryError) as refused:
        check(query, v5=True)
    assert str(refused.value) == message


def interactions() -> list[dict]:
    """Interactions as the server stores them: every v4 attribute, subclasses with extension
    attributes, what only v5 says, and what the channel adapters write."""
    found = list(V4_DOCS.values())
    for n, resource in enumerate(V5_RESOURCES.values()):
        found.append(stored_resource(from_v5(resource), interaction_id=f"v5-{n}", href=f"http://api/{n}", now=AT))
    for event in sample_events():
        change = adapt(event)
        if change.kind == "create":
            found.append(
                stored_resource(change.body, interaction_id=change.interaction_id, href="http://api/x", now=AT)
            )
    return found


def test_every_value_of_a_real_event_can_be_named_in_either_version():
    seen = 0
    for doc in interactions():
        events = [*change_events(None, doc, AT), *change_events(doc, {**doc, "status": "closed"}, AT)]
        for event, v5 in [
            *((e, False) for e in events),
            *((v5_event(e, href_base="http://api/v5/"), True) for e in events),
        ]:
            for path, _ in leaves(event):
                check_attributes(Query((Condition(path, Op.EQ, (Operand("x"),)),)), v5=v5)
                seen += 1
    assert seen > 1000
