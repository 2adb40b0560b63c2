"""Genesys Cloud (format genesys-cloud): analytics conversation detail records and the conversation
events Genesys publishes to EventBridge, through the real path: split -> wrap -> adapt -> apply.

The vendor's published examples are read where they lie (tests.vendor_samples); the other records
here are written from Genesys's field reference (AnalyticsConversation/Participant/Session/Segment,
the v2.detail.events.conversation topics' event bodies)."""

from __future__ import annotations

import copy
import random
from datetime import datetime
from typing import Any

import orjson
import pytest

from ingest import formats
from ingest.adapters import AdapterError, adapt
from ingest.formats import MAX_RECORDS, FormatError, wrap
from ingest.formats.genesys_cloud import FORMAT
from schemas.channel_event import ChannelEvent, interaction_id
from schemas.party_interaction import validated_resource
from storage.changes import ABSENT, Change, State, apply
from tests.vendor_samples import sample

SOURCE = "test-source"
SETTINGS = {"name": SOURCE}
RECEIVED = "2026-11-20T10:00:00Z"
HREF = "http://h/x/"
JSON = "application/json"


# -- the real path -------------------------------------------------------------------------------


def body_of(delivery: Any) -> bytes:
    return delivery if isinstance(delivery, bytes) else orjson.dumps(delivery)


def events_of(delivery: Any) -> list[ChannelEvent]:
    return [wrap(r, FORMAT.id, SOURCE, SETTINGS, received=RECEIVED) for r in FORMAT.split(body_of(delivery), JSON)]


def deliver(*deliveries: Any, state: State = ABSENT) -> State:
    """Each delivery's records adapted and applied in turn, from `state`."""
    for delivery in deliveries:
        for event in events_of(delivery):
            state = apply(state, adapt(event), href=HREF).new
    return state


def document(*deliveries: Any) -> dict[str, Any]:
    """The interaction the deliveries make, checked to be a valid TMF683 resource."""
    doc = deliver(*deliveries).doc
    assert doc is not None
    validated_resource(doc)
    return doc


def the_change(delivery: Any) -> Change:
    (event,) = events_of(delivery)
    return adapt(event)


def refusal(delivery: Any) -> str:
    with pytest.raises(AdapterError) as caught:
        deliver(delivery)
    return caught.value.reason


def split_error(body: bytes) -> str:
    with pytest.raises(FormatError) as caught:
        FORMAT.split(body, JSON)
    return str(caught.value)


def content(doc: dict[str, Any]) -> dict[str, Any]:
    """What an interaction says, whatever order its records came in: arrays as sorted lists, and
    without creationDate (when the first record arrived)."""

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((canonical(v) for v in value), key=orjson.dumps)
        return value

    return canonical({k: v for k, v in doc.items() if k != "creationDate"})


def the_id(conversation_id: str) -> str:
    return interaction_id(formats.source_urn(SOURCE), conversation_id)


# -- records written from Genesys's field reference -------------------------------------------------


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def bridge(step: str, conversation_id: str, at: str, **body: Any) -> dict[str, Any]:
    """An EventBridge event of topic v2.detail.events.conversation.{id}.<step>, at `at`."""
    return {
        "version": "0",
        "id": f"0d6c1a2e-{step}-{ms(at)}",
        "detail-type": f"v2.detail.events.conversation.{{id}}.{step}",
        "source": "aws.partner/genesys.com/cloud/5a4f6b4e-0000-4000-8000-00000000000a/ihub",
        "account": "123456789012",
        "time": at[:19] + "Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": f"v2.detail.events.conversation.{conversation_id}.{step}",
            "version": "2",
            "eventBody": {"eventTime": ms(at), "conversationId": conversation_id, **body},
            "metadata": {"CorrelationId": f"corr-{step}"},
            "timestamp": at,
        },
    }


def segment(kind: str, start: str, end: str, **fields: Any) -> dict[str, Any]:
    return {"segmentStart": start, "segmentEnd": end, "segmentType": kind, "conference": False, **fields}


def metric(name: str, value: int, at: str) -> dict[str, Any]:
    return {"name": name, "value": value, "emitDate": at}


def session(media: str, segments: list[dict[str, Any]], metrics: Any = (), **fields: Any) -> dict[str, Any]:
    return {"mediaType": media, "sessionId": f"s-{media}-{len(segments)}", "direction": "inbound", **fields} | {
        "segments": segments,
        "metrics": list(metrics),
    }


def participant(purpose: str, *sessions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"participantId": f"p-{purpose}-{fields.get('userId', '')}", "purpose": purpose, **fields} | {
        "sessions": list(sessions)
    }


VOICE_ID = "5f0c1e2d-0000-4000-8000-000000000001"
BILLING = "7d1e3c55-0000-4000-8000-0000000000b1"
AGENT = "1f9a2b3c-0000-4000-8000-0000000000a1"
WRAP_UP = "0b9d9c3e-0000-4000-8000-0000000000c1"
CALLER = "tel:+351912345678"
LINE = "tel:+351210000000"


def voice_call(**changes: Any) -> dict[str, Any]:
    """An inbound call: IVR one minute, 40 s in queue Billing, answered by Rita, held a minute,
    wrapped up 30 s after the customer hung up (conversationEnd is the hang-up)."""
    t = "2026-03-02T09:"
    record = {
        "conversationId": VOICE_ID,
        "conversationStart": t + "00:00.000Z",
        "conversationEnd": t + "09:00.000Z",
        "originatingDirection": "inbound",
        "divisionIds": ["d-1"],
        "participants": [
            participant(
                "customer",
                session(
                    "voice",
                    [segment("interact", t + "00:00.000Z", t + "09:00.000Z", disconnectType="endpoint")],
                    ani=CALLER,
                    dnis=LINE,
                ),
                participantName="Ana Silva",
                externalContactId="ec-42",
            ),
            participant(
                "ivr",
                session("voice", [segment("ivr", t + "00:00.000Z", t + "01:00.000Z")], ani=CALLER, dnis=LINE),
                participantName="Main menu",
            ),
            participant(
                "acd",
                session(
                    "voice",
                    [
                        segment(
                            "interact", t + "01:00.000Z", t + "01:40.000Z", queueId=BILLING, disconnectType="transfer"
                        )
                    ],
                    [metric("nOffered", 1, t + "01:00.000Z"), metric("tAcd", 40000, t + "01:40.000Z")],
                ),
                participantName="Billing",
            ),
            participant(
                "agent",
                session(
                    "voice",
                    [
                        segment("alert", t + "01:30.000Z", t + "01:40.000Z", queueId=BILLING),
                        segment("interact", t + "01:40.000Z", t + "06:00.000Z", queueId=BILLING),
                        segment("hold", t + "06:00.000Z", t + "07:00.000Z", queueId=BILLING),
                        segment("interact", t + "07:00.000Z", t + "09:00.000Z", queueId=BILLING),
                        segment(
                            "wrapup",
                            t + "09:00.000Z",
                            t + "09:30.000Z",
                            queueId=BILLING,
                            wrapUpCode=WRAP_UP,
                            wrapUpNote="Refund of the March invoice promised",
                        ),
                    ],
                    [
                        metric("tAlert", 10000, t + "01:40.000Z"),
                        metric("tTalk", 200000, t + "06:00.000Z"),
                        metric("tHeld", 60000, t + "07:00.000Z"),
                        metric("tTalk", 120000, t + "09:00.000Z"),
                        metric("tTalkComplete", 320000, t + "09:00.000Z"),
                        metric("tAcw", 30000, t + "09:30.000Z"),
                        metric("tHandle", 410000, t + "09:30.000Z"),
                    ],
                ),
                userId=AGENT,
                participantName="Rita Agent",
            ),
        ],
    }
    return record | changes


def voice_events() -> list[dict[str, Any]]:
    """The same call as its conversation events tell it, the acw event at the detail record's
    latest millisecond (the wrap-up's end)."""
    t = "2026-03-02T09:"
    call = {"mediaType": "VOICE", "direction": "INBOUND", "ani": CALLER, "dnis": LINE, "provider": "Edge"}
    return [
        bridge("customer.start", VOICE_ID, t + "00:00.000Z", participantId="p-c", externalContactId="ec-42", **call),
        bridge("acd.start", VOICE_ID, t + "01:00.000Z", participantId="p-q", queueId=BILLING, **call),
        bridge("user.start", VOICE_ID, t + "01:30.000Z", participantId="p-a", userId=AGENT, queueId=BILLING, **call),
        bridge(
            "acd.end",
            VOICE_ID,
            t + "01:40.000Z",
            participantId="p-q",
            queueId=BILLING,
            acdOutcome="ANSWERED",
            answeredUserId=AGENT,
            **call,
        ),
        bridge(
            "user.end",
            VOICE_ID,
            t + "09:00.000Z",
            participantId="p-a",
            userId=AGENT,
            disconnectType="PEER",
            interactingDurationMs=380000,
            heldDurationMs=60000,
            alertingDurationMs=10000,
            **call,
        ),
        bridge("customer.end", VOICE_ID, t + "09:00.000Z", participantId="p-c", disconnectType="ENDPOINT", **call),
        bridge(
            "acw",
            VOICE_ID,
            t + "09:30.000Z",
            participantId="p-a",
            userId=AGENT,
            queueId=BILLING,
            wrapupCode=WRAP_UP,
            wrapupNotes="Refund of the March invoice promised",
            wrapupDurationMs=30000,
            **call,
        ),
    ]


# -- the vendor's published examples -----------------------------------------------------------------


def test_is_registered_takes_json_and_does_not_sign() -> None:
    assert formats.FORMATS["genesys-cloud"] is FORMAT
    assert FORMAT.media_types == (JSON,)
    assert not FORMAT.signs and FORMAT.handshake is None


def test_sample_chat_detail_record_with_conversation_end_completes_the_interaction() -> None:
    raw = orjson.loads(sample("genesys-cloud/analytics-conversation-detail-chat-1.json"))
    (record,) = FORMAT.split(sample("genesys-cloud/analytics-conversation-detail-chat-1.json"), JSON)
    # its time: one microsecond after its latest instant, the conversationEnd
    assert record.time == datetime.fromisoformat(raw["conversationEnd"]).isoformat().replace("000+", "999+")
    doc = document(sample("genesys-cloud/analytics-conversation-detail-chat-1.json"))
    agent = next(p for p in raw["participants"] if p["purpose"] == "agent")
    queue = next(p for p in raw["participants"] if p["purpose"] == "acd")
    assert doc["id"] == the_id(raw["conversationId"])
    assert doc["@type"] == "ChatInteraction"
    assert doc["status"] == "completed"
    assert doc["direction"] == "inbound"
    assert [c["id"] for c in doc["channel"]] == ["chat"]
    assert doc["interactionDate"] == {"startDateTime": raw["conversationStart"], "endDateTime": raw["conversationEnd"]}
    assert doc["relatedParty"] == [{"id": agent["userId"], "role": "agent", "@referredType": "PartyRole"}]
    assert doc["externalIdentifier"] == [
        {"id": raw["conversationId"], "owner": SOURCE, "externalIdentifierType": "conversation"}
    ]
    assert "customerIdentifier" not in doc  # web chat names its customer by name only
    call = doc["call"]
    # the agent's tTalk 374561 ms, tHeld 544176, tHandle 918737; the queue's tAcd 11179
    assert (call["talkSeconds"], call["holdSeconds"], call["handlingSeconds"], call["waitSeconds"]) == (
        375,
        544,
        919,
        11,
    )
    assert "afterCallWorkSeconds" not in call and "transfers" not in call
    assert call["queue"] == queue["sessions"][0]["segments"][0]["queueId"]
    assert call["queueName"] == queue["participantName"]  # an acd participant bears its queue's name
    assert doc["reason"] == f"Chat to queue {queue['participantName']}"
    assert call["customerName"] == raw["participants"][0]["participantName"]
    assert call["disconnectType"] == "timeout"
    assert doc["description"] == "Chat conversation ended, handled in 919 s"


def test_sample_chat_detail_record_without_conversation_end_is_in_progress() -> None:
    raw = orjson.loads(sample("genesys-cloud/analytics-conversation-detail-chat-2.json"))
    # published quirk: its segments' and metrics' dates have a one-digit day (2021-04-2T...), not
    # ISO 8601; they are left out of the record's time and of figures that need them
    assert "-2T" in raw["participants"][0]["sessions"][0]["segments"][0]["segmentStart"]
    (record,) = FORMAT.split(sample("genesys-cloud/analytics-conversation-detail-chat-2.json"), JSON)
    assert record.time is not None and record.time.startswith(raw["conversationStart"][:23])
    doc = document(sample("genesys-cloud/analytics-conversation-detail-chat-2.json"))
    assert doc["status"] == "inProgress"
    assert doc["interactionDate"] == {"startDateTime": raw["conversationStart"]}  # no end: no handling time yet
    assert doc["description"] == "Chat conversation in progress"
    assert doc["call"]["talkSeconds"] == 923 and doc["call"]["waitSeconds"] == 6
    assert "handlingSeconds" not in doc["call"]
    assert [p["role"] for p in doc["relatedParty"]] == ["agent"]


def test_sample_events_of_one_conversation_make_one_interaction_in_progress() -> None:
    start = sample("genesys-cloud/eventbridge-customer-start-chat.json")
    end = sample("genesys-cloud/eventbridge-customer-end-chat.json")
    raw_start, raw_end = orjson.loads(start)["detail"]["eventBody"], orjson.loads(end)["detail"]["eventBody"]
    (first,), (last,) = events_of(start), events_of(end)
    # the time is the event's eventTime, not the EventBridge envelope's `time` (which, in the
    # published end event, is two months after the event)
    assert (first.time, last.time) == ("2022-04-06T09:30:44.949Z", "2022-04-06T09:31:44.949Z")
    assert first.id != last.id and the_change(start).interaction_id == the_change(end).interaction_id
    alone = document(start)
    assert alone["status"] == "inProgress"
    assert alone["description"] == "Chat conversation in progress: customer connected"
    assert alone["customerIdentifier"] == [
        {
            "kind": "platform",
            "value": raw_start["externalContactId"],
            "scheme": "genesys-external-contact",
            "id": f"genesys-external-contact:{raw_start['externalContactId']}",
        }
    ]
    for doc in (document(start, end), document(end, start)):
        assert doc["id"] == the_id(raw_start["conversationId"])
        assert doc["status"] == "inProgress"
        assert doc["interactionDate"] == {"startDateTime": first.time}  # no end until the detail record
        assert {i["value"] for i in doc["customerIdentifier"]} == {
            raw_start["externalContactId"],
            raw_end["externalContactId"],
        }
        assert doc["externalIdentifier"] == [
            {"id": raw_start["conversationId"], "owner": SOURCE, "externalIdentifierType": "conversation"}
        ]
        assert doc["call"]["provider"] == raw_start["provider"] and doc["call"]["mediaType"] == "chat"
    assert document(start, end)["description"] == "Chat conversation in progress: customer disconnected"


def sample_conversation_detail() -> dict[str, Any]:
    """A detail record, written from the field reference, of the conversation of the published
    events: the customer chats from 09:30:44.949, a queue, an agent, ended at 09:32:10."""
    body = orjson.loads(sample("genesys-cloud/eventbridge-customer-end-chat.json"))["detail"]["eventBody"]
    t = "2022-04-06T09:3"
    return {
        "conversationId": body["conversationId"],
        "conversationStart": t + "0:44.949Z",
        "conversationEnd": t + "2:10.000Z",
        "originatingDirection": "inbound",
        "participants": [
            participant(
                "customer",
                session("chat", [segment("interact", t + "0:44.949Z", t + "1:44.949Z", disconnectType="client")]),
                participantName="Web visitor",
                externalContactId=body["externalContactId"],
            ),
            participant(
                "acd",
                session(
                    "chat",
                    [segment("interact", t + "0:45.000Z", t + "0:50.000Z", queueId="q-web")],
                    [metric("tAcd", 5000, t + "0:50.000Z")],
                ),
                participantName="Web sales",
            ),
            participant(
                "agent",
                session(
                    "chat",
                    [
                        segment("interact", t + "0:50.000Z", t + "1:44.949Z", queueId="q-web"),
                        segment("wrapup", t + "1:44.949Z", t + "2:10.000Z", queueId="q-web", wrapUpCode="w-sale"),
                    ],
                    [metric("tTalk", 54949, t + "1:44.949Z"), metric("tAcw", 25051, t + "2:10.000Z")],
                ),
                userId="u-web",
            ),
        ],
    }


def test_sample_events_and_a_detail_record_agree_in_either_order() -> None:
    start = sample("genesys-cloud/eventbridge-customer-start-chat.json")
    end = sample("genesys-cloud/eventbridge-customer-end-chat.json")
    detail = sample_conversation_detail()
    events_first = document(start, end, detail)
    detail_first = document(detail, end, start)
    assert content(events_first) == content(detail_first)
    doc = detail_first
    assert doc["status"] == "completed"
    assert doc["interactionDate"] == {
        "startDateTime": "2022-04-06T09:30:44.949Z",
        "endDateTime": "2022-04-06T09:32:10.000Z",
    }
    assert doc["reason"] == "Wrap-up code w-sale"
    assert doc["relatedParty"] == [{"id": "u-web", "role": "agent", "@referredType": "PartyRole"}]
    assert (doc["call"]["talkSeconds"], doc["call"]["afterCallWorkSeconds"], doc["call"]["waitSeconds"]) == (55, 25, 5)
    # the start event's external contact stays, whichever came first
    assert len(doc["customerIdentifier"]) == 2
    assert doc["call"]["disconnectType"] == "client"


# -- voice, written from the field reference -------------------------------------------------------


def test_voice_call_detail_record() -> None:
    doc = document(voice_call())
    assert doc["id"] == the_id(VOICE_ID)
    assert doc["@type"] == "VoiceCallInteraction"
    assert [c["id"] for c in doc["channel"]] == ["voice"]
    assert doc["status"] == "completed"
    # handling ends with the wrap-up, after the conversationEnd (the hang-up)
    assert doc["interactionDate"] == {
        "startDateTime": "2026-03-02T09:00:00.000Z",
        "endDateTime": "2026-03-02T09:09:30.000Z",
    }
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CALLER, "id": "phone:+351912345678"},  # as Genesys wrote it
        {
            "kind": "platform",
            "value": "ec-42",
            "scheme": "genesys-external-contact",
            "id": "genesys-external-contact:ec-42",
        },
    ]
    assert doc["relatedParty"] == [{"id": AGENT, "role": "agent", "@referredType": "PartyRole"}]
    assert doc["reason"] == f"Wrap-up code {WRAP_UP}"
    assert doc["note"] == [
        {"author": AGENT, "date": "2026-03-02T09:09:30.000Z", "text": "Refund of the March invoice promised"}
    ]
    assert doc["call"] == {
        "conversationId": VOICE_ID,
        "mediaType": "voice",
        "customerName": "Ana Silva",
        "queue": BILLING,
        "queueName": "Billing",
        "queues": [BILLING],
        "agentNames": {AGENT: "Rita Agent"},
        "talkSeconds": 320,  # two tTalk metrics; tTalkComplete is not counted again
        "holdSeconds": 60,
        "afterCallWorkSeconds": 30,
        "handlingSeconds": 410,
        "waitSeconds": 40,
        "ivrSeconds": 60,
        "wrapUpCode": WRAP_UP,
        "wrapUpNote": "Refund of the March invoice promised",
        "disconnectType": "endpoint",
    }


def test_voice_events_tell_the_call_while_it_lasts() -> None:
    steps = voice_events()
    queued = document(*steps[:2])
    assert queued["status"] == "inProgress"
    assert queued["reason"] == f"Call to queue {BILLING}"
    assert queued["relatedParty"] == []
    assert queued["customerIdentifier"] == [
        {"kind": "phone", "value": CALLER, "id": "phone:+351912345678"},
        {
            "kind": "platform",
            "value": "ec-42",
            "scheme": "genesys-external-contact",
            "id": "genesys-external-contact:ec-42",
        },
    ]
    offered = document(*steps[:3])
    assert offered["relatedParty"] == []  # alerted, not yet answering
    assert offered["description"] == "Call conversation in progress: offered to an agent"
    answered = document(*steps[:4])
    assert answered["relatedParty"] == [{"id": AGENT, "role": "agent", "@referredType": "PartyRole"}]
    assert answered["description"] == "Call conversation in progress: left the queue"
    wrapped = document(*steps)
    assert wrapped["status"] == "inProgress"  # only the detail record completes it
    assert "endDateTime" not in wrapped["interactionDate"]  # so no partial handling time counts
    assert wrapped["call"]["wrapUpCode"] == WRAP_UP and wrapped["reason"] == f"Wrap-up code {WRAP_UP}"
    assert wrapped["call"]["disconnectType"] == "endpoint"
    assert wrapped["call"]["queue"] == BILLING
    assert "note" not in wrapped  # wrap-up notes become notes from the detail record only
    assert wrapped["call"]["wrapUpNote"] == "Refund of the March invoice promised"


@pytest.mark.parametrize("order", ["detail first", "reversed", *(f"shuffled {seed}" for seed in range(10))])
def test_voice_events_and_detail_record_in_any_order_make_the_same_interaction(order: str) -> None:
    deliveries: list[Any] = [*voice_events(), voice_call()]
    expected = content(document(*deliveries))
    if order == "detail first":
        deliveries.insert(0, deliveries.pop())
    elif order == "reversed":
        deliveries.reverse()
    else:
        random.Random(order).shuffle(deliveries)
    doc = document(*deliveries)
    assert content(doc) == expected
    # the acw event shares the detail record's last millisecond: it does not reopen the call
    assert doc["status"] == "completed"
    assert doc["relatedParty"] == [{"id": AGENT, "role": "agent", "@referredType": "PartyRole"}]
    assert doc["call"]["handlingSeconds"] == 410


def test_acw_event_after_the_detail_record_leaves_it_completed() -> None:
    *_, acw = voice_events()
    before = deliver(voice_call())
    after = deliver(acw, state=before)
    assert after.doc is not None and before.doc is not None
    assert after.doc["status"] == "completed"
    assert after.doc["reason"] == before.doc["reason"]
    assert after.doc["interactionDate"] == before.doc["interactionDate"]


# -- other media -------------------------------------------------------------------------------------


def test_callback_names_the_numbers_to_call_back() -> None:
    t = "2026-03-03T14:"
    callback = {
        "conversationId": "cb-1",
        "conversationStart": t + "00:00.000Z",
        "conversationEnd": t + "12:00.000Z",
        "originatingDirection": "outbound",
        "participants": [
            participant(
                "customer",
                session(
                    "callback",
                    [segment("scheduled", t + "00:00.000Z", t + "05:00.000Z")],
                    direction="outbound",
                    callbackNumbers=["+351911111111", "+351922222222", "+351911111111"],  # each named once
                    callbackUserName="Rui Costa",
                    callbackScheduledTime=t + "05:00.000Z",
                ),
                session(
                    "voice",
                    [segment("interact", t + "05:10.000Z", t + "11:00.000Z", disconnectType="peer")],
                    direction="outbound",
                    ani=LINE,
                    dnis="tel:+351911111111",
                ),
            ),
            participant(
                "agent",
                session(
                    "callback",
                    [segment("interact", t + "05:00.000Z", t + "11:00.000Z", queueId="q-cb")],
                    [metric("tTalk", 350000, t + "11:00.000Z"), metric("tHandle", 410000, t + "12:00.000Z")],
                    direction="outbound",
                ),
                userId="u-cb",
            ),
        ],
    }
    doc = document(callback)
    assert doc["@type"] == "VoiceCallInteraction" and [c["id"] for c in doc["channel"]] == ["voice"]
    assert doc["direction"] == "outbound"
    assert doc["call"]["mediaType"] == "callback"
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": "+351911111111", "id": "phone:+351911111111"},
        {"kind": "phone", "value": "+351922222222", "id": "phone:+351922222222"},
        {
            "kind": "phone",
            "value": "tel:+351911111111",
            "id": "phone:+351911111111",
        },  # the called side of the outbound voice session
    ]
    assert doc["reason"] == "Callback conversation"  # no acd participant, no wrap-up code
    assert doc["call"]["handlingSeconds"] == 410


def email(direction: str) -> dict[str, Any]:
    t = "2026-03-04T08:"
    return {
        "conversationId": f"em-{direction}",
        "conversationStart": t + "00:00.000Z",
        "conversationEnd": t + "30:00.000Z",
        "originatingDirection": direction,
        "participants": [
            participant(
                "customer" if direction == "inbound" else "external",
                session(
                    "email",
                    [segment("interact", t + "00:00.000Z", t + "30:00.000Z")],
                    direction=direction,
                    addressFrom="joana@example.pt" if direction == "inbound" else "care@operator.example",
                    addressTo="care@operator.example" if direction == "inbound" else "joana@example.pt",
                ),
            ),
            participant(
                "agent",
                session(
                    "email",
                    [segment("interact", t + "10:00.000Z", t + "30:00.000Z", subject="Invoice", queueId="q-mail")],
                    [metric("tHandle", 1_200_000, t + "30:00.000Z")],
                    direction=direction,
                ),
                userId="u-mail",
            ),
        ],
    }


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_email_names_the_customers_address(direction: str) -> None:
    doc = document(email(direction))
    assert doc["@type"] == "EmailInteraction" and [c["id"] for c in doc["channel"]] == ["email"]
    assert doc["direction"] == direction
    # inbound: the sender; outbound: the recipient (the customer is the external participant)
    assert doc["customerIdentifier"] == [{"kind": "email", "value": "joana@example.pt", "id": "email:joana@example.pt"}]
    assert doc["call"]["handlingSeconds"] == 1200
    assert "transferTargets" not in doc["call"]


@pytest.mark.parametrize(
    ("message_type", "channel", "type_name", "identity"),
    [
        (
            "sms",
            "messaging",
            "MessagingInteraction",
            {"kind": "phone", "value": "+351933333333", "id": "phone:+351933333333"},
        ),
        (
            "whatsapp",
            "messaging",
            "MessagingInteraction",
            {"kind": "phone", "value": "+351933333333", "id": "phone:+351933333333"},
        ),
        (
            "facebook",
            "social",
            "SocialMessageInteraction",
            {
                "kind": "platform",
                "value": "+351933333333",
                "scheme": "messenger-psid",
                "id": "messenger-psid:+351933333333",
            },
        ),
        (
            "instagram",
            "social",
            "SocialMessageInteraction",
            {
                "kind": "platform",
                "value": "+351933333333",
                "scheme": "instagram-id",
                "id": "instagram-id:+351933333333",
            },
        ),
        (
            "webmessaging",
            "chat",
            "ChatInteraction",
            {
                "kind": "platform",
                "value": "+351933333333",
                "scheme": "genesys-webmessaging",
                "id": "genesys-webmessaging:+351933333333",
            },
        ),
        (
            "open",
            "messaging",
            "MessagingInteraction",
            {
                "kind": "platform",
                "value": "+351933333333",
                "scheme": "genesys-open",
                "id": "genesys-open:+351933333333",
            },
        ),
    ],
)
def test_message_channel_and_address_follow_the_message_type(
    message_type: str, channel: str, type_name: str, identity: dict[str, str]
) -> None:
    t = "2026-03-05T19:"
    record = {
        "conversationId": f"msg-{message_type}",
        "conversationStart": t + "00:00.000Z",
        "originatingDirection": "inbound",
        "participants": [
            participant(
                "customer",
                session(
                    "message",
                    [segment("interact", t + "00:00.000Z", t + "04:00.000Z")],
                    messageType=message_type,
                    addressFrom="+351933333333",
                    addressTo="+351300000000",
                ),
            )
        ],
    }
    doc = document(record)
    assert [c["id"] for c in doc["channel"]] == [channel] and doc["@type"] == type_name
    assert doc["customerIdentifier"] == [identity]
    assert doc["call"]["messageType"] == message_type
    event = bridge(
        "customer.start",
        f"msg-{message_type}",
        t + "00:00.000Z",
        mediaType="MESSAGE",
        messageType=message_type.upper(),
        direction="INBOUND",
        addressFrom="+351933333333",
        addressTo="+351300000000",
    )
    assert content(document(event))["customerIdentifier"] == [identity]
    assert content(document(record, event))["channel"] == content(doc)["channel"]  # the same channel


# -- transfers ---------------------------------------------------------------------------------------


def test_transfer_between_two_agents_and_two_queues() -> None:
    t = "2026-03-06T11:"
    record = {
        "conversationId": "xfer-1",
        "conversationStart": t + "00:00.000Z",
        "conversationEnd": t + "20:00.000Z",
        "originatingDirection": "inbound",
        "participants": [
            participant(
                "customer", session("voice", [segment("interact", t + "00:00.000Z", t + "20:00.000Z")], ani=CALLER)
            ),
            participant(
                "acd",
                session(
                    "voice",
                    [segment("interact", t + "00:00.000Z", t + "00:30.000Z", queueId="q-sales")],
                    [metric("tAcd", 30000, t + "00:30.000Z")],
                ),
                participantName="Sales",
            ),
            participant(
                "agent",
                session(
                    "voice",
                    [
                        segment(
                            "interact", t + "00:30.000Z", t + "05:00.000Z", queueId="q-sales", disconnectType="transfer"
                        )
                    ],
                    [
                        metric("tTalk", 270000, t + "05:00.000Z"),
                        metric("nTransferred", 1, t + "05:00.000Z"),
                        metric("tHandle", 270000, t + "05:00.000Z"),
                    ],
                ),
                userId="u-sales",
                participantName="Sam Sales",
            ),
            participant(
                "acd",
                session(
                    "voice",
                    [segment("interact", t + "05:00.000Z", t + "06:00.000Z", queueId="q-tech")],
                    [metric("tAcd", 60000, t + "06:00.000Z")],
                ),
                participantName="Tech support",
            ),
            participant(
                "agent",
                session(
                    "voice",
                    [
                        segment("interact", t + "06:00.000Z", t + "19:00.000Z", queueId="q-tech"),
                        segment("wrapup", t + "19:00.000Z", t + "20:00.000Z", queueId="q-tech", wrapUpCode="w-fixed"),
                    ],
                    [
                        metric("tTalk", 780000, t + "19:00.000Z"),
                        metric("tAcw", 60000, t + "20:00.000Z"),
                        metric("tHandle", 840000, t + "20:00.000Z"),
                    ],
                ),
                userId="u-tech",
            ),
        ],
    }
    doc = document(record)
    assert doc["relatedParty"] == [
        {"id": "u-sales", "role": "agent", "@referredType": "PartyRole"},
        {"id": "u-tech", "role": "agent", "@referredType": "PartyRole"},
    ]
    call = doc["call"]
    assert call["queues"] == ["q-sales", "q-tech"]
    assert (call["queue"], call["queueName"]) == ("q-tech", "Tech support")  # where it was handled last
    assert call["agentNames"] == {"u-sales": "Sam Sales"}
    assert call["transfers"] == 1
    assert (call["talkSeconds"], call["waitSeconds"], call["handlingSeconds"], call["afterCallWorkSeconds"]) == (
        1050,
        90,
        1110,
        60,
    )
    assert call["wrapUpCode"] == "w-fixed" and doc["reason"] == "Wrap-up code w-fixed"
    assert "interactionRelationship" not in doc  # one conversation, one interaction
    # the events of both agents add the same party references, not new ones
    call = {"mediaType": "VOICE", "direction": "INBOUND"}
    steps = [
        bridge("acd.end", "xfer-1", t + "00:30.000Z", answeredUserId="u-sales", queueId="q-sales", **call),
        bridge("user.end", "xfer-1", t + "05:00.000Z", userId="u-sales", interactingDurationMs=270000, **call),
        bridge("acd.end", "xfer-1", t + "06:00.000Z", answeredUserId="u-tech", queueId="q-tech", **call),
    ]
    assert content(document(*steps, record)) == content(document(record, *steps))
    assert len(document(*steps, record)["relatedParty"]) == 2


def test_an_agent_who_does_not_answer_is_no_agent_of_the_interaction() -> None:
    t = "2026-03-02T09:01:"
    record = voice_call()
    # offered to Bruno first, who let it ring (a redirect on no answer), then to Rita
    record["participants"].insert(
        3,
        participant(
            "agent",
            session(
                "voice",
                [segment("alert", t + "00.000Z", t + "15.000Z", queueId=BILLING, disconnectType="noAnswerTransfer")],
                [metric("tAlert", 15000, t + "15.000Z"), metric("tNotResponding", 15000, t + "15.000Z")],
            ),
            userId="u-bruno",
            participantName="Bruno",
        ),
    )
    call = {"mediaType": "VOICE", "direction": "INBOUND"}
    ringing = [
        bridge("user.start", VOICE_ID, t + "00.000Z", userId="u-bruno", **call),
        bridge("user.end", VOICE_ID, t + "15.000Z", userId="u-bruno", interactingDurationMs=0, **call),
    ]
    for doc in (document(*ringing, record), document(record, *ringing)):
        assert doc["relatedParty"] == [{"id": AGENT, "role": "agent", "@referredType": "PartyRole"}]
        assert doc["call"]["agentNames"] == {AGENT: "Rita Agent"}
    assert document(*ringing)["relatedParty"] == []


def test_blind_transfer_to_an_external_number_is_kept_in_the_extension() -> None:
    t = "2026-03-06T12:"
    record = voice_call(conversationId="ext-1")
    record["participants"].append(
        participant(
            "external",
            session(
                "voice",
                [segment("interact", t + "00:00.000Z", t + "03:00.000Z")],
                direction="outbound",
                dnis="tel:+351217777777",
            ),
            participantName="Partner helpdesk",
        )
    )
    doc = document(record)
    assert doc["call"]["transferTargets"] == [{"name": "Partner helpdesk", "address": "tel:+351217777777"}]
    assert doc["customerIdentifier"][0] == {
        "kind": "phone",
        "value": CALLER,
        "id": "phone:+351912345678",
    }  # the customer is still the caller


def test_outbound_call_placed_by_an_agent_names_the_external_party_as_customer() -> None:
    t = "2026-03-07T10:"
    record = {
        "conversationId": "out-1",
        "conversationStart": t + "00:00.000Z",
        "conversationEnd": t + "04:00.000Z",
        "originatingDirection": "outbound",
        "participants": [
            participant(
                "agent",
                session(
                    "voice",
                    [segment("interact", t + "00:00.000Z", t + "04:00.000Z")],
                    direction="outbound",
                    ani=LINE,
                    dnis=CALLER,
                ),
                userId="u-out",
            ),
            participant(
                "external",
                session(
                    "voice",
                    [segment("interact", t + "00:05.000Z", t + "04:00.000Z")],
                    direction="outbound",
                    ani=LINE,
                    dnis=CALLER,
                ),
                participantName="Ana Silva",
            ),
        ],
    }
    doc = document(record)
    assert doc["direction"] == "outbound"
    assert doc["customerIdentifier"] == [
        {"kind": "phone", "value": CALLER, "id": "phone:+351912345678"}
    ]  # the called side
    assert doc["call"]["customerName"] == "Ana Silva"
    assert "transferTargets" not in doc["call"]


# -- redelivery and revisions -------------------------------------------------------------------------


def test_redelivered_detail_record_is_the_same_event_and_changes_nothing() -> None:
    (once,), (twice,) = events_of(voice_call()), events_of(voice_call())
    assert once.id == twice.id and once == twice
    assert adapt(once) == adapt(twice)
    state = deliver(voice_call())
    again = apply(state, adapt(twice), href=HREF)
    assert again.kind == "unchanged" and again.new == state


def test_redelivered_event_is_the_same_event_and_changes_nothing() -> None:
    start = sample("genesys-cloud/eventbridge-customer-start-chat.json")
    (once,), (twice,) = events_of(start), events_of(start)
    assert once.id == twice.id and adapt(once) == adapt(twice)
    state = deliver(start)
    assert apply(state, adapt(twice), href=HREF).kind == "unchanged"


def test_later_revision_of_a_detail_record_completes_and_an_older_one_does_not_reopen() -> None:
    in_progress = voice_call()
    del in_progress["conversationEnd"]
    agent = in_progress["participants"][3]["sessions"][0]
    agent["segments"] = agent["segments"][:2]
    agent["metrics"] = agent["metrics"][:2]
    (early,), (late,) = FORMAT.split(body_of(in_progress), JSON), FORMAT.split(body_of(voice_call()), JSON)
    assert early.native_id != late.native_id and early.time is not None and late.time is not None
    assert early.time < late.time
    first = deliver(in_progress)
    assert first.doc is not None and first.doc["status"] == "inProgress"
    assert "handlingSeconds" not in first.doc["call"] and first.doc["call"]["talkSeconds"] == 200
    completed = deliver(voice_call(), state=first)
    assert completed.doc is not None and completed.doc["status"] == "completed"
    assert completed.doc["call"]["talkSeconds"] == 320
    replayed = deliver(in_progress, state=completed)
    assert replayed.doc is not None
    assert replayed.doc["status"] == "completed" and replayed.doc["call"]["talkSeconds"] == 320
    assert content(replayed.doc) == content(completed.doc)
    assert content(completed.doc) == content(document(voice_call()))


# -- deliveries of many records ----------------------------------------------------------------------


def test_details_query_answer_and_arrays_carry_many_records() -> None:
    answer = {"conversations": [voice_call(), email("inbound")], "totalHits": 2}
    records = FORMAT.split(body_of(answer), JSON)
    assert [r.native_id.split("@")[0] for r in records] == [VOICE_ID, "em-inbound"]
    assert FORMAT.split(b'{"conversations": [], "totalHits": 0}', JSON) == []
    assert FORMAT.split(b'{"conversations": null}', JSON) == []
    mixed = [*voice_events(), voice_call()]
    assert len(FORMAT.split(body_of(mixed), JSON)) == 8
    assert document(mixed)["status"] == "completed"


def test_bare_notification_is_read_like_the_eventbridge_event() -> None:
    event = orjson.loads(sample("genesys-cloud/eventbridge-customer-start-chat.json"))
    notification = event["detail"]
    (record,) = FORMAT.split(body_of(notification), JSON)
    assert (
        record.native_id
        == FORMAT.split(sample("genesys-cloud/eventbridge-customer-start-chat.json"), JSON)[0].native_id
    )
    assert content(document(notification)) == content(document(event))


# -- missing and null fields ------------------------------------------------------------------------------


def test_missing_and_null_optional_fields_are_fine() -> None:
    record = {
        "conversationId": "sparse-1",
        "conversationStart": "2026-03-08T10:00:00.000Z",
        "conversationEnd": None,
        "originatingDirection": "inbound",
        "divisionIds": None,
        "participants": [
            {
                "purpose": "customer",
                "participantName": None,
                "externalContactId": None,
                "sessions": [{"mediaType": "voice", "ani": None, "segments": None, "metrics": None}],
            },
            {"purpose": "agent", "userId": None, "sessions": None},
            {"purpose": None},
            {
                "purpose": "acd",
                "sessions": [{"mediaType": "voice", "segments": [{"queueId": None, "segmentStart": None}]}],
            },
        ],
    }
    doc = document(record)
    assert doc["status"] == "inProgress" and doc["relatedParty"] == []
    assert "customerIdentifier" not in doc
    assert doc["call"] == {"conversationId": "sparse-1", "mediaType": "voice"}
    assert doc["reason"] == "Call conversation"
    event = bridge(
        "customer.start",
        "sparse-1",
        "2026-03-08T10:00:01.000Z",
        mediaType="VOICE",
        direction="INBOUND",
        ani=None,
        externalContactId=None,
        provider=None,
    )
    assert "customerIdentifier" not in document(event)
    # without originatingDirection, the first session's direction
    del record["originatingDirection"]
    record["participants"][0]["sessions"][0]["direction"] = "outbound"
    assert document(record)["direction"] == "outbound"


# -- records that cannot be used -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"conversationStart": None}, "data.conversationStart: missing"),
        ({"conversationStart": "yesterday"}, "data.conversationStart: not an ISO 8601 date-time"),
        ({"conversationEnd": "2026-13-01T00:00:00Z"}, "data.conversationEnd: not an ISO 8601 date-time"),
        ({"originatingDirection": "sideways"}, "data.originatingDirection: unknown value 'sideways'"),
        ({"participants": "all of them"}, "data.participants: expected an array, got str"),
        ({"participants": [3]}, "data.participants.0: expected an object, got int"),
        ({"participants": []}, "data.participants: no participant has a session"),
    ],
)
def test_unusable_detail_record_is_refused_naming_the_field(changes: dict[str, Any], reason: str) -> None:
    assert refusal(voice_call(**changes)).startswith(reason)


def test_unusable_sessions_and_metrics_are_refused_naming_the_field() -> None:
    record = voice_call()
    record["participants"][0]["sessions"][0]["mediaType"] = "telepathy"
    assert refusal(record).startswith("data.participants.0.sessions.0.mediaType: unknown value 'telepathy'")
    record = voice_call()
    record["participants"][3]["sessions"][0]["metrics"][1]["value"] = "200000"
    assert refusal(record) == "data.participants.3.sessions.0.metrics.1.value: expected a number, got str"
    record = voice_call()
    record["participants"][3]["sessions"][0]["metrics"][1]["value"] = -5
    assert refusal(record) == "data.participants.3.sessions.0.metrics.1.value: must not be negative"


def test_unusable_events_are_refused_naming_the_field() -> None:
    start = orjson.loads(sample("genesys-cloud/eventbridge-customer-start-chat.json"))
    attributes = copy.deepcopy(start)
    attributes["detail-type"] = "v2.detail.events.conversation.{id}.attributes"
    attributes["detail"]["topicName"] = attributes["detail"]["topicName"].replace("customer.start", "attributes")
    assert "is not a conversation event this format reads" in refusal(attributes)
    unknown = copy.deepcopy(start)
    unknown["detail"]["eventBody"]["direction"] = "UNKNOWN"
    assert refusal(unknown).startswith("data.detail.eventBody.direction: unknown value 'UNKNOWN'")
    fax = copy.deepcopy(start)
    fax["detail"]["eventBody"]["mediaType"] = "FAX"
    assert refusal(fax).startswith("data.detail.eventBody.mediaType: unknown value 'fax'")
    blank = copy.deepcopy(start)
    del blank["detail"]["eventBody"]["mediaType"]
    assert refusal(blank) == "data.detail.eventBody.mediaType: missing"


# -- hostile deliveries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not JSON"),
        (b"   ", "not JSON"),
        (b"<xml/>", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"42", "body: expected an object, got int"),
        (b'"conversation"', "body: expected an object, got str"),
        (b"null", "body: expected an object, got NoneType"),
        (b"[1, 2]", "body[0]: expected an object, got int"),
        (b"{}", "body: neither a conversation detail record"),
        (b'{"conversations": "all"}', "conversations: expected an array, got str"),
        (b'{"conversations": [[]]}', "conversations[0]: expected an object, got list"),
        (b'{"conversationId": 7}', "body.conversationId: expected a non-empty string"),
        (b'{"conversationId": ""}', "body.conversationId: expected a non-empty string"),
        (b'{"detail": "x"}', "body.detail.eventBody: expected an object, got NoneType"),
        (b'{"detail": {"eventBody": []}}', "body.detail.eventBody: expected an object, got list"),
        (b'{"detail": {"eventBody": {"userId": "u"}}}', "body.detail.eventBody.conversationId: missing"),
        (b'{"eventBody": {"conversationId": "c"}}', "body.eventBody.eventTime: expected milliseconds"),
        (b'{"eventBody": {"conversationId": "c", "eventTime": "1649237444949"}}', "eventTime: expected milliseconds"),
        (b'{"eventBody": {"conversationId": "c", "eventTime": true}}', "eventTime: expected milliseconds"),
        (b'{"eventBody": {"conversationId": "c", "eventTime": -1}}', "eventTime: expected milliseconds"),
        (b'{"eventBody": {"conversationId": "c", "eventTime": 1e30}}', "eventTime: expected milliseconds"),
        (
            b'{"eventBody": {"conversationId": "c", "eventTime": 99999999999999999999}}',
            "eventTime: expected milliseconds",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_hostile_deliveries_are_refused_with_a_format_error(body: bytes, problem: str) -> None:
    assert problem in split_error(body)


def test_truncated_sample_is_not_json() -> None:
    published = sample("genesys-cloud/analytics-conversation-detail-chat-1.json")
    assert split_error(published[: len(published) // 2]).startswith("not JSON")


def test_deep_nesting_within_json_limits_is_refused() -> None:
    nested: Any = "deep"
    for _ in range(100):
        nested = {"n": nested}
    record = voice_call()
    record["participants"][0]["attributes"] = nested
    assert "nests more than 64 levels" in split_error(body_of(record))


def test_too_many_records_are_refused() -> None:
    one = {"conversationId": "c", "conversationStart": "2026-03-08T10:00:00Z"}
    assert len(FORMAT.split(body_of({"conversations": [one] * MAX_RECORDS}), JSON)) == MAX_RECORDS
    assert "more than the 10000 a delivery may carry" in split_error(
        body_of({"conversations": [one] * (MAX_RECORDS + 1)})
    )


def test_undated_detail_record_takes_the_delivery_time_then_is_refused_by_adapt() -> None:
    (record,) = FORMAT.split(b'{"conversationId": "c", "participants": []}', JSON)
    assert record.time is None and record.native_id == "c@undated"
    assert refusal(b'{"conversationId": "c", "participants": []}') == "data.conversationStart: missing"
