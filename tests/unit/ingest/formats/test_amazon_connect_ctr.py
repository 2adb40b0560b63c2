"""Amazon Connect contact records (ingest/formats/amazon_connect_ctr.py): split, wrap, adapt and
apply, on the published records (a contact and its redelivery) and on records written from the
contact record data model: every channel, transfers and chains, figures, recordings, missing and
null fields, and hostile deliveries."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ingest.adapters import AdapterError, adapt
from ingest.formats import FORMATS, FormatError, wrap
from ingest.formats import amazon_connect_ctr as ctr
from ingest.formats.amazon_connect_ctr import FORMAT, Options, contact_interaction_id, split
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, Change, Outcome, State, apply
from tests.vendor_samples import sample

SOURCE = "connect-ctr"
RECEIVED = "2026-11-20T10:00:00Z"
HREF = "http://h/x/"

CASE1 = "amazon-connect/ctr-voice-inbound-case1.json"
CASE2 = "amazon-connect/ctr-voice-inbound-case2-redelivery.json"
SAMPLE_CONTACT = "6fe40d2a-1a89-4d73-bfcf-5d9c33894f47"
SAMPLE_INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/258252ea-967d-46f9-a510-b7f0bae69eea"

INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
AGENT = f"{INSTANCE}/agent/0a0a0a0a-0000-4000-8000-000000000001"
FIRST, SECOND, THIRD = (f"c0c0c0c0-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))


def record(contact_id: str = FIRST, **fields: Any) -> dict[str, Any]:
    """A voice contact record as the data model describes it; `fields` replace or add fields."""
    written: dict[str, Any] = {
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": contact_id,
        "InstanceARN": INSTANCE,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-11-20T09:00:00Z",
        "ConnectedToSystemTimestamp": "2026-11-20T09:00:01Z",
        "DisconnectTimestamp": "2026-11-20T09:10:00Z",
        "DisconnectReason": "AGENT_DISCONNECT",
        "LastUpdateTimestamp": "2026-11-20T09:12:00Z",
        "CustomerEndpoint": {"Address": "+351210000001", "Type": "TELEPHONE_NUMBER"},
        "SystemEndpoint": {"Address": "+351210000999", "Type": "TELEPHONE_NUMBER"},
        "Queue": {
            "ARN": f"{INSTANCE}/queue/0b0b0b0b-0000-4000-8000-000000000001",
            "Name": "Billing",
            "EnqueueTimestamp": "2026-11-20T09:00:30Z",
            "DequeueTimestamp": "2026-11-20T09:01:30Z",
            "Duration": 60,
        },
        "Agent": {
            "ARN": AGENT,
            "Username": "ana.silva",
            "ConnectedToAgentTimestamp": "2026-11-20T09:01:30Z",
            "AgentInteractionDuration": 480,
            "CustomerHoldDuration": 30,
            "NumberOfHolds": 1,
            "LongestHoldDuration": 30,
            "AfterContactWorkDuration": 90,
            "AfterContactWorkStartTimestamp": "2026-11-20T09:10:00Z",
            "AfterContactWorkEndTimestamp": "2026-11-20T09:11:30Z",
        },
        "Attributes": {"intent": "BILL_DISPUTE"},
        "InitialContactId": None,
        "PreviousContactId": None,
        "NextContactId": None,
        "Recordings": None,
        "Recording": None,
    }
    written.update(fields)
    return written


def body(*records: dict[str, Any], separator: str = "\n") -> bytes:
    return separator.join(json.dumps(r) for r in records).encode()


def events(delivery: bytes, settings: dict[str, Any] | None = None, source: str = SOURCE) -> list[ChannelEvent]:
    """The real path up to adapting: split, then wrap as the ingress does."""
    return [
        wrap(found, FORMAT.id, source, {"name": source, **(settings or {})}, RECEIVED)
        for found in split(delivery, "application/json")
    ]


def applied(*changes: Change, state: State = ABSENT) -> Outcome:
    """The outcome of the last change, applied in order from `state`."""
    outcome = None
    for change in changes:
        outcome = apply(state, change, href=HREF)
        state = outcome.new
    assert outcome is not None
    return outcome


def document(delivery: bytes, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored interaction one record makes, checked to be a valid resource."""
    (event,) = events(delivery, settings)
    doc = applied(adapt(event)).new.doc
    assert doc is not None
    validated_resource(doc)
    return doc


# -- the published records ------------------------------------------------------------------------


def test_the_published_record_is_one_record_of_its_contact_and_revision():
    (found,) = split(sample(CASE1), "application/json")
    assert found.native_id == f"{SAMPLE_CONTACT}@2022-01-05T17:48:35Z"
    assert found.time == "2022-01-05T17:48:35Z"
    (event,) = events(sample(CASE1))
    assert event.id == f"amazon-connect-ctr:{SAMPLE_CONTACT}@2022-01-05T17:48:35Z"
    assert event.type == "amazon-connect-ctr" and event.time == "2022-01-05T17:48:35Z"


def test_the_published_record_makes_a_completed_inbound_call():
    doc = document(sample(CASE1))
    assert doc["id"] == contact_interaction_id(SAMPLE_INSTANCE, SAMPLE_CONTACT)
    assert doc["@type"] == "VoiceCallInteraction"
    assert doc["channel"] == [{"id": "voice", "name": "Contact centre", "role": "primary", "@referredType": "Channel"}]
    assert doc["direction"] == "inbound"
    assert doc["status"] == "completed"
    assert doc["interactionDate"] == {"startDateTime": "2022-01-05T17:12:59Z", "endDateTime": "2022-01-05T17:47:28Z"}
    assert doc["statusChangeDate"] == "2022-01-05T17:47:28Z"
    assert doc["reason"] == "Call to TCC Refrig AC LLA"
    assert doc["description"] == (
        "Inbound call in queue TCC Refrig AC LLA, agent Steve.Lusk, 239 s with the agent, 221 s on hold, "
        "transferred to +18002430000, customer disconnect"
    )
    assert doc["externalIdentifier"] == [
        {"id": SAMPLE_CONTACT, "owner": SOURCE, "externalIdentifierType": "amazon-connect-contact"}
    ]
    # longer than +1 numbers are, yet the number the vendor's example names: kept as its digits
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": "+190011112222", "id": "phone:+190011112222"}]
    assert doc["relatedParty"] == [
        {
            "id": "e7c9afb6-b1e1-4afa-b5b5-d1c9bc752b69",  # the agent's id in its ARN: a path can carry it
            "name": "Steve.Lusk",
            "role": "agent",
            "@referredType": "PartyRole",
        }
    ]
    assert "interactionRelationship" not in doc  # its chain ids are all null


def test_the_published_record_keeps_queue_and_handling_figures_and_attributes():
    contact = document(sample(CASE1))["contact"]
    assert {k: contact[k] for k in ("queue", "waitSeconds", "enqueuedAt", "dequeuedAt", "connectedToAgentAt")} == {
        "queue": "TCC Refrig AC LLA",
        "waitSeconds": 346,
        "enqueuedAt": "2022-01-05T17:14:46Z",
        "dequeuedAt": "2022-01-05T17:20:32Z",
        "connectedToAgentAt": "2022-01-05T17:20:32Z",
    }
    assert (contact["talkSeconds"], contact["holdSeconds"], contact["afterContactWorkSeconds"]) == (239, 221, 5)
    assert contact["handlingSeconds"] == 239 + 221 + 5
    assert (contact["holds"], contact["longestHoldSeconds"]) == (2, 204)
    assert contact["agentHierarchy"] == ["TCC", "TCC ALL"]  # Level3-5 are null
    assert contact["routingProfile"] == "TCC ALL"
    assert contact["disconnectReason"] == "CUSTOMER_DISCONNECT"
    assert contact["systemEndpoint"] == {"address": "+18003335555", "type": "TELEPHONE_NUMBER"}
    assert contact["transferredTo"] == {"address": "+18002430000", "type": "TELEPHONE_NUMBER"}
    assert contact["lastUpdatedAt"] == "2022-01-05T17:48:35Z"
    assert contact["attributes"]["PathCode"] == "8477597_002_00002"
    assert contact["attributes"]["Acct_Code"] == ""  # attributes are kept as written


def test_the_published_recording_is_one_attachment_though_listed_twice():
    assert document(sample(CASE1))["attachment"] == [
        {
            "name": f"{SAMPLE_CONTACT}_20220105T17:20_UTC.wav",
            "attachmentType": "audioRecording",
            "mimeType": "audio/wav",
            "url": "s3://amazon-connect-b278e465e71c/connect/lgeai/CallRecordings/2022/01/05/"
            f"{SAMPLE_CONTACT}_20220105T17:20_UTC.wav",
            "description": "audio recording",
        }
    ]


def test_a_redelivery_of_the_same_revision_is_the_same_event_and_changes_nothing():
    (first,), (again,) = events(sample(CASE1)), events(sample(CASE1))
    assert first == again and adapt(first) == adapt(again)
    stored = applied(adapt(first)).new
    outcome = applied(adapt(again), state=stored)
    assert outcome.kind == "unchanged" and outcome.new == stored


def test_a_later_revision_updates_the_interaction_and_an_older_one_is_superseded():
    (old,), (new,) = events(sample(CASE1)), events(sample(CASE2))
    assert old.id != new.id and new.time == "2022-01-11T03:41:32Z"
    assert adapt(old).interaction_id == adapt(new).interaction_id  # one contact, one interaction

    updated = applied(adapt(old), adapt(new))
    assert updated.kind == "update"
    assert updated.new.doc is not None and updated.new.doc["contact"]["attributes"]["greetingPlayed"] == "false"

    late = applied(adapt(new), adapt(old))
    assert late.kind == "superseded"
    assert late.new.doc == applied(adapt(new)).new.doc  # the later revision stays, whatever came first


@pytest.mark.parametrize("separator", ["", "\n", "\r\n", "  \n\n"], ids=["concatenated", "lf", "crlf", "blank"])
def test_a_firehose_file_of_records_is_split_in_order(separator):
    delivery = sample(CASE1).strip() + separator.encode() + sample(CASE2).strip() + b"\n"
    found = split(delivery, "application/json")
    assert [r.time for r in found] == ["2022-01-05T17:48:35Z", "2022-01-11T03:41:32Z"]
    changes = [adapt(event) for event in events(delivery)]
    both, later = applied(*changes).new.doc, applied(changes[1]).new.doc
    assert both is not None and later is not None
    assert {**both, "creationDate": None} == {**later, "creationDate": None}  # created by the first


def test_the_format_is_registered_without_a_signature():
    assert FORMATS["amazon-connect-ctr"] is FORMAT
    assert FORMAT.media_types == ("application/json",) and not FORMAT.signs and FORMAT.handshake is None


# -- channels and directions -------------------------------------------------------------------------


def test_a_chat_contact_is_a_chat_with_its_transcript():
    transcript = "connect-transcripts/ChatTranscripts/2026/11/20/c0c0c0c0_20261120T09:00_UTC.json"
    doc = document(
        body(
            record(
                Channel="CHAT",
                InitiationMethod="API",
                CustomerEndpoint=None,
                SystemEndpoint=None,
                Recordings=[
                    {"Location": transcript, "MediaStreamType": "CHAT", "StorageType": "S3", "Status": "AVAILABLE"}
                ],
            )
        )
    )
    assert doc["@type"] == "ChatInteraction"
    assert doc["channel"][0]["id"] == "chat" and doc["direction"] == "inbound"  # a chat the customer started
    assert doc["reason"] == "Chat to Billing" and doc["description"].startswith("Inbound chat in queue Billing")
    assert "customerIdentifier" not in doc
    assert doc["attachment"] == [
        {
            "name": "c0c0c0c0_20261120T09:00_UTC.json",
            "attachmentType": "chatTranscript",
            "mimeType": "application/json",
            "url": f"s3://{transcript}",
            "description": "chat recording",
        }
    ]


def test_a_task_is_on_the_task_channel_with_its_name_for_reason():
    doc = document(
        body(record(Channel="TASK", InitiationMethod="API", Name="Refund order 1234", CustomerEndpoint=None))
    )
    assert doc["@type"] == "TaskInteraction"
    assert doc["channel"] == [
        {"id": "task", "name": "Contact centre task", "role": "primary", "@referredType": "Channel"}
    ]
    assert doc["reason"] == "Refund order 1234" and doc["direction"] == "inbound"


def test_an_email_names_its_customer_by_address():
    doc = document(
        body(
            record(
                Channel="EMAIL",
                InitiationMethod="AGENT_REPLY",
                CustomerEndpoint={"Address": "maria@example.com", "Type": "EMAIL_ADDRESS"},
                SystemEndpoint={"Address": "support@example.com", "Type": "EMAIL_ADDRESS"},
                CustomerId="CRM-0042",
            )
        )
    )
    assert doc["@type"] == "EmailInteraction" and doc["channel"][0]["id"] == "email"
    assert doc["direction"] == "outbound"  # an agent's reply
    assert doc["customerIdentifier"] == [
        {"kind": "email", "value": "maria@example.com", "id": "email:maria@example.com"},
        {"kind": "crm", "value": "CRM-0042", "id": "crm:CRM-0042"},
    ]


@pytest.mark.parametrize(
    ("method", "channel", "direction"),
    [
        ("INBOUND", "VOICE", "inbound"),
        ("OUTBOUND", "VOICE", "outbound"),
        ("CALLBACK", "VOICE", "outbound"),
        ("API", "VOICE", "outbound"),  # StartOutboundVoiceContact
        ("API", "CHAT", "inbound"),  # StartChatContact, from the customer's chat
        ("TRANSFER", "VOICE", "inbound"),
        ("QUEUE_TRANSFER", "CHAT", "inbound"),
        ("EXTERNAL_OUTBOUND", "VOICE", "outbound"),
        ("WEBRTC_API", "VOICE", "inbound"),
        ("CAMPAIGN_PREVIEW", "VOICE", "outbound"),
    ],
)
def test_the_initiation_method_gives_the_direction(method, channel, direction):
    assert document(body(record(InitiationMethod=method, Channel=channel)))["direction"] == direction


def test_a_third_partys_or_supervisors_endpoint_is_not_taken_for_the_customer():
    for method in ("EXTERNAL_OUTBOUND", "MONITOR"):
        assert "customerIdentifier" not in document(body(record(InitiationMethod=method)))


def test_the_reason_comes_from_the_sources_reason_attribute_when_the_contact_has_it():
    assert document(body(record()), {"reason_attribute": "intent"})["reason"] == "Bill dispute"
    written = record(Attributes={"intent": "Moving house"})
    assert document(body(written), {"reason_attribute": "intent"})["reason"] == "Moving house"
    assert document(body(record(Attributes={})), {"reason_attribute": "intent"})["reason"] == "Call to Billing"
    assert Options.model_validate({"reason_attribute": "intent"}).reason_attribute == "intent"
    with pytest.raises(ValueError, match="reason_atribute"):
        Options.model_validate({"reason_atribute": "intent"})


# -- transfers and chains ------------------------------------------------------------------------------


def test_a_transfer_is_a_second_interaction_related_to_the_first_both_ways():
    transferred = record(FIRST, NextContactId=SECOND)
    taken = record(
        SECOND,
        InitiationMethod="TRANSFER",
        PreviousContactId=FIRST,
        InitialContactId=FIRST,
        InitiationTimestamp="2026-11-20T09:09:00Z",
    )
    first, second = (adapt(event) for event in events(body(transferred, taken)))
    assert first.interaction_id != second.interaction_id
    first_doc, second_doc = applied(first).new.doc, applied(second).new.doc
    assert first_doc is not None and second_doc is not None
    assert first_doc["interactionRelationship"] == [{"id": second.interaction_id, "relationshipType": "transferredTo"}]
    # the initial contact is the previous one here: related once
    assert second_doc["interactionRelationship"] == [
        {"id": first.interaction_id, "relationshipType": "transferredFrom"}
    ]
    assert second_doc["direction"] == "inbound"


def test_a_contact_later_in_a_chain_relates_to_the_one_before_and_the_first():
    third = adapt(
        events(
            body(record(THIRD, InitiationMethod="QUEUE_TRANSFER", PreviousContactId=SECOND, InitialContactId=FIRST))
        )[0]
    )
    assert third.body["interactionRelationship"] == [
        {"id": contact_interaction_id(INSTANCE, SECOND), "relationshipType": "transferredFrom"},
        {"id": contact_interaction_id(INSTANCE, FIRST), "relationshipType": "initialContact"},
    ]


def test_a_callback_follows_up_the_contact_that_asked_for_it():
    (event,) = events(
        body(record(SECOND, InitiationMethod="CALLBACK", PreviousContactId=FIRST, InitialContactId=FIRST))
    )
    change = adapt(event)
    assert change.body["direction"] == "outbound"
    assert change.body["interactionRelationship"] == [
        {"id": contact_interaction_id(INSTANCE, FIRST), "relationshipType": "followsUp"}
    ]


def test_a_task_made_for_a_contact_relates_to_it():
    (event,) = events(body(record(SECOND, Channel="TASK", InitiationMethod="API", RelatedContactId=FIRST)))
    assert adapt(event).body["interactionRelationship"] == [
        {"id": contact_interaction_id(INSTANCE, FIRST), "relationshipType": "relatedTo"}
    ]


def test_the_interaction_id_is_the_instances_not_the_sources():
    (one,), (other,) = events(body(record()), source="connect-a"), events(body(record()), source="connect-b")
    assert adapt(one).interaction_id == adapt(other).interaction_id == contact_interaction_id(INSTANCE, FIRST)
    # the instance's id decides, however its ARN is written
    assert contact_interaction_id(f"{INSTANCE}", FIRST) == contact_interaction_id(
        "arn:aws:connect:eu-west-2:111122223333:instance/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee/", FIRST
    )


# -- dates, figures, recordings ------------------------------------------------------------------------


def test_handling_ends_with_after_contact_work_when_that_ends_later():
    doc = document(body(record()))
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T09:00:00Z", "endDateTime": "2026-11-20T09:11:30Z"}
    assert doc["contact"]["handlingSeconds"] == 480 + 30 + 90
    assert doc["contact"]["afterContactWorkEndedAt"] == "2026-11-20T09:11:30Z"


def test_a_record_without_a_disconnection_is_in_progress():
    doc = document(body(record(DisconnectTimestamp=None, DisconnectReason=None)))
    assert doc["status"] == "inProgress"
    assert doc["interactionDate"] == {"startDateTime": "2026-11-20T09:00:00Z"}
    assert doc["statusChangeDate"] == "2026-11-20T09:00:00Z"


def test_a_contact_no_agent_took_has_no_agent_and_no_figures():
    doc = document(body(record(Agent=None, Queue=None, Attributes=None, CustomerEndpoint=None, SystemEndpoint=None)))
    assert doc["relatedParty"] == [] and doc["status"] == "completed"
    assert doc["interactionDate"]["endDateTime"] == "2026-11-20T09:10:00Z"
    assert doc["reason"] == "Call to the contact centre"
    assert not {"talkSeconds", "handlingSeconds", "queue", "attributes"} & set(doc["contact"])


def test_a_record_with_only_the_fields_it_needs_is_enough():
    minimal = {
        "ContactId": FIRST,
        "InstanceARN": INSTANCE,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-11-20T09:00:00Z",
        "LastUpdateTimestamp": "2026-11-20T09:00:05Z",
    }
    doc = document(body(minimal))
    assert doc["status"] == "inProgress" and doc["relatedParty"] == []
    assert doc["contact"] == {
        "contactId": FIRST,
        "channel": "VOICE",
        "initiationMethod": "INBOUND",
        "instance": INSTANCE,
        "lastUpdatedAt": "2026-11-20T09:00:05Z",
    }


def test_recordings_in_s3_and_in_kinesis_video_are_referenced_as_stored():
    stream = "arn:aws:kinesisvideo:eu-west-2:111122223333:stream/connect-live-media/1"
    doc = document(
        body(
            record(
                Recordings=[
                    {"Location": "bucket/rec/a.wav", "MediaStreamType": "AUDIO", "ParticipantType": "AGENT"},
                    {"Location": stream, "MediaStreamType": "AUDIO", "StorageType": "KINESIS_VIDEO_STREAM"},
                    {
                        "Location": "bucket/rec/b.mp4",
                        "MediaStreamType": "VIDEO",
                        "Status": "DELETED",
                        "DeletionReason": "Retention",
                    },
                    None,
                ],
                Recording={"Location": "bucket/rec/a.wav", "Type": "AUDIO", "Status": "AVAILABLE"},
            )
        )
    )
    assert [(a["url"], a["attachmentType"], a.get("mimeType"), a["description"]) for a in doc["attachment"]] == [
        ("s3://bucket/rec/a.wav", "audioRecording", "audio/wav", "audio recording, agent"),
        (stream, "audioRecording", None, "audio recording"),
        ("s3://bucket/rec/b.mp4", "videoRecording", "video/mp4", "video recording, deleted, Retention"),
    ]


# -- records that cannot be adapted ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"InitiationMethod": "TELEPATHY"}, "InitiationMethod: unknown value 'TELEPATHY'"),
        ({"Channel": "FAX"}, "Channel: unknown value 'FAX'"),
        ({"Channel": None}, "Channel: missing"),
        ({"InstanceARN": None}, "InstanceARN: missing"),
        ({"InitiationTimestamp": "yesterday"}, "InitiationTimestamp: not an ISO 8601 date-time: 'yesterday'"),
        ({"Agent": "ana"}, "Agent: expected an object, got a string"),
        (
            {"Agent": {"ARN": AGENT, "AgentInteractionDuration": "480"}},
            "Agent.AgentInteractionDuration: expected a number",
        ),
        ({"Agent": {"ARN": AGENT, "CustomerHoldDuration": -1}}, "Agent.CustomerHoldDuration: expected a number"),
        ({"Queue": {"Name": 7}}, "Queue.Name: expected a string, got a number"),
        ({"Recordings": {"Location": "x"}}, "Recordings: expected an array, got an object"),
        ({"Recordings": ["x"]}, "Recordings.0: expected an object, got a string"),
        ({"Attributes": ["a"]}, "Attributes: expected an object, got an array"),
        ({"DisconnectTimestamp": "2026-11-20T08:00:00Z", "Agent": None}, "endDateTime is before startDateTime"),
    ],
)
def test_a_record_that_cannot_be_adapted_names_the_field(fields, reason):
    (event,) = events(body(record(**fields)))
    with pytest.raises(AdapterError, match=reason.replace("(", r"\(")):
        adapt(event)


def test_adapting_is_pure():
    (event,) = events(sample(CASE1))
    before = copy.deepcopy(event.data)
    assert adapt(event) == adapt(ChannelEvent.from_bytes(event.to_bytes()))
    assert event.data == before


# -- hostile deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        (b"", "the delivery is empty"),
        (b" \n\t ", "the delivery is empty"),
        (b"not json", "contact record 1 is not JSON: Expecting value (line 1 column 1)"),
        (b"[]", "contact record 1 is an array, not a JSON object"),
        (b'"ContactId"', "contact record 1 is a string, not a JSON object"),
        (b"42", "contact record 1 is a number, not a JSON object"),
        (b"null", "contact record 1 is null, not a JSON object"),
        (b'{"ContactId": "c", "LastUpdateTimestamp": "2026-11-20T09:00:00Z"', "contact record 1 is not JSON"),
        (b'{"ContactId": "c", "LastUpdateTimestamp": "2026-11-20T09:00:00Z"} x', "contact record 2 is not JSON"),
        (b'{"ContactId": "c", "LastUpdateTimestamp": "2026-11-20T09:00:00Z"},{}', "contact record 2 is not JSON"),
        (b'{"ContactId": NaN}', "contact record 1 is not JSON: NaN is not a JSON number"),
        (b'{"ContactId": 1' + b"0" * 5000 + b"}", "contact record 1 is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "contact record 1 nests more than 64 levels"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "contact record 1 nests more than 64 levels"),
        (b"\xff\xfe{}", "the delivery is not UTF-8 (byte 0)"),
        (
            b'{"ContactId": "c\\ud800", "LastUpdateTimestamp": "x"}',
            "contact record 1 is not JSON: a \\u escape of half",
        ),
        (
            b'{"LastUpdateTimestamp": "2026-11-20T09:00:00Z"}',
            "contact record 1: ContactId: expected a non-empty string, got null",
        ),
        (
            b'{"ContactId": " ", "LastUpdateTimestamp": "2026-11-20T09:00:00Z"}',
            "ContactId: expected a non-empty string",
        ),
        (b'{"ContactId": "c"}', "contact record 1: LastUpdateTimestamp: expected an ISO 8601 date-time"),
        (
            b'{"ContactId": "c", "LastUpdateTimestamp": 1700000000}',
            "LastUpdateTimestamp: expected an ISO 8601 date-time",
        ),
    ],
)
def test_a_delivery_that_cannot_be_split_is_a_format_error_naming_the_problem(delivery, message):
    with pytest.raises(FormatError) as raised:
        split(delivery, "application/json")
    assert message in str(raised.value)


def test_a_delivery_of_more_records_than_the_bound_is_refused_before_reading_them_all():
    one = b'{"ContactId": "c", "LastUpdateTimestamp": "2026-11-20T09:00:00Z"}'
    with pytest.raises(FormatError, match="more than 10000 records"):
        split(one * 10_001, "application/json")
    assert len(split(one * 10_000, "application/json")) == 10_000


def test_a_delivery_larger_than_the_bound_is_refused(monkeypatch):
    monkeypatch.setattr(ctr, "MAX_BODY_BYTES", 1024)
    with pytest.raises(FormatError, match="larger than 1024 bytes"):
        split(sample(CASE1), "application/json")


def test_a_surrogate_pair_escaped_in_a_record_is_text_like_any_other():
    written = body(record(Attributes={"mood": "\U0001f600"}))  # json.dumps escapes it as a pair
    assert b"\\ud83d\\ude00" in written
    assert document(written)["contact"]["attributes"] == {"mood": "\U0001f600"}


def test_a_byte_order_mark_before_a_record_is_allowed():
    assert len(split(b"\xef\xbb\xbf" + sample(CASE1), "application/json")) == 1
