"""Requests built to cost the server as much as possible, over real HTTP on both stores: each is
answered quickly, and one that asks for more than the server allows is a 400 TMF Error naming the
problem (README, "Limits")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_party_interaction import CTK_BODY, assert_tmf_error
from tests.support.server import own_server


def timed(get: Callable[..., httpx.Response], url: str, params: Any = None) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = get(url, params=params)
    return response, time.perf_counter() - start


def assert_fast(took: float, baseline: float) -> None:
    """Generous on purpose (shared machines are noisy): these requests took up to 50 s."""
    assert took < 2.0 + 20 * baseline, f"{took:.3f} s against a baseline of {baseline:.3f} s"


@pytest.fixture(scope="module")
def hostile(api):
    """One interaction whose reason (31 characters) makes (a+)+$ backtrack, with a 100k note."""
    marker = uuid4().hex
    body = {**CTK_BODY, "reason": "a" * 30 + "b", "description": marker, "note": [{"text": "a" * 100_000}]}
    response = api.post("partyInteraction", json=body)
    assert response.status_code == 201, response.text
    return marker, response.json()["id"]


def test_regular_expressions_take_linear_time(api, hostile):
    marker, interaction_id = hostile
    mine = {"description": marker, "fields": "none"}
    found, baseline = timed(api.get, "partyInteraction", {**mine, "reason.regex": "b$"})
    assert [item["id"] for item in found.json()] == [interaction_id]
    for parameter, pattern in [("reason.regex", "(a+)+$"), ("note.text.regex", ".*z")]:
        response, took = timed(api.get, "partyInteraction", {**mine, parameter: pattern})
        assert response.status_code == 200 and response.json() == [], (pattern, response.text)
        assert_fast(took, baseline)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(" * 500 + "a" + ")" * 500, "longer than 1000 characters"),
        ("a{99999999999}", "a repetition count over 1000"),
        (r"(a)\1", r"invalid escape sequence: \1"),
        ("(?<=a)b", "invalid perl operator: (?<="),
        (r"\pL{1000}", "pattern too large"),
    ],
)
def test_regular_expressions_outside_re2_or_its_bounds_get_400(api, pattern, problem):
    _, baseline = timed(api.get, "partyInteraction", {"limit": 0})
    response, took = timed(api.get, "partyInteraction", {"reason.regex": pattern})
    error = assert_tmf_error(response, 400, "'reason.regex' is not a regular expression this server accepts", problem)
    assert "RE2 syntax" in error["message"]
    assert_fast(took, baseline)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=" + ",".join(["reason"] * 2000), "'sort' has 2000 keys; at most 16 are allowed"),
        (f"limit={2**63}", "'limit' must be at most 1000000, got '9223372036854775808'"),
        (f"offset={2**63}", "'offset' must be at most 1000000, got '9223372036854775808'"),
        ("offset=%C2%B2", "'offset' must be a non-negative integer, got '²'"),
        ("&".join(["status=open"] * 101), "101 filter parameters; at most 100 are allowed"),
        ("&".join(["status=open"] * 5000), "the query string has 59999 characters; at most 16384 are allowed"),
        ("status=" + ",".join(["x"] * 8000), "'status' brings the filter values to 8000; at most 300 are allowed"),
        ("fields=" + ",".join(f"a{n}" for n in range(101)), "'fields' names 101 attributes; at most 100 are allowed"),
        ("description=" + "x" * 16_400, "the query string has 16412 characters; at most 16384 are allowed"),
    ],
    ids=["sort", "limit", "offset", "unicode-digit", "conditions", "5000-parameters", "values", "fields", "length"],
)
def test_query_parameters_past_the_limits_get_400(api, query, message):
    _, baseline = timed(api.get, "partyInteraction", {"limit": 0})
    response, took = timed(api.get, f"partyInteraction?{query}")
    assert assert_tmf_error(response, 400)["message"] == message
    assert_fast(took, baseline)


def test_query_parameters_at_the_limits_are_answered(api, hostile):
    marker, interaction_id = hostile
    at_limits = [
        "sort=" + ",".join(["-reason"] * 16),
        "offset=1000000&limit=1000000",
        "&".join(["status.ne=closed"] * 99),
        "reason=" + ",".join(f"r{n}" for n in range(298)) + "," + "a" * 30 + "b",
    ]
    for query in at_limits:
        response = api.get(f"partyInteraction?description={marker}&fields=none&{query}")
        assert response.status_code == 200, (query[:80], response.text)
        assert response.headers["x-total-count"] == "1"
    assert [item["id"] for item in api.get(f"partyInteraction?description={marker}&{at_limits[3]}").json()] == [
        interaction_id
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"from": "0001-01-01T00:00:00+14:00", "to": "2026-01-01T00:00:00Z"},
            "'from' must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC, "
            "got '0001-01-01T00:00:00+14:00'",
        ),
        (
            {"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:59:59-14:00"},
            "'to' must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC, "
            "got '9999-12-31T23:59:59-14:00'",
        ),
    ],
    ids=["year-1-at-plus-14", "year-9999-at-minus-14"],
)
def test_kpi_and_timeline_instants_out_of_range_get_400(api, server, params, message):
    root = server.url.split("/tmf-api/")[0]
    response = httpx.get(f"{root}/ihub/v1/analytics/kpis", params=params)
    assert assert_tmf_error(response, 400)["message"] == message
    response = httpx.get(f"{root}/ihub/v1/parties/cust-42/timeline", params=params)
    assert assert_tmf_error(response, 400)["message"] == message


def test_kpis_at_the_ends_of_time_are_answered(api, server):
    kpis = server.url.split("/tmf-api/")[0] + "/ihub/v1/analytics/kpis"
    # the default `from` (30 days before `to`) stops at the earliest instant
    response = httpx.get(kpis, params={"to": "0001-01-02T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert (response.json()["from"], response.json()["groups"]) == ("0001-01-01T00:00:00Z", [])
    # buckets exist only where interactions are: the widest window, hourly, costs what the data costs
    _, baseline = timed(httpx.get, kpis, {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"})
    whole = {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z", "interval": "hour"}
    response, took = timed(httpx.get, kpis, whole)
    assert response.status_code == 200, response.text
    assert (response.json()["from"], response.json()["to"]) == ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
    assert_fast(took, baseline)


# -- page sizes: a server of its own, with small pages -------------------------------------------


@pytest.fixture(scope="module", params=["embedded", "search"])
def small_pages(request, tmp_path_factory):
    """A server whose lists have 3 items unless asked for more, and never more than 5, and that
    answers a page holding only part of the matches with TMF630's 206 (the default is 200:
    test_queries.py)."""
    settings = {
        "IHUB_DEFAULT_PAGE_SIZE": "3",
        "IHUB_MAX_PAGE_SIZE": "5",
        "IHUB_PARTIAL_CONTENT_206": "true",
        "IHUB_HUB_ALLOWED_NETWORKS": "127.0.0.0/8",  # listeners on this machine, in full mode too
    }
    with own_server(request, tmp_path_factory, "pages", settings) as client:
        yield client


def links(response: httpx.Response) -> dict[str, tuple[str, str]]:
    """rel -> (offset, limit) of the Link header."""
    found = {}
    for part in response.headers["link"].split(", "):
        url, rel = part.split("; ")
        query = parse_qs(urlsplit(url.strip("<>")).query)
        found[rel.split('"')[1]] = (query["offset"][0], query["limit"][0])
    return found


def test_lists_have_a_default_and_a_maximum_page_size(small_pages):
    marker = uuid4().hex
    created = []
    for n in range(7):
        response = small_pages.post("partyInteraction", json={**CTK_BODY, "description": marker, "status": f"s{n}"})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])

    def page(**params: Any) -> tuple[httpx.Response, list[str]]:
        response = small_pages.get("partyInteraction", params={"description": marker, **params})
        return response, [item["id"] for item in response.json()]

    # no limit: the default page, a 206 whose Link header leads on
    response, ids = page()
    assert (response.status_code, ids) == (206, created[:3])
    assert (response.headers["x-result-count"], response.headers["x-total-count"]) == ("3", "7")
    assert links(response) == {"first": ("0", "3"), "next": ("3", "3"), "last": ("6", "3")}
    # a limit over the maximum is lowered to it
    response, ids = page(limit=100)
    assert (response.status_code, ids) == (206, created[:5])
    assert links(response) == {"first": ("0", "5"), "next": ("5", "5"), "last": ("5", "5")}
    response, ids = page(limit=100, offset=5)
    assert (response.status_code, ids) == (206, created[5:])
    # a result within the page is complete: 200
    response, ids = page(status="s1,s2")
    assert (response.status_code, ids) == (200, created[1:3])
    assert links(response) == {"first": ("0", "3"), "last": ("0", "3")}


def test_with_partial_content_every_list_answers_206_for_part_of_its_matches(small_pages):
    """v5 interactions, both hubs' listeners and the party roles page as v4 interactions do."""
    root = str(small_pages.base_url).split("/tmf-api/")[0]
    marker = uuid4().hex
    v5 = f"{root}/tmf-api/partyInteraction/v5/"
    for _ in range(2):
        response = small_pages.post("partyInteraction", json={**CTK_BODY, "description": marker})
        assert response.status_code == 201, response.text
    listeners = []  # registered after the writes, and removed: never called
    for n in range(2):
        listener = {"callback": f"http://127.0.0.1:9/{marker}/{n}"}
        listeners.append(small_pages.post("hub", json=listener).json()["id"])
        listeners.append(httpx.post(f"{v5}hub", json={"@type": "Hub", **listener}).json()["id"])
    mine = {"callback.regex": marker}
    for url, params in (
        (f"{v5}partyInteraction", {"description": marker}),
        (f"{root}/tmf-api/partyInteraction/v4/hub", mine),
        (f"{v5}hub", mine),
        (f"{root}/tmf-api/partyRoleManagement/v4/partyRole", {"id.regex": "^interaction:(read|write)$"}),
    ):
        part = httpx.get(url, params={**params, "limit": "1"})
        assert (part.status_code, part.headers["x-result-count"], part.headers["x-total-count"]) == (206, "1", "2")
        assert links(part) == {"first": ("0", "1"), "next": ("1", "1"), "last": ("1", "1")}, url
        whole = httpx.get(url, params=params)
        assert (whole.status_code, whole.headers["x-result-count"]) == (200, "2"), (url, whole.text)
    for listener_id in listeners:
        assert small_pages.delete(f"hub/{listener_id}").status_code == 204
