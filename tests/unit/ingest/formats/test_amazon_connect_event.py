"""Amazon Connect contact events (ingest/formats/amazon_connect_event.py): split, wrap, adapt and
apply, on AWS's published events (a bare detail, and an EventBridge event that is not JSON as
published) and on events written from the contact events data model; and, with the contact record
of the same contact (amazon_connect_ctr.py), that the interaction ends as the record says in
whatever order events and record arrive."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

from ingest.adapters import AdapterError, adapt
from ingest.formats import FORMATS, FormatError, wrap
from ingest.formats import amazon_connect_ctr as ctr_format
from ingest.formats.amazon_connect_ctr import contact_interaction_id
from ingest.formats.amazon_connect_event import DETAIL_TYPE, FORMAT, split
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, Change, Outcome, State, apply, version_at
from tests.unit.ingest.formats.test_amazon_connect_ctr import AGENT, FIRST, INSTANCE, record
from tests.vendor_samples import sample

SOURCE = "connect-events"
RECEIVED = "2026-11-20T10:00:00Z"
HREF = "http://h/x/"

CONNECTED = "amazon-connect/contact-event-voice-connected-to-agent.json"
DISCONNECTED = "amazon-connect/contact-event-eventbridge-voice-disconnected.json"
SAMPLE_CONTACT = "11111111-1111-1111-1111-111111111111"
SAMPLE_INSTANCE = "arn:aws::connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012"
# the published EventBridge event has a trailing comma after the last greeting timestamp
TRAILING_COMMA = b'"greetingEndTimestamp":"2021-08-04T17:29:22.000Z",\n'


def repaired_disconnected() -> bytes:
    """The published EventBridge event with its one trailing comma removed."""
    published = sample(DISCONNECTED)
    assert published.count(TRAILING_COMMA) == 1
    return published.replace(TRAILING_COMMA, TRAILING_COMMA.replace(b",\n", b"\n"))


def events(delivery: bytes, source: str = SOURCE) -> list[ChannelEvent]:
    """The real path up to adapting: split, then wrap as the ingress does."""
    return [wrap(found, FORMAT.id, source, {"name": source}, RECEIVED) for found in split(delivery, "application/json")]


def change_of(delivery: bytes, source: str = SOURCE) -> Change:
    (event,) = events(delivery, source)
    return adapt(event)


def applied(*changes: Change, state: State = ABSENT) -> Outcome:
    outcome = None
    for change in changes:
        outcome = apply(state, change, href=HREF)
        state = outcome.new
    assert outcome is not None
    return outcome


def stored(*changes: Change) -> dict[str, Any]:
    doc = applied(*changes).new.doc
    assert doc is not None
    validated_resource(doc)
    return doc


def detail(event_type: str, contact_id: str = FIRST, **fields: Any) -> dict[str, Any]:
    """A voice contact event's detail as the data model describes it (the contact of
    test_amazon_connect_ctr.record(): initiated 09:00, queued 09:00:30, with the agent 09:01:30,
    disconnected 09:10, after-contact work done 09:11:30)."""
    written: dict[str, Any] = {
        "eventType": event_type,
        "contactId": contact_id,
        "channel": "VOICE",
        "instanceArn": INSTANCE,
        "initiationMethod": "INBOUND",
        "initiationTimestamp": "2026-11-20T09:00:00.000Z",
        "connectedToSystemTimestamp": "2026-11-20T09:00:01.000Z",
    }
    written.update(fields)
    return written


def eventbridge(inner: dict[str, Any], event_id: str, time: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": "aws.connect",
        "account": "111122223333",
        "time": time,
        "region": "eu-west-2",
        "resources": [f"{INSTANCE}/contact/{inner['contactId']}", INSTANCE],
        "detail": inner,
    }


def body(*objects: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(o).encode() for o in objects)


QUEUE = {"queueArn": f"{INSTANCE}/queue/0b0b0b0b-0000-4000-8000-000000000001", "queueType": "STANDARD"}
QUEUED = {**QUEUE, "enqueueTimestamp": "2026-11-20T09:00:30.000Z"}
WITH_AGENT = {"agentArn": AGENT, "connectedToAgentTimestamp": "2026-11-20T09:01:30.000Z"}
WORK_DONE = {
    **WITH_AGENT,
    "afterContactWorkStartTimestamp": "2026-11-20T09:10:00.000Z",
    "afterContactWorkEndTimestamp": "2026-11-20T09:11:30.000Z",
}
CONTACT_EVENTS = [
    eventbridge(detail("INITIATED"), "e-1", "2026-11-20T09:00:00Z"),
    eventbridge(detail("QUEUED", queueInfo=QUEUED), "e-2", "2026-11-20T09:00:31Z"),
    eventbridge(detail("CONNECTED_TO_AGENT", queueInfo=QUEUED, agentInfo=WITH_AGENT), "e-3", "2026-11-20T09:01:31Z"),
    eventbridge(
        detail(
            "DISCONNECTED",
            queueInfo=QUEUED,
            agentInfo=WITH_AGENT,
            disconnectTimestamp="2026-11-20T09:10:00.000Z",
            disconnectReason="AGENT_DISCONNECT",
        ),
        "e-4",
        "2026-11-20T09:10:01Z",
    ),
    eventbridge(
        detail(
            "COMPLETED",
            queueInfo=QUEUED,
            agentInfo=WORK_DONE,
            disconnectTimestamp="2026-11-20T09:10:00.000Z",
            disconnectReason="AGENT_DISCONNECT",
        ),
        "e-5",
        "2026-11-20T09:11:31Z",
    ),
]


# -- the published events ---------------------------------------------------------------------------


def test_the_published_bare_detail_is_one_event_timed_by_the_latest_moment_it_names():
    (found,) = split(sample(CONNECTED), "application/json")
    assert found.native_id.startswith(f"{SAMPLE_CONTACT}/CONNECTED_TO_AGENT/")
    assert found.time == "2021-08-04T17:29:09.000Z"  # connected to the agent, after initiation and queueing


def test_the_published_bare_detail_makes_a_call_in_progress_with_its_agent():
    doc = stored(change_of(sample(CONNECTED)))
    assert doc["id"] == contact_interaction_id(SAMPLE_INSTANCE, SAMPLE_CONTACT)
    assert doc["@type"] == "VoiceCallInteraction" and doc["channel"][0]["id"] == "voice"
    assert doc["status"] == "inProgress" and doc["direction"] == "inbound"
    assert doc["interactionDate"] == {"startDateTime": "2021-08-04T17:17:53.000Z"}
    assert doc["reason"] == "Call to the contact centre"  # events name the queue by ARN only
    assert doc["description"] == "Inbound call, connected to agent"
    assert doc["relatedParty"] == [
        {
            "id": "12345678-1234-1234-1234-123456789012",
            "role": "agent",
            "@referredType": "PartyRole",
        }
    ]
    assert doc["externalIdentifier"] == [
        {"id": SAMPLE_CONTACT, "owner": SOURCE, "externalIdentifierType": "amazon-connect-contact"}
    ]
    assert doc["contact"]["eventType"] == "CONNECTED_TO_AGENT"
    assert doc["contact"]["enqueuedAt"] == "2021-08-04T17:29:04.000Z"
    assert doc["contact"]["connectedToAgentAt"] == "2021-08-04T17:29:09.000Z"


def test_the_published_eventbridge_event_is_not_json_and_split_says_where():
    with pytest.raises(FormatError) as raised:
        split(sample(DISCONNECTED), "application/json")
    assert str(raised.value) == (
        "contact event 1 is not JSON: Expecting property name enclosed in double quotes (line 37 column 9)"
    )


def test_the_repaired_eventbridge_event_makes_a_completed_outbound_call():
    (found,) = split(repaired_disconnected(), "application/json")
    assert found.native_id == "abcabcab-abca-abca-abca-abcabcabcabc"  # EventBridge's event id
    doc = stored(change_of(repaired_disconnected()))
    assert doc["id"] == contact_interaction_id(SAMPLE_INSTANCE, SAMPLE_CONTACT)
    assert doc["status"] == "completed" and doc["direction"] == "outbound"
    assert doc["interactionDate"] == {
        "startDateTime": "2021-08-04T17:17:53.000Z",
        "endDateTime": "2021-08-04T17:18:37.000Z",
    }
    assert doc["statusChangeDate"] == "2021-08-04T17:18:37.000Z"
    assert doc["description"] == "Outbound call, disconnected"
    # its AgentInfo/AgentArn are written in another case than the data model's: read all the same
    assert doc["relatedParty"] == [{"id": "arn", "role": "agent", "@referredType": "PartyRole"}]
    assert doc["interactionRelationship"] == [
        {
            "id": contact_interaction_id(SAMPLE_INSTANCE, "11111111-2222-3333-4444-555555555555"),
            "relationshipType": "followsUp",
        }
    ]


def test_the_two_published_events_of_one_contact_end_disconnected_in_either_order():
    connected, disconnected = change_of(sample(CONNECTED)), change_of(repaired_disconnected())
    assert connected.interaction_id == disconnected.interaction_id
    # both name 17:29:09 as their latest moment: the disconnection ranks above the connection
    assert disconnected.version > connected.version
    assert stored(connected, disconnected)["status"] == "completed"
    assert applied(disconnected, connected).kind == "superseded"


def test_the_format_is_registered_without_a_signature():
    assert FORMATS["amazon-connect-event"] is FORMAT
    assert FORMAT.media_types == ("application/json",) and not FORMAT.signs and FORMAT.handshake is None


# -- a contact's events and its record ---------------------------------------------------------------


def test_each_event_moves_the_contact_on():
    changes = [change_of(body(e)) for e in CONTACT_EVENTS]
    assert len({c.interaction_id for c in changes}) == 1
    assert [c.version for c in changes] == sorted(c.version for c in changes)
    states = [stored(*changes[: n + 1]) for n in range(len(changes))]
    assert [s["status"] for s in states] == ["inProgress"] * 3 + ["completed"] * 2
    assert [s["contact"]["eventType"] for s in states] == [
        "INITIATED",
        "QUEUED",
        "CONNECTED_TO_AGENT",
        "DISCONNECTED",
        "COMPLETED",
    ]
    assert "endDateTime" not in states[2]["interactionDate"]
    assert states[3]["interactionDate"]["endDateTime"] == "2026-11-20T09:10:00.000Z"
    assert states[4]["interactionDate"]["endDateTime"] == "2026-11-20T09:11:30.000Z"  # after-contact work
    assert states[2]["relatedParty"] == [{"id": AGENT.rsplit("/", 1)[1], "role": "agent", "@referredType": "PartyRole"}]


def test_an_event_that_arrives_late_is_superseded():
    connected, disconnected = (change_of(body(e)) for e in (CONTACT_EVENTS[2], CONTACT_EVENTS[3]))
    outcome = applied(disconnected, connected)
    assert outcome.kind == "superseded" and outcome.new.doc is not None
    assert outcome.new.doc["status"] == "completed"


def ctr_change(**fields: Any) -> Change:
    (found,) = ctr_format.split(json.dumps(record(**fields)).encode(), "application/json")
    return adapt(wrap(found, ctr_format.FORMAT.id, "connect-ctr", {"name": "connect-ctr"}, RECEIVED))


def test_the_record_completes_the_interaction_the_events_made():
    events_first = applied(*[change_of(body(e)) for e in CONTACT_EVENTS], ctr_change())
    assert events_first.kind == "update"
    doc = events_first.new.doc
    assert doc is not None
    assert doc["contact"]["handlingSeconds"] == 600 and doc["reason"] == "Call to Billing"
    assert "eventType" not in doc["contact"]
    assert doc["relatedParty"][0]["name"] == "ana.silva"


@pytest.mark.parametrize("position", range(len(CONTACT_EVENTS) + 1))
def test_the_record_wins_wherever_it_arrives_among_the_events(position):
    changes = [change_of(body(e)) for e in CONTACT_EVENTS]
    changes.insert(position, ctr_change())
    doc, alone = stored(*changes), stored(ctr_change())
    assert {**doc, "creationDate": None} == {**alone, "creationDate": None}


def test_the_record_wins_in_every_order_of_events_and_record():
    changes = [change_of(body(e)) for e in CONTACT_EVENTS] + [ctr_change()]
    expected = {**stored(changes[-1]), "creationDate": None}
    for order in itertools.permutations(changes):
        doc = applied(*order).new.doc
        assert doc is not None and {**doc, "creationDate": None} == expected


def test_the_record_wins_over_an_event_of_the_same_second_it_was_written_in():
    # the record's LastUpdateTimestamp is in whole seconds; the event names 900 ms later within it
    late_work = {**WORK_DONE, "afterContactWorkEndTimestamp": "2026-11-20T09:11:30.900Z"}
    completed = change_of(
        body(detail("COMPLETED", agentInfo=late_work, disconnectTimestamp="2026-11-20T09:10:00.000Z"))
    )
    written = ctr_change(LastUpdateTimestamp="2026-11-20T09:11:30Z")
    assert completed.version < written.version == version_at("2026-11-20T09:11:30Z")
    assert applied(written, completed).kind == "superseded"
    assert stored(completed, written)["contact"]["lastUpdatedAt"] == "2026-11-20T09:11:30Z"


def test_events_and_records_of_two_sources_meet_on_one_interaction():
    assert change_of(body(CONTACT_EVENTS[0]), source="connect-events").interaction_id == ctr_change().interaction_id


# -- redelivery and native ids -------------------------------------------------------------------------


def test_a_redelivered_event_is_the_same_event_and_changes_nothing():
    for delivery in (body(CONTACT_EVENTS[2]), sample(CONNECTED)):
        (first,), (again,) = events(delivery), events(delivery)
        assert first == again
        state = applied(adapt(first)).new
        assert applied(adapt(again), state=state).kind == "unchanged"


def test_two_bare_details_of_one_contact_and_type_are_two_events():
    updated = [detail("CONTACT_DATA_UPDATED", attributes={"step": str(n)}) for n in (1, 2)]
    first, second = (events(body(d))[0] for d in updated)
    assert first.id != second.id
    assert first.id.startswith(f"amazon-connect-event:{FIRST}/CONTACT_DATA_UPDATED/")


def test_a_file_of_events_is_split_in_order():
    delivery = b"".join(json.dumps(e).encode() for e in CONTACT_EVENTS)  # concatenated, as Firehose writes
    assert [r.native_id for r in split(delivery, "application/json")] == ["e-1", "e-2", "e-3", "e-4", "e-5"]


# -- channels, missing and unknown -------------------------------------------------------------------------


def test_a_chat_event_is_a_chat_and_a_task_event_a_task():
    chat = stored(change_of(body(detail("QUEUED", channel="CHAT", initiationMethod="API", queueInfo=QUEUED))))
    assert chat["@type"] == "ChatInteraction" and chat["channel"][0]["id"] == "chat"
    assert chat["direction"] == "inbound" and chat["description"] == "Inbound chat, queued"
    task = stored(change_of(body(detail("INITIATED", channel="TASK", initiationMethod="API"))))
    assert task["@type"] == "TaskInteraction" and task["channel"][0]["id"] == "task"


def test_an_event_type_aws_adds_later_is_taken_as_progress():
    doc = stored(change_of(body(detail("AMD_DISABLED"))))
    assert doc["status"] == "inProgress" and doc["contact"]["eventType"] == "AMD_DISABLED"


def test_an_event_that_names_no_moment_takes_its_eventbridge_time_or_its_arrival():
    bare = detail("CONNECTED_TO_AGENT", initiationTimestamp=None, connectedToSystemTimestamp=None)
    (sent,) = split(body(eventbridge(bare, "e-9", "2026-11-20T09:01:31Z")), "application/json")
    assert sent.time == "2026-11-20T09:01:31Z"
    doc = stored(change_of(body(bare)))
    assert doc["interactionDate"] == {"startDateTime": RECEIVED}


def test_contact_attributes_of_an_event_are_kept():
    doc = stored(change_of(body(detail("CONTACT_DATA_UPDATED", attributes={"intent": "MOVING"}))))
    assert doc["contact"]["attributes"] == {"intent": "MOVING"}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"eventType": None}, "eventType: missing"),
        ({"instanceArn": None}, "InstanceARN: missing"),
        ({"channel": "SMS"}, "channel: unknown value 'SMS'"),
        ({"queueInfo": {"enqueueTimestamp": 5}}, "queueInfo.enqueueTimestamp: expected a string, got a number"),
        ({"initiationMethod": None}, "InitiationMethod: missing"),
        ({"disconnectTimestamp": "soon"}, "disconnectTimestamp: not an ISO 8601 date-time: 'soon'"),
        ({"agentInfo": [AGENT]}, "agentInfo: expected an object, got an array"),
    ],
)
def test_an_event_that_cannot_be_adapted_names_the_field(fields, reason):
    (event,) = events(body(eventbridge(detail("QUEUED", **fields), "e-x", "2026-11-20T09:00:31Z")))
    with pytest.raises(AdapterError, match=f"detail.{reason}"):
        adapt(event)


def test_adapting_is_pure():
    (event,) = events(repaired_disconnected())
    before = copy.deepcopy(event.data)
    assert adapt(event) == adapt(ChannelEvent.from_bytes(event.to_bytes()))
    assert event.data == before


# -- hostile deliveries --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        (b"", "the delivery is empty"),
        (b"{", "contact event 1 is not JSON"),
        (b"[{}]", "contact event 1 is an array, not a JSON object"),
        (b"[" * 100_000, "contact event 1 nests more than 64 levels"),
        (b"{}", "contact event 1: contactId: expected a non-empty string, got null"),
        (
            b'{"detail-type": "Amazon Connect Agent Event", "detail": {}}',
            "detail-type: expected 'Amazon Connect Contact Event'",
        ),
        (
            b'{"detail-type": "Amazon Connect Contact Event", "detail": []}',
            "contact event 1: detail: expected an object, got an array",
        ),
        (
            b'{"detail-type": "Amazon Connect Contact Event", "detail": {}}',
            "detail.contactId: expected a non-empty string",
        ),
        (b'{"detail": {"contactId": "c"}}', "detail-type: expected 'Amazon Connect Contact Event', got None"),
        (b'{"contactId": 7}', "contactId: expected a non-empty string, got a number"),
        (b'{"contactId": "c", "note": "\\udfff"}', "contact event 1 is not JSON: a \\u escape of half"),
    ],
)
def test_a_delivery_that_cannot_be_split_is_a_format_error_naming_the_problem(delivery, message):
    with pytest.raises(FormatError) as raised:
        split(delivery, "application/json")
    assert message in str(raised.value)
