"""A party's timeline (query_api/routes/timeline.py): each parameter checked with a 400 naming it,
pages that follow one another by cursor, and no timeline under a merged party's id."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest

from storage.timeline import MAX_QUERY_WORDS
from tests.unit.query_api.routes.conftest import assert_error

pytestmark = pytest.mark.anyio

PARTIES = "/ihub/v1/parties"
INTERACTIONS = "/tmf-api/partyInteraction/v4/partyInteraction"
STARTS = ("2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z")


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.fixture(scope="module")
async def history(api: httpx.AsyncClient) -> list[str]:
    """Three interactions of party tl-1, oldest first: their ids."""
    ids = []
    for start in STARTS:
        body = {
            "channel": [{"id": "voice", "name": "Voice"}],
            "direction": "inbound",
            "reason": "Billing question",
            "status": "completed",
            "interactionDate": {"startDateTime": start},
            "relatedParty": [{"id": "tl-1", "role": "customer", "@referredType": "Individual"}],
        }
        created = await api.post(INTERACTIONS, json=body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"from": "yesterday"}, "'from' must be an ISO 8601 date-time, got 'yesterday'"),
        ({"to": "2026-13-01T00:00:00Z"}, "'to' must be an ISO 8601 date-time"),
        ({"from": "0001-01-01T00:00:00+14:00"}, "'from' must lie between 0001-01-01T00:00:00Z and"),
        ({"cursor": "nonsense"}, "cursor: not a valid cursor"),
        ({"cursor": cursor_of([1.5, 7])}, "cursor: not a valid cursor"),
        ({"cursor": cursor_of([True, "id"])}, "cursor: not a valid cursor"),
        ({"q": " ".join(f"w{n}" for n in range(MAX_QUERY_WORDS + 1))}, f"at most {MAX_QUERY_WORDS} are searched"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "x"}, "limit"),
    ],
)
async def test_a_bad_parameter_is_a_400_naming_it(
    api: httpx.AsyncClient, params: dict[str, str], fragment: str
) -> None:
    assert_error(await api.get(f"{PARTIES}/tl-1/timeline", params=params), 400, fragment)


async def test_a_word_repeated_counts_once(api: httpx.AsyncClient, history: list[str]) -> None:
    q = " ".join(["billing"] * (MAX_QUERY_WORDS + 1))
    answer = await api.get(f"{PARTIES}/tl-1/timeline", params={"q": q})
    assert answer.status_code == 200, answer.text
    assert [item["id"] for item in answer.json()["items"]] == history[::-1]


async def test_pages_follow_one_another_newest_first_by_cursor(api: httpx.AsyncClient, history: list[str]) -> None:
    seen, params = [], {"limit": "2"}
    while True:
        page = (await api.get(f"{PARTIES}/tl-1/timeline", params=params)).json()
        seen.append([item["id"] for item in page["items"]])
        if page["nextCursor"] is None:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == [history[:0:-1], history[:1]]
    assert page["facets"]["channel"] == [{"value": "voice", "count": 3}]


async def test_from_and_to_bound_the_interaction_time(api: httpx.AsyncClient, history: list[str]) -> None:
    params = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T23:59:59+00:00"}
    answer = await api.get(f"{PARTIES}/tl-1/timeline", params=params)
    assert [item["id"] for item in answer.json()["items"]] == [history[1]]


async def test_an_unknown_party_has_an_empty_timeline(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{PARTIES}/tl-nobody/timeline")
    assert answer.json() == {"items": [], "nextCursor": None, "facets": {"channel": [], "status": [], "reason": []}}


async def test_a_merged_party_has_no_timeline_and_names_the_survivor(api: httpx.AsyncClient) -> None:
    for party_id, number in (("tl-keep", "+351913000001"), ("tl-dup", "+351913000002")):
        media = [{"mediumType": "mobile", "characteristic": {"phoneNumber": number}}]
        assert (await api.put(f"{PARTIES}/{party_id}/contactMedium", json=media)).status_code == 200
    assert (await api.post(f"{PARTIES}/tl-keep/merge", json={"partyId": "tl-dup"})).status_code == 200
    assert_error(await api.get(f"{PARTIES}/tl-dup/timeline"), 404, "party 'tl-dup' was merged into 'tl-keep'")
    assert (await api.get(f"{PARTIES}/tl-keep/timeline")).status_code == 200
