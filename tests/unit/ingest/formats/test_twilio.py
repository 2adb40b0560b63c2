"""The `twilio` format: Programmable Messaging and Voice webhooks, through the real path (split ->
wrap -> adapt -> storage.changes.apply), and X-Twilio-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from ingest.adapters import AdapterError, adapt
from ingest.formats import FormatError, Record, SignedRequest, wrap
from ingest.formats.twilio import FORM, FORMAT, MAX_BODY_BYTES, MAX_FIELDS, split, verify
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, Change, State, apply
from tests.vendor_samples import sample

SOURCE = "test-source"
SETTINGS = {"name": SOURCE, "phone_region": "US"}
RECEIVED = "2026-11-20T10:00:00Z"
TOKEN = "auth-token-of-the-test-account"
MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
BUSINESS = "+15005550006"
CUSTOMER = "+351912345678"


def form_of(name: str) -> dict[str, str]:
    """The form fields of a sample (JSON {headers, form}: what Twilio posts, before url-encoding)."""
    fields: dict[str, str] = json.loads(sample(name))["form"]
    return fields


def events(fields: dict[str, str], received: str = RECEIVED) -> list[ChannelEvent]:
    records = split(urlencode(fields).encode(), FORM)
    return [wrap(record, FORMAT.id, SOURCE, SETTINGS, received=received) for record in records]


def change_of(fields: dict[str, str], received: str = RECEIVED) -> Change:
    [event] = events(fields, received)
    return adapt(event)


def fold(*deliveries: tuple[dict[str, str], str], state: State = ABSENT) -> State:
    """Each delivery (form fields, when received) applied in turn; the interaction at the end."""
    for fields, received in deliveries:
        state = apply(state, change_of(fields, received), href="http://h/x/").new
    assert state.doc is not None
    validated_resource(state.doc)  # raises if the interaction is not a valid TMF683 resource
    return state


def document(*deliveries: tuple[dict[str, str], str]) -> dict[str, Any]:
    doc = fold(*deliveries).doc
    assert doc is not None
    return doc


def at(second: int) -> str:
    return f"2026-11-20T10:00:{second:02d}Z"


def status_callback(status: str, **extra: str) -> dict[str, str]:
    """A status callback of an outbound SMS, as Twilio posts it to the message's StatusCallback."""
    return {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "ApiVersion": "2010-04-01",
        "From": BUSINESS,
        "To": CUSTOMER,
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        **extra,
    }


def call(status: str, **extra: str) -> dict[str, str]:
    """A voice webhook of an inbound call (the incoming call webhook has no Timestamp)."""
    return {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "ApiVersion": "2010-04-01",
        "CallSid": CALL_SID,
        "CallStatus": status,
        "Direction": "inbound",
        "From": CUSTOMER,
        "To": BUSINESS,
        "Caller": CUSTOMER,
        "Called": BUSINESS,
        **extra,
    }


# -- the vendor's samples -------------------------------------------------------------------------


def test_the_inbound_sms_sample_is_a_completed_inbound_text_message() -> None:
    fields = form_of("twilio/inbound-sms-webhook.json")
    [event] = events(fields)
    assert event.id == "twilio:SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@received"
    assert event.time == RECEIVED  # an inbound message carries no time: the delivery's is used

    doc = document((fields, RECEIVED))

    assert doc["id"] == interaction_id("urn:ihub:source:test-source", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert doc["@type"] == "MessagingInteraction"
    assert [c["id"] for c in doc["channel"]] == ["messaging"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "completed", "Text message")
    assert doc["description"] == "Text message from +15017122661"
    assert doc["interactionDate"] == {"startDateTime": RECEIVED, "endDateTime": RECEIVED}
    assert doc["externalIdentifier"] == [
        {"id": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "owner": SOURCE, "externalIdentifierType": "message"}
    ]
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": "+15017122661", "id": "phone:+15017122661"}]
    assert doc["relatedParty"] == []
    assert doc["note"] == [{"author": "+15017122661", "text": "Ahoy"}]
    assert "attachment" not in doc  # NumMedia 0
    assert doc["message"] == {
        "messageSid": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "channel": "sms",
        "from": "+15017122661",
        "to": "+15558675310",
        "body": "Ahoy",
        "accountSid": "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "numMedia": 0,
        "numSegments": 1,
        "statusHistory": {"received": {"at": RECEIVED}},
    }


def test_the_incoming_call_sample_is_a_ringing_inbound_call() -> None:
    sampled = json.loads(sample("twilio/incoming-call-webhook.json"))
    # the sample's Content-Type carries a charset, which the ingress drops before choosing the format
    media_type = sampled["headers"]["Content-Type"].split(";")[0].strip().lower()
    [record] = split(urlencode(sampled["form"]).encode(), media_type)
    event = wrap(record, FORMAT.id, SOURCE, SETTINGS, received=RECEIVED)
    assert record.time is None and event.time == RECEIVED

    state = apply(ABSENT, adapt(event), href="http://h/x/").new
    assert state.doc is not None
    doc = validated_resource(state.doc)

    assert doc["@type"] == "VoiceCallInteraction"
    assert [c["id"] for c in doc["channel"]] == ["voice"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "inProgress", "Phone call")
    assert doc["interactionDate"] == {"startDateTime": RECEIVED}  # not ended
    assert doc["externalIdentifier"] == [
        {"id": "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "owner": SOURCE, "externalIdentifierType": "call"}
    ]
    # From is the caller (the sample's Caller/Called are the other way round: the customer is From)
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": "+15017122661", "id": "phone:+15017122661"}]
    assert doc["call"]["statusHistory"] == {"ringing": RECEIVED}
    assert "callerName" not in doc["call"]  # blank fields (CallToken "") are absent, not empty


def test_the_samples_unsigned_header_is_refused_and_a_signed_one_holds() -> None:
    sampled = json.loads(sample("twilio/inbound-sms-webhook.json"))
    url = "https://ihub.example.com/ingest/v1/sources/twilio-us"
    body = urlencode(sampled["form"]).encode()
    headers = {name.lower(): value for name, value in sampled["headers"].items()}
    assert headers["x-twilio-signature"] == ""
    assert not verify(SignedRequest("POST", url, headers, body, form_fields(sampled["form"])), TOKEN)

    headers["x-twilio-signature"] = twilio_signature(TOKEN, url, sampled["form"])
    assert verify(SignedRequest("POST", url, headers, body, form_fields(sampled["form"])), TOKEN)


# -- messages ---------------------------------------------------------------------------------------


def test_an_outbound_message_is_settled_by_its_delivery_whatever_order_the_callbacks_arrive_in() -> None:
    statuses = ["queued", "sent", "delivered"]
    outcomes = []
    for order in itertools.permutations(statuses):
        doc = document(*((status_callback(status), at(second)) for second, status in enumerate(order)))
        assert doc["status"] == "completed", order
        assert doc["direction"] == "outbound"
        assert set(doc["message"]["statusHistory"]) == set(statuses)
        assert doc["customerIdentifier"] == [{"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}]
        assert doc["description"] == f"Text message to {CUSTOMER}"
        assert doc["externalIdentifier"] == [{"id": MESSAGE_SID, "owner": SOURCE, "externalIdentifierType": "message"}]
        outcomes.append(doc["interactionDate"]["startDateTime"])
    assert outcomes[0] == at(0)  # queued, sent, delivered: from the first callback received


def test_the_dates_of_a_message_run_from_its_first_callback_to_the_one_that_settled_it() -> None:
    doc = document(
        (status_callback("queued"), at(1)), (status_callback("sent"), at(2)), (status_callback("delivered"), at(5))
    )
    assert doc["interactionDate"] == {"startDateTime": at(1), "endDateTime": at(5)}
    assert doc["message"]["statusHistory"] == {
        "queued": {"at": at(1)},
        "sent": {"at": at(2)},
        "delivered": {"at": at(5)},
    }


def test_a_late_sent_callback_does_not_undo_a_failure() -> None:
    doc = document(
        (status_callback("undelivered", ErrorCode="30003"), at(4)),
        (status_callback("sent"), at(9)),  # received later than the failure, but it happened before
    )
    assert doc["status"] == "failed"
    assert doc["message"]["statusHistory"]["undelivered"] == {"at": at(4), "errorCode": "30003"}
    assert doc["message"]["statusHistory"]["sent"] == {"at": at(9)}


def test_a_failed_message_is_failed_with_its_error_code() -> None:
    doc = document((status_callback("queued"), at(1)), (status_callback("failed", ErrorCode="30008"), at(2)))
    assert doc["status"] == "failed"
    assert doc["message"]["statusHistory"]["failed"]["errorCode"] == "30008"
    assert doc["interactionDate"]["endDateTime"] == at(2)


def test_a_message_only_on_its_way_has_no_status_yet() -> None:
    doc = document((status_callback("queued"), at(1)), (status_callback("sent"), at(2)))
    assert "status" not in doc
    assert "endDateTime" not in doc["interactionDate"]
    assert set(doc["message"]["statusHistory"]) == {"queued", "sent"}


def test_a_status_before_the_message_keeps_the_body_that_comes_after() -> None:
    """A delivery receipt first, then a record that carries the message's body and media."""
    with_body = status_callback(
        "queued",
        Body="Your bill is ready",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/m/ME1",
        MediaContentType0="application/pdf",
    )
    doc = document((status_callback("delivered"), at(5)), (with_body, at(6)))
    assert doc["status"] == "completed"  # the later `queued` settles nothing
    assert doc["message"]["body"] == "Your bill is ready"
    assert doc["note"] == [{"author": BUSINESS, "text": "Your bill is ready"}]
    assert doc["attachment"] == [
        {
            "name": "media 0",
            "url": "https://api.twilio.com/m/ME1",
            "mimeType": "application/pdf",
            "attachmentType": "application",
        }
    ]


def test_an_mms_is_referred_to_by_its_media_urls_never_their_bytes() -> None:
    fields = form_of("twilio/inbound-sms-webhook.json") | {
        "NumMedia": "3",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "MediaContentType0": "image/jpeg",
        "MediaUrl2": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME3",
        "MediaContentType2": "video/mp4",
    }  # MediaUrl1 is missing: only what is there is referred to
    doc = document((fields, RECEIVED))
    assert doc["attachment"] == [
        {"name": "media 0", "url": fields["MediaUrl0"], "mimeType": "image/jpeg", "attachmentType": "image"},
        {"name": "media 1", "url": fields["MediaUrl2"], "mimeType": "video/mp4", "attachmentType": "video"},
    ]
    assert doc["message"]["numMedia"] == 3


def test_a_whatsapp_message_names_the_customer_by_number_and_whatsapp_id() -> None:
    fields = {
        "MessageSid": MESSAGE_SID,
        "SmsMessageSid": MESSAGE_SID,
        "SmsStatus": "received",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": f"whatsapp:{CUSTOMER}",
        "To": "whatsapp:+14155238886",
        "Body": "Is my order on its way?",
        "NumMedia": "0",
        "ProfileName": "Maria",
        "WaId": CUSTOMER.removeprefix("+"),
        "MessageType": "text",
        "OriginalRepliedMessageSid": "SMfedcba9876543210fedcba9876543210",
    }
    doc = document((fields, RECEIVED))
    assert (doc["reason"], doc["status"], doc["direction"]) == ("WhatsApp message", "completed", "inbound")
    assert doc["description"] == f"WhatsApp message from {CUSTOMER}"
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CUSTOMER, "scheme": "whatsapp", "id": "phone:+351912345678"},
        {
            "kind": "platform",
            "value": "351912345678",
            "scheme": "whatsapp-user-id",
            "id": "whatsapp-user-id:351912345678",
        },
    ]
    assert doc["interactionRelationship"] == [
        {
            "id": interaction_id("urn:ihub:source:test-source", "SMfedcba9876543210fedcba9876543210"),
            "relationshipType": "followsUp",
        }
    ]
    assert doc["message"]["channel"] == "whatsapp"
    assert doc["message"]["profileName"] == "Maria"
    assert doc["note"] == [{"author": CUSTOMER, "text": "Is my order on its way?"}]


def test_a_whatsapp_message_read_after_delivery_stays_completed() -> None:
    def whatsapp(status: str) -> dict[str, str]:
        return status_callback(status, From="whatsapp:+14155238886", To=f"whatsapp:{CUSTOMER}")

    doc = document((whatsapp("read"), at(3)), (whatsapp("sent"), at(4)), (whatsapp("delivered"), at(5)))
    assert doc["status"] == "completed"
    assert set(doc["message"]["statusHistory"]) == {"sent", "delivered", "read"}
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CUSTOMER, "scheme": "whatsapp", "id": "phone:+351912345678"}
    ]


def test_a_redelivered_webhook_is_the_same_event_and_the_same_change() -> None:
    fields = form_of("twilio/inbound-sms-webhook.json")
    [first], [again] = events(fields), events(fields)
    assert first == again
    assert adapt(first) == adapt(again)
    state = fold((fields, RECEIVED))
    assert apply(state, adapt(again), href="http://h/x/").kind == "unchanged"


def test_the_sms_status_aliases_are_read_when_message_status_is_absent() -> None:
    fields = {k: v for k, v in status_callback("delivered").items() if k not in ("MessageSid", "MessageStatus")}
    doc = document((fields, RECEIVED))
    assert doc["status"] == "completed"
    assert doc["externalIdentifier"][0]["id"] == MESSAGE_SID


# -- calls --------------------------------------------------------------------------------------


def test_a_call_completes_with_its_duration_and_twilios_time() -> None:
    completed = call("completed", CallDuration="42", Timestamp="Fri, 20 Nov 2026 10:05:00 +0000", SequenceNumber="1")
    [event] = events(completed)
    assert event.time == "2026-11-20T10:05:00+00:00"  # Twilio's Timestamp, not the time received
    assert event.id == f"twilio:{CALL_SID}@completed@2026-11-20T10:05:00+00:00"

    doc = document((call("ringing", CallerName="MARIA SILVA"), at(1)), (completed, at(59)))
    assert (doc["status"], doc["direction"]) == ("completed", "inbound")
    assert doc["interactionDate"] == {"startDateTime": at(1), "endDateTime": "2026-11-20T10:05:00+00:00"}
    assert doc["description"] == f"Call from {CUSTOMER} to {BUSINESS}, completed after 42 s"
    assert doc["call"]["durationSeconds"] == 42 and doc["call"]["handlingSeconds"] == 42
    assert doc["call"]["callerName"] == "MARIA SILVA"
    assert doc["call"]["statusHistory"] == {"ringing": at(1), "completed": "2026-11-20T10:05:00+00:00"}
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}]


def test_a_call_completed_before_its_ringing_webhook_arrives_stays_completed() -> None:
    completed = call("completed", CallDuration="42", Timestamp="Fri, 20 Nov 2026 10:05:00 +0000")
    doc = document((completed, at(59)), (call("ringing"), at(1)))
    assert doc["status"] == "completed"
    assert doc["interactionDate"] == {"startDateTime": at(1), "endDateTime": "2026-11-20T10:05:00+00:00"}


def test_a_call_known_only_by_its_end_starts_its_duration_before() -> None:
    doc = document((call("completed", CallDuration="90", Timestamp="Fri, 20 Nov 2026 10:05:00 +0000"), RECEIVED))
    assert doc["interactionDate"] == {
        "startDateTime": "2026-11-20T10:03:30+00:00",
        "endDateTime": "2026-11-20T10:05:00+00:00",
    }


def test_a_later_call_status_updates_the_call() -> None:
    answered = call("in-progress", Timestamp="Fri, 20 Nov 2026 10:01:00 +0000")
    state = fold((answered, RECEIVED))
    assert state.doc is not None and state.doc["status"] == "inProgress"
    ended = call("completed", CallDuration="30", Timestamp="Fri, 20 Nov 2026 10:01:30 +0000")
    state = fold((ended, RECEIVED), state=state)
    assert state.doc is not None and state.doc["status"] == "completed"
    # the earlier status, delivered again, changes nothing that a later one set
    again = fold((answered, RECEIVED), state=state)
    assert again.doc is not None and again.doc["status"] == "completed"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("busy", "cancelled"), ("no-answer", "cancelled"), ("canceled", "cancelled"), ("failed", "failed")],
)
def test_an_outbound_call_that_did_not_connect(status: str, expected: str) -> None:
    fields = call(
        status, Direction="outbound-api", From=BUSINESS, To=CUSTOMER, Timestamp="Fri, 20 Nov 2026 10:00:30 +0000"
    )
    doc = document((fields, RECEIVED))
    assert (doc["status"], doc["direction"]) == (expected, "outbound")
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}
    ]  # the called party
    assert doc["description"] == f"Call from {BUSINESS} to {CUSTOMER}, {status}"


def test_a_dialled_leg_and_its_parent_call_point_at_each_other() -> None:
    child_sid = "CAfedcba9876543210fedcba9876543210"
    parent = document(
        (call("in-progress", DialCallSid=child_sid, DialCallStatus="completed", DialCallDuration="25"), RECEIVED)
    )
    child_fields = call(
        "completed",
        CallSid=child_sid,
        Direction="outbound-dial",
        ParentCallSid=CALL_SID,
        From=BUSINESS,
        To="+351210000000",
    ) | {"CallDuration": "25", "Timestamp": "Fri, 20 Nov 2026 10:02:00 +0000"}
    child = document((child_fields, RECEIVED))
    assert parent["interactionRelationship"] == [{"id": child["id"], "relationshipType": "transferredTo"}]
    assert child["interactionRelationship"] == [{"id": parent["id"], "relationshipType": "transferredFrom"}]
    assert parent["call"]["dialCallStatus"] == "completed" and parent["call"]["dialCallDurationSeconds"] == 25
    assert child["direction"] == "outbound"


@pytest.mark.parametrize(
    ("caller", "identifiers"),
    [
        pytest.param(
            "sip:maria@pbx.example.com",
            [
                {
                    "kind": "platform",
                    "value": "sip:maria@pbx.example.com",
                    "scheme": "sip",
                    "id": "sip:maria@pbx.example.com",  # the key the directory looks up for this contact
                }
            ],
        ),
        (
            "client:maria",
            [{"kind": "platform", "value": "maria", "scheme": "twilio-client", "id": "twilio-client:maria"}],
        ),
        ("+266696687", []),  # Twilio's ANONYMOUS: never one customer's
        ("", []),
    ],
)
def test_a_caller_that_is_not_a_phone_number(caller: str, identifiers: list[dict[str, str]]) -> None:
    doc = document((call("ringing", From=caller, Caller=caller), RECEIVED))
    assert doc["customerIdentifier"] == identifiers


def test_a_call_without_numbers_is_still_a_call() -> None:
    fields = {"CallSid": CALL_SID, "CallStatus": "ringing", "Direction": "inbound"}
    doc = document((fields, RECEIVED))
    assert doc["description"] == "Call from an unknown number to an unknown number"
    assert doc["customerIdentifier"] == []


def test_two_webhooks_of_one_call_status_without_twilios_time_are_two_records() -> None:
    """e.g. the incoming call webhook and a <Gather> action: told apart by their content."""
    [incoming] = events(call("in-progress"))
    [gathered] = events(call("in-progress", Digits="1"))
    assert incoming.id != gathered.id
    assert events(call("in-progress"))[0].id == incoming.id


# -- what cannot be used ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (call("ringing", CallStatus="exploded"), "data.CallStatus: unknown value 'exploded'"),
        ({k: v for k, v in call("ringing").items() if k != "Direction"}, "data.Direction: missing"),
        (call("ringing", Direction="sideways"), "data.Direction: unknown value 'sideways'"),
        (call("completed", CallDuration="forty"), "data.CallDuration: expected a whole number"),
        (status_callback("exploded"), "data.MessageStatus: unknown value 'exploded'"),
        ({k: v for k, v in status_callback("sent").items() if k != "To"}, "data.To: missing"),
        (status_callback("delivered", From=""), "data.From: missing"),
        (form_of("twilio/inbound-sms-webhook.json") | {"NumMedia": "-1"}, "data.NumMedia: expected a whole number"),
    ],
)
def test_an_unusable_record_is_an_adapter_error_naming_the_field(fields: dict[str, str], reason: str) -> None:
    [event] = events(fields)
    with pytest.raises(AdapterError, match=re.escape(reason)):
        adapt(event)


def test_a_recording_callback_is_not_a_call_status() -> None:
    recording = {
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "CallSid": CALL_SID,
        "RecordingSid": "RE0123456789abcdef0123456789abcdef",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
    }
    [event] = events(recording)
    with pytest.raises(AdapterError, match=re.escape("data.CallStatus: missing")):
        adapt(event)


def test_a_record_of_the_wrong_types_is_an_adapter_error() -> None:
    record = Record(f"{MESSAGE_SID}@sent", None, {"MessageSid": MESSAGE_SID, "MessageStatus": ["sent"], "From": 1})
    with pytest.raises(AdapterError, match=re.escape("data.MessageStatus: expected a string")):
        adapt(wrap(record, FORMAT.id, SOURCE, SETTINGS, received=RECEIVED))
    record = Record("SM1@sent", None, {"MessageSid": {"sid": "SM1"}, "MessageStatus": "sent"})
    with pytest.raises(AdapterError, match=re.escape("data.MessageSid: expected a string")):
        adapt(wrap(record, FORMAT.id, SOURCE, SETTINGS, received=RECEIVED))


@pytest.mark.parametrize(
    ("body", "media_type", "problem"),
    [
        (b"", FORM, "the form is empty"),
        (b"MessageSid", FORM, "not a form body"),
        (b'{"MessageSid": "SM1", "SmsStatus": "received"}', FORM, "not a form body"),
        (b"MessageSid=SM1&SmsStatus=received&", FORM, "not a form body"),  # truncated
        (b"MessageSid=SM1&SmsStat", FORM, "not a form body"),  # truncated
        (b"MessageSid=SM1&SmsStatus=\xff\xfe", FORM, "not UTF-8"),
        (b"MessageSid=SM1&SmsStatus=received", "application/json", "not 'application/json'"),
        (b"AccountSid=AC1&Body=hi", FORM, "no MessageSid or CallSid"),
        (b"MessageSid=SM1&Body=hi", FORM, "without MessageStatus or SmsStatus"),
        (b"CallSid=CA1&CallStatus=completed&Timestamp=yesterday", FORM, "Timestamp: not an RFC 2822 date"),
        (b"CallSid=CA1&CallStatus=completed&Timestamp=Fri, 20 Nov 99999 10:00:00 +0000", FORM, "not an RFC 2822"),
        ("&".join(f"f{n}=1" for n in range(MAX_FIELDS + 1)).encode(), FORM, "not a form body"),
        (b"Body=" + b"x" * MAX_BODY_BYTES, FORM, f"at most {MAX_BODY_BYTES} bytes"),
        (b"a" + b"[" * 100_000 + b"=1", FORM, "no MessageSid or CallSid"),  # deep-looking names are only names
    ],
)
def test_hostile_deliveries_are_format_errors_naming_the_problem(body: bytes, media_type: str, problem: str) -> None:
    with pytest.raises(FormatError, match=re.escape(problem)):
        split(body, media_type)


def test_a_delivery_is_one_record() -> None:
    assert len(split(urlencode(form_of("twilio/inbound-sms-webhook.json")).encode(), FORM)) == 1


def test_twilio_is_answered_with_empty_twiml() -> None:
    assert FORMAT.answer == ("text/xml", b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    assert FORMAT.media_types == (FORM,)
    assert FORMAT.signs


# -- X-Twilio-Signature -------------------------------------------------------------------------


def twilio_signature(token: str, url: str, fields: dict[str, str]) -> str:
    """Written from Twilio's documented algorithm, independently of the format's."""
    data = url + "".join(name + fields[name] for name in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def form_fields(fields: dict[str, str]) -> dict[str, list[str]]:
    return {name: [value] for name, value in fields.items()}


def signed(url: str, fields: dict[str, str], signature: str, *, decoded: bool = True) -> SignedRequest:
    """A form post as the ingress hands it over (`decoded`: with its form fields decoded)."""
    headers = {"content-type": FORM, "x-twilio-signature": signature}
    body = urlencode(fields).encode()
    return SignedRequest("POST", url, headers, body, form_fields(fields) if decoded else {})


def notes_vector() -> dict[str, Any]:
    """The published test vectors, read from the signature notes that come with the samples."""
    notes = sample("twilio/X-Twilio-Signature-NOTES.md").decode()
    params = re.search(r"params `([^`]*)`", notes)
    assert params is not None
    found = {
        "token": re.search(r"auth token `([^`]*)`", notes),
        "url": re.search(r"URL `([^`]*)`", notes),
        "expected": re.search(r"expected `X-Twilio-Signature`: `([^`]*)`", notes),
        "body": re.search(r"body `([^`]*)`", notes),
        "body_hash": re.search(r"bodySHA256\s*`([0-9a-f]{64})`", notes),
        "json_expected": re.search(r"with no params = `([^`]*)`", notes),
    }
    vector: dict[str, Any] = {key: match.group(1) for key, match in found.items() if match is not None}
    assert len(vector) == len(found), "the notes no longer give every vector"
    vector["params"] = dict(pair.split("=", 1) for pair in params.group(1).split(", "))
    return vector


def test_the_published_form_vector_verifies() -> None:
    vector = notes_vector()
    assert vector["params"]["Caller"] == "+14158675309"
    request = signed(vector["url"], vector["params"], vector["expected"])
    assert verify(request, vector["token"])
    # also when the ingress did not decode the form: the body is read
    assert verify(signed(vector["url"], vector["params"], vector["expected"], decoded=False), vector["token"])


def test_the_published_json_vector_verifies() -> None:
    vector = notes_vector()
    assert hashlib.sha256(vector["body"].encode()).hexdigest() == vector["body_hash"]
    url = f"{vector['url']}&bodySHA256={vector['body_hash']}"
    headers = {"content-type": "application/json", "x-twilio-signature": vector["json_expected"]}
    assert verify(SignedRequest("POST", url, headers, vector["body"].encode()), vector["token"])
    tampered = vector["body"].replace("value", "VALUE").encode()
    assert not verify(SignedRequest("POST", url, headers, tampered), vector["token"])


# Expected values of Twilio's own request validator tests (twilio-python, tests/unit/test_request_validator.py)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # signed without the port
        ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),  # signed with it
        ("https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
        ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80
    ],
)
def test_the_url_is_accepted_with_and_without_its_port(url: str, expected: str) -> None:
    vector = notes_vector()
    assert verify(signed(url, vector["params"], expected), vector["token"])


def test_a_repeated_field_signs_its_distinct_values_sorted() -> None:
    vector = notes_vector()
    body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234"
    form = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234", "1234"]}
    headers = {"content-type": FORM, "x-twilio-signature": "IK+Dwps556ElfBT0I3Rgjkr1wJU="}
    assert verify(SignedRequest("POST", vector["url"], headers, body, form), vector["token"])


def test_wrong_missing_and_tampered_signatures_are_refused() -> None:
    vector = notes_vector()
    url, params, expected, token = vector["url"], vector["params"], vector["expected"], vector["token"]
    assert not verify(signed(url, params, expected), "54321")  # another account's token
    assert not verify(signed(url, params, expected), "")  # no token: anyone could sign
    assert not verify(signed(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B9="), token)
    assert not verify(signed(url, params, ""), token)
    assert not verify(signed(url, params, "ñ" * 28), token)  # not ASCII: refused, not an error
    assert not verify(signed(url, params | {"Digits": "9999"}, expected), token)  # tampered field
    assert not verify(signed(url, params | {"Extra": ""}, expected), token)  # an added field
    assert not verify(signed(url.replace("foo=1", "foo=2"), params, expected), token)  # another URL
    missing = signed(url, params, expected)
    assert not verify(SignedRequest("POST", url, {"content-type": FORM}, missing.body, missing.form), token)


def test_a_signature_over_the_body_alone_is_refused_when_the_body_is_not_a_form() -> None:
    vector = notes_vector()
    headers = {"content-type": "text/plain", "x-twilio-signature": vector["expected"]}
    assert not verify(SignedRequest("POST", vector["url"], headers, b"CallSid=CA1234567890ABCDE"), vector["token"])
