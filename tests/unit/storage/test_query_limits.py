"""What one query may cost: RE2 regular expressions (linear time, bounded patterns) and the bounds
on a query's parameters, in the parser, the reference evaluator, the embedded store and the hub's
filters, which all share them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from storage.query import UnsupportedQuery, matches
from storage.search.compiler import lucene_regexp
from storage.sqlite.store import SqliteStore
from storage.tmf630 import (
    MAX_CONDITIONS,
    MAX_FIELDS,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MAX_SORT_KEYS,
    MAX_VALUES,
    QueryError,
    parse_filter,
    parse_query,
)
from tests.store_contract import create_change, resource

ALLOW = ("fields", "sort", "offset", "limit")
# (a+)+$ backtracks over every way to split the a's (2^n) when the value does not end in one;
# written as in a query string, where a bare + is a space
BACKTRACKER = "(a%2B)%2B$"
ALMOST_AS = "a" * 28 + "b"
LONG_NOTE = "a" * 100_000  # `.*z` retried from each of its positions is quadratic


def no_notifications(old: Any, new: Any) -> list[Any]:
    return []


def seconds(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def assert_fast(hostile: float, baseline: float, allowed: float = 2.0) -> None:
    """Generous on purpose (shared machines are noisy): backtracking took tens of seconds here."""
    assert hostile < allowed + 20 * baseline, f"{hostile:.3f} s against a baseline of {baseline:.5f} s"


def refused(raw: str) -> str:
    with pytest.raises(QueryError) as caught:
        parse_query(raw, allow=ALLOW)
    return str(caught.value)


# -- regular expressions: RE2 everywhere -------------------------------------------------------


def test_the_reference_evaluator_matches_in_linear_time():
    doc = {"reason": ALMOST_AS, "note": [{"text": LONG_NOTE}]}
    baseline = seconds(lambda: matches(parse_query("reason.regex=b$"), doc))
    hostile = parse_query(f"reason.regex={BACKTRACKER}")
    assert_fast(seconds(lambda: matches(hostile, doc)), baseline)
    assert matches(hostile, doc) is False
    scan = parse_query("note.text.regex=.*z")
    assert_fast(seconds(lambda: matches(scan, doc)), baseline)
    assert matches(scan, doc) is False


def test_the_embedded_store_matches_with_the_same_engine(tmp_path):
    async def scenario() -> None:
        store = SqliteStore(tmp_path, synchronous="NORMAL")
        try:
            body = {"reason": ALMOST_AS, "direction": "in", "channel": [{"id": "web"}], "note": [{"text": LONG_NOTE}]}
            doc = resource(body, 1)
            await store.write(create_change(doc), no_notifications)

            async def ids(raw: str) -> tuple[list[str], float]:
                start = time.perf_counter()
                page = await store.list(parse_query(raw))
                return [orjson.loads(item)["id"] for item in page.items], time.perf_counter() - start

            found, baseline = await ids("reason.regex=b$")
            assert found == [doc["id"]]
            for raw in (f"reason.regex={BACKTRACKER}", "note.text.regex=.*z"):
                found, took = await ids(raw)
                assert found == [], raw
                assert_fast(took, baseline)
            assert (await ids("reason.regex=(?i)^A{28}B$"))[0] == [doc["id"]]
        finally:
            await store.close()

    asyncio.run(scenario())


def test_hub_filters_match_with_the_same_engine():
    event = {"eventType": "PartyInteractionCreateEvent", "event": {"partyInteraction": {"reason": ALMOST_AS}}}
    baseline = seconds(lambda: matches(parse_filter("event.partyInteraction.reason.regex=b$"), event))
    hostile = parse_filter(f"event.partyInteraction.reason.regex = {BACKTRACKER}")
    assert_fast(seconds(lambda: matches(hostile, event)), baseline)
    assert matches(hostile, event) is False


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", r"invalid escape sequence: \1"),  # backreference
        ("(?=a)", "invalid perl operator: (?="),  # look-ahead
        ("(?<!a)b", "invalid perl operator: (?<!"),  # look-behind
        ("(" * 500 + "a" + ")" * 500, "longer than 1000 characters"),
        ("a" * 1001, "longer than 1000 characters"),
        ("a{99999999999}", "a repetition count over 1000"),  # RE2 alone would read it as text
        ("a{1001}", "invalid repetition size: {1001}"),
        (r"\pL{1000}", "pattern too large"),  # a program over RE2's memory budget
        ("(unclosed", "missing ): (unclosed"),
    ],
)
def test_patterns_outside_re2_or_its_bounds_are_refused_quickly(pattern, problem):
    baseline = seconds(lambda: parse_query("reason.regex=abc"))
    start = time.perf_counter()
    message = refused(f"reason.regex={pattern.replace('&', '%26')}")
    assert_fast(time.perf_counter() - start, baseline)
    assert message.startswith("'reason.regex' is not a regular expression this server accepts (RE2 syntax"), message
    assert problem in message, message


def test_re2_syntax_and_inline_flags_work():
    doc = {"reason": "Bill higher than expected", "note": [{"text": "Área 51"}]}
    for raw, expected in [
        ("reason.regex=(?i)^bill", True),
        ("reason.regex=^bill", False),
        ("reason.regex=(?i)HIGHER", True),
        ("reason.regex=expected$", True),
        ("note.text.regex=^\\pL%2B \\d{2}$", True),  # %2B: a + in a query string is a space
        ("reason.regex=a{999}", False),
        ("reason.regex=" + "(" * 498 + "Bill" + ")" * 498, True),  # 1000 characters: the longest allowed
    ]:
        assert matches(parse_query(raw), doc) is expected, raw


def test_the_search_store_translates_after_re2_accepted_and_refuses_what_lucene_lacks():
    # RE2 decides first: a pattern it refuses never reaches the Lucene translation
    assert "RE2" in refused("reason.regex=(a)\\1")
    assert lucene_regexp(r"[\d.]+\s") == (".*([0-9.]+[\t\n\f\r ]).*", False)
    for pattern in [r"a\z", r"\C", r"\Qa.b\E", r"a\tb", r"\x41", r"\pL", "[[:alpha:]]", "(?s)a.b", "(?P<n>a)"]:
        parse_query(f"reason.regex={pattern}")  # all valid RE2
        with pytest.raises(UnsupportedQuery):
            lucene_regexp(pattern)


# -- bounds on the query's parameters ----------------------------------------------------------


def test_sort_keys_are_bounded():
    assert len(parse_query("sort=" + ",".join(["reason"] * MAX_SORT_KEYS)).sort) == MAX_SORT_KEYS
    assert refused("sort=" + ",".join(["reason"] * 2000)) == "'sort' has 2000 keys; at most 16 are allowed"


@pytest.mark.parametrize("name", ["offset", "limit"])
def test_offset_and_limit_are_bounded(name):
    assert getattr(parse_query(f"{name}={MAX_OFFSET}"), name) == MAX_OFFSET
    assert getattr(parse_query(f"{name}={'0' * 5000}7"), name) == 7
    assert refused(f"{name}={2**63}") == f"'{name}' must be at most 1000000, got '9223372036854775808'"
    assert refused(f"{name}={MAX_OFFSET + 1}") == f"'{name}' must be at most 1000000, got '1000001'"
    assert refused(f"{name}={'9' * 5000}").startswith(f"'{name}' must be at most 1000000, got '9999")


@pytest.mark.parametrize("value", ["²", "%C2%B2", "١٠", "%EF%BC%95", "5%0A", "+5", "-1", "1e3"])
def test_offset_and_limit_take_ascii_digits_only(value):
    message = refused(f"offset={value}")
    assert message.startswith("'offset' must be a non-negative integer, got "), message


def test_filter_parameters_are_bounded():
    assert len(parse_query("&".join(["status=open"] * MAX_CONDITIONS)).conditions) == MAX_CONDITIONS
    assert refused("&".join(["status=open"] * 101)) == "101 filter parameters; at most 100 are allowed"


def test_filter_values_are_bounded_across_the_query():
    values = ",".join(str(n) for n in range(MAX_VALUES))
    assert len(parse_query(f"status={values}").conditions[0].values) == MAX_VALUES
    assert refused("status=" + ",".join(["x"] * 8000)) == (
        "'status' brings the filter values to 8000; at most 300 are allowed"
    )
    split = "status=" + ",".join(["x"] * 200) + "&reason=" + ",".join(["y"] * 101)
    assert refused(split) == "'reason' brings the filter values to 301; at most 300 are allowed"


def test_fields_are_bounded():
    assert len(parse_query("fields=" + ",".join(f"a{n}" for n in range(MAX_FIELDS))).fields or ()) == MAX_FIELDS
    message = refused("fields=" + ",".join(f"a{n}" for n in range(101)))
    assert message == "'fields' names 101 attributes; at most 100 are allowed"


def test_the_query_string_is_bounded():
    at_limit = "description=" + "x" * (MAX_QUERY_CHARS - len("description="))
    assert parse_query(at_limit).conditions[0].values[0].text == "x" * (MAX_QUERY_CHARS - 12)
    assert refused(at_limit + "x") == "the query string has 16385 characters; at most 16384 are allowed"


def test_hub_filters_have_the_same_bounds_and_parse_in_linear_time():
    def refused_filter(text: str) -> tuple[str, float]:
        start = time.perf_counter()
        with pytest.raises(QueryError) as caught:
            parse_filter(text)
        return str(caught.value), time.perf_counter() - start

    baseline = seconds(lambda: parse_filter("eventType = PartyInteractionCreateEvent"))
    # long runs of spaces were quadratic to clean up (2 s for this one, hours for a 1 MiB body)
    message, took = refused_filter("a" + " " * 16_000 + "x")
    assert message.startswith("query parameter 'a ") and message.endswith("x' has no value")
    assert_fast(took, baseline, allowed=0.25)
    message, took = refused_filter("a" + " " * 1_000_000 + "x")
    assert message == "the query string has 1000002 characters; at most 16384 are allowed"
    assert_fast(took, baseline)
    message, _ = refused_filter(" & ".join(["eventType = X"] * 101))
    assert message == "101 filter parameters; at most 100 are allowed"


def test_the_embedded_store_answers_queries_at_the_bounds(tmp_path):
    """The most filter values and the most conditions a query may have: both compile and agree
    with the reference evaluator."""

    async def scenario() -> None:
        store = SqliteStore(tmp_path, synchronous="NORMAL")
        try:
            survey = {"direction": "in", "channel": [{"id": "web"}], "@type": "Survey"}
            docs = [resource({**survey, "reason": f"r{n}", "score": n}, n) for n in range(5)]
            for doc in docs:
                await store.write(create_change(doc), no_notifications)
            for raw in (
                "reason="
                + ",".join(f"r{n}" for n in range(0, MAX_VALUES, 2))
                + "&score.ne="
                + ",".join(str(n) for n in range(1, MAX_VALUES, 2)),
                "&".join(f"reason.ne=x{n}" for n in range(MAX_CONDITIONS)),
            ):
                query = parse_query(raw)
                page = await store.list(query)
                want = sorted(doc["id"] for doc in docs if matches(query, doc))
                assert sorted(orjson.loads(item)["id"] for item in page.items) == want
                assert want  # the query is not trivially empty
        finally:
            await store.close()

    asyncio.run(scenario())
