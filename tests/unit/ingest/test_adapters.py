"""Channel event envelope and adapters: every sample adapts to a valid, deterministic change that
maps the channel's key fields; bad events are refused with a reason naming the problem."""

import copy
import re
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ingest.adapters import ADAPTERS, AdapterError, adapt, sample_events
from ingest.adapters.common import CHANNEL_NAMES
from schemas import PartyInteractionCreate
from schemas.channel_event import INTERACTION_NAMESPACE, ChannelEvent, interaction_id
from storage.changes import Change

SAMPLES = {event.type: event for event in sample_events()}
DROP = object()


def sample(event_type: str, **data_changes) -> ChannelEvent:
    """The sample of `event_type`, with `data` changed: `path=value` sets, `path=DROP` removes
    (paths use `__` for nesting: `wrapUp__code`)."""
    event = SAMPLES[event_type]
    data = copy.deepcopy(event.data)
    for path, value in data_changes.items():
        *parents, last = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        if value is DROP:
            del target[last]
        else:
            target[last] = value
    return event.model_copy(update={"data": data})


def change(event_type: str) -> Change:
    return adapt(SAMPLES[event_type])


def parties(document: dict) -> dict[str, dict]:
    return {p["role"]: p for p in document["relatedParty"]}


# -- every sample ------------------------------------------------------------------------------


def test_there_is_a_sample_for_every_event_type():
    assert sorted(SAMPLES) == sorted(ADAPTERS)
    assert len(ADAPTERS) == 14


@pytest.mark.parametrize("event_type", sorted(ADAPTERS))
def test_every_sample_adapts_deterministically(event_type):
    event = SAMPLES[event_type]
    data_before = copy.deepcopy(event.data)
    first = adapt(event)
    again = adapt(ChannelEvent.from_bytes(event.to_bytes()))
    assert first == again
    assert event.data == data_before  # pure: the event is not modified
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", first.interaction_id)
    assert first.time == event.time


@pytest.mark.parametrize("event_type", sorted(t for t in ADAPTERS if t.startswith("ihub.")))
def test_channel_samples_are_valid_create_bodies_with_channel_and_customer(event_type):
    event = SAMPLES[event_type]
    result = adapt(event)
    assert result.kind == "create"
    document = result.body
    # in wire form as built: workers store it as the adapter made it, without serialising the model
    assert PartyInteractionCreate.model_validate(document).to_json_dict() == document
    assert not {"id", "href", "creationDate"} & set(document)
    assert document["@baseType"] == "PartyInteraction"
    assert document["@type"].endswith("Interaction")
    kind = event_type.split(".")[1]
    assert document["channel"] == [
        {"id": kind, "name": CHANNEL_NAMES[kind], "role": "primary", "@referredType": "Channel"}
    ]
    assert document["direction"] in ("inbound", "outbound")
    assert document["reason"] and document["description"] and document["status"]
    assert document["interactionDate"]["startDateTime"]
    assert parties(document)["customer"]["id"] == event.subject
    assert re.fullmatch(r"[0-9a-f]{32}", result.interaction_id)


def test_version_is_the_envelope_time_in_microseconds():
    event = SAMPLES["ihub.app.session"]  # time 2026-11-21T07:52:31.418Z
    expected = datetime(2026, 11, 21, 7, 52, 31, 418000, tzinfo=UTC).timestamp() * 1_000_000
    assert change("ihub.app.session").version == int(expected)
    assert adapt(event.model_copy(update={"time": "2026-11-21T08:52:31.418+01:00"})).version == int(expected)


# -- channel mappings --------------------------------------------------------------------------


def test_call_started_and_ended_are_one_interaction_and_ended_wins():
    started, ended = change("ihub.voice.call.started"), change("ihub.voice.call.ended")
    assert started.interaction_id == ended.interaction_id
    call_id = "c7a1e0f2-5b9d-4e3a-9c61-2d8f0b7a4e15"
    assert started.interaction_id == interaction_id("urn:ihub:voice:genesys-eu1", call_id)
    assert ended.version > started.version
    assert started.body["status"] == "inProgress"
    assert "endDateTime" not in started.body["interactionDate"]
    assert ended.body["status"] == "completed"


def test_voice_call_ended_maps_agent_queue_and_handling_time():
    document = change("ihub.voice.call.ended").body
    assert document["@type"] == "VoiceCallInteraction"
    assert document["reason"] == "Bill higher than expected"  # the wrap-up
    assert document["direction"] == "inbound"
    assert document["interactionDate"] == {
        "startDateTime": "2026-11-20T09:30:00Z",
        "endDateTime": "2026-11-20T09:41:12Z",
    }
    assert parties(document)["customer"] == {
        "id": "cust-42",
        "name": "Ana Silva",
        "role": "customer",
        "@referredType": "Individual",
    }
    assert parties(document)["agent"] == {
        "id": "agent-0007",
        "name": "Rui Costa",
        "role": "agent",
        "@referredType": "PartyRole",
    }
    call = document["call"]
    assert call["queue"] == "billing-pt"
    assert (call["ani"], call["dnis"]) == ("+351912345678", "+351800200300")
    assert (call["talkSeconds"], call["holdSeconds"], call["afterCallWorkSeconds"]) == (512, 35, 64)
    assert call["handlingSeconds"] == 611
    assert call["waitSeconds"] == 41
    assert call["wrapUpCode"] == "BILL-ADJ"
    assert document["note"][0]["author"] == "agent-0007"
    assert document["note"][0]["text"].startswith("Roaming charges")


def test_ivr_session_maps_menu_path_outcome_and_transfer():
    document = change("ihub.ivr.session").body
    assert document["@type"] == "IvrSessionInteraction"
    assert document["reason"] == "Explain bill"
    assert document["status"] == "completed"
    ivr = document["ivr"]
    assert ivr["menuPath"] == ["main", "billing", "billing.explain-bill"]
    assert (ivr["outcome"], ivr["transferTarget"]) == ("transferred", "queue:billing-pt")
    assert ivr["durationSeconds"] == 143
    assert ivr["authenticated"] is True


def test_store_visit_maps_store_csr_ticket_and_minutes():
    document = change("ihub.store.visit").body
    assert document["@type"] == "StoreVisitInteraction"
    assert document["reason"] == "Device repair"
    assert parties(document)["store"] == {
        "id": "store-014",
        "name": "Lisboa Colombo",
        "role": "store",
        "@referredType": "Organization",
    }
    assert parties(document)["agent"]["id"] == "csr-0311"
    visit = document["visit"]
    assert (visit["ticketNumber"], visit["serviceType"]) == ("R042", "device-repair")
    assert (visit["waitMinutes"], visit["serviceMinutes"]) == (12, 18)
    assert document["status"] == "completed"


def test_store_no_show_is_cancelled():
    assert adapt(sample("ihub.store.visit", result="no-show")).body["status"] == "cancelled"


def test_email_maps_thread_reply_attachments_and_organisation_customer():
    event = SAMPLES["ihub.email.message"]
    document = adapt(event).body
    assert document["@type"] == "EmailInteraction"
    assert document["reason"] == "Re: 14 new SIM cards for the delivery fleet"
    assert document["email"]["threadId"] == "thr-55120"
    assert document["email"]["cc"] == ["finance@acme-logistics.example"]
    assert parties(document)["customer"] == {
        "id": "org-117",
        "name": "Acme Logistics",
        "role": "customer",
        "@referredType": "Organization",
    }
    assert document["interactionRelationship"] == [
        {
            "id": interaction_id(event.source, "<20261121.4471.b2b@support.operator.example>"),
            "relationshipType": "replyTo",
        }
    ]
    assert document["attachment"] == [
        {
            "name": "purchase-order-PO-2026-771.pdf",
            "attachmentType": "emailAttachment",
            "mimeType": "application/pdf",
            "size": {"amount": 182044, "units": "bytes"},
        }
    ]


def test_email_reply_is_the_same_interaction_its_answer_points_to():
    original = sample(
        "ihub.email.message",
        messageId="<20261121.4471.b2b@support.operator.example>",
        inReplyTo=DROP,
        direction="outbound",
        agent={"id": "agent-0120", "name": "Inês Rocha"},
    )
    answer = change("ihub.email.message")
    assert adapt(original).interaction_id == answer.body["interactionRelationship"][0]["id"]
    assert parties(adapt(original).body)["agent"]["id"] == "agent-0120"


def test_chat_maps_platform_escalation_and_transcript_as_notes():
    document = change("ihub.chat.conversation").body
    assert document["@type"] == "ChatInteraction"
    assert document["reason"] == "Upgrade plan"
    assert document["chat"]["platform"] == "whatsapp"
    assert document["chat"]["messageCount"] == 23
    assert document["chat"]["escalationReason"] == "bot-fallback"
    assert parties(document)["agent"]["id"] == "agent-0042"
    assert [n["author"] for n in document["note"]] == ["cust-2210", "bot-nova", "agent-0042"]


def test_social_maps_network_handle_visibility_and_sentiment():
    document = change("ihub.social.message").body
    social = document["social"]
    assert (social["network"], social["handle"], social["visibility"]) == ("x", "@lena_kowalski", "public")
    assert social["sentiment"] == {"label": "negative", "score": -0.81}
    assert document["status"] == "inProgress"
    assert document["reason"] == "Broadband outage"
    assert parties(document)["agent"]["id"] == "agent-0093"


def test_social_ids_are_per_network():
    x, facebook = change("ihub.social.message"), adapt(sample("ihub.social.message", network="facebook"))
    assert x.interaction_id != facebook.interaction_id


def test_web_and_app_sessions_map_pages_screens_and_direction():
    web = change("ihub.web.session").body
    assert web["session"]["pageCount"] == 5
    assert web["session"]["intent"] == "bill-explanation"
    assert web["reason"] == "Bill explanation"
    assert web["direction"] == "inbound"
    app = change("ihub.app.session").body
    assert app["session"]["appVersion"] == "5.14.2"
    assert app["session"]["screens"][-1] == "roaming/confirm"
    assert app["direction"] == "outbound"  # opened from a push notification
    assert adapt(sample("ihub.app.session", launchSource="icon")).body["direction"] == "inbound"


def test_anonymous_web_session_has_no_customer():
    anonymous = SAMPLES["ihub.web.session"].model_copy(update={"subject": None})
    assert adapt(anonymous).body["relatedParty"] == []


# -- TMF683 passthrough ------------------------------------------------------------------------


def test_passthrough_create_uses_the_publishers_id_and_drops_server_attributes():
    event = SAMPLES["tmf683.partyInteraction.create"]
    result = adapt(event)
    assert result.interaction_id == "3f9e1b2a7c4d4e8f9a0b1c2d3e4f5a6b"
    assert result.kind == "create"
    assert result.body == {k: v for k, v in event.data.items() if k != "id"}
    with_server_attributes = sample(
        "tmf683.partyInteraction.create", href="http://x/1", creationDate="2020-01-01T00:00:00Z"
    )
    assert adapt(with_server_attributes).body == result.body
    assert adapt(with_server_attributes).href == "http://x/1"  # where the publishing API serves it


def test_passthrough_patch_and_delete():
    patch = change("tmf683.partyInteraction.patch")
    assert (patch.interaction_id, patch.kind) == ("3f9e1b2a7c4d4e8f9a0b1c2d3e4f5a6b", "merge")
    assert patch.body["description"] is None  # merge patch: null removes
    delete = change("tmf683.partyInteraction.delete")
    assert (delete.kind, delete.body) == ("delete", None)
    assert change("tmf683.partyInteraction.create").version < patch.version < delete.version


# -- refused events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (lambda: sample("ihub.voice.call.ended", callId=DROP), "data.callId: missing"),
        (lambda: sample("ihub.voice.call.ended", talkSeconds="512"), "data.talkSeconds: expected an integer, got str"),
        (lambda: sample("ihub.voice.call.ended", holdSeconds=-3), "data.holdSeconds: must not be negative"),
        (lambda: sample("ihub.voice.call.started", direction="sideways"), "data.direction: unknown value 'sideways'"),
        (lambda: sample("ihub.voice.call.ended", endedAt="yesterday"), "data.endedAt: not an ISO 8601 date-time"),
        (lambda: sample("ihub.voice.call.ended", agent={"name": "Rui Costa"}), "data.agent.id: missing"),
        (
            lambda: sample("ihub.voice.call.ended", endedAt="2026-11-20T09:00:00Z"),
            "not a valid PartyInteraction: interactionDate: endDateTime is before startDateTime",
        ),
        (
            lambda: sample("ihub.ivr.session", selfService={"outcome": "transferred"}, transfer=DROP),
            "data.transfer.target: missing",
        ),
        (lambda: sample("ihub.store.visit", storeCode=""), "data.storeCode: must not be empty"),
        (lambda: sample("ihub.store.visit", result="lost"), "data.result: unknown value 'lost'"),
        (lambda: sample("ihub.email.message", to=[{"name": "Support"}]), "data.to.0.address: missing"),
        (
            lambda: sample("ihub.chat.conversation", messageCount=True),
            "data.messageCount: expected an integer, got bool",
        ),
        (lambda: sample("ihub.web.session", pages=["/", 7]), "data.pages.1: expected a string, got int"),
        (lambda: sample("ihub.social.message", network="myspace"), "data.network: unknown value 'myspace'"),
        (
            lambda: SAMPLES["ihub.web.session"].model_copy(update={"type": "ihub.fax.received"}),
            "unknown event type 'ihub.fax.received'",
        ),
        (
            lambda: sample("tmf683.partyInteraction.patch", patch={"direction": "outbound", "status": "open"}),
            "data: not patchable: direction",
        ),
        (
            lambda: sample("tmf683.partyInteraction.patch", patch=[{"op": "remove", "path": "/note"}]),
            "data.patch: expected an object, got list",
        ),
        (
            lambda: sample("tmf683.partyInteraction.create", reason=DROP),
            "not a valid PartyInteraction: reason: Field required",
        ),
        (
            lambda: sample("tmf683.partyInteraction.create", queue="billing"),
            "not a valid PartyInteraction: unknown attribute(s): queue",
        ),
        (lambda: sample("tmf683.partyInteraction.create", id="a/b"), "data.id: not a URL-safe id"),
        (lambda: sample("tmf683.partyInteraction.delete", id=DROP), "data.id: missing"),
        (lambda: sample("tmf683.partyInteraction.delete", reason="x"), "data: unknown attribute(s) reason"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_events_are_refused_with_a_reason_naming_the_problem(event, reason):
    with pytest.raises(AdapterError) as error:
        adapt(event())
    assert reason in error.value.reason


# -- envelope ----------------------------------------------------------------------------------

VALID = {
    "specversion": "1.0",
    "id": "e-1",
    "source": "urn:ihub:web:selfcare-portal",
    "type": "ihub.web.session",
    "time": "2026-11-19T21:14:07Z",
    "data": {},
}


def test_envelope_defaults_and_round_trip():
    event = ChannelEvent.from_bytes(orjson.dumps(VALID))
    assert (event.datacontenttype, event.subject) == ("application/json", None)
    assert ChannelEvent.from_bytes(event.to_bytes()) == event


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (b'{"id": "e-1", "source": ', "not a JSON document"),
        (b"[1, 2]", "ChannelEvent"),
        (orjson.dumps({k: v for k, v in VALID.items() if k != "id"}), "id"),
        (orjson.dumps({**VALID, "id": ""}), "id"),
        (orjson.dumps({**VALID, "time": "20 Nov 2026"}), "time"),
        (orjson.dumps({**VALID, "time": "2026-13-45T00:00:00Z"}), "time"),
        (orjson.dumps({**VALID, "traceparent": "00-abc"}), "traceparent"),
        (orjson.dumps({**VALID, "specversion": "0.3"}), "specversion"),
        (orjson.dumps({**VALID, "datacontenttype": "application/xml"}), "datacontenttype"),
        (orjson.dumps({**VALID, "data": "<call/>"}), "data"),
    ],
)
def test_from_bytes_refuses_bad_envelopes(raw, complaint):
    with pytest.raises((ValidationError, ValueError), match=complaint):
        ChannelEvent.from_bytes(raw)


def test_interaction_ids_are_deterministic_opaque_and_per_source():
    one = interaction_id("urn:ihub:voice:genesys-eu1", "call-1")
    assert one == interaction_id("urn:ihub:voice:genesys-eu1", "call-1")
    assert re.fullmatch(r"[0-9a-f]{32}", one)
    assert one != interaction_id("urn:ihub:voice:genesys-us1", "call-1")
    assert one != interaction_id("urn:ihub:voice:genesys-eu1", "call-2")


@given(st.text(min_size=1), st.text(min_size=1))
def test_interaction_ids_are_the_uuid5_of_source_and_native_id(source, native_id):
    # the ids of every interaction stored so far: they must never change
    expected = uuid.uuid5(INTERACTION_NAMESPACE, f"{source}\n{native_id}").hex
    assert interaction_id(source, native_id) == expected


@pytest.mark.parametrize("event_type", sorted(t for t in ADAPTERS if t.startswith("ihub.")))
def test_channel_adapters_build_the_wire_form_also_without_each_native_field(event_type):
    event = SAMPLES[event_type]
    built = 0
    for name in event.data:
        for data in ({k: v for k, v in event.data.items() if k != name}, {**event.data, name: None}):
            try:
                result = adapt(event.model_copy(update={"data": data}))
            except AdapterError:
                continue  # a required field
            built += 1
            assert PartyInteractionCreate.model_validate(result.body).to_json_dict() == result.body, name
    assert built > 0


def _demo_changes(count: int) -> list[Change]:
    from interaction_hub.cli.loading import demo_events

    return [adapt(event) for event in demo_events(count, seed=7, parties=50)]


@pytest.mark.parametrize("previous", [False, True], ids=["first", "replacing"])
def test_workers_store_adapter_output_without_validating_again_and_get_the_same_resource(previous):
    """Workers call stored_resource(validate=False) on adapter output; that must be exactly what
    validating it again gives, attribute order included (GET returns the stored bytes)."""
    from schemas.party_interaction import stored_resource

    changes = [change(t) for t in SAMPLES if adapt(SAMPLES[t]).kind == "create"] + _demo_changes(300)
    assert len(changes) > 300
    for item in changes:
        before = None
        if previous:  # an older version of it, with another status, already stored
            before = stored_resource(
                {**item.body, "status": "x-older"},
                interaction_id=item.interaction_id,
                href="http://h/pi/" + item.interaction_id,
                now="2020-01-01T00:00:00Z",
            )
        both = [
            stored_resource(
                item.body,
                interaction_id=item.interaction_id,
                href="http://h/pi/" + item.interaction_id,
                now=item.time,
                previous=before,
                validate=validate,
            )
            for validate in (True, False)
        ]
        assert list(both[1].items()) == list(both[0].items()), item.interaction_id
