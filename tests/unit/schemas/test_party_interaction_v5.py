"""The v4 <-> v5 mapping (schemas/party_interaction_v5.py): both directions, round trips, the v5
rules, and v5 query paths. Every v5 view is checked against TM Forum's v5 schemas."""

from __future__ import annotations

import copy

import pytest

from schemas.party_interaction import validated_resource
from schemas.party_interaction_v5 import V5Invalid, check_v5, from_v5, last_update, stored_path, to_v5
from tests.tmf683_v5 import validate

HREF = "http://api/tmf-api/partyInteraction/v5/partyInteraction/abc"
AT = "2026-11-20T09:41:12.123Z"

V4_DOCS = {
    "what the CTK posts": {
        "id": "abc",
        "href": "http://api/tmf-api/partyInteraction/v4/partyInteraction/abc",
        "creationDate": "2026-11-20T09:30:00.000Z",
        "direction": "inbounds",
        "reason": "The user wanted to buy TV and internet plan",
        "channel": [{"id": "555"}],
    },
    "every v4 attribute": {
        "id": "abc",
        "href": "http://api/tmf-api/partyInteraction/v4/partyInteraction/abc",
        "creationDate": "2026-11-20T09:30:00.000Z",
        "description": "Customer called about roaming charges",
        "reason": "Bill higher than expected",
        "status": "open",
        "statusChangeDate": "2026-11-20T09:30:00.000Z",
        "direction": "inbound",
        "interactionDate": {"startDateTime": "2026-11-20T09:30:00Z", "endDateTime": "2026-11-20T09:41:12Z"},
        "channel": [
            {"id": "voice", "name": "Contact centre", "role": "primary", "href": "http://c/voice"},
            {"id": "web", "@referredType": "Channel", "@type": "RelatedChannel"},
        ],
        "relatedParty": [
            {"id": "cust-42", "name": "Ana Silva", "role": "customer", "@referredType": "Individual"},
            {"id": "agent-7", "role": "agent", "@referredType": "PartyRole"},
        ],
        "note": [{"author": "agent-7", "date": "2026-11-20T09:41:00Z", "text": "Credit note promised"}],
        "attachment": [
            {"id": "att-1", "href": "http://docs/att-1"},
            {"name": "bill.pdf", "mimeType": "application/pdf", "attachmentType": "bill", "url": "http://docs/b"},
        ],
        "interactionItem": [
            {
                "id": "1",
                "reason": "order",
                "item": {"id": "o-1", "@type": "ProductOrder", "role": "created"},
                "channel": [{"id": "web"}],
                "relatedParty": [{"id": "cust-42", "@referredType": "Individual", "role": "customer"}],
                "note": [{"text": "item note"}],
            }
        ],
        "interactionRelationship": [{"id": "other", "relationshipType": "follows"}],
    },
    "a subclass with extension attributes": {
        "id": "abc",
        "href": "http://api/tmf-api/partyInteraction/v4/partyInteraction/abc",
        "creationDate": "2026-11-20T09:30:00.000Z",
        "@type": "VoicePartyInteraction",
        "@baseType": "PartyInteraction",
        "reason": "Porting request",
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "queue": "porting",
        "handling": {"talkSeconds": 312},
    },
}

V5_RESOURCES = {
    "the spec's create example, in short": {
        "@type": "PartyInteraction",
        "reason": "The user wanted to buy TV and internet plan",
        "direction": "inbound",
        "relatedChannel": [
            {
                "@type": "RelatedChannel",
                "role": "interaction creation",
                "channel": {"@type": "ChannelRef", "id": "555", "name": "Madrid Gran Store"},
            }
        ],
        "relatedParty": [
            {
                "@type": "RelatedPartyOrPartyRole",
                "role": "user",
                "partyOrPartyRole": {
                    "@type": "PartyRef",
                    "id": "999",
                    "name": "John Doe",
                    "@referredType": "Individual",
                },
            }
        ],
        "interactionItem": [
            {
                "@type": "InteractionItem",
                "id": "5678",
                "item": {
                    "@type": "RelatedEntityRefOrValue",
                    "role": "interaction",
                    "entity": {"@type": "EntityRef", "id": "30001", "@referredType": "ProductOrder"},
                },
            }
        ],
    },
    "what only v5 says": {
        "@type": "PartyInteraction",
        "reason": "complaint",
        "direction": "inbound",
        "relatedChannel": [
            {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "web"}}
        ],
        "relatedParty": [
            {
                "@type": "RelatedPartyOrPartyRole",
                "role": "customer",
                "partyOrPartyRole": {
                    "@type": "Individual",
                    "id": "cust-9",
                    "givenName": "Ana",
                    "familyName": "Silva",
                },
            },
            {
                "@type": "RelatedPartyOrPartyRole",
                "role": "agent",
                "partyOrPartyRole": {
                    "@type": "PartyRoleRef",
                    "id": "role-1",
                    "partyId": "emp-1",
                    "partyName": "Bo",
                    "@referredType": "Agent",
                },
            },
            {"@type": "RelatedPartyOrPartyRole", "role": "payer", "partyOrPartyRole": {"@type": "PartyRef", "id": "p"}},
        ],
        "externalIdentifier": [{"@type": "ExternalIdentifier", "id": "CRM-1", "owner": "crm"}],
    },
    "interaction items with what only v5 says": {
        "@type": "PartyInteraction",
        "reason": "fault",
        "direction": "inbound",
        "relatedChannel": [
            {"@type": "RelatedChannel", "role": "origin", "channel": {"@type": "ChannelRef", "id": "web"}}
        ],
        "interactionItem": [
            {
                "@type": "InteractionItem",
                "id": "1",
                "interactionItemType": "Case",
                "lastUpdate": "2026-11-20T09:40:00.000Z",
                "interactionItemRelationship": [
                    {"@type": "InteractionItemRelationship", "id": "2", "relationshipType": "causes"}
                ],
            },
            {"@type": "InteractionItem", "id": "2", "interactionItemType": "Incident"},
            {"@type": "CaseItem", "id": "3", "interactionItemType": "Case", "severity": "high"},
            {"@type": "InteractionItem", "id": "4", "reason": "nothing only v5 has"},
        ],
    },
}


@pytest.mark.parametrize("name", sorted(V4_DOCS))
def test_a_v4_interaction_seen_through_v5_is_a_valid_v5_resource_and_comes_back_the_same(name):
    stored = validated_resource(copy.deepcopy(V4_DOCS[name]))
    v5 = validate(to_v5(stored, href=HREF, last_update=AT), "PartyInteraction")
    assert v5["href"] == HREF and v5["lastUpdate"] == AT and v5["id"] == stored["id"]
    back = from_v5(v5)
    expected = {k: v for k, v in stored.items() if k not in ("id", "href")}
    # a default @type sent explicitly is implied (docs/v5.md): the only difference there may be
    for channel in expected.get("channel", []):
        if channel.get("@type") == "RelatedChannel":
            del channel["@type"]
    assert back == expected


@pytest.mark.parametrize("name", sorted(V5_RESOURCES))
def test_a_v5_resource_is_stored_as_a_valid_v4_interaction_and_shown_back_as_sent(name):
    resource = copy.deepcopy(V5_RESOURCES[name])
    validate(resource, "PartyInteraction_FVO")
    check_v5(resource, create=True)
    stored = validated_resource({**from_v5(resource), "id": "abc", "href": "http://x/abc", "creationDate": AT})
    shown = validate(to_v5(stored, href=HREF, last_update=AT), "PartyInteraction")
    assert {k: v for k, v in shown.items() if k not in ("id", "href", "creationDate", "lastUpdate")} == resource


def test_the_v4_view_of_v5_only_data():
    stored = from_v5(copy.deepcopy(V5_RESOURCES["what only v5 says"]))
    assert stored["channel"] == [{"id": "web", "role": "origin"}]
    individual, role, payer = stored["relatedParty"]
    # a party by value: the v4 reference, and the value as the subclass's extension attribute
    assert individual == {
        "id": "cust-9",
        "@referredType": "Individual",
        "role": "customer",
        "@type": "RelatedPartyOrPartyRole",
        "partyOrPartyRole": {"@type": "Individual", "givenName": "Ana", "familyName": "Silva"},
    }
    assert role["partyOrPartyRole"] == {
        "@type": "PartyRoleRef",
        "partyId": "emp-1",
        "partyName": "Bo",
        "@referredType": "Agent",
    }
    assert payer == {
        "id": "p",
        "@referredType": "PartyRef",
        "role": "payer",
        "@type": "RelatedPartyOrPartyRole",
        "partyOrPartyRole": {"@type": "PartyRef"},
    }
    assert stored["externalIdentifier"] == [{"id": "CRM-1", "owner": "crm"}]


def test_the_v4_view_of_v5_only_item_attributes():
    stored = validated_resource(
        {
            **from_v5(copy.deepcopy(V5_RESOURCES["interaction items with what only v5 says"])),
            "id": "abc",
            "href": "http://x/abc",
            "creationDate": AT,
        }
    )
    case, incident, subclass, plain = stored["interactionItem"]
    # extension attributes of a v4 item whose @type names the subclass that has them
    assert case == {
        "@type": "InteractionItemV5",
        "id": "1",
        "interactionItemType": "Case",
        "lastUpdate": "2026-11-20T09:40:00.000Z",
        "interactionItemRelationship": [
            {"@type": "InteractionItemRelationship", "id": "2", "relationshipType": "causes"}
        ],
    }
    assert incident == {"@type": "InteractionItemV5", "id": "2", "interactionItemType": "Incident"}
    assert subclass == {"@type": "CaseItem", "id": "3", "interactionItemType": "Case", "severity": "high"}
    assert plain == {"id": "4", "reason": "nothing only v5 has"}


def test_a_v4_item_written_with_the_stored_v5_type_is_a_v5_interaction_item():
    stored = {
        "id": "abc",
        "href": "http://x/abc",
        "reason": "r",
        "direction": "in",
        "channel": [{"id": "web"}],
        "interactionItem": [{"@type": "InteractionItemV5", "interactionItemType": "Case"}],
    }
    shown = validate(to_v5(validated_resource(stored), href=HREF, last_update=AT), "PartyInteraction")
    assert shown["interactionItem"] == [{"@type": "InteractionItem", "interactionItemType": "Case"}]
    assert from_v5(shown)["interactionItem"] == stored["interactionItem"]


def test_last_update_is_the_time_of_the_version():
    assert last_update(1_767_225_600_000_000) == "2026-01-01T00:00:00.000Z"
    assert last_update(1_767_225_600_123_456) == "2026-01-01T00:00:00.123Z"


CHANNELS = [{"@type": "RelatedChannel", "role": "o", "channel": {"@type": "ChannelRef", "id": "w"}}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reason": "r", "direction": "in", "relatedChannel": []}, "'@type' is required"),
        ({"@type": "PartyInteraction", "direction": "in", "relatedChannel": []}, "required: reason"),
        (
            {"@type": "PartyInteraction", "reason": "r", "direction": "in", "relatedChannel": [{"role": "x"}]},
            "relatedChannel[0]: '@type' is required",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": [{"@type": "RelatedChannel", "role": "x", "channel": {"id": "web"}}],
            },
            "relatedChannel[0].channel: '@type' is required",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": [{"@type": "RelatedChannel", "channel": {"@type": "ChannelRef", "id": "w"}}],
            },
            "relatedChannel[0]: required: role",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "relatedParty": [{"@type": "RelatedPartyOrPartyRole", "role": "c", "partyOrPartyRole": {"id": "1"}}],
            },
            "relatedParty[0].partyOrPartyRole: '@type' is required",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [{"@type": "InteractionItem", "interactionItemType": 3}],
            },
            "interactionItem[0].interactionItemType: must be a string",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [{"@type": "InteractionItem", "lastUpdate": "yesterday"}],
            },
            "interactionItem[0].lastUpdate: must be an ISO 8601 date-time",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [{"@type": "InteractionItem", "interactionItemRelationship": [{"id": "2"}]}],
            },
            "interactionItem[0].interactionItemRelationship[0]: '@type' is required",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [
                    {
                        "@type": "InteractionItem",
                        "interactionItemRelationship": [{"@type": "InteractionItemRelationship", "id": "2"}],
                    }
                ],
            },
            "interactionItem[0].interactionItemRelationship[0]: required: relationshipType",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [{"@type": "InteractionItemV5", "interactionItemType": "Case"}],
            },
            "'@type' InteractionItemV5 is this server's stored name",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "interactionItem": [{"@type": "InteractionItem", "interactionItemType": "Case", "severty": "high"}],
            },
            "interactionItem[0]: unknown attribute(s): severty; extension attributes need '@type' naming the subclass",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": [
                    {"@type": "RelatedChannel", "role": "x", "channel": {"@type": "PartyRef", "id": "web"}}
                ],
            },
            "relatedChannel[0].channel: '@type' must be ChannelRef",
        ),
        ({"@type": "PartyInteraction", "reason": "r", "direction": "in", "relatedChannel": {}}, "must be an array"),
        (
            {"@type": "PartyInteraction", "reason": "r", "direction": "in", "relatedChannel": [], "channel": []},
            "not a TMF683 v5 attribute here: channel",
        ),
        (
            {
                "@type": "PartyInteraction",
                "reason": "r",
                "direction": "in",
                "relatedChannel": CHANNELS,
                "relatedParty": [
                    {
                        "@type": "RelatedPartyOrPartyRole",
                        "role": "c",
                        "id": "x",
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "1"},
                    }
                ],
            },
            "relatedParty[0]: not a TMF683 v5 attribute here: id",
        ),
    ],
)
def test_v5_rules_refuse_with_a_message_naming_the_place(body, message):
    with pytest.raises(V5Invalid, match=None) as refused:
        check_v5(body, create=True)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": 5}, "reason: must be a string"),
        ({"note": [{"@type": "Note", "date": "yesterday"}]}, "note[0].date: must be an ISO 8601 date-time"),
        ({"attachment": [{"@type": "Attachment", "url": "u"}]}, "attachment[0]: required: attachmentType, mimeType"),
        (
            {
                "relatedParty": [
                    {
                        "@type": "RelatedPartyOrPartyRole",
                        "role": "c",
                        "partyOrPartyRole": {"@type": "Nobody", "id": "1"},
                    }
                ]
            },
            "relatedParty[0].partyOrPartyRole: '@type' must be one of BusinessPartner, Consumer, Individual,",
        ),
        ({"relatedChannel": [{"@type": "RelatedChannel", "role": "o"}]}, "relatedChannel[0]: required: channel"),
    ],
)
def test_the_rules_are_tm_forums_v5_schemas_with_the_attribute_named(change, message):
    body = {"@type": "PartyInteraction", "reason": "r", "direction": "in", "relatedChannel": CHANNELS, **change}
    with pytest.raises(V5Invalid) as refused:
        check_v5(body, create=True)
    assert str(refused.value).startswith(message), str(refused.value)


def test_a_patch_is_held_to_the_schema_for_what_it_changes():
    # an attachment v4 wrote with a @type v5's discriminator does not map: not v5's to refuse
    current = {
        "@type": "PartyInteraction",
        "relatedChannel": CHANNELS,
        "attachment": [{"@type": "Photo", "id": "a1", "url": "http://x/a1"}],
        "status": "open",
    }
    check_v5({**current, "status": "closed"}, create=False, current=current)
    with pytest.raises(V5Invalid, match="attachment\\[0\\]: '@type' must be one of Attachment, AttachmentRef"):
        check_v5({**current, "attachment": [*current["attachment"], {"@type": "Note"}]}, create=False, current=current)
    with pytest.raises(V5Invalid, match="'@type' is required"):
        check_v5({k: v for k, v in current.items() if k != "@type"}, create=False, current=current)


def test_patch_rules_do_not_require_what_only_create_requires():
    check_v5(
        {
            "@type": "PartyInteraction",
            "relatedChannel": [{"@type": "RelatedChannel", "channel": {"@type": "ChannelRef", "id": "w"}}],
        },
        create=False,
    )
    with pytest.raises(V5Invalid, match="'@type' is required"):
        check_v5({"note": [{"text": "x"}], "@type": "PartyInteraction"}, create=False)
    # v5's _MVO allows an empty relatedChannel; the stored form needs a channel for its v4 view
    with pytest.raises(V5Invalid, match="relatedChannel: at least one is required"):
        check_v5({"@type": "PartyInteraction", "relatedChannel": []}, create=False)


@pytest.mark.parametrize(
    ("v5", "stored"),
    [
        ("relatedChannel.channel.id", "channel.id"),
        ("relatedChannel.channel.name", "channel.name"),
        ("relatedChannel.role", "channel.role"),
        ("relatedParty.partyOrPartyRole.id", "relatedParty.id"),
        ("relatedParty.partyOrPartyRole.@referredType", "relatedParty.@referredType"),
        ("relatedParty.partyOrPartyRole.givenName", "relatedParty.partyOrPartyRole.givenName"),
        ("relatedParty.role", "relatedParty.role"),
        ("interactionItem.relatedChannel.channel.id", "interactionItem.channel.id"),
        ("interactionItem.interactionItemType", "interactionItem.interactionItemType"),
        ("interactionItem.lastUpdate", "interactionItem.lastUpdate"),
        ("interactionItem.interactionItemRelationship.id", "interactionItem.interactionItemRelationship.id"),
        ("interactionItem.relatedParty.partyOrPartyRole.id", "interactionItem.relatedParty.id"),
        ("interactionItem.item.entity.id", "interactionItem.item.id"),
        ("interactionItem.item.entity.@referredType", "interactionItem.item.@type"),
        ("interactionDate.startDateTime", "interactionDate.startDateTime"),
        ("externalIdentifier.id", "externalIdentifier.id"),
        ("status", "status"),
    ],
)
def test_v5_query_paths_are_stored_paths(v5, stored):
    assert stored_path(v5) == stored


@pytest.mark.parametrize("path", ["lastUpdate", "href", "@type", "relatedChannel.@type"])
def test_paths_the_stored_form_cannot_answer_are_refused(path):
    with pytest.raises(V5Invalid, match="cannot be used to filter or sort"):
        stored_path(path)


def test_a_native_v5_event_becomes_the_create_its_resource_says():
    from ingest.adapters import adapt, sample_events

    event = next(e for e in sample_events() if e.type == "tmf683.v5.partyInteraction.create")
    change = adapt(event)
    assert (change.kind, change.interaction_id) == ("create", event.data["id"])
    resource = {k: v for k, v in event.data.items() if k != "id"}
    assert change.body == from_v5(resource)
    stored = validated_resource({**change.body, "id": change.interaction_id, "href": "http://x", "creationDate": AT})
    shown = validate(to_v5(stored, href=HREF, last_update=AT), "PartyInteraction")
    assert {k: v for k, v in shown.items() if k not in ("id", "href", "creationDate", "lastUpdate")} == resource


def test_a_native_v5_event_breaking_v5_rules_is_refused_with_the_reason():
    from ingest.adapters import AdapterError, adapt, sample_events

    event = next(e for e in sample_events() if e.type == "tmf683.v5.partyInteraction.create")
    untyped = event.model_copy(update={"data": {k: v for k, v in event.data.items() if k != "@type"}})
    with pytest.raises(AdapterError, match="'@type' is required"):
        adapt(untyped)


def test_the_two_versions_need_their_own_base_paths():
    from pydantic import ValidationError

    from interaction_hub.settings import Settings

    assert Settings().base_path_v5 == "/tmf-api/partyInteraction/v5"
    with pytest.raises(ValidationError, match="must differ"):
        Settings(base_path="/pim", base_path_v5="/pim/")
