"""messenger: Messenger Platform (and Instagram messaging) webhooks, from the delivery to the stored
TMF683 interaction.

The published samples are two items of Meta's webhook reference (no envelope: built here) and a
full `object: page` delivery (shared/vendor-samples/SOURCES.md); the other cases are built here from
the reference (messages, echoes, postbacks, deliveries, reads)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from typing import Any

import orjson
import pytest

from ingest import adapters
from ingest.adapters.common import AdapterError
from ingest.formats import FORMATS, MAX_RECORDS, FormatError, SignedRequest, wrap
from ingest.formats.messenger import FORMAT
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage import changes
from tests.vendor_samples import sample

SOURCE = "test-source"
URN = f"urn:ihub:source:{SOURCE}"
RECEIVED = "2026-11-20T10:00:00Z"
JSON = "application/json"
SECRET = "app-secret"

TEXT_ITEM = "messenger/meta-docs-messages-text-messaging-item.json"
DELIVERY_ITEM = "messenger/meta-docs-message-deliveries-messaging-item.json"
FULL_ENVELOPE = "messenger/fbmessenger-api-hackage-wsTextMessageRequest.json"


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


def without_dates(doc: dict[str, Any]) -> dict[str, Any]:
    """A document without what depends on the order changes reached the store."""
    return {k: v for k, v in doc.items() if k not in ("creationDate", "statusChangeDate")}


# -- deliveries built from the webhook reference ---------------------------------------------------

PSID = "6043817532295218"
PAGE = "102345678901234"
AT = 1763632800123  # 2025-11-20T10:00:00.123Z


def delivery(*items: Any, kind: str = "page") -> bytes:
    return orjson.dumps({"object": kind, "entry": [{"id": PAGE, "time": AT, "messaging": list(items)}]})


def inbound(message: dict[str, Any], *, at: int = AT) -> dict[str, Any]:
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": at, "message": message}


def echo(mid: str = "m_OUT1", *, at: int = AT, **more: Any) -> dict[str, Any]:
    message = {"mid": mid, "is_echo": True, "app_id": 1517776481860111, "text": "Your order shipped", **more}
    return {"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": at, "message": message}


def receipt(kind: str, body: dict[str, Any], at: int | None = None) -> dict[str, Any]:
    item = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, kind: body}
    return item if at is None else {**item, "timestamp": at}


# -- the published samples ----------------------------------------------------------------------


def test_the_format_registers_itself() -> None:
    assert FORMATS["messenger"] is FORMAT
    assert FORMAT.signs and FORMAT.handshake is not None and FORMAT.media_types == ("application/json",)


def test_sample_full_delivery_is_an_inbound_social_message() -> None:
    [record] = FORMAT.split(sample(FULL_ENVELOPE), JSON)
    assert (record.native_id, record.time) == ("mid.1457764197618:41d102a3e1ae206a38", "2016-03-12T06:29:57.627Z")
    doc = only(sample(FULL_ENVELOPE))
    assert doc["id"] == interaction_id(URN, "mid.1457764197618:41d102a3e1ae206a38")
    assert doc["@type"] == "SocialMessageInteraction"
    assert [c["id"] for c in doc["channel"]] == ["social"]
    assert (doc["direction"], doc["status"], doc["reason"]) == ("inbound", "completed", "Messenger message")
    assert doc["description"] == "Messenger message from USER_ID"
    assert doc["interactionDate"] == {
        "startDateTime": "2016-03-12T06:29:57.627Z",
        "endDateTime": "2016-03-12T06:29:57.627Z",
    }
    assert doc["note"] == [{"author": "USER_ID", "date": "2016-03-12T06:29:57.627Z", "text": "hello, world!"}]
    assert doc["externalIdentifier"] == [
        {"id": "mid.1457764197618:41d102a3e1ae206a38", "owner": SOURCE, "externalIdentifierType": "messenger-message"}
    ]
    assert doc["customerIdentifier"] == [
        {"kind": "platform", "value": "USER_ID", "scheme": "messenger-psid", "id": "messenger-psid:USER_ID"}
    ]
    assert doc["relatedParty"] == []
    assert doc["social"] == {
        "network": "facebook",
        "messageId": "mid.1457764197618:41d102a3e1ae206a38",
        "kind": "dm",
        "visibility": "private",
        "pageId": "PAGE_ID",
    }


def test_sample_text_item_with_a_quick_reply() -> None:
    doc = only(delivery(orjson.loads(sample(TEXT_ITEM))))
    assert doc["customerIdentifier"] == [
        {"kind": "platform", "value": "<PSID>", "scheme": "messenger-psid", "id": "messenger-psid:<PSID>"}
    ]
    assert doc["social"]["quickReplyPayload"] == "<DEVELOPER_DEFINED_PAYLOAD>"
    assert doc["social"]["pageId"] == "<PAGE_ID>"
    assert doc["interactionDate"]["startDateTime"] == "2016-03-23T00:25:52.478Z"


def test_sample_delivery_item_without_a_timestamp_takes_its_watermark() -> None:
    [record] = FORMAT.split(delivery(orjson.loads(sample(DELIVERY_ITEM))), JSON)
    # the watermark plus the step delivered (0.2 ms)
    assert (record.native_id, record.time) == (
        "mid.1458668856218:ed81099e15d3f4f233@delivered",
        "2016-03-22T17:47:36.2532Z",
    )
    doc = only(delivery(orjson.loads(sample(DELIVERY_ITEM))))
    assert doc["id"] == interaction_id(URN, "mid.1458668856218:ed81099e15d3f4f233")
    assert (doc["direction"], doc["status"]) == ("outbound", "completed")
    assert doc["description"] == "Messenger message to <PSID>, delivered"
    assert doc["interactionDate"] == {"startDateTime": "2016-03-22T17:47:36.253Z"}  # sent: not seen
    assert doc["customerIdentifier"] == [
        {"kind": "platform", "value": "<PSID>", "scheme": "messenger-psid", "id": "messenger-psid:<PSID>"}
    ]
    assert doc["social"]["statuses"] == {"delivered": "2016-03-22T17:47:36.253Z"}


def test_an_item_without_its_envelope_is_refused() -> None:
    with pytest.raises(FormatError, match="object: expected 'page' or 'instagram', got None"):
        FORMAT.split(sample(TEXT_ITEM), JSON)


# -- echoes, deliveries, reads ----------------------------------------------------------------------


@pytest.mark.parametrize("delivered_at", [AT, AT + 2500])
def test_an_echo_and_its_delivery_make_one_interaction_whatever_their_order(delivered_at: int) -> None:
    sent = delivery(echo())
    delivered = delivery(receipt("delivery", {"mids": ["m_OUT1"], "watermark": delivered_at}))
    results = [only(*order) for order in itertools.permutations((sent, delivered))]
    assert without_dates(results[0]) == without_dates(results[1])
    doc = results[0]
    assert doc["id"] == interaction_id(URN, "m_OUT1")
    assert (doc["direction"], doc["status"]) == ("outbound", "completed")
    assert doc["description"] == f"Messenger message to {PSID}, delivered"
    # handled when sent: the span is the echo's instant
    assert doc["interactionDate"] == {
        "startDateTime": "2025-11-20T10:00:00.123Z",
        "endDateTime": "2025-11-20T10:00:00.123Z",
    }
    assert doc["note"] == [{"author": PAGE, "date": "2025-11-20T10:00:00.123Z", "text": "Your order shipped"}]
    assert doc["customerIdentifier"] == [
        {"kind": "platform", "value": PSID, "scheme": "messenger-psid", "id": "messenger-psid:6043817532295218"}
    ]
    assert doc["externalIdentifier"] == [
        {"id": "m_OUT1", "owner": SOURCE, "externalIdentifierType": "messenger-message"}
    ]
    assert set(doc["social"]["statuses"]) == {"sent", "delivered"}
    assert doc["social"]["appId"] == "1517776481860111"


def test_an_echo_alone_is_sent_not_yet_delivered() -> None:
    doc = only(delivery(echo()))
    assert (doc["direction"], doc["status"]) == ("outbound", "inProgress")
    assert doc["description"] == f"Messenger message to {PSID}"


def test_a_delivery_naming_several_messages_updates_each() -> None:
    body = delivery(receipt("delivery", {"mids": ["m_1", "m_2"], "watermark": AT}, at=AT + 5))
    assert [r.native_id for r in FORMAT.split(body, JSON)] == ["m_1@delivered", "m_2@delivered"]
    states = stored(delivery(echo("m_1"), echo("m_2")), body)
    assert set(states) == {interaction_id(URN, "m_1"), interaction_id(URN, "m_2")}
    for state in states.values():
        assert state.doc is not None and state.doc["status"] == "completed"
        assert state.doc["social"]["statuses"]["delivered"] == "2025-11-20T10:00:00.128Z"  # its timestamp


def test_a_messenger_read_names_no_message_and_is_not_mapped() -> None:
    assert FORMAT.split(delivery(receipt("read", {"watermark": AT}, at=AT)), JSON) == []
    assert FORMAT.split(delivery(receipt("delivery", {"watermark": AT})), JSON) == []  # no mids either


def test_an_instagram_read_names_its_message_and_marks_it_read() -> None:
    sent = delivery(echo("ig_OUT1"), kind="instagram")
    read = delivery(receipt("read", {"mid": "ig_OUT1"}, at=AT), kind="instagram")
    for order in ((sent, read), (read, sent)):
        doc = only(*order)
        assert doc["status"] == "completed"
        assert doc["description"] == f"Instagram message to {PSID}, read"
        assert doc["customerIdentifier"] == [
            {"kind": "platform", "value": PSID, "scheme": "instagram-id", "id": "instagram-id:6043817532295218"}
        ]
        assert doc["social"]["network"] == "instagram"
        assert doc["social"]["statuses"] == {"sent": "2025-11-20T10:00:00.123Z", "read": "2025-11-20T10:00:00.123Z"}


# -- messages and postbacks -------------------------------------------------------------------------


def test_instagram_messages_name_the_customer_by_instagram_id() -> None:
    doc = only(delivery(inbound({"mid": "aWdfZAG1", "text": "Olá"}), kind="instagram"))
    assert doc["reason"] == "Instagram message"
    assert doc["customerIdentifier"] == [
        {"kind": "platform", "value": PSID, "scheme": "instagram-id", "id": "instagram-id:6043817532295218"}
    ]
    assert doc["externalIdentifier"][0]["externalIdentifierType"] == "instagram-message"
    assert doc["social"]["network"] == "instagram"


def test_attachments_are_references_to_their_urls_never_their_bytes() -> None:
    attachments = [
        {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/photo.jpg"}},
        {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/bill.pdf"}},
        {"type": "fallback", "payload": {"url": "https://example.com/page", "title": "A page"}},
        {"type": "location", "payload": None},
    ]
    doc = only(delivery(inbound({"mid": "m_IN1", "attachments": attachments})))
    assert doc["attachment"] == [
        {"attachmentType": "image", "url": "https://scontent.xx.fbcdn.net/v/photo.jpg"},
        {"attachmentType": "file", "url": "https://cdn.fbsbx.com/v/bill.pdf"},
        {"attachmentType": "fallback", "url": "https://example.com/page", "name": "A page"},
        {"attachmentType": "location"},
    ]
    assert doc["description"] == f"Messenger message from {PSID}, 4 attachments"
    assert "note" not in doc


def test_an_attachment_without_a_type_is_refused_naming_the_field() -> None:
    [event] = events(delivery(inbound({"mid": "m_IN1", "attachments": [{"payload": {"url": "u"}}]})))
    with pytest.raises(AdapterError, match=r"data\.messaging\.message\.attachments\.0\.type: missing"):
        adapters.adapt(event)


def test_a_reply_relates_to_the_message_it_answers() -> None:
    doc = only(delivery(inbound({"mid": "m_IN2", "text": "yes", "reply_to": {"mid": "m_OUT1"}})))
    assert doc["interactionRelationship"] == [{"id": interaction_id(URN, "m_OUT1"), "relationshipType": "replyTo"}]
    assert doc["social"]["repliesTo"] == "m_OUT1"


def test_a_postback_is_its_own_inbound_interaction() -> None:
    tapped = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": AT}
    with_mid = {**tapped, "postback": {"mid": "m_PB1", "title": "Talk to billing", "payload": "BILLING"}}
    doc = only(delivery(with_mid))
    assert doc["id"] == interaction_id(URN, "m_PB1")
    assert (doc["direction"], doc["status"]) == ("inbound", "completed")
    assert doc["description"] == f"Messenger button 'Talk to billing' tapped by {PSID}"
    assert doc["note"][0]["text"] == "Talk to billing"
    assert doc["social"]["kind"] == "postback" and doc["social"]["postbackPayload"] == "BILLING"
    assert doc["externalIdentifier"][0]["externalIdentifierType"] == "messenger-postback"
    # older postbacks carry no mid: named by who tapped when, the same on every redelivery
    older = delivery({**tapped, "postback": {"title": "Get started", "payload": "START"}})
    [record] = FORMAT.split(older, JSON)
    assert record.native_id == f"postback:{PSID}:{AT}"
    assert only(older)["id"] == interaction_id(URN, f"postback:{PSID}:{AT}")


def test_items_that_are_not_mapped_carry_no_record() -> None:
    base = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": AT}
    unmapped = [
        {**base, "reaction": {"mid": "m_OUT1", "action": "react", "emoji": "\u2764"}},
        {**base, "optin": {"ref": "landing"}},
        {**base, "referral": {"ref": "ad", "source": "ADS", "type": "OPEN_THREAD"}},
        {**base, "message_edit": {"mid": "m_IN1", "text": "edited", "num_edit": 1}},
        {**base, "timestamp": "whenever", "optin": {}},  # not read at all: its time is not checked
    ]
    assert FORMAT.split(delivery(*unmapped), JSON) == []
    standby = orjson.dumps({"object": "page", "entry": [{"id": PAGE, "time": AT, "standby": [base]}]})
    assert FORMAT.split(standby, JSON) == []


# -- redelivery, missing and null fields -------------------------------------------------------------


def test_a_redelivery_is_the_same_event_and_changes_nothing() -> None:
    body = delivery(inbound({"mid": "m_IN1", "text": "hi"}), echo(), receipt("delivery", {"mids": ["m_OUT1"]}, AT))
    first, again = events(body), events(body)
    assert (
        [e.id for e in first]
        == [e.id for e in again]
        == ["messenger:m_IN1", "messenger:m_OUT1", "messenger:m_OUT1@delivered"]
    )
    state = changes.ABSENT
    for event in first[1:]:
        state = apply(state, event).new
    for one, other in zip(first, again, strict=True):
        assert adapters.adapt(one) == adapters.adapt(other)
    assert apply(state, again[1]).kind == "unchanged"
    assert apply(state, again[2]).kind == "unchanged"
    created = apply(changes.ABSENT, first[0]).new
    assert apply(created, again[0]).kind == "unchanged"


def test_missing_and_null_optional_fields_are_fine() -> None:
    item = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": {"mid": "m_IN1", "text": None}}
    [record] = FORMAT.split(delivery(item), JSON)
    assert record.time is None  # no timestamp: the time the delivery was received
    doc = only(delivery(item))
    assert doc["interactionDate"] == {"startDateTime": RECEIVED, "endDateTime": RECEIVED}
    assert "note" not in doc and "attachment" not in doc
    assert doc["social"] == {
        "network": "facebook",
        "messageId": "m_IN1",
        "kind": "dm",
        "visibility": "private",
        "pageId": PAGE,
    }


def test_a_message_without_a_sender_is_refused_naming_the_field() -> None:
    [event] = events(delivery({"recipient": {"id": PAGE}, "timestamp": AT, "message": {"mid": "m_IN1"}}))
    with pytest.raises(AdapterError, match=r"data\.messaging\.sender\.id: missing"):
        adapters.adapt(event)


def test_a_record_of_an_unknown_object_or_kind_is_refused() -> None:
    def event(record: dict[str, Any]) -> ChannelEvent:
        return ChannelEvent(id="x", source=URN, type=FORMAT.id, time=RECEIVED, data={"record": record})

    with pytest.raises(AdapterError, match=r"data\.object: unknown value 'user'"):
        adapters.adapt(event({"object": "user", "messaging": {}}))
    with pytest.raises(AdapterError, match="neither a message, a postback, a delivery nor a read"):
        adapters.adapt(event({"object": "page", "messaging": {"read": {"watermark": AT}}}))


# -- hostile input ----------------------------------------------------------------------------------


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"{", "not JSON"),
        (b"null", "not a JSON object but null"),
        (b"1", "not a JSON object but a number"),
        (b'{"object": "whatsapp_business_account", "entry": []}', "object: expected 'page' or 'instagram'"),
        (b'{"object": "page", "entry": "x"}', "entry: expected an array, got a string"),
        (b'{"object": "page", "entry": [{"messaging": {}}]}', r"entry\[0\]\.messaging: expected an array"),
        (b'{"object": "page", "entry": [{"messaging": [[]]}]}', r"messaging\[0\]: expected an object, got an array"),
        (delivery({"message": "hi"}), r"messaging\[0\]\.message: expected an object"),
        (delivery({"message": {"text": "hi"}}), r"messaging\[0\]\.message\.mid: expected a non-empty string"),
        (delivery({"message": {"mid": "m"}, "timestamp": "soon"}), r"messaging\[0\]\.timestamp: expected a count"),
        (delivery({"message": {"mid": "m"}, "timestamp": -5}), r"messaging\[0\]\.timestamp"),
        (delivery({"message": {"mid": "m"}, "timestamp": 10**18}), r"messaging\[0\]\.timestamp"),
        (
            delivery({"message": {"mid": "m"}}).replace(b"}]}]}", b',"timestamp":1' + b"0" * 40 + b"}]}]}"),
            r"messaging\[0\]\.timestamp",
        ),
        (delivery({"message": {"mid": "m"}, "timestamp": 1.5}), r"messaging\[0\]\.timestamp"),
        (delivery({"delivery": {"mids": "m_1"}}), r"delivery\.mids: expected an array of non-empty strings"),
        (delivery({"delivery": {"mids": [1]}}), r"delivery\.mids: expected an array of non-empty strings"),
        (delivery({"delivery": {"mids": ["m"], "watermark": "x"}}), r"delivery\.watermark"),
        (delivery({"read": {"mid": 7}}), r"read\.mid: expected a non-empty string, got a number"),
        (delivery({"postback": {"title": "x"}}), r"postback\.mid: missing, and no sender\.id and timestamp"),
        (_deep(5000), "not JSON"),
        (_deep(40), "nests more than 32 levels"),
        (b'\xef\xbb\xbf{"object": "page"}', "not JSON"),
    ],
)
def test_hostile_deliveries_are_format_errors_naming_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        FORMAT.split(body, JSON)


def test_a_truncated_sample_is_a_format_error() -> None:
    body = sample(FULL_ENVELOPE)
    with pytest.raises(FormatError, match="not JSON"):
        FORMAT.split(body[:-3], JSON)


def test_a_delivery_with_too_many_records_is_refused() -> None:
    mids = [f"m_{n}" for n in range(MAX_RECORDS + 1)]
    with pytest.raises(FormatError, match=f"more than {MAX_RECORDS} records"):
        FORMAT.split(delivery(receipt("delivery", {"mids": mids, "watermark": AT})), JSON)


# -- signature and endpoint check --------------------------------------------------------------------


def signed(body: bytes, signature: str | None) -> SignedRequest:
    headers = {"content-type": JSON, **({"x-hub-signature-256": signature} if signature is not None else {})}
    return SignedRequest("POST", "https://ihub.example/ingest/v1/sources/page", headers, body)


def test_signature_holds_for_the_raw_body_and_the_app_secret_only() -> None:
    assert FORMAT.verify is not None
    body = sample(FULL_ENVELOPE)
    right = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert FORMAT.verify(signed(body, right), SECRET)
    assert not FORMAT.verify(signed(body, right), "another-secret")
    assert not FORMAT.verify(signed(body.replace(b"hello", b"hullo"), right), SECRET)
    assert not FORMAT.verify(signed(body, None), SECRET)
    assert not FORMAT.verify(signed(body, right.replace("sha256=", "sha1=")), SECRET)


def test_handshake_echoes_the_challenge_only_for_the_configured_token() -> None:
    assert FORMAT.handshake is not None
    ask = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "CHALLENGE_ACCEPTED"}
    assert FORMAT.handshake(ask, "tok") == "CHALLENGE_ACCEPTED"
    assert FORMAT.handshake(ask, "not-tok") is None
    assert FORMAT.handshake({**ask, "hub.mode": "Subscribe"}, "tok") is None
