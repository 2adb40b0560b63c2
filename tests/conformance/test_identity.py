"""Identity resolution over real HTTP, in both modes (full mode: real Kafka, the engine and a
worker): vendor records that name their customer by phone number or email address are linked to
the party holding it when the interaction began, late or at once, and unlinked, moved or erased
as the party directory changes. Records are the vendors' own examples, with our own numbers,
addresses and times where a scenario needs them."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conformance.test_party_interaction import assert_tmf_error
from tests.support.server import own_server
from tests.vendor_samples import sample

API_KEY = "k-identity"
SOURCES = """
[sources.connect]
format = "amazon-connect-ctr"
api_key_env = "IHUB_TEST_OWN_KEY"
phone_region = "PT"

[sources.mail]
format = "email-mime"
api_key_env = "IHUB_TEST_OWN_KEY"
"""
TMF = "/tmf-api/partyInteraction/v4/partyInteraction"
LINK_WITHIN_S = 10.0  # full mode: relinked by the workers within this


@pytest.fixture(scope="module", params=["embedded", "search"])
def hub(request, tmp_path_factory) -> Iterator[httpx.Client]:
    sources = tmp_path_factory.mktemp("sources") / "sources.toml"
    sources.write_text(SOURCES)
    env = {"IHUB_SOURCES_FILE": str(sources), "IHUB_TEST_OWN_KEY": API_KEY, "IHUB_PHONE_REGION": "PT"}
    with own_server(request, tmp_path_factory, "identity", env) as api:
        root = str(api.base_url).split("/tmf-api/")[0]
        with httpx.Client(base_url=root, timeout=30) as client:
            yield client


def unique() -> str:
    return uuid.uuid4().hex[:10]


def phone() -> str:
    """A Portuguese mobile number nobody else in this run holds, written as a person would."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return f"+351 9{digits[0]}{digits[1]} {digits[2:5]} {digits[5:]}"


def e164(number: str) -> str:
    return number.replace(" ", "")


def call(hub: httpx.Client, number: str, start: str) -> str:
    """An Amazon Connect contact record (the vendor's example) of a call from `number` at `start`;
    its interaction's id once stored."""
    record = copy.deepcopy(orjson.loads(sample("amazon-connect/ctr-voice-inbound-case1.json")))
    record["ContactId"] = str(uuid.uuid4())
    record["CustomerEndpoint"] = {"Address": number, "Type": "TELEPHONE_NUMBER"}
    for key in ("InitiationTimestamp", "ConnectedToSystemTimestamp"):
        record[key] = start
    record["DisconnectTimestamp"] = record["LastUpdateTimestamp"] = start.replace("T10:", "T11:")
    answer = hub.post(
        "/ingest/v1/sources/connect",
        content=orjson.dumps(record),
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    assert answer.status_code == 200, answer.text
    contact = {"externalIdentifier.id": record["ContactId"]}
    return wait_for(hub, lambda items: items[0]["id"] if items else None, **contact)


def mail(hub: httpx.Client, sender: str, subject: str) -> str:
    """A customer's mail to us (RFC 5322, as a mail server hands it over); its interaction's id."""
    message_id = f"<{unique()}@customer.example>"
    body = (
        f"From: {sender}\r\nTo: support@operator.example\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\n\r\nHello\r\n"
    ).encode()
    answer = hub.post(
        "/ingest/v1/sources/mail", content=body, headers={"content-type": "message/rfc822", "x-api-key": API_KEY}
    )
    assert answer.status_code == 200, answer.text
    return wait_for(hub, lambda items: items[0]["id"] if items else None, description=subject)


def wait_for(hub: httpx.Client, found: Callable[[list[dict]], Any], timeout: float = 30, **query: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = hub.get(TMF, params=query)
        assert answer.status_code == 200, answer.text
        result = found(answer.json())
        if result or time.monotonic() > deadline:
            assert result, f"nothing found for {query}"
            return result
        time.sleep(0.2)


def interaction(hub: httpx.Client, interaction_id: str) -> dict:
    answer = hub.get(f"{TMF}/{interaction_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def customers(doc: dict) -> list[str]:
    return [p["id"] for p in doc.get("relatedParty", []) if p.get("role") == "customer"]


def settles(hub: httpx.Client, interaction_id: str, expected: list[str], timeout: float = LINK_WITHIN_S) -> dict:
    """The interaction once its customers are `expected` (at once in embedded mode; full mode's
    workers relink within LINK_WITHIN_S)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = interaction(hub, interaction_id)
        if customers(doc) == expected or time.monotonic() > deadline:
            assert customers(doc) == expected, doc
            return doc
        time.sleep(0.1)


def hold(hub: httpx.Client, party: str, media: list[dict], **params: str) -> httpx.Response:
    return hub.put(f"/ihub/v1/parties/{party}/contactMedium", json=media, params=params)


def mobile(number: str, start: str | None = None, end: str | None = None) -> dict:
    medium: dict[str, Any] = {"mediumType": "mobile", "characteristic": {"phoneNumber": number}}
    period = {k: v for k, v in (("startDateTime", start), ("endDateTime", end)) if v}
    return {**medium, "validFor": period} if period else medium


def timeline_ids(hub: httpx.Client, party: str) -> list[str]:
    answer = hub.get(f"/ihub/v1/parties/{party}/timeline")
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def in_timeline(hub: httpx.Client, party: str, interaction_id: str, timeout: float = LINK_WITHIN_S) -> bool:
    """Whether the party's timeline shows the interaction, once searches see the last relink
    (full mode's index makes a write searchable within its refresh interval)."""
    deadline = time.monotonic() + timeout
    while interaction_id not in timeline_ids(hub, party):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def out_of_timeline(hub: httpx.Client, party: str, interaction_id: str, timeout: float = LINK_WITHIN_S) -> bool:
    deadline = time.monotonic() + timeout
    while interaction_id in timeline_ids(hub, party):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


# -- holdings set over the API resolve vendor records -----------------------------------------------


def test_a_call_from_an_unknown_number_is_unresolved_and_findable_then_late_bound(hub):
    number, party = phone(), f"ana-{unique()}"
    first = call(hub, number, "2026-03-02T10:00:00Z")
    doc = interaction(hub, first)
    assert customers(doc) == []
    assert doc["customerResolution"] == {"status": "unresolved"}
    assert [i["id"] for i in doc["customerIdentifier"]] == [f"phone:{e164(number)}"]
    # a CSR types the number as the customer says it: listed as unresolved, with its interactions
    answer = hub.get("/ihub/v1/parties", params={"contact": number.replace("+351 ", "")})
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{"contact": f"phone:{e164(number)}", "status": "unresolved", "interactions": 1}]

    # the customer registers the number (written nationally): the call is theirs, at once or within 10 s
    stored = hold(hub, party, [mobile(number.replace("+351 ", ""))], name="Ana Silva")
    assert stored.status_code == 200, stored.text
    assert stored.json() == [{"mediumType": "mobile", "characteristic": {"phoneNumber": e164(number)}}]
    doc = settles(hub, first, [party])
    assert doc["customerResolution"] == {"status": "linked", "partyId": party, "identifier": f"phone:{e164(number)}"}
    assert {"id": party, "role": "customer", "name": "Ana Silva"}.items() <= next(
        p for p in doc["relatedParty"] if p["role"] == "customer"
    ).items()
    assert in_timeline(hub, party, first)
    # and a call that comes later is linked as it arrives
    second = call(hub, number, "2026-03-05T10:00:00Z")
    assert customers(settles(hub, second, [party])) == [party]
    found = hub.get("/ihub/v1/parties", params={"contact": number}).json()
    assert [(p["id"], p["name"]) for p in found] == [(party, "Ana Silva")]
    assert found[0]["contactMedium"]["characteristic"]["phoneNumber"] == e164(number)


def test_an_email_links_its_sender_in_any_case_and_removing_the_holding_unlinks(hub):
    tag, party = unique(), f"rui-{unique()}"
    address = f"Rui.{tag}@Customer.Example"
    email = {"mediumType": "email", "characteristic": {"emailAddress": address.lower()}}
    assert hold(hub, party, [email]).status_code == 200
    mailed = mail(hub, f"Rui <{address}>", f"Invoice question {tag}")
    doc = settles(hub, mailed, [party])
    assert doc["customerResolution"]["identifier"] == f"email:{address.lower()}"
    assert [p["id"] for p in hub.get("/ihub/v1/parties", params={"contact": address.upper()}).json()] == [party]

    assert hold(hub, party, []).status_code == 200  # the address is no longer theirs
    doc = settles(hub, mailed, [])
    assert doc["customerResolution"] == {"status": "unresolved"}
    assert out_of_timeline(hub, party, mailed)


# -- over time ---------------------------------------------------------------------------------------


def test_a_recycled_number_links_each_call_to_its_holder_at_the_time(hub):
    number, old, new = phone(), f"old-{unique()}", f"new-{unique()}"
    before = call(hub, number, "2025-06-01T10:00:00Z")
    after = call(hub, number, "2026-06-01T10:00:00Z")
    assert hold(hub, old, [mobile(number, end="2026-01-01T00:00:00Z")]).status_code == 200
    assert hold(hub, new, [mobile(number, start="2026-01-01T00:00:00Z")]).status_code == 200
    settles(hub, before, [old])
    settles(hub, after, [new])
    # the new holder never sees the old holder's calls
    assert in_timeline(hub, new, after) and before not in timeline_ids(hub, new)
    listed = hub.get(TMF, params={"relatedParty.id": new}).json()
    assert before not in [i["id"] for i in listed]
    # who held it when
    at_then = hub.get("/ihub/v1/parties", params={"contact": number, "at": "2025-06-01T10:00:00Z"}).json()
    assert [p["id"] for p in at_then] == [old]
    assert [p["id"] for p in hub.get("/ihub/v1/parties", params={"contact": number}).json()] == [new]


def test_a_shared_number_links_nobody_and_is_listed_for_stewards(hub):
    number, one, other = phone(), f"mum-{unique()}", f"son-{unique()}"
    assert hold(hub, one, [mobile(number)]).status_code == 200
    assert hold(hub, other, [mobile(number)]).status_code == 200
    shared_call = call(hub, number, "2026-04-01T10:00:00Z")
    doc = interaction(hub, shared_call)
    assert customers(doc) == [] and doc["customerResolution"] == {"status": "shared"}
    shared = hub.get("/ihub/v1/sharedContacts", params={"limit": "1000"})
    assert shared.status_code == 200, shared.text
    assert {"contact": f"phone:{e164(number)}", "parties": sorted([one, other])} in shared.json()
    # the son gets his own number: the family phone is the mother's alone, and the call hers
    assert hold(hub, other, []).status_code == 200
    settles(hub, shared_call, [one])


def test_a_merge_moves_holdings_and_interactions_and_the_duplicate_points_at_the_survivor(hub):
    number, survivor, duplicate = phone(), f"keep-{unique()}", f"dup-{unique()}"
    assert hold(hub, duplicate, [mobile(number)], name="A. Costa").status_code == 200
    linked = call(hub, number, "2026-05-01T10:00:00Z")
    settles(hub, linked, [duplicate])
    # an interaction whose channel named the duplicate itself (the API's own, a CRM's)
    own = hub.post(
        TMF,
        json={
            "reason": "Address change",
            "direction": "inbound",
            "channel": [{"id": "store"}],
            "relatedParty": [{"id": duplicate, "role": "customer", "@referredType": "Individual"}],
        },
    )
    assert own.status_code == 201, own.text

    merged = hub.post(f"/ihub/v1/parties/{survivor}/merge", json={"partyId": duplicate})
    assert merged.status_code == 200, merged.text
    assert merged.json()["partyId"] == survivor and merged.json()["merged"] == duplicate
    settles(hub, linked, [survivor])
    settles(hub, own.json()["id"], [survivor])
    assert in_timeline(hub, survivor, linked) and in_timeline(hub, survivor, own.json()["id"])
    assert_tmf_error(hub.get(f"/ihub/v1/parties/{duplicate}/timeline"), 404, survivor)
    media = hub.get(f"/ihub/v1/parties/{survivor}/contactMedium")
    assert media.json() == [{"mediumType": "mobile", "characteristic": {"phoneNumber": e164(number)}}]
    # idempotent; and a merge that cannot be is refused, changing nothing
    assert hub.post(f"/ihub/v1/parties/{survivor}/merge", json={"partyId": duplicate}).status_code == 200
    settles(hub, linked, [survivor])
    assert_tmf_error(hub.post(f"/ihub/v1/parties/{duplicate}/merge", json={"partyId": survivor}), 409, survivor)
    assert_tmf_error(hub.post(f"/ihub/v1/parties/{survivor}/merge", json={"partyId": survivor}), 409, "itself")
    assert_tmf_error(hold(hub, duplicate, [mobile(phone())]), 409, "merged")


def test_erasing_a_party_removes_its_holdings_and_what_they_linked(hub):
    number, party = phone(), f"gone-{unique()}"
    assert hold(hub, party, [mobile(number)]).status_code == 200
    linked = call(hub, number, "2026-05-02T10:00:00Z")
    settles(hub, linked, [party])
    erased = hub.delete(f"/ihub/v1/parties/{party}")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] >= 1
    assert hub.get(f"{TMF}/{linked}").status_code == 404
    assert_tmf_error(hub.get(f"/ihub/v1/parties/{party}/contactMedium"), 404, party)
    assert hub.get("/ihub/v1/parties", params={"contact": number}).json() == []


# -- bad input: a clear 400 that changes nothing -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"mediumType": "mobile"}, "JSON array"),
        ([{"characteristic": {"phoneNumber": "+351912345678"}}], "mediumType"),
        ([{"mediumType": "mobile", "characteristic": {"phoneNumber": "call me"}}], "phone number"),
        ([{"mediumType": "email", "characteristic": {"emailAddress": "not-an-address"}}], "email address"),
        (
            [{"mediumType": "mobile", "characteristic": {"phoneNumber": "+351912345678", "emailAddress": "a@b.pt"}}],
            "one",
        ),
        ([{"mediumType": "mobile", "characteristic": {"phoneNumber": "+351912345678"}, "colour": "red"}], "colour"),
        ([{"mediumType": "mobile", "characteristic": {"phoneNumber": "+351912345678"}}] * 101, "at most 100"),
    ],
)
def test_bad_contact_media_are_refused_and_change_nothing(hub, body, fragment):
    party = f"bad-{unique()}"
    assert_tmf_error(hold(hub, party, body), 400, fragment)
    assert_tmf_error(hub.get(f"/ihub/v1/parties/{party}/contactMedium"), 404, party)


@pytest.mark.parametrize("contact", ["", "hello", "@", "+", "x" * 400])
def test_a_search_for_something_that_is_no_contact_is_a_400(hub, contact):
    assert hub.get("/ihub/v1/parties", params={"contact": contact}).status_code in (400, 422)


def test_a_merge_body_must_name_the_duplicate(hub):
    for body in ({}, {"partyId": 7}, {"partyId": "a", "x": 1}, ["a"], {"partyId": "bad id"}):
        assert_tmf_error(hub.post(f"/ihub/v1/parties/p-{unique()}/merge", json=body), 400)


def test_erasing_one_holder_of_a_shared_number_leaves_it_to_the_other(hub):
    number, gone, stays = phone(), f"gone-{unique()}", f"stays-{unique()}"
    assert hold(hub, gone, [mobile(number)]).status_code == 200
    assert hold(hub, stays, [mobile(number)]).status_code == 200
    shared_call = call(hub, number, "2026-05-03T10:00:00Z")
    assert interaction(hub, shared_call)["customerResolution"] == {"status": "shared"}
    assert hub.delete(f"/ihub/v1/parties/{gone}").json()["erased"] == 0  # the call never named it
    settles(hub, shared_call, [stays])
