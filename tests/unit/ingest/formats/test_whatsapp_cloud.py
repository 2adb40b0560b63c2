"""whatsapp-cloud: WhatsApp Cloud API webhooks, from the delivery to the stored TMF683 interaction.

The published samples are pywa's anonymised fixtures (shared/vendor-samples/SOURCES.md); the other
cases are built here from the Cloud API's webhook reference (messages and statuses of the
`messages` field)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
from typing import Any

import orjson
import pytest

from ingest import adapters
from ingest.adapters.common import AdapterError
from ingest.formats import FORMATS, MAX_RECORDS, FormatError, SignedRequest, wrap
from ingest.formats.whatsapp_cloud import FORMAT
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage import changes
from tests.vendor_samples import sample

SOURCE = "test-source"
URN = f"urn:ihub:source:{SOURCE}"
RECEIVED = "2026-11-20T10:00:00Z"
JSON = "application/json"
SECRET = "app-secret"


# -- the real path ------------------------------------------------------------------------------


def events(body: bytes) -> list[ChannelEvent]:
    return [wrap(record, FORMAT.id, SOURCE, {"name": SOURCE}, received=RECEIVED) for record in FORMAT.split(body, JSON)]


def apply(state: changes.State, event: ChannelEvent) -> changes.Outcome:
    outcome = changes.apply(state, adapters.adapt(event), href="http://h/x/")
    if outcome.new.doc is not None:
        validated_resource(outcome.new.doc)  # raises if the stored interaction is not valid TMF683
    return outcome


def stored(*bodies: bytes) -> dict[str, changes.State]:
    """Every delivery's records applied in order; the interactions by id."""
    states: dict[str, changes.State] = {}
    for body in bodies:
        for event in events(body):
            change = adapters.adapt(event)
            states[change.interaction_id] = apply(states.get(change.interaction_id, changes.ABSENT), event).new
    return states


def only(*bodies: bytes) -> dict[str, Any]:
    states = stored(*bodies)
    assert len(states) == 1, states
    doc = next(iter(states.values())).doc
    assert doc is not None
    return doc


# -- deliveries built from the webhook reference ---------------------------------------------------

CUSTOMER = "351912345678"
CONTACT = {"profile": {"name": "Ana Lima"}, "wa_id": CUSTOMER, "user_id": "PT.1234567890"}
METADATA = {"display_phone_number": "351210000000", "phone_number_id": "106540352242922"}


def delivery(*, messages: list[Any] | None = None, statuses: list[Any] | None = None, **value: Any) -> bytes:
    body: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": METADATA, **value}
    if messages is not None:
        body["messages"] = messages
        body.setdefault("contacts", [CONTACT])
    if statuses is not None:
        body["statuses"] = statuses
    change = {"field": "messages", "value": body}
    return orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]})


def message(kind: str, content: Any = None, *, wamid: str = "wamid.IN1", at: str = "1763632800", **more: Any) -> Any:
    found = {"from": CUSTOMER, "id": wamid, "timestamp": at, "type": kind, **more}
    if content is not None:
        found[kind] = content
    return found


def status(state: str, *, wamid: str = "wamid.OUT1", at: str = "1763632800", **more: Any) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": at, "recipient_id": CUSTOMER, **more}


def without_dates(doc: dict[str, Any]) -> dict[str, Any]:
    """A document without what depends on the order changes reached the store."""
    return {k: v for k, v in doc.items() if k not in ("creationDate", "statusChangeDate")}


# -- the published samples ----------------------------------------------------------------------


def test_the_format_registers_itself_and_adapt_dispatches_to_it() -> None:
    assert FORMATS["whatsapp-cloud"] is FORMAT
    assert FORMAT.signs and FORMAT.handshake is not None and FORMAT.media_types == ("application/json",)


def test_sample_text_message_is_an_inbound_completed_messaging_interaction() -> None:
    [record] = FORMAT.split(sample("whatsapp/pywa-fixture-message-text.json"), JSON)
    assert (record.native_id, record.time) == ("wamid.xyzxyz", "2023-10-11T16:53:43Z")
    doc = only(sample("whatsapp/pywa-fixture-message-text.json"))
    assert doc["id"] == interaction_id(URN, "wamid.xyzxyz")
    assert doc["@type"] == "MessagingInteraction"
    assert [c["id"] for c in doc["channel"]] == ["messaging"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "completed", "WhatsApp message")
    assert doc["description"] == "WhatsApp text message from 972987654321"
    assert doc["interactionDate"] == {"startDateTime": "2023-10-11T16:53:43Z", "endDateTime": "2023-10-11T16:53:43Z"}
    assert doc["note"] == [{"author": "972987654321", "date": "2023-10-11T16:53:43Z", "text": "Body Text"}]
    assert doc["externalIdentifier"] == [
        {"id": "wamid.xyzxyz", "owner": SOURCE, "externalIdentifierType": "whatsapp-message"}
    ]
    # from and wa_id are one number: written once; user_id is the platform's own id
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": "972987654321", "scheme": "whatsapp", "id": "phone:+972987654321"},
        {
            "kind": "platform",
            "value": "US.13491208655302741918",
            "scheme": "whatsapp-user-id",
            "id": "whatsapp-user-id:US.13491208655302741918",
        },
    ]
    assert doc["relatedParty"] == []
    assert doc["messaging"] == {
        "platform": "whatsapp",
        "businessPhoneNumber": "972123456789",
        "phoneNumberId": "1122334455667",
        "messageId": "wamid.xyzxyz",
        "type": "text",
        "profileName": "Test Name",
    }


def test_sample_image_message_is_a_reference_to_the_media_never_its_bytes() -> None:
    doc = only(sample("whatsapp/pywa-fixture-message-image.json"))
    assert doc["attachment"] == [{"id": "65463453", "attachmentType": "image", "mimeType": "image/jpeg"}]
    assert doc["messaging"]["media"] == {"id": "65463453", "mimeType": "image/jpeg", "sha256": "4654+8g="}
    assert doc["description"] == "WhatsApp image message from 972987654321"
    assert "note" not in doc  # no caption
    assert "content" not in doc["attachment"][0]


def test_sample_delivered_status_makes_the_outbound_message_interaction() -> None:
    [record] = FORMAT.split(sample("whatsapp/pywa-fixture-status-delivered.json"), JSON)
    # the vendor's second plus the step delivered (0.2 ms): a later step is a later revision
    assert (record.native_id, record.time) == ("wamid.xyzxyz@delivered", "2023-10-25T20:49:05.0002Z")
    doc = only(sample("whatsapp/pywa-fixture-status-delivered.json"))
    assert doc["id"] == interaction_id(URN, "wamid.xyzxyz")
    assert (doc["direction"], doc["status"]) == ("outbound", "completed")
    assert doc["description"] == "WhatsApp message to 972987654321, delivered"
    assert doc["interactionDate"] == {"startDateTime": "2023-10-25T20:49:05Z"}  # not sent yet: not handled
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": "972987654321", "scheme": "whatsapp", "id": "phone:+972987654321"},
        {
            "kind": "platform",
            "value": "US.13491208655302741918",
            "scheme": "whatsapp-user-id",
            "id": "whatsapp-user-id:US.13491208655302741918",
        },
    ]
    assert doc["messaging"]["statuses"] == {"delivered": "2023-10-25T20:49:05Z"}
    assert doc["messaging"]["conversation"] == {"id": "7270432eae37498234f4444b35ffc5", "originType": "service"}
    assert doc["messaging"]["pricing"] == {"billable": True, "pricingModel": "CBP", "category": "service"}


def test_a_truncated_sample_is_a_format_error() -> None:
    body = sample("whatsapp/pywa-fixture-message-text.json")
    with pytest.raises(FormatError, match="not JSON"):
        FORMAT.split(body[: len(body) // 2], JSON)


# -- every kind of message ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["audio", "video", "document", "sticker"])
def test_media_messages_are_attachment_references(kind: str) -> None:
    media = {"id": "1234", "mime_type": "application/pdf", "sha256": "c2hh", "caption": "My bill", "filename": "b.pdf"}
    doc = only(delivery(messages=[message(kind, media)]))
    assert doc["attachment"] == [
        {"id": "1234", "attachmentType": kind, "mimeType": "application/pdf", "description": "My bill", "name": "b.pdf"}
    ]
    assert doc["messaging"]["media"] == {
        "id": "1234",
        "mimeType": "application/pdf",
        "sha256": "c2hh",
        "caption": "My bill",
        "filename": "b.pdf",
    }
    assert doc["note"][0]["text"] == "My bill"


def test_a_media_message_without_its_media_id_is_refused_naming_the_field() -> None:
    [event] = events(delivery(messages=[message("image", {"mime_type": "image/png"})]))
    with pytest.raises(AdapterError, match=r"data\.messages\.0\.image\.id: missing"):
        adapters.adapt(event)


def test_location_message() -> None:
    place = {"latitude": 38.7223, "longitude": -9.1393, "name": "Loja Chiado", "address": "Rua Garrett 1"}
    doc = only(delivery(messages=[message("location", place)]))
    assert doc["note"][0]["text"] == "Location: Loja Chiado, Rua Garrett 1"
    assert doc["messaging"]["location"] == place
    bare = only(delivery(messages=[message("location", {"latitude": 38.7, "longitude": -9})]))
    assert bare["note"][0]["text"] == "Location: 38.7, -9"


@pytest.mark.parametrize(
    ("reply_type", "reply"),
    [
        ("button_reply", {"id": "billing", "title": "Billing"}),
        ("list_reply", {"id": "roam", "title": "Roaming", "description": "Travel plans"}),
    ],
)
def test_interactive_replies(reply_type: str, reply: dict[str, str]) -> None:
    doc = only(delivery(messages=[message("interactive", {"type": reply_type, reply_type: reply})]))
    assert doc["messaging"]["interactive"] == {"type": reply_type, **reply}
    assert doc["note"][0]["text"] == reply["title"]


def test_template_quick_reply_button() -> None:
    doc = only(delivery(messages=[message("button", {"text": "Stop promotions", "payload": "STOP"})]))
    assert doc["messaging"]["button"] == {"text": "Stop promotions", "payload": "STOP"}
    assert doc["note"][0]["text"] == "Stop promotions"


def test_a_reply_and_a_reaction_relate_to_the_message_they_answer() -> None:
    reply = message("text", {"body": "Yes please"}, context={"from": "351210000000", "id": "wamid.OUT1"})
    doc = only(delivery(messages=[reply]))
    assert doc["interactionRelationship"] == [{"id": interaction_id(URN, "wamid.OUT1"), "relationshipType": "replyTo"}]
    assert doc["messaging"]["repliesTo"] == "wamid.OUT1"
    reaction = message("reaction", {"message_id": "wamid.OUT1", "emoji": "\U0001f44d"}, wamid="wamid.IN2")
    doc = only(delivery(messages=[reaction]))
    assert doc["interactionRelationship"] == [{"id": interaction_id(URN, "wamid.OUT1"), "relationshipType": "reactsTo"}]
    assert doc["messaging"]["reaction"] == {"messageId": "wamid.OUT1", "emoji": "\U0001f44d"}


def test_shared_contact_cards_are_counted_not_copied() -> None:
    cards = [{"name": {"formatted_name": "Rui"}, "phones": [{"phone": "+351 91 000 0000"}]}]
    doc = only(delivery(messages=[message("contacts", cards)]))
    assert doc["messaging"]["contactCards"] == 1
    assert doc["note"][0]["text"] == "1 contact card shared"
    assert "+351 91 000 0000" not in orjson.dumps(doc).decode()


def test_unsupported_message_keeps_its_errors_and_an_ad_referral() -> None:
    errors = [{"code": 131051, "title": "Message type unknown", "error_data": {"details": "not supported"}}]
    referral = {"source_url": "https://fb.me/ad", "source_type": "ad", "source_id": "120", "headline": "5G"}
    doc = only(delivery(messages=[message("unsupported", errors=errors, referral=referral)]))
    assert doc["messaging"]["errors"] == [{"code": 131051, "title": "Message type unknown", "details": "not supported"}]
    assert doc["messaging"]["referral"] == {
        "sourceType": "ad",
        "sourceId": "120",
        "sourceUrl": "https://fb.me/ad",
        "headline": "5G",
    }
    assert "note" not in doc


# -- one delivery, several records ----------------------------------------------------------------


def test_one_delivery_splits_into_one_record_per_message_and_status() -> None:
    other = {"profile": {"name": "Rui"}, "wa_id": "351930000000"}
    body = delivery(
        contacts=[CONTACT, other],
        messages=[
            message("text", {"body": "hi"}),
            message("text", {"body": "ola"}, wamid="wamid.IN2", **{"from": "351930000000"}),
        ],
        statuses=[status("sent"), status("read", wamid="wamid.OUT2")],
    )
    records = FORMAT.split(body, JSON)
    assert [r.native_id for r in records] == ["wamid.IN1", "wamid.IN2", "wamid.OUT1@sent", "wamid.OUT2@read"]
    # each record keeps only the contact it names
    assert records[1].data["contacts"] == [other]
    states = stored(body)
    assert set(states) == {interaction_id(URN, k) for k in ("wamid.IN1", "wamid.IN2", "wamid.OUT1", "wamid.OUT2")}
    rui = states[interaction_id(URN, "wamid.IN2")].doc
    assert rui is not None and rui["messaging"]["profileName"] == "Rui"


def test_changes_of_other_fields_carry_no_record() -> None:
    change = {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    body = orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [change]}]})
    assert FORMAT.split(body, JSON) == []


# -- statuses of an outbound message ---------------------------------------------------------------


@pytest.mark.parametrize("seconds", [("1763632800",) * 3, ("1763632800", "1763632801", "1763632900")])
def test_statuses_end_in_the_furthest_state_whatever_order_they_arrive_in(seconds: tuple[str, ...]) -> None:
    states = zip(("sent", "delivered", "read"), seconds, strict=True)
    sent, delivered, read = (delivery(statuses=[status(state, at=at)]) for state, at in states)
    results = [only(*order) for order in itertools.permutations((sent, delivered, read))]
    first = without_dates(results[0])
    assert all(without_dates(doc) == first for doc in results)
    assert first["status"] == "completed"
    assert first["description"] == "WhatsApp message to 351912345678, read"
    assert set(first["messaging"]["statuses"]) == {"sent", "delivered", "read"}
    # handled when sent: the span starts and ends at the sent status
    assert first["interactionDate"] == {"startDateTime": "2025-11-20T10:00:00Z", "endDateTime": "2025-11-20T10:00:00Z"}
    assert first["externalIdentifier"] == [
        {"id": "wamid.OUT1", "owner": SOURCE, "externalIdentifierType": "whatsapp-message"}
    ]


def test_all_orders_of_four_statuses_of_one_second_agree() -> None:
    bodies = [delivery(statuses=[status(state)]) for state in ("sent", "delivered", "read", "failed")]
    results = [without_dates(only(*order)) for order in itertools.permutations(bodies)]
    assert len(results) == 24 and all(doc == results[0] for doc in results)
    assert results[0]["status"] == "failed"


def test_a_read_before_delivered_in_the_same_second_stays_read() -> None:
    read, delivered = delivery(statuses=[status("read")]), delivery(statuses=[status("delivered")])
    doc = only(read, delivered)
    assert doc["description"].endswith(", read")
    assert doc["messaging"]["statuses"] == {"read": "2025-11-20T10:00:00Z", "delivered": "2025-11-20T10:00:00Z"}


def test_a_failed_message_says_why() -> None:
    error = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "More than 24 hours have passed since the customer last replied"},
    }
    failed = delivery(statuses=[status("failed", at="1763632805", errors=[error])])
    sent = delivery(statuses=[status("sent")])
    for order in ((sent, failed), (failed, sent)):
        doc = only(*order)
        assert doc["status"] == "failed"
        assert doc["description"] == "WhatsApp message to 351912345678, failed: Re-engagement message"
        assert doc["messaging"]["errors"] == [
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "details": "More than 24 hours have passed since the customer last replied",
            }
        ]
        assert doc["note"] == [
            {
                "date": "2025-11-20T10:00:05Z",
                "text": "Not delivered: 131047 Re-engagement message More than 24 hours have passed since the "
                "customer last replied",
            }
        ]
        assert set(doc["messaging"]["statuses"]) == {"sent", "failed"}


def test_an_unknown_status_is_refused_naming_the_field() -> None:
    [event] = events(delivery(statuses=[status("deleted")]))
    with pytest.raises(AdapterError, match=r"data\.statuses\.0\.status: unknown value 'deleted'"):
        adapters.adapt(event)


# -- redelivery, missing and null fields -------------------------------------------------------------


def test_a_redelivery_is_the_same_event_and_changes_nothing() -> None:
    body = delivery(messages=[message("text", {"body": "hi"})], statuses=[status("delivered")])
    first, again = events(body), events(body)
    assert (
        [e.id for e in first]
        == [e.id for e in again]
        == ["whatsapp-cloud:wamid.IN1", "whatsapp-cloud:wamid.OUT1@delivered"]
    )
    for one, other in zip(first, again, strict=True):
        change = adapters.adapt(one)
        assert change == adapters.adapt(other)
        created = apply(changes.ABSENT, one)
        assert apply(created.new, other).kind == "unchanged"


def test_missing_and_null_optional_fields_are_fine() -> None:
    bare = {"from": CUSTOMER, "id": "wamid.IN1", "type": "text", "text": None, "context": None}
    body = orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"value": {"messages": [bare], "contacts": None, "metadata": None}}]}],
        }
    )
    [record] = FORMAT.split(body, JSON)
    assert record.time is None  # no timestamp: the time the delivery was received
    doc = only(body)
    assert doc["interactionDate"] == {"startDateTime": RECEIVED, "endDateTime": RECEIVED}
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CUSTOMER, "scheme": "whatsapp", "id": "phone:+351912345678"}
    ]
    assert doc["messaging"] == {"platform": "whatsapp", "messageId": "wamid.IN1", "type": "text"}
    assert "note" not in doc
    status_only = only(delivery(statuses=[{"id": "wamid.OUT1", "status": "sent", "timestamp": "1763632800"}]))
    assert "customerIdentifier" not in status_only
    assert status_only["description"] == "WhatsApp message, sent"
    assert status_only["status"] == "inProgress"


def test_a_message_without_a_sender_is_refused_naming_the_field() -> None:
    [event] = events(delivery(messages=[{"id": "wamid.IN1", "timestamp": "1763632800", "type": "text"}]))
    with pytest.raises(AdapterError, match=r"data\.messages\.0\.from: missing"):
        adapters.adapt(event)


def test_a_record_of_neither_kind_is_refused() -> None:
    event = ChannelEvent(id="x", source=URN, type=FORMAT.id, time=RECEIVED, data={"record": {"messages": []}})
    with pytest.raises(AdapterError, match="neither messages nor statuses"):
        adapters.adapt(event)


# -- hostile input ----------------------------------------------------------------------------------


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _with_message(message_value: Any) -> bytes:
    return delivery(messages=[message_value])


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object but an array"),
        (b'"text"', "not a JSON object but a string"),
        (b'{"object": "page", "entry": []}', "object: expected 'whatsapp_business_account', got 'page'"),
        (b'{"object": "whatsapp_business_account"}', "entry: expected an array, got null"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry: expected an array, got an object"),
        (b'{"object": "whatsapp_business_account", "entry": [1]}', r"entry\[0\]: expected an object, got a number"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}',
            r"entry\[0\]\.changes: expected an array",
        ),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": []}]}]}',
            r"entry\[0\]\.changes\[0\]\.value: expected an object",
        ),
        (delivery(messages="many"), r"value\.messages: expected an array, got a string"),  # type: ignore[arg-type]
        (_with_message({"type": "text"}), r"messages\[0\]\.id: expected a non-empty string, got null"),
        (_with_message({"id": " "}), r"messages\[0\]\.id: expected a non-empty string"),
        (_with_message({"id": "w", "timestamp": "soon"}), r"messages\[0\]\.timestamp: expected a count of seconds"),
        (_with_message({"id": "w", "timestamp": "-1"}), r"messages\[0\]\.timestamp"),
        (_with_message({"id": "w", "timestamp": "9" * 17}), r"messages\[0\]\.timestamp"),
        (_with_message({"id": "w", "timestamp": True}), r"messages\[0\]\.timestamp"),
        (_with_message({"id": "w", "timestamp": 1e300}), r"messages\[0\]\.timestamp"),
        (delivery(statuses=[{"id": "w", "timestamp": "1"}]), r"statuses\[0\]\.status: expected a non-empty string"),
        (_deep(100_000), "not JSON"),
        (_deep(200), "nests more than 32 levels"),
        (b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": ' + _deep(40) + b"}]}]}", "nests"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_hostile_deliveries_are_format_errors_naming_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        FORMAT.split(body, JSON)


def test_a_delivery_bigger_than_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(FormatError, match="larger than"):
        FORMAT.split(b" " * (8 * 1024 * 1024 + 1), JSON)


def test_a_delivery_with_too_many_records_is_refused() -> None:
    many = [status("sent", wamid=f"wamid.{n}") for n in range(MAX_RECORDS + 1)]
    with pytest.raises(FormatError, match=f"more than {MAX_RECORDS} records"):
        FORMAT.split(delivery(statuses=many), JSON)
    assert len(FORMAT.split(delivery(statuses=many[:MAX_RECORDS]), JSON)) == MAX_RECORDS


def test_unexpected_shapes_inside_a_record_are_adapter_errors_not_crashes() -> None:
    odd = message("location", {"latitude": "north", "longitude": 1})
    [event] = events(delivery(messages=[odd]))
    with pytest.raises(AdapterError, match=r"data\.messages\.0\.location\.latitude: expected a number"):
        adapters.adapt(event)
    weird = copy.deepcopy(message("interactive", {"type": "button_reply", "button_reply": ["x"]}))
    doc = only(delivery(messages=[weird]))
    assert doc["messaging"]["interactive"] == {"type": "button_reply"}


# -- signature and endpoint check --------------------------------------------------------------------


def signed(body: bytes, signature: str | None) -> SignedRequest:
    headers = {"content-type": JSON, **({"x-hub-signature-256": signature} if signature is not None else {})}
    return SignedRequest("POST", "https://ihub.example/ingest/v1/sources/wa", headers, body)


def signature_of(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_is_hmac_sha256_of_the_raw_body_with_the_app_secret() -> None:
    assert FORMAT.verify is not None
    body = sample("whatsapp/pywa-fixture-message-text.json")
    assert FORMAT.verify(signed(body, signature_of(body)), SECRET)
    assert FORMAT.verify(signed(body, signature_of(body).upper().replace("SHA256=", "sha256=")), SECRET)
    # RFC 4231 test case 2: HMAC-SHA256, key "Jefe"
    vector = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert FORMAT.verify(signed(b"what do ya want for nothing?", vector), "Jefe")


@pytest.mark.parametrize(
    ("signature", "secret", "tamper"),
    [
        (None, SECRET, False),  # missing
        ("", SECRET, False),
        ("sha256=", SECRET, False),
        ("deadbeef", SECRET, False),  # no scheme
        ("sha1=" + "0" * 40, SECRET, False),  # the older header's scheme
        ("sha256=" + "0" * 64, SECRET, False),  # wrong
        ("right", "another-secret", False),  # signed with another secret
        ("right", SECRET, True),  # body changed after signing
        ("right", "", False),  # no secret configured
        ("sha256=é", SECRET, False),  # not ASCII
    ],
)
def test_signatures_that_do_not_hold(signature: str | None, secret: str, tamper: bool) -> None:
    assert FORMAT.verify is not None
    body = sample("whatsapp/pywa-fixture-message-text.json")
    if signature == "right":
        signature = signature_of(body)
    sent = body.replace(b"Body Text", b"Body Test") if tamper else body
    assert not FORMAT.verify(signed(sent, signature), secret)


def test_handshake_echoes_the_challenge_only_for_the_configured_token() -> None:
    assert FORMAT.handshake is not None
    ask = {"hub.mode": "subscribe", "hub.verify_token": "tok-123", "hub.challenge": "1158201444"}
    assert FORMAT.handshake(ask, "tok-123") == "1158201444"
    assert FORMAT.handshake(ask, "other") is None
    assert FORMAT.handshake({**ask, "hub.mode": "unsubscribe"}, "tok-123") is None
    assert FORMAT.handshake({k: v for k, v in ask.items() if k != "hub.challenge"}, "tok-123") is None
    assert FORMAT.handshake({k: v for k, v in ask.items() if k != "hub.verify_token"}, "tok-123") is None
    assert FORMAT.handshake({**ask, "hub.verify_token": ""}, "") is None  # no token configured
    assert FORMAT.handshake({**ask, "hub.verify_token": "tök"}, "tok-123") is None  # not ASCII: no crash
