"""The party directory's routes (query_api/routes/directory.py): contacts are checked and answered
normalised, a merge that cannot be is a 409, and bodies are checked at the edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.unit.query_api.routes.conftest import assert_error

pytestmark = pytest.mark.anyio

PARTIES = "/ihub/v1/parties"


def mobile(number: str) -> dict[str, Any]:
    return {"mediumType": "mobile", "characteristic": {"phoneNumber": number}}


async def hold(api: httpx.AsyncClient, party_id: str, media: list[dict[str, Any]]) -> httpx.Response:
    return await api.put(f"{PARTIES}/{party_id}/contactMedium", json=media, params={"name": party_id})


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"contact": "call me"}, "'contact' is not a phone number"),
        ({"contact": "912 345 678"}, "'contact' is not a phone number"),  # national, and no region
        ({"contact": "+351912345678", "region": "Portugal"}, "region"),
        ({"contact": "+351912345678", "at": "yesterday"}, "'at' must be an ISO 8601 date-time"),
        ({"contact": "x" * 321}, "contact"),
        ({}, "contact"),
    ],
)
async def test_a_contact_that_cannot_be_looked_up_is_a_400(
    api: httpx.AsyncClient, params: dict[str, str], fragment: str
) -> None:
    assert_error(await api.get(PARTIES, params=params), 400, fragment)


async def test_contact_media_are_answered_and_found_normalised(api: httpx.AsyncClient) -> None:
    media = [mobile("+351 912-345-678"), {"mediumType": "email", "emailAddress": "Ana.Silva@Example.COM"}]
    stored = await hold(api, "cust-1", media)
    assert stored.status_code == 200, stored.text
    assert stored.json() == [
        mobile("+351912345678"),
        {"mediumType": "email", "characteristic": {"emailAddress": "ana.silva@example.com"}},
    ]
    assert (await api.get(f"{PARTIES}/cust-1/contactMedium")).json() == stored.json()
    # typed as a CSR types it, in its region: the one party holding it, with the medium that matched
    found = await api.get(PARTIES, params={"contact": "912 345 678", "region": "PT"})
    assert found.status_code == 200, found.text
    assert found.json() == [
        {"id": "cust-1", "name": "cust-1", "@referredType": "Individual", "contactMedium": mobile("+351912345678")}
    ]


async def test_a_contact_nobody_holds_is_an_empty_answer(api: httpx.AsyncClient) -> None:
    found = await api.get(PARTIES, params={"contact": "nobody@example.com"})
    assert (found.status_code, found.json()) == (200, [])


@pytest.mark.parametrize(
    ("media", "fragment"),
    [
        ({"mediumType": "mobile"}, "JSON array"),
        ([mobile("call me")], "contactMedium[0].phoneNumber: not a phone number"),
        ([{"mediumType": "email", "emailAddress": "a@b.c", "phoneNumber": "+351912345678"}], "one of"),
        ([{"characteristic": {"emailAddress": "a@example.com"}}], "contactMedium[0]"),
    ],
)
async def test_contact_media_that_are_not_valid_are_a_400_that_stores_nothing(
    api: httpx.AsyncClient, media: Any, fragment: str
) -> None:
    assert_error(await hold(api, "cust-2", media), 400, fragment)
    assert_error(await api.get(f"{PARTIES}/cust-2/contactMedium"), 404, "no party 'cust-2'")


async def test_a_bad_party_id_is_a_400(api: httpx.AsyncClient) -> None:
    assert_error(await hold(api, "a b", [mobile("+351912345678")]), 400, "'partyId' must be")


async def test_a_merge_into_a_merged_party_or_into_itself_is_a_409(api: httpx.AsyncClient) -> None:
    for party_id, number in (("keep", "+351912000001"), ("dup", "+351912000002"), ("late", "+351912000003")):
        assert (await hold(api, party_id, [mobile(number)])).status_code == 200
    merged = await api.post(f"{PARTIES}/keep/merge", json={"partyId": "dup"})
    assert (merged.status_code, merged.json()) == (200, {"partyId": "keep", "merged": "dup", "interactions": 0})
    # the duplicate's contact media are the survivor's now, and the duplicate names it
    found = await api.get(PARTIES, params={"contact": "+351912000002"})
    assert [party["id"] for party in found.json()] == ["keep"]
    assert_error(await api.get(f"{PARTIES}/dup/contactMedium"), 404, "merged into 'keep'")

    assert_error(await api.post(f"{PARTIES}/dup/merge", json={"partyId": "late"}), 409, "merged into 'keep'")
    assert_error(await api.post(f"{PARTIES}/late/merge", json={"partyId": "dup"}), 409, "already merged")
    assert_error(await api.post(f"{PARTIES}/keep/merge", json={"partyId": "keep"}), 409, "itself")
    assert_error(await hold(api, "dup", [mobile("+351912000009")]), 409, "merged")
    # a repeated merge changes nothing
    again = await api.post(f"{PARTIES}/keep/merge", json={"partyId": "dup"})
    assert (again.status_code, again.json()["merged"]) == (200, "dup")


@pytest.mark.parametrize(
    "body", [{}, {"partyId": 7}, {"partyId": "dup", "extra": 1}, ["dup"], "dup", {"partyId": "a b"}]
)
async def test_a_merge_body_must_name_the_duplicate(api: httpx.AsyncClient, body: Any) -> None:
    assert_error(await api.post(f"{PARTIES}/keep/merge", json=body), 400)


async def test_bodies_of_another_type_or_too_large_are_refused_before_they_are_read(api: httpx.AsyncClient) -> None:
    form = await api.post(f"{PARTIES}/keep/merge", content=b"partyId=dup", headers={"Content-Type": "text/plain"})
    assert_error(form, 415, "application/json", "text/plain")
    huge = b'{"partyId": "' + b"d" * (1024 * 1024) + b'"}'  # over the default max_body_bytes
    assert_error(
        await api.put(f"{PARTIES}/keep/contactMedium", content=huge, headers={"Content-Type": "application/json"}),
        413,
        "larger than",
    )
    assert_error(
        await api.post(f"{PARTIES}/keep/merge", content=b"", headers={"Content-Type": "application/json"}), 400, "empty"
    )
    malformed = await api.post(f"{PARTIES}/keep/merge", content=b"{", headers={"Content-Type": "application/json"})
    assert_error(malformed, 400, "malformed JSON")
