"""The `twilio-event-streams` format: Event Streams' webhook sink (a JSON array of CloudEvents),
through the real path (split -> wrap -> adapt -> storage.changes.apply), to the same interactions as
the `twilio` format, and its signature (bodySHA256 in the URL)."""

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
from ingest.formats import MAX_RECORDS, FormatError, SignedRequest, twilio, wrap
from ingest.formats.twilio_event_streams import FORMAT, MAX_BODY_BYTES, split
from schemas.channel_event import ChannelEvent
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, State, apply
from tests.vendor_samples import sample

SOURCE = "test-source"
SETTINGS = {"name": SOURCE, "phone_region": "US"}
RECEIVED = "2026-11-20T10:00:00Z"
MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
CALL_SID = "CA0123456789abcdef0123456789abcdef"
BUSINESS = "+15005550006"
CUSTOMER = "+351912345678"
VERIFY_SAMPLE = "twilio/event-streams-verify-message-delivered.cloudevent.json"


def events(body: bytes, received: str = RECEIVED) -> list[ChannelEvent]:
    return [wrap(r, FORMAT.id, SOURCE, SETTINGS, received=received) for r in split(body, "application/json")]


def fold(*cloud_events: dict[str, Any], state: State = ABSENT) -> State:
    """Each CloudEvent delivered on its own, in turn; the interaction at the end."""
    for cloud_event in cloud_events:
        [event] = events(json.dumps([cloud_event]).encode())
        state = apply(state, adapt(event), href="http://h/x/").new
    assert state.doc is not None
    validated_resource(state.doc)  # raises if the interaction is not a valid TMF683 resource
    return state


def document(*cloud_events: dict[str, Any]) -> dict[str, Any]:
    doc = fold(*cloud_events).doc
    assert doc is not None
    return doc


def at(second: int) -> str:
    return f"2026-11-20T10:00:{second:02d}.000Z"


def message_event(status: str, second: int, **data: Any) -> dict[str, Any]:
    """An outbound message's status event, in the shape of Event Streams' Messaging.MessageStatus."""
    return {
        "specversion": "1.0",
        "type": f"com.twilio.messaging.message.{status}",
        "source": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/" + MESSAGE_SID + ".json",
        "id": f"EZ{status}{second:030d}",
        "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/8",
        "datacontenttype": "application/json",
        "time": at(second),
        "data": {
            "messageSid": MESSAGE_SID,
            "timestamp": at(second),
            "accountSid": "AC0123456789abcdef0123456789abcdef",
            "eventName": f"com.twilio.messaging.message.{status}",
            "apiVersion": "2010-04-01",
            "from": BUSINESS,
            "to": CUSTOMER,
            "messageStatus": status.upper(),
            "body": "Your bill is ready",
            "numberOfSegments": 1,
            **data,
        },
    }


def inbound_event(**data: Any) -> dict[str, Any]:
    """An inbound message, in the shape of Event Streams' Messaging.InboundMessageV1."""
    return {
        "specversion": "1.0",
        "type": "com.twilio.messaging.inbound-message.received",
        "source": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/" + MESSAGE_SID + ".json",
        "id": "EZinbound000000000000000000000001",
        "dataschema": "https://events-schemas.twilio.com/Messaging.InboundMessageV1/6",
        "datacontenttype": "application/json",
        "data": {
            "messageSid": MESSAGE_SID,
            "timestamp": "2026-11-20T10:00:00.000Z",
            "accountSid": "AC0123456789abcdef0123456789abcdef",
            "eventName": "com.twilio.messaging.inbound-message.received",
            "from": CUSTOMER,
            "to": BUSINESS,
            "numMedia": 0,
            "body": "Ahoy!",
            "fromCountry": "PT",
            "messagingServiceSid": "MG0123456789abcdef0123456789abcdef",
            **data,
        },
    }


def call_event(step: str, second: int, **parameters: Any) -> dict[str, Any]:
    """A call's status callback event (Voice.WebhookEvent): the callback's parameters as posted."""
    return {
        "specversion": "1.0",
        "type": f"com.twilio.voice.status-callback.call.{step}",
        "source": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/" + CALL_SID + ".json",
        "id": f"EZ{step}{second:030d}",
        "dataschema": "https://events-schemas.twilio.com/Voice.WebhookEvent/2",
        "datacontenttype": "application/json",
        "data": {
            "sid": CALL_SID,
            "timestamp": at(second),
            "eventSid": "VW0123456789abcdef0123456789abcdef",
            "request": {
                "method": "POST",
                "url": "https://example.com/status",
                "parameters": {
                    "CallSid": CALL_SID,
                    "AccountSid": "AC0123456789abcdef0123456789abcdef",
                    "Direction": "inbound",
                    "From": CUSTOMER,
                    "To": BUSINESS,
                    "CallStatus": {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}.get(
                        step, "completed"
                    ),
                    **parameters,
                },
            },
            "response": {"responseCode": 200, "requestDuration": 140, "contentType": "text/xml"},
        },
    }


# -- the vendor's sample ----------------------------------------------------------------------------


def test_the_verify_sample_splits_but_is_not_an_event_this_format_maps() -> None:
    body = sample(VERIFY_SAMPLE)
    [record] = split(body, "application/json")
    assert record.native_id == "NO00000000000000000000000001"
    # the page's quirk: `datacontenttype` holds a timestamp; it is not taken for the event's time,
    # and the event has no `time` nor `data.timestamp`: the delivery's time is used
    assert record.time is None
    [event] = events(body)
    assert event.time == RECEIVED
    with pytest.raises(
        AdapterError, match=re.escape("'com.twilio.accountsecurity.verify.message.delivered' is not mapped")
    ):
        adapt(event)


def test_the_verify_sample_in_a_batch_as_the_sink_delivers_it() -> None:
    batch = b"[" + sample(VERIFY_SAMPLE) + b"," + json.dumps(message_event("sent", 1)).encode() + b"]"
    verify_event, sent = events(batch)
    assert (verify_event.id, sent.id) == (
        "twilio-event-streams:NO00000000000000000000000001",
        f"twilio-event-streams:EZsent{1:030d}",
    )
    with pytest.raises(AdapterError, match="verify"):
        adapt(verify_event)
    assert adapt(sent).kind == "contribute"


# -- messages ---------------------------------------------------------------------------------------


def test_an_inbound_message_event_is_a_completed_inbound_message() -> None:
    [event] = events(json.dumps([inbound_event()]).encode())
    assert event.time == "2026-11-20T10:00:00+00:00"  # data.timestamp
    doc = document(inbound_event())
    assert doc["@type"] == "MessagingInteraction"
    assert [c["id"] for c in doc["channel"]] == ["messaging"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "completed", "Text message")
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}]
    assert doc["externalIdentifier"] == [{"id": MESSAGE_SID, "owner": SOURCE, "externalIdentifierType": "message"}]
    assert doc["note"] == [{"author": CUSTOMER, "text": "Ahoy!"}]
    assert doc["message"]["messagingServiceSid"] == "MG0123456789abcdef0123456789abcdef"
    assert doc["message"]["statusHistory"] == {"received": {"at": "2026-11-20T10:00:00+00:00"}}
    assert doc["relatedParty"] == []


def test_an_outbound_message_is_settled_by_its_delivery_whatever_order_the_events_arrive_in() -> None:
    sent, delivered, read = message_event("sent", 1), message_event("delivered", 2), message_event("read", 3)
    for order in itertools.permutations([sent, delivered, read]):
        doc = document(*order)
        assert doc["status"] == "completed"
        assert doc["direction"] == "outbound"
        assert doc["interactionDate"] == {
            "startDateTime": "2026-11-20T10:00:01+00:00",
            "endDateTime": "2026-11-20T10:00:03+00:00",
        }
        assert set(doc["message"]["statusHistory"]) == {"sent", "delivered", "read"}
        assert doc["note"] == [{"author": BUSINESS, "text": "Your bill is ready"}]


def test_a_failed_message_keeps_its_error_code() -> None:
    doc = document(message_event("failed", 2, errorCode=30008), message_event("queued", 1))
    assert doc["status"] == "failed"
    assert doc["message"]["statusHistory"]["failed"] == {"at": "2026-11-20T10:00:02+00:00", "errorCode": "30008"}


def test_an_undelivered_message_after_sent_is_failed() -> None:
    doc = document(message_event("undelivered", 5, errorCode=30003), message_event("sent", 1))
    assert doc["status"] == "failed"


def test_a_message_on_its_way_has_no_status_yet() -> None:
    doc = document(message_event("queued", 1), message_event("sent", 2))
    assert "status" not in doc


def test_a_whatsapp_message_event_names_the_customer_with_the_whatsapp_scheme() -> None:
    doc = document(message_event("read", 3, **{"from": "whatsapp:+14155238886", "to": f"whatsapp:{CUSTOMER}"}))
    assert doc["reason"] == "WhatsApp message"
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CUSTOMER, "scheme": "whatsapp", "id": "phone:+351912345678"}
    ]
    assert doc["message"]["channel"] == "whatsapp"


def test_the_same_message_by_webhook_and_by_event_is_the_same_interaction() -> None:
    """Both formats key a message by its MessageSid and give it the same shape."""
    by_event = document(message_event("delivered", 2))
    fields = {"MessageSid": MESSAGE_SID, "MessageStatus": "delivered", "From": BUSINESS, "To": CUSTOMER}
    [record] = twilio.split(urlencode(fields).encode(), twilio.FORM)
    webhook_event = wrap(record, twilio.FORMAT.id, SOURCE, SETTINGS, received="2026-11-20T10:00:02Z")
    by_webhook = apply(ABSENT, adapt(webhook_event), href="http://h/x/").new.doc
    assert by_webhook is not None
    assert by_event["id"] == by_webhook["id"]
    for attribute in (
        "@type",
        "channel",
        "direction",
        "status",
        "reason",
        "description",
        "customerIdentifier",
        "externalIdentifier",
    ):
        assert by_event[attribute] == by_webhook[attribute], attribute
    assert set(by_event["message"]["statusHistory"]) == set(by_webhook["message"]["statusHistory"])


def test_a_redelivered_batch_is_the_same_events_and_the_same_changes() -> None:
    body = json.dumps([message_event("sent", 1), message_event("delivered", 2)]).encode()
    first, again = events(body), events(body, received="2026-11-20T11:00:00Z")
    assert first == again  # the events carry their own time: when they arrive does not matter
    assert [adapt(e) for e in first] == [adapt(e) for e in again]
    state = fold(message_event("sent", 1), message_event("delivered", 2))
    assert apply(state, adapt(again[1]), href="http://h/x/").kind == "unchanged"


def test_a_single_cloud_event_not_in_an_array_is_one_record() -> None:
    [event] = events(json.dumps(message_event("sent", 1)).encode())
    assert event.id == f"twilio-event-streams:EZsent{1:030d}"


# -- calls --------------------------------------------------------------------------------------


def test_a_call_rings_is_answered_and_completes() -> None:
    ringing, answered = call_event("ringing", 1), call_event("answered", 5)
    completed = call_event("completed", 47, CallDuration="42", CallerName="MARIA SILVA")
    for order in ([ringing, answered, completed], [completed, ringing, answered]):
        doc = document(*order)
        assert doc["@type"] == "VoiceCallInteraction"
        assert [c["id"] for c in doc["channel"]] == ["voice"]
        assert (doc["status"], doc["direction"]) == ("completed", "inbound")
        assert doc["interactionDate"] == {
            "startDateTime": "2026-11-20T10:00:01+00:00",
            "endDateTime": "2026-11-20T10:00:47+00:00",
        }
        assert doc["call"]["durationSeconds"] == 42
        assert doc["call"]["callerName"] == "MARIA SILVA"
        assert set(doc["call"]["statusHistory"]) == {"ringing", "in-progress", "completed"}
        assert doc["customerIdentifier"] == [{"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}]
        assert doc["externalIdentifier"] == [{"id": CALL_SID, "owner": SOURCE, "externalIdentifierType": "call"}]


def test_an_answered_call_is_in_progress() -> None:
    doc = document(call_event("answered", 5))
    assert doc["status"] == "inProgress"
    assert "endDateTime" not in doc["interactionDate"]


@pytest.mark.parametrize(
    ("ended", "expected"), [("no-answer", "cancelled"), ("busy", "cancelled"), ("failed", "failed")]
)
def test_a_completed_event_tells_how_the_call_ended(ended: str, expected: str) -> None:
    doc = document(call_event("completed", 30, CallStatus=ended, Direction="outbound-api", From=BUSINESS, To=CUSTOMER))
    assert (doc["status"], doc["direction"]) == (expected, "outbound")
    assert doc["customerIdentifier"] == [{"kind": "phone", "value": CUSTOMER, "id": "phone:+351912345678"}]


def test_parameters_in_snake_case_are_read_too() -> None:
    event = call_event("completed", 30)
    event["data"]["request"]["parameters"] = {
        "call_sid": CALL_SID,
        "call_status": "completed",
        "direction": "outbound-dial",
        "from": BUSINESS,
        "to": CUSTOMER,
        "call_duration": "12",
        "parent_call_sid": "CAfedcba9876543210fedcba9876543210",
    }
    doc = document(event)
    assert doc["direction"] == "outbound"
    assert doc["call"]["durationSeconds"] == 12
    assert doc["interactionRelationship"][0]["relationshipType"] == "transferredFrom"


def test_the_same_call_by_webhook_and_by_event_is_the_same_interaction() -> None:
    by_event = document(call_event("completed", 47, CallDuration="42"))
    fields = {
        "CallSid": CALL_SID,
        "CallStatus": "completed",
        "Direction": "inbound",
        "From": CUSTOMER,
        "To": BUSINESS,
        "CallDuration": "42",
        "Timestamp": "Fri, 20 Nov 2026 10:00:47 +0000",
    }
    [record] = twilio.split(urlencode(fields).encode(), twilio.FORM)
    by_webhook = apply(
        ABSENT, adapt(wrap(record, twilio.FORMAT.id, SOURCE, SETTINGS, RECEIVED)), href="http://h/x/"
    ).new.doc
    assert by_webhook is not None
    for attribute in ("id", "@type", "channel", "direction", "status", "reason", "description", "interactionDate"):
        assert by_event[attribute] == by_webhook[attribute], attribute


# -- what cannot be used ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud_event", "reason"),
    [
        (message_event("exploded", 1), "'com.twilio.messaging.message.exploded' is not a message status event"),
        (message_event("received", 1), "is not a message status event"),  # inbound messages have their own type
        (
            {**call_event("ringing", 1), "type": "com.twilio.voice.status-callback.call.hovering"},
            "is not a call status event",
        ),
        (
            call_event("completed", 1, CallStatus="ringing"),
            "data.request.parameters.CallStatus: 'ringing' in a call.completed",
        ),
        (
            call_event("completed", 1, CallStatus="exploded"),
            "data.request.parameters.CallStatus: unknown value 'exploded'",
        ),
        (call_event("ringing", 1, Direction=None), "data.request.parameters.Direction: missing"),
        (call_event("ringing", 1, Direction="sideways"), "data.request.parameters.Direction: unknown value"),
        (
            call_event("completed", 1, CallDuration="forty"),
            "data.request.parameters.CallDuration: expected a whole number",
        ),
        (message_event("sent", 1, messageSid=None), "data.messageSid: missing"),
        (message_event("sent", 1, to=["+1"]), "data.to: expected a string"),
        ({**inbound_event(), "type": "com.twilio.conversations.message.added"}, "is not mapped"),
    ],
)
def test_an_unusable_event_is_an_adapter_error_naming_it(cloud_event: dict[str, Any], reason: str) -> None:
    [event] = events(json.dumps([cloud_event]).encode())
    with pytest.raises(AdapterError, match=re.escape(reason)):
        adapt(event)


def test_a_call_event_with_the_documented_empty_parameters_names_what_it_lacks() -> None:
    event = call_event("answered", 1)
    event["data"]["request"]["parameters"] = {}
    with pytest.raises(AdapterError, match=re.escape("data.request.parameters.Direction: missing")):
        adapt(events(json.dumps([event]).encode())[0])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not JSON"),
        (b"CallSid=CA1", "not JSON"),
        (b'[{"id": "EZ1", "type": "com.twilio.messaging.message.sent", "data": {', "not JSON"),  # truncated
        (b"[]", "an empty array"),
        (b"[1]", "event 0: not a CloudEvent"),
        (b'"text"', "event 0: not a CloudEvent"),
        (b'[{"type": "com.twilio.messaging.message.sent", "data": {}}]', "event 0: id: missing"),
        (b'[{"id": 7, "type": "x", "data": {}}]', "event 0: id: missing or not a string"),
        (b'[{"id": "EZ1", "data": {}}]', "event 0: type: missing"),
        (b'[{"id": "EZ1", "type": "x"}]', "event 0: data: missing or not an object"),
        (b'[{"id": "EZ1", "type": "x", "data": []}]', "event 0: data: missing or not an object"),
        (
            b'[{"id": "EZ1", "type": "x", "data": {"timestamp": "yesterday"}}]',
            "event 0: data.timestamp: not an ISO 8601",
        ),
        (b'[{"id": "EZ1", "type": "x", "time": 17, "data": {}}]', "event 0: time: not an ISO 8601"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # deeper than the parser goes
        (b"[" * 40 + b"]" * 40, "nests at most"),
        (
            b"[" + b",".join([b'{"id":"a","type":"x","data":{}}'] * (MAX_RECORDS + 1)) + b"]",
            f"more than {MAX_RECORDS} events",
        ),
        (b" " * (MAX_BODY_BYTES + 1), f"at most {MAX_BODY_BYTES} bytes"),
    ],
)
def test_hostile_deliveries_are_format_errors_naming_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=re.escape(problem)):
        split(body, "application/json")


def test_a_delivery_of_another_media_type_is_refused() -> None:
    with pytest.raises(FormatError, match="application/x-www-form-urlencoded"):
        split(json.dumps([message_event("sent", 1)]).encode(), "application/x-www-form-urlencoded")
    assert len(split(json.dumps([message_event("sent", 1)]).encode(), "application/cloudevents-batch+json")) == 1


# -- the signature: X-Twilio-Signature over the URL, which carries the body's SHA-256 -------------


def sink_request(
    token: str, body: bytes, url: str = "https://ihub.example.com/ingest/v1/sources/twilio-es"
) -> SignedRequest:
    """A delivery signed as Twilio documents it (written independently of the format's code)."""
    signed_url = f"{url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = base64.b64encode(hmac.new(token.encode(), signed_url.encode(), hashlib.sha1).digest()).decode()
    return SignedRequest(
        "POST", signed_url, {"content-type": "application/json", "x-twilio-signature": signature}, body
    )


def test_the_published_json_vector_verifies() -> None:
    notes = sample("twilio/X-Twilio-Signature-NOTES.md").decode()
    found = [
        re.search(pattern, notes)
        for pattern in (
            r"auth token `([^`]*)`",
            r"URL `([^`]*)`",
            r"body `([^`]*)`",
            r"bodySHA256\s*`([0-9a-f]{64})`",
            r"with no params = `([^`]*)`",
        )
    ]
    assert all(found), "the notes no longer give the JSON vector"
    token, url, body, body_hash, expected = (match.group(1) for match in found if match is not None)
    headers = {"content-type": "application/json", "x-twilio-signature": expected}
    request = SignedRequest("POST", f"{url}&bodySHA256={body_hash}", headers, body.encode())
    assert FORMAT.verify is not None
    assert FORMAT.verify(request, token)
    assert not FORMAT.verify(SignedRequest("POST", request.url, headers, body.encode() + b" "), token)  # tampered
    assert not FORMAT.verify(request, "54321")  # another account's token


def test_a_signed_delivery_holds_and_a_changed_one_does_not() -> None:
    assert FORMAT.verify is not None
    body = json.dumps([message_event("delivered", 2)]).encode()
    request = sink_request("the-auth-token", body)
    assert FORMAT.verify(request, "the-auth-token")
    assert not FORMAT.verify(request, "")
    tampered = body.replace(b"DELIVERED", b"FAILED")
    assert not FORMAT.verify(SignedRequest("POST", request.url, request.headers, tampered), "the-auth-token")
    # re-hashing the tampered body changes the signed URL: the signature no longer holds
    rehashed = request.url.split("?")[0] + "?bodySHA256=" + hashlib.sha256(tampered).hexdigest()
    assert not FORMAT.verify(SignedRequest("POST", rehashed, request.headers, tampered), "the-auth-token")
    unsigned = {"content-type": "application/json"}
    assert not FORMAT.verify(SignedRequest("POST", request.url, unsigned, body), "the-auth-token")
    wrong = {**request.headers, "x-twilio-signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}
    assert not FORMAT.verify(SignedRequest("POST", request.url, wrong, body), "the-auth-token")


def test_a_signature_over_a_url_without_the_body_hash_is_refused() -> None:
    """The body is only covered through bodySHA256: without it a signature would not protect it."""
    assert FORMAT.verify is not None
    url = "https://ihub.example.com/ingest/v1/sources/twilio-es"
    signature = base64.b64encode(hmac.new(b"the-auth-token", url.encode(), hashlib.sha1).digest()).decode()
    request = SignedRequest("POST", url, {"x-twilio-signature": signature}, b"[]")
    assert not FORMAT.verify(request, "the-auth-token")


def test_the_url_is_accepted_with_its_default_port() -> None:
    assert FORMAT.verify is not None
    body = json.dumps([message_event("sent", 1)]).encode()
    request = sink_request("the-auth-token", body, url="https://ihub.example.com:443/ingest/v1/sources/twilio-es")
    as_called = request.url.replace(":443", "")  # the proxy in front reports the URL without its port
    assert FORMAT.verify(SignedRequest("POST", as_called, request.headers, body), "the-auth-token")
