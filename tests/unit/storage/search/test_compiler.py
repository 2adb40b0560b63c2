"""The search-DSL compiler: golden outputs for representative queries, and regex translation."""

import pytest

from storage.query import UnsupportedQuery
from storage.search.compiler import lucene_regexp, search_body
from storage.search.documents import query_fields, search_document
from storage.tmf630 import parse_query


def test_equality_on_a_dotted_path_tries_each_kind_of_stored_value():
    body = search_body(parse_query("relatedParty.id=42&limit=20"))
    assert body["query"] == {
        "bool": {
            "filter": [
                {
                    "bool": {
                        "should": [
                            {"term": {"ihub_q.s.relatedParty/id": {"value": "42"}}},
                            {"term": {"ihub_q.n.relatedParty/id": {"value": 42.0}}},
                            {"term": {"ihub_q.ds.relatedParty/id": {"value": "42"}}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ]
        }
    }
    assert (body["from"], body["size"], body["track_total_hits"]) == (0, 20, True)


def test_a_date_range_compares_instants_and_text_otherwise():
    body = search_body(parse_query("interactionDate.startDateTime.gte=2026-01-01T00:00:00Z"))
    (condition,) = body["query"]["bool"]["filter"]
    assert condition["bool"]["should"] == [
        {"range": {"ihub_q.s.interactionDate/startDateTime": {"gte": "2026-01-01T00:00:00Z"}}},
        {"range": {"ihub_q.ns.interactionDate/startDateTime": {"gte": "2026-01-01T00:00:00Z"}}},
        {"range": {"ihub_q.d.interactionDate/startDateTime": {"gte": 1767225600.0}}},
    ]


def test_not_equal_is_the_negation_of_any_value_equal():
    (condition,) = search_body(parse_query("status.ne=open,closed"))["query"]["bool"]["filter"]
    (inner,) = condition["bool"]["must_not"]
    assert len(inner["bool"]["should"]) == 6


def test_sort_puts_numbers_before_text_ascending_and_text_first_descending():
    sort = search_body(parse_query("sort=-interactionDate.startDateTime,reason"))["sort"]
    assert [(next(iter(s)), next(iter(s.values()))["order"]) for s in sort] == [
        ("ihub_q.s.interactionDate/startDateTime", "desc"),
        ("ihub_q.o.interactionDate/startDateTime", "desc"),
        ("ihub_q.o.reason", "asc"),
        ("ihub_q.s.reason", "asc"),
        ("id", "asc"),
    ]
    assert all(s[k]["missing"] == "_last" for s in sort[:-1] for k in s)


def test_no_conditions_match_everything_oldest_first():
    body = search_body(parse_query(""))
    assert body["query"] == {"match_all": {}} and "size" not in body
    assert [next(iter(s)) for s in body["sort"]] == ["ihub_q.o.creationDate", "ihub_q.s.creationDate", "id"]


@pytest.mark.parametrize(
    ("pattern", "lucene", "insensitive"),
    [
        ("higher", ".*(higher).*", False),
        ("^Bill", "(Bill).*", False),
        ("plan$", ".*(plan)", False),
        ("^(Bill|Pay)", "((Bill|Pay)).*", False),
        ("(?i)outage", ".*(outage).*", True),
        ("[^0-9]+x", ".*([^0-9]+x).*", False),
        (r"\d{2} GB", ".*([0-9]{2} GB).*", False),
        ("a@b.com", r".*(a\@b.com).*", False),
    ],
)
def test_python_regexes_become_equivalent_lucene_regexps(pattern, lucene, insensitive):
    assert lucene_regexp(pattern) == (lucene, insensitive)


@pytest.mark.parametrize("pattern", [r"\w+", r"\bword", "^a|b", "a^b", "(?=x)", "(?m)x", r"\1"])
def test_regexes_the_engine_cannot_match_exactly_are_refused(pattern):
    with pytest.raises(UnsupportedQuery):
        lucene_regexp(pattern)


def test_the_index_document_holds_every_scalar_by_kind():
    doc = {
        "id": "a",
        "score": 42,
        "vip": True,
        "when": "2026-01-01T00:00:00Z",
        "creationDate": "2026-01-02T00:00:00Z",
        "relatedParty": [{"id": "c1"}, {"id": "c2"}],
        "nothing": None,
    }
    fields = query_fields(doc)
    assert fields == {
        "s": {"id": ["a"], "vip": ["true"], "relatedParty/id": ["c1", "c2"]},
        "n": {"score": [42.0]},
        "ns": {"score": ["42"]},
        "o": {"score": [42.0], "when": [1767225600.0], "creationDate": [1767312000.0]},
        "d": {"when": [1767225600.0], "creationDate": [1767312000.0]},
        "ds": {"when": ["2026-01-01T00:00:00Z"], "creationDate": ["2026-01-02T00:00:00Z"]},
    }
    assert search_document(doc)["ihub_q"] == fields and search_document(doc)["score"] == 42
