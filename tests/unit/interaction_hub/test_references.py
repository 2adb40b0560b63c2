"""The links of an interaction's references (interaction_hub/references.py): made from each
reference's id and type when the interaction is shown, the writer's own kept, nothing stored; and
the interaction's own href, the answering server's whatever is stored."""

from __future__ import annotations

import copy

import orjson
import pytest

from interaction_hub.references import ReferenceLinks
from interaction_hub.settings import Settings
from schemas.party_interaction_v5 import from_v5, to_v5

LINKS = ReferenceLinks(
    interactions="https://ihub.example/tmf-api/partyInteraction/v4/partyInteraction/",
    party_api="https://crm.example/tmf-api/partyManagement/v4",
    party_role_api="https://crm.example/tmf-api/partyRoleManagement/v4/",  # a trailing slash is dropped
    channel_api="https://catalogue.example/channels",
)
PARTY = "https://crm.example/tmf-api/partyManagement/v4"
ROLE = "https://crm.example/tmf-api/partyRoleManagement/v4/partyRole"


def shown_party(ref: dict) -> str:
    return LINKS.linked({"id": "i", "relatedParty": [ref]})["relatedParty"][0]["href"]


@pytest.mark.parametrize(
    ("ref", "href"),
    [
        ({"id": "cust-42", "@referredType": "Individual"}, f"{PARTY}/individual/cust-42"),
        ({"id": "org-7", "@referredType": "Organization"}, f"{PARTY}/organization/org-7"),
        ({"id": "agent-0007", "@referredType": "PartyRole", "role": "agent"}, f"{ROLE}/agent-0007"),
        # TMF630 names a resource by its type in lowerCamelCase
        ({"id": "c-1", "@referredType": "Customer"}, f"{PARTY}/customer/c-1"),
        # a v5 PartyRoleRef of another type, kept by the stored form as partyOrPartyRole
        ({"id": "a-1", "@referredType": "Agent", "partyOrPartyRole": {"@type": "PartyRoleRef"}}, f"{ROLE}/a-1"),
        # an id (or type) that is not one path segment as it is is percent-encoded
        ({"id": "ana silva/42?x#y", "@referredType": "Individual"}, f"{PARTY}/individual/ana%20silva%2F42%3Fx%23y"),
        ({"id": "joão", "@referredType": "Odd Type"}, f"{PARTY}/odd%20Type/jo%C3%A3o"),
    ],
)
def test_a_party_links_to_the_party_or_party_role_api_by_its_type(ref, href):
    assert shown_party(ref) == href


def test_every_channel_and_party_without_a_link_gets_one_first_after_its_id_and_the_writers_are_kept():
    stored = {
        "id": "i1",
        "href": "https://ihub/tmf-api/partyInteraction/v4/partyInteraction/i1",
        "channel": [{"name": "Phone", "id": "voice"}, {"id": "web", "href": "https://cms/web"}],
        "relatedParty": [{"id": "cust-42", "@referredType": "Individual", "href": "https://my-crm/p/42"}],
        "interactionItem": [
            {"id": "1", "channel": [{"id": "email"}], "relatedParty": [{"id": "ag", "@referredType": "PartyRole"}]},
            {"id": "2", "reason": "no references"},
        ],
    }
    before = copy.deepcopy(stored)
    shown = LINKS.linked(stored)
    assert stored == before  # the stored form is left as it is
    assert shown["channel"] == [
        {"id": "voice", "href": "https://catalogue.example/channels/channel/voice", "name": "Phone"},
        {"id": "web", "href": "https://cms/web"},  # as the writer sent it
    ]
    assert list(shown["channel"][0]) == ["id", "href", "name"]
    assert shown["relatedParty"] == before["relatedParty"]
    assert shown["interactionItem"][0]["channel"][0]["href"] == "https://catalogue.example/channels/channel/email"
    assert shown["interactionItem"][0]["relatedParty"][0]["href"] == f"{ROLE}/ag"
    assert shown["interactionItem"][1] is stored["interactionItem"][1]
    assert shown["href"] == "https://ihub.example/tmf-api/partyInteraction/v4/partyInteraction/i1"
    assert orjson.loads(LINKS.body(orjson.dumps(stored))) == shown


def test_an_interaction_whose_references_all_have_links_is_shown_as_stored_but_for_its_own_href():
    stored = {"id": "i1", "href": "http://127.0.0.1:8683/old/i1", "channel": [{"id": "voice", "href": "h"}]}
    before = copy.deepcopy(stored)
    shown = LINKS.linked(stored)
    assert shown == {**stored, "href": "https://ihub.example/tmf-api/partyInteraction/v4/partyInteraction/i1"}
    assert shown["channel"] is stored["channel"] and stored == before


def test_an_interactions_href_is_where_the_answer_says_interactions_are_and_keeps_its_place():
    stored = {"id": "i1", "href": "http://127.0.0.1:8683/old/i1", "reason": "Bill"}
    at = "http://localhost:8790/tmf-api/partyInteraction/v4/partyInteraction/"
    assert LINKS.linked(stored, at)["href"] == f"{at}i1"
    body = orjson.loads(LINKS.body(orjson.dumps(stored), at))
    assert list(body.items()) == [("id", "i1"), ("href", f"{at}i1"), ("reason", "Bill")]


def test_v5_shows_the_same_links_and_a_v5_write_of_them_keeps_them_as_the_writers():
    stored = {
        "id": "i1",
        "channel": [{"id": "voice", "role": "primary"}],
        "relatedParty": [{"id": "cust-42", "@referredType": "Individual", "role": "customer"}],
    }
    v5 = to_v5(LINKS.linked(stored), href="https://ihub/v5/i1", last_update="2026-01-01T00:00:00.000Z")
    assert v5["relatedChannel"][0]["channel"]["href"] == "https://catalogue.example/channels/channel/voice"
    assert v5["relatedParty"][0]["partyOrPartyRole"] == {
        "@type": "PartyRef",
        "id": "cust-42",
        "href": f"{PARTY}/individual/cust-42",
        "@referredType": "Individual",
    }
    assert from_v5(v5)["relatedParty"][0]["href"] == f"{PARTY}/individual/cust-42"


def test_the_apis_default_to_this_servers_resource_root_and_each_is_a_setting():
    links = ReferenceLinks.from_settings(Settings(public_url="https://ihub.example/"))
    shown = links.linked({"id": "i", "channel": [{"id": "voice"}], "relatedParty": [{"id": "p", "@referredType": "x"}]})
    assert shown["href"] == "https://ihub.example/tmf-api/partyInteraction/v4/partyInteraction/i"
    assert shown["channel"][0]["href"] == "https://ihub.example/tmf-api/channelManagement/v4/channel/voice"
    assert shown["relatedParty"][0]["href"] == "https://ihub.example/tmf-api/partyManagement/v4/x/p"
    settings = Settings(
        party_api_url="https://crm/party/", party_role_api_url="https://crm/roles", channel_api_url="http://c:8/ch"
    )
    links = ReferenceLinks.from_settings(settings)
    assert (links.party_api, links.party_role_api, links.channel_api) == (
        "https://crm/party",
        "https://crm/roles",
        "http://c:8/ch",
    )


@pytest.mark.parametrize(
    "url", ["crm/party", "ftp://crm/party", "https:///party", "https://crm/p?x=1", "https://crm/p#f"]
)
def test_an_api_url_that_is_not_an_absolute_http_url_is_refused(url):
    with pytest.raises(ValueError, match="absolute http"):
        Settings(party_api_url=url)
