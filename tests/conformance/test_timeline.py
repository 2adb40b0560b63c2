"""The customer-360 timeline through HTTP, on both stores."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_party_interaction import assert_tmf_error


@pytest.fixture(scope="module")
def history(api, server):
    """A customer with six interactions over three channels; returns (timeline client, party, created)."""
    party = f"cust-{uuid4().hex[:8]}"
    specs = [
        ("web", "open", "Billing question", "2026-03-01T09:00:00Z", "Looked at the bill online"),
        ("chat", "completed", "Billing question", "2026-03-01T09:20:00Z", "Bot could not explain the roaming charge"),
        ("voice", "completed", "Billing question", "2026-03-01T10:05:00Z", "Agent credited the roaming charge"),
        ("store", "completed", "SIM replacement", "2026-03-05T15:00:00Z", "New eSIM issued at the São Paulo store"),
        ("voice", "open", "Report broadband outage", "2026-03-07T08:00:00Z", "Router offline since morning"),
        ("email", "cancelled", "Cancel subscription", None, "Customer withdrew the request"),
    ]
    created = []
    for channel, status, reason, start, text in specs:
        body = {
            "reason": reason,
            "direction": "inbound",
            "status": status,
            "channel": [{"id": channel}],
            "relatedParty": [{"id": party, "role": "customer", "@referredType": "Individual"}],
            "note": [{"text": text}],
        }
        if start:
            body["interactionDate"] = {"startDateTime": start}
        response = api.post("partyInteraction", json=body)
        assert response.status_code == 201, response.text
        created.append(response.json())
    root = server.url.split("/tmf-api/")[0]
    with httpx.Client(base_url=f"{root}/ihub/v1/parties/{party}/") as client:
        yield client, party, created


def ids(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_newest_first_with_creation_date_as_fallback(history):
    client, _, created = history
    # the e-mail has no interactionDate: its creationDate (now) makes it the newest
    assert ids(client.get("timeline")) == [created[i]["id"] for i in (5, 4, 3, 2, 1, 0)]


def test_cursor_pages_cover_everything_once(history):
    client, _, created = history
    seen, cursor = [], None
    while True:
        body = client.get("timeline", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == [created[i]["id"] for i in (5, 4, 3, 2, 1, 0)]


def test_filters_search_and_facets(history):
    client, _, created = history
    assert ids(client.get("timeline", params={"channel": "voice"})) == [created[4]["id"], created[2]["id"]]
    assert ids(client.get("timeline", params={"status": "open,cancelled"})) == [created[i]["id"] for i in (5, 4, 0)]
    assert ids(client.get("timeline", params={"reason": "Billing question", "from": "2026-03-01T09:10:00Z"})) == [
        created[2]["id"],
        created[1]["id"],
    ]
    assert ids(client.get("timeline", params={"to": "2026-03-01T09:59:59Z"})) == [created[1]["id"], created[0]["id"]]
    assert ids(client.get("timeline", params={"q": "ROAMING charge"})) == [created[2]["id"], created[1]["id"]]
    facets = client.get("timeline", params={"reason": "Billing question"}).json()["facets"]
    assert facets == {
        "channel": [{"value": "chat", "count": 1}, {"value": "voice", "count": 1}, {"value": "web", "count": 1}],
        "status": [{"value": "completed", "count": 2}, {"value": "open", "count": 1}],
        "reason": [{"value": "Billing question", "count": 3}],
    }


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("roaming charge", (2, 1)),  # exact words
        ("charges", (2, 1)),  # plural finds singular
        ("charging", (2, 1)),  # and any form with the same stem
        ("roam", (2, 1)),  # a prefix, and the stem of roaming
        ("bil", (2, 1, 0)),  # a prefix: Billing, bill
        ("bills", (2, 1, 0)),
        ("CHARGE Roaming", (2, 1)),  # any order, any case
        ("credited roam", (2,)),  # every word
        ("sao", (3,)),  # without diacritics
        ("SÃO paulo", (3,)),
        ("refund", ()),  # not there
        ("roamer", ()),  # neither a prefix nor a stem of a word there
    ],
)
def test_search_finds_word_forms_and_prefixes(history, q, found):
    client, _, created = history
    assert ids(client.get("timeline", params={"q": q})) == [created[i]["id"] for i in found]


def test_the_tmf_way_gives_the_same_order(api, history):
    _, party, created = history
    listed = api.get("partyInteraction", params={"relatedParty.id": party, "sort": "-interactionDate.startDateTime"})
    # TMF sorting puts interactions without interactionDate last; the timeline falls back to creationDate
    assert [item["id"] for item in listed.json()] == [created[i]["id"] for i in (4, 3, 2, 1, 0, 5)]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "nonsense"},
        {"from": "yesterday"},
        {"limit": 0},
        {"limit": "x"},
        {"q": " ".join(f"w{n}" for n in range(33))},  # more words than are searched
    ],
)
def test_bad_parameters_get_400(history, params):
    client, _, _ = history
    assert_tmf_error(client.get("timeline", params=params), 400)


def test_an_unknown_party_has_an_empty_timeline(history):
    client, _, _ = history
    body = client.get("../nobody-at-all/timeline").json()
    assert body == {"items": [], "nextCursor": None, "facets": {"channel": [], "status": [], "reason": []}}
