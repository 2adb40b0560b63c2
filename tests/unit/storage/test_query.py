"""The reference evaluator: the semantics every store is checked against."""

import pytest

from storage.query import SortKey, matches, project, sort_documents
from storage.tmf630 import parse_query

DOC = {
    "id": "a",
    "href": "http://x/a",
    "reason": "Bill higher than expected",
    "status": "open",
    "amount": 42,
    "flag": True,
    "creationDate": "2026-01-01T10:00:00.000Z",
    "interactionDate": {"startDateTime": "2026-01-01T12:00:00+02:00"},
    "channel": [{"id": "voice", "name": "Contact centre"}],
    "relatedParty": [
        {"id": "cust-1", "role": "customer", "@referredType": "Individual"},
        {"id": "agent-7", "role": "agent", "@referredType": "PartyRole"},
    ],
    "interactionItem": [{"item": {"id": "ord-1", "role": "order"}, "note": [{"text": "x"}, {"text": "y"}]}],
    "nothing": None,
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("status=open", True),
        ("status=closed", False),
        ("status=closed,open", True),
        ("status.ne=closed", True),
        ("status.ne=open", False),
        ("status.ne=open,closed", False),
        ("relatedParty.id=agent-7", True),  # any array element
        ("relatedParty.role=agent&relatedParty.id=cust-1", True),  # each condition on its own
        ("interactionItem.note.text=y", True),  # arrays nested in arrays
        ("interactionItem.item.role=order", True),
        ("channel.name=Contact centre", True),
        ("amount=42", True),
        ("amount=42.0", True),  # numbers compare as numbers
        ("amount.gt=5", True),  # not as text ("42" < "5")
        ("amount.lt=100", True),
        ("amount=abc", False),
        ("flag=true", True),
        ("interactionDate.startDateTime=2026-01-01T10:00:00Z", True),  # the same instant
        ("interactionDate.startDateTime.gt=2026-01-01T09:59:59Z", True),
        ("interactionDate.startDateTime.lt=2026-01-01T10:00:00Z", False),
        ("interactionDate.startDateTime.lte=2026-01-01T10:00:00Z", True),
        ("creationDate.gte=2026-01-01", True),
        ("creationDate.lt=2026-01-01", False),
        ("reason.regex=higher", True),
        ("reason.regex=^higher", False),
        ("reason.gt=Bill", True),  # text order
        ("missing=x", False),
        ("missing.ne=x", True),  # ne matches what lacks the attribute
        ("nothing=None", False),  # null never matches
        ("interactionDate=x", False),  # objects are not scalars
        ("channel.id=voice&status=closed", False),
    ],
)
def test_matches(raw, expected):
    assert matches(parse_query(raw), DOC) is expected


def docs():
    return [
        {"id": "d1", "n": 3, "t": "b", "when": "2026-01-02T00:00:00Z", "arr": [5, 1]},
        {"id": "d2", "n": 10, "t": "a", "when": "2026-01-01T23:00:00-02:00", "arr": [2]},
        {"id": "d3", "t": "a", "arr": [9, 0]},
        {"id": "d4", "n": 3, "when": "2026-01-01T00:00:00Z"},
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ((SortKey("n"),), ["d1", "d4", "d2", "d3"]),  # numeric, ties by id, missing last
        ((SortKey("n", True),), ["d2", "d1", "d4", "d3"]),  # missing last descending too
        ((SortKey("when"),), ["d4", "d1", "d2", "d3"]),  # instants, not text
        ((SortKey("t"), SortKey("n", True)), ["d2", "d3", "d1", "d4"]),
        ((SortKey("arr"),), ["d3", "d1", "d2", "d4"]),  # ascending: smallest element
        ((SortKey("arr", True),), ["d3", "d1", "d2", "d4"]),  # descending: largest element
        ((), ["d1", "d2", "d3", "d4"]),
    ],
)
def test_sort(sort, expected):
    assert [d["id"] for d in sort_documents(docs(), sort)] == expected


def test_project_keeps_id_and_href_and_reaches_inside_arrays():
    assert project(DOC, ()) == {"id": "a", "href": "http://x/a"}
    assert project(DOC, ("status", "relatedParty.id", "missing")) == {
        "id": "a",
        "href": "http://x/a",
        "status": "open",
        "relatedParty": [{"id": "cust-1"}, {"id": "agent-7"}],
    }
    assert project(DOC, ("interactionDate.startDateTime",))["interactionDate"] == DOC["interactionDate"]
