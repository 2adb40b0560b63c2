"""The KPI API through HTTP, on both stores (a window in 2019 that only this test writes to)."""

from __future__ import annotations

import time
from uuid import uuid4

import httpx
import pytest

from tests.conformance.test_party_interaction import assert_tmf_error


@pytest.fixture(scope="module")
def kpi(api, server):
    tag = uuid4().hex[:6]
    rows = [  # (agent, customer, reason, status, start, minutes)
        (f"agent-a-{tag}", f"c1-{tag}", "Bill", "completed", "2019-05-01T09:00:00Z", 10),
        (f"agent-a-{tag}", f"c1-{tag}", "Bill", "completed", "2019-05-03T09:00:00Z", 20),  # repeat of the first
        (f"agent-a-{tag}", f"c2-{tag}", "SIM", "open", "2019-05-01T11:00:00Z", 30),
        (f"agent-b-{tag}", f"c3-{tag}", "Bill", "completed", "2019-05-02T08:00:00Z", 4),
    ]
    for agent, customer, reason, status, start, minutes in rows:
        end = start[:14] + f"{minutes:02d}" + start[16:]
        body = {
            "reason": reason,
            "direction": "inbound",
            "status": status,
            "channel": [{"id": "voice"}],
            "interactionDate": {"startDateTime": start, "endDateTime": end},
            "relatedParty": [
                {"id": customer, "role": "customer", "@referredType": "Individual"},
                {"id": agent, "role": "agent", "@referredType": "PartyRole"},
            ],
        }
        assert api.post("partyInteraction", json=body).status_code == 201
    root = server.url.split("/tmf-api/")[0]
    with httpx.Client(base_url=f"{root}/ihub/v1/analytics/") as client:
        wait_for_the_repeat(client, tag)
        yield client, tag


def wait_for_the_repeat(client: httpx.Client, tag: str, timeout: float = 15) -> None:
    """Full mode updates first-contact resolution's contacts a moment after the documents (and
    they are searchable after a refresh): wait until agent a's repeat counts; the tests then check
    every figure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(
            "kpis",
            params={"from": "2019-05-01T00:00:00Z", "to": "2019-05-08T00:00:00Z", "groupBy": "agent", "fcrDays": 7},
        ).json()
        if any(g["key"] == f"agent-a-{tag}" and g["firstContactResolutionRate"] != 1.0 for g in body["groups"]):
            return
        time.sleep(0.1)


def test_agent_leaderboard(kpi):
    client, tag = kpi
    body = client.get(
        "kpis",
        params={
            "from": "2019-05-01T00:00:00Z",
            "to": "2019-05-08T00:00:00Z",
            "groupBy": "agent",
            "interval": "day",
            "fcrDays": 7,
        },
    ).json()
    assert (body["from"], body["to"], body["groupBy"], body["interval"]) == (
        "2019-05-01T00:00:00Z",
        "2019-05-08T00:00:00Z",
        "agent",
        "day",
    )
    groups = {g["key"]: g for g in body["groups"]}
    a, b = groups[f"agent-a-{tag}"], groups[f"agent-b-{tag}"]
    assert [g["key"] for g in body["groups"]][:2] == [f"agent-a-{tag}", f"agent-b-{tag}"]
    assert (a["volume"], a["avgHandlingSeconds"], a["resolutionRate"], a["firstContactResolutionRate"]) == (
        3,
        1200.0,
        round(2 / 3, 4),
        round(2 / 3, 4),
    )
    assert [(s["t"], s["volume"]) for s in a["series"]] == [("2019-05-01T00:00:00Z", 2), ("2019-05-03T00:00:00Z", 1)]
    assert (b["volume"], b["avgHandlingSeconds"], b["resolutionRate"], b["firstContactResolutionRate"]) == (
        1,
        240.0,
        1.0,
        1.0,
    )


def test_fcr_window_and_weeks(kpi):
    client, tag = kpi
    body = client.get(
        "kpis",
        params={
            "from": "2019-05-01T00:00:00Z",
            "to": "2019-05-08T00:00:00Z",
            "groupBy": "agent",
            "interval": "week",
            "fcrDays": 1,
        },
    ).json()
    a = next(g for g in body["groups"] if g["key"] == f"agent-a-{tag}")
    assert a["firstContactResolutionRate"] == 1.0  # the repeat came two days later
    assert [s["t"] for s in a["series"]] == ["2019-04-29T00:00:00Z"]


@pytest.mark.parametrize(("given", "echoed"), [({"fcrDays": 3}, 3), ({"fcrDays": "3.0"}, 3), ({}, 7)])
def test_fcr_days_come_back_as_whole_days_given_or_by_default(kpi, given, echoed):
    client, _ = kpi
    window = {"from": "2019-05-01T00:00:00Z", "to": "2019-05-08T00:00:00Z"}
    fcr_days = client.get("kpis", params={**window, **given}).json()["fcrDays"]
    assert (fcr_days, type(fcr_days)) == (echoed, int)  # 7, never 7.0


@pytest.mark.parametrize(
    "params",
    [
        {"groupBy": "planet"},
        {"interval": "year"},
        {"from": "soon"},
        {"from": "2019-05-02T00:00:00Z", "to": "2019-05-01T00:00:00Z"},
        {"fcrDays": 0},
        {"fcrDays": 1.5},
        {"fcrDays": 366},
        {"fcrDays": "week"},
    ],
)
def test_bad_parameters_get_400(kpi, params):
    client, _ = kpi
    assert_tmf_error(client.get("kpis", params=params), 400)
