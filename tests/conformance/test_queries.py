"""The TMF630 query contract through real HTTP (each test isolates its data with a marker)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from tests.conformance.test_party_interaction import assert_tmf_error

PARTIES = [{"id": "cust-1", "@referredType": "Individual", "role": "customer"}]


@pytest.fixture(scope="module")
def dataset(api):
    """Six interactions tagged with one marker; returns (marker, created by name)."""
    marker = uuid4().hex
    specs = {
        "a": dict(
            status="open",
            reason="Billing question",
            interactionDate={"startDateTime": "2026-05-01T10:00:00Z"},
            channel=[{"id": "voice", "name": "Contact centre"}],
            relatedParty=[*PARTIES, {"id": "agent-1", "@referredType": "PartyRole", "role": "agent"}],
        ),
        "b": dict(
            status="completed",
            reason="Billing question",
            interactionDate={"startDateTime": "2026-05-03T10:00:00+02:00"},
            channel=[{"id": "web", "name": "Web"}],
            relatedParty=PARTIES,
        ),
        "c": dict(
            status="completed",
            reason="SIM replacement",
            interactionDate={"startDateTime": "2026-05-02T00:00:00Z"},
            channel=[{"id": "store", "name": "Retail store"}],
            relatedParty=[{"id": "cust-2", "@referredType": "Individual"}],
        ),
        "d": dict(
            status="cancelled",
            reason="Roaming, abroad",
            channel=[{"id": "chat"}, {"id": "voice"}],
            relatedParty=[{"id": "cust-2", "@referredType": "Individual"}],
        ),
        "e": dict(
            status="open",
            reason="Upgrade plan",
            interactionDate={"startDateTime": "2026-04-30T23:59:59Z"},
            channel=[{"id": "app"}],
            note=[{"text": "wants 5G"}, {"text": "call back"}],
        ),
        "f": dict(
            status="inProgress",
            reason="billing question",
            channel=[{"id": "email"}],
            **{"@type": "ScoredInteraction", "score": 7},
        ),
    }
    created = {}
    for name, spec in specs.items():
        response = api.post("partyInteraction", json={"direction": "inbound", "description": marker, **spec})
        assert response.status_code == 201, response.text
        created[name] = response.json()
    return marker, created


def names(dataset, response):
    _, created = dataset
    by_id = {doc["id"]: name for name, doc in created.items()}
    return [by_id[item["id"]] for item in response.json()]


def find(api, dataset, query: str):
    marker, _ = dataset
    return api.get(
        f"partyInteraction?description={marker}&{query}" if query else f"partyInteraction?description={marker}"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["a", "b", "c", "d", "e", "f"]),
        ("status=open", ["a", "e"]),
        ("status=open,completed", ["a", "b", "c", "e"]),
        ("status.eq=open", ["a", "e"]),
        ("status.ne=open", ["b", "c", "d", "f"]),
        ("status!=open", ["b", "c", "d", "f"]),
        ("reason=Billing question", ["a", "b"]),
        ("reason=Billing%20question&status=completed", ["b"]),
        ("reason=Roaming\\,%20abroad", ["d"]),
        ("reason.regex=(?i)^billing", ["a", "b", "f"]),
        ("channel.id=voice", ["a", "d"]),
        ("channel.name=Retail%20store", ["c"]),
        ("relatedParty.id=cust-1", ["a", "b"]),
        ("relatedParty.role=agent", ["a"]),
        ("note.text=call back", ["e"]),
        ("score.gte=7", ["f"]),
        ("score.gt=10", []),
        ("@type=ScoredInteraction", ["f"]),
        ("interactionDate.startDateTime.gt=2026-05-01T10:00:00Z", ["b", "c"]),
        ("interactionDate.startDateTime.gte=2026-05-01T10:00:00Z", ["a", "b", "c"]),
        ("interactionDate.startDateTime.lt=2026-05-01", ["e"]),
        ("interactionDate.startDateTime.lte=2026-05-01T10:00:00Z", ["a", "e"]),
        ("interactionDate.startDateTime=2026-05-03T08:00:00Z", ["b"]),
        ("interactionDate.startDateTime%3E=2026-05-02", ["b", "c"]),
        ("interactionDate.startDateTime%3C=2026-05-01T10:00:00Z", ["a", "e"]),
        ("interactionDate.startDateTime%3E2026-05-02T00:00:00Z", ["b"]),
        ("interactionDate.startDateTime%3C2026-05-01T10:00:00Z", ["e"]),
        ("interactionDate.startDateTime.gt=2026-05-01T12:00:00%2B02:00", ["b", "c"]),  # 12:00+02:00 is a's 10:00Z
        ("sort=-interactionDate.startDateTime,reason", ["b", "c", "a", "e", "d", "f"]),  # missing last
        ("sort=interactionDate.startDateTime,reason", ["e", "a", "c", "b", "d", "f"]),
        ("sort=reason,-status", ["a", "b", "d", "c", "e", "f"]),  # code-point order: "billing" after "Upgrade"
        ("relatedParty.id=cust-2&sort=-interactionDate.startDateTime", ["c", "d"]),
    ],
)
def test_filters_and_sorting(api, dataset, query, expected):
    response = find(api, dataset, query)
    assert response.status_code == 200, response.text
    assert names(dataset, response) == expected if "sort" in query else sorted(names(dataset, response)) == expected
    assert response.headers["x-total-count"] == response.headers["x-result-count"] == str(len(expected))


def test_fields(api, dataset):
    _, created = dataset
    items = find(api, dataset, "fields=status,channel.id&status=open").json()
    assert items == [
        {
            "id": created[n]["id"],
            "href": created[n]["href"],
            "status": "open",
            "channel": [{"id": c["id"]} for c in created[n]["channel"]],
        }
        for n in ("a", "e")
    ]
    assert find(api, dataset, "fields=none&status=open").json() == [
        {"id": created[n]["id"], "href": created[n]["href"]} for n in ("a", "e")
    ]


def test_a_page_is_a_200_whose_counts_and_links_tell_what_remains(api, dataset):
    """TMF683's OpenAPI declares only 200 for a list (206 only with IHUB_PARTIAL_CONTENT_206:
    test_hostile_queries.py)."""
    response = find(api, dataset, "sort=reason&offset=1&limit=2")
    assert response.status_code == 200
    assert names(dataset, response) == names(dataset, find(api, dataset, "sort=reason"))[1:3]
    assert response.headers["x-total-count"] == "6" and response.headers["x-result-count"] == "2"
    links = {}
    for part in response.headers["link"].split(", "):
        url, rel = part.split("; ")
        links[rel.split('"')[1]] = parse_qs(urlsplit(url.strip("<>")).query)
    assert {rel: (q["offset"], q["limit"]) for rel, q in links.items()} == {
        "first": (["0"], ["2"]),
        "prev": (["0"], ["2"]),
        "next": (["3"], ["2"]),
        "last": (["4"], ["2"]),
    }
    assert all(q["sort"] == ["reason"] for q in links.values())
    pages = [names(dataset, find(api, dataset, f"sort=reason&offset={o}&limit=2")) for o in (0, 2, 4)]
    assert [name for page in pages for name in page] == names(dataset, find(api, dataset, "sort=reason"))
    complete = find(api, dataset, "limit=6")
    assert complete.status_code == 200 and "next" not in complete.headers.get("link", "")
    assert find(api, dataset, "limit=0").headers["x-total-count"] == "6"


def test_the_ctk_filters_find_what_was_just_created(api):
    created = api.post(
        "partyInteraction",
        json={
            "channel": [{"id": "555"}],
            "direction": "inbounds",
            "reason": "The user wanted to buy TV and internet plan",
        },
    ).json()
    for attribute in ("id", "href", "direction", "reason"):
        response = api.get(f"partyInteraction?{attribute}={created[attribute]}")
        assert response.status_code == 200
        assert created["id"] in [item["id"] for item in response.json()], attribute


@pytest.mark.parametrize(
    "query",
    [
        "offset=-1",
        "limit=ten",
        "sort=",
        "fields=",
        "status.like=x",
        "creationDate.gt=1,2",
        "reason.regex=(",
        "a%20b=1",
        "novalue",
    ],
)
def test_bad_query_parameters_get_400(api, query):
    assert_tmf_error(api.get(f"partyInteraction?{query}"), 400)
