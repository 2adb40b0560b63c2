"""Identity resolution's rules in one place: identifiers to keys (schemas/identifiers.py), contact
media (schemas/party.py) and who an interaction's customer is (storage/identity.py)."""

from __future__ import annotations

import pytest

from schemas.identifiers import contact_key, email_key, identifier_key, phone_key
from schemas.party import contact_media, party_event
from storage.identity import Holding, decide, merged, renamed, resolved, sharing

PHONE = "phone:+351912345678"


@pytest.mark.parametrize(
    ("typed", "region", "key"),
    [
        ("+351 912 345 678", None, PHONE),
        ("912 345 678", "PT", PHONE),
        ("(+351) 912-345-678", None, PHONE),
        ("tel:+351912345678", None, PHONE),
        ("whatsapp:+351912345678", None, PHONE),
        ("351912345678", None, PHONE),  # international digits without their '+'
        ("912 345 678", None, None),  # national, and no region to read it in
        ("+1 900 1111 2222", None, "phone:+190011112222"),  # too long for its plan: its digits
        ("call me", None, None),
        ("+", None, None),
        ("", None, None),
        ("+351\u0000912345678", None, None),
    ],
)
def test_phone_numbers_become_e164(typed, region, key):
    assert phone_key(typed, region) == key


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Ana.Silva@Example.COM", "email:ana.silva@example.com"),
        ("<ana@example.pt>", "email:ana@example.pt"),
        ("ana@exämple.pt", "email:ana@xn--exmple-cua.pt"),
        ("ana@xn--exmple-cua.pt", "email:ana@xn--exmple-cua.pt"),  # one address, however its domain is written
        ("ana+bills@example.pt", "email:ana+bills@example.pt"),  # tags are kept
        ("ana", None),
        ("ana@localhost", None),
        ("a b@example.pt", None),
        ("@example.pt", None),
    ],
)
def test_email_addresses_fold_case_and_domain(typed, key):
    assert email_key(typed) == key


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"kind": "phone", "value": "16505551234", "scheme": "whatsapp"}, "phone:+16505551234"),
        ({"kind": "platform", "value": "2468", "scheme": "messenger-psid"}, "messenger-psid:2468"),
        ({"kind": "platform", "value": "sip:maria@pbx.example.com", "scheme": "sip"}, "sip:maria@pbx.example.com"),
        ({"kind": "web", "value": "u-7", "scheme": "snowplow-user-id"}, "snowplow-user-id:u-7"),
        ({"kind": "crm", "value": "C-000417"}, "crm:C-000417"),
        ({"kind": "platform", "value": "2468"}, None),  # an id without its scheme links nothing
        ({"kind": "platform", "value": "2468", "scheme": "Not A Scheme"}, None),
        ({"kind": "platform", "value": "2468", "scheme": "phone"}, None),  # no platform may pose as a phone
        ({"kind": "unknown", "value": "x"}, None),
        ({"kind": "phone", "value": 351912345678}, None),
        ("not an entry", None),
    ],
)
def test_channel_identifiers_become_keys(entry, key):
    assert identifier_key(entry, "PT") == key


def test_a_search_box_reads_an_address_a_number_or_a_typed_id():
    assert contact_key("ANA@example.pt") == "email:ana@example.pt"
    assert contact_key("912 345 678", "PT") == PHONE
    assert contact_key("messenger-psid:2468") == "messenger-psid:2468"
    assert contact_key("Ana Silva") is None


def test_contact_media_are_stored_normalised_and_bad_ones_named():
    media = contact_media(
        [
            {"mediumType": "mobile", "characteristic": {"phoneNumber": "912 345 678"}},
            {"mediumType": "email", "emailAddress": "Ana@Example.pt"},  # TMF632 v5's shape
            {"mediumType": "postalAddress", "characteristic": {"city": "Lisboa"}},  # kept, links nothing
        ],
        "PT",
    )
    assert media == [
        {"mediumType": "mobile", "characteristic": {"phoneNumber": "+351912345678"}},
        {"mediumType": "email", "characteristic": {"emailAddress": "ana@example.pt"}},
        {"mediumType": "postalAddress", "characteristic": {"city": "Lisboa"}},
    ]
    with pytest.raises(ValueError, match=r"contactMedium\[0\]\.phoneNumber: not a phone number"):
        contact_media([{"mediumType": "mobile", "characteristic": {"phoneNumber": "912 345 678"}}])  # no region


def test_party_management_events_name_what_they_do():
    what, party, has_media = party_event(
        {
            "eventType": "OrganizationAttributeValueChangeEvent",
            "event": {"organization": {"id": "O-1", "tradingName": "Acme", "name": "Acme Lda"}},
        }
    )
    assert (what, party.id, party.name, party.referredType, has_media) == ("put", "O-1", "Acme", "Organization", False)
    assert party_event({"eventType": "IndividualDeleteEvent", "event": {"individual": {"id": "C-1"}}})[0] == "delete"
    for bad in ({}, {"eventType": "CustomerCreateEvent"}, {"eventType": "IndividualCreateEvent", "event": []}):
        with pytest.raises(ValueError):
            party_event(bad)


# -- who the customer is --------------------------------------------------------------------------

MARCH, JUNE = 1_772_409_600.0, 1_780_272_000.0  # 2026-03-02, 2026-06-01 (epoch seconds)
SWITCH = 1_777_593_600.0  # 2026-05-01: the number changes hands


def held(*holdings: Holding) -> dict[str, list[Holding]]:
    found: dict[str, list[Holding]] = {}
    for holding in holdings:
        found.setdefault(holding.key, []).append(holding)
    return found


def test_one_holder_links_several_unlinks_and_time_decides_who_held_it():
    recycled = held(Holding("old", PHONE, end=SWITCH), Holding("new", PHONE, start=SWITCH))
    assert decide([PHONE], MARCH, recycled).holding.party_id == "old"  # type: ignore[union-attr]
    assert decide([PHONE], JUNE, recycled).holding.party_id == "new"  # type: ignore[union-attr]
    family = held(Holding("mum", PHONE), Holding("son", PHONE))
    assert decide([PHONE], MARCH, family).status == "shared"
    email = "email:ana@example.pt"
    assert decide([PHONE, email], MARCH, {**family, **held(Holding("mum", email))}).holding.party_id == "mum"  # type: ignore[union-attr]
    assert decide([PHONE, email], MARCH, held(Holding("ana", PHONE), Holding("rui", email))).status == "conflict"
    assert decide([PHONE], MARCH, {}).status == "unresolved"
    assert sharing(recycled[PHONE]) == [] and sharing(family[PHONE]) == ["mum", "son"]


CALL = {
    "id": "i-1",
    "reason": "Call",
    "interactionDate": {"startDateTime": "2026-03-02T10:00:00Z"},
    "relatedParty": [{"id": "agent-7", "role": "agent", "@referredType": "PartyRole"}],
    "customerIdentifier": [{"kind": "phone", "value": "912345678", "id": PHONE}],
}


def customers(doc: dict) -> list[str]:
    return [p["id"] for p in doc.get("relatedParty", []) if p["role"] == "customer"]


def test_resolution_links_then_moves_then_unlinks_and_never_touches_a_customer_the_channel_named():
    linked = resolved(CALL, held(Holding("ana", PHONE, name="Ana Silva")))
    assert customers(linked) == ["ana"] and linked["customerResolution"] == {
        "status": "linked",
        "partyId": "ana",
        "identifier": PHONE,
    }
    assert resolved(linked, held(Holding("ana", PHONE, name="Ana Silva"))) is linked  # nothing to change
    moved = resolved(linked, held(Holding("rui", PHONE)))
    assert customers(moved) == ["rui"] and [p["id"] for p in moved["relatedParty"]] == ["agent-7", "rui"]
    gone = resolved(moved, {})
    assert customers(gone) == [] and gone["customerResolution"] == {"status": "unresolved"}
    named = {**CALL, "relatedParty": [{"id": "crm-9", "role": "customer", "@referredType": "Individual"}]}
    assert resolved(named, held(Holding("ana", PHONE))) is named
    assert resolved({"id": "i-2", "reason": "no identifiers"}, {}) == {"id": "i-2", "reason": "no identifiers"}


def test_a_merge_points_the_duplicate_at_the_survivor_and_renames_it_in_interactions():
    from schemas.party import Party

    survivor, pointer = merged(
        "keep", None, "dup", Party(id="dup", name="A. Costa", contactMedium=[{"mediumType": "x"}])
    )
    assert (survivor.id, survivor.name, survivor.contactMedium) == ("keep", "A. Costa", [{"mediumType": "x"}])
    assert (pointer.id, pointer.mergedInto, pointer.contactMedium) == ("dup", "keep", [])
    for refused in (("keep", None, "keep", None), ("keep", Party(id="keep", mergedInto="x"), "dup", None)):
        with pytest.raises(ValueError):
            merged(*refused)
    doc = resolved(CALL, held(Holding("dup", PHONE)))
    after = renamed(doc, {"dup": "keep"})
    assert customers(after) == ["keep"] and after["customerResolution"]["partyId"] == "keep"
