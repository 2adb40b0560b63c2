"""KPI semantics on hand-made facts."""

from storage.kpis import Fact, KpiQuery, bucket, fact, kpis

DAY = 86400.0
T0 = 1767225600.0  # 2026-01-01T00:00:00Z, a Thursday


def f(i, at, *, handling=None, status="completed", channels=("voice",), agents=(), customer="c1", reason="Bill"):
    return Fact(f"i{i}", at, handling, status, "inbound", channels, agents, (), customer, reason)


def test_figures_groups_and_series():
    window = [
        f(1, T0 + 3600, handling=100, agents=("a1",)),
        f(2, T0 + 7200, handling=300, status="open", agents=("a1",), customer="c2"),
        f(3, T0 + DAY + 60, channels=("chat", "voice"), agents=("a2",), customer=None),
    ]
    later = [*window, f(4, T0 + 5 * DAY, customer="c1", reason="Bill")]  # a repeat of i1 within 7 days
    groups = kpis(KpiQuery(T0, T0 + 2 * DAY, "day", "channel", 7), window, later)
    assert [(g["key"], g["volume"]) for g in groups] == [("voice", 3), ("chat", 1)]
    voice = groups[0]
    assert voice["avgHandlingSeconds"] == 200.0
    assert voice["resolutionRate"] == round(2 / 3, 4)
    assert voice["firstContactResolutionRate"] == 0.5  # i1 repeated, i2 not; i3 has no customer
    assert [(s["t"], s["volume"]) for s in voice["series"]] == [
        ("2026-01-01T00:00:00Z", 2),
        ("2026-01-02T00:00:00Z", 1),
    ]
    assert voice["series"][1]["avgHandlingSeconds"] is None and voice["series"][1]["firstContactResolutionRate"] is None
    agents = kpis(KpiQuery(T0, T0 + 2 * DAY, "day", "agent", 7), window, later)
    assert [(g["key"], g["volume"]) for g in agents] == [("a1", 2), ("a2", 1)]
    # a shorter FCR horizon no longer sees the repeat
    assert kpis(KpiQuery(T0, T0 + 2 * DAY, "day", "channel", 3), window, later)[0]["firstContactResolutionRate"] == 1.0


def test_buckets():
    at = T0 + 2 * DAY + 5 * 3600 + 61  # Saturday 2026-01-03 05:01:01
    assert bucket(at, "hour") == "2026-01-03T05:00:00Z"
    assert bucket(at, "day") == "2026-01-03T00:00:00Z"
    assert bucket(at, "week") == "2025-12-29T00:00:00Z"  # the Monday before
    assert bucket(at, "month") == "2026-01-01T00:00:00Z"


def test_fact_of_a_document():
    doc = {
        "id": "x",
        "creationDate": "2026-01-05T00:00:00Z",
        "status": "completed",
        "direction": "inbound",
        "reason": "Bill",
        "interactionDate": {"startDateTime": "2026-01-01T10:00:00Z", "endDateTime": "2026-01-01T10:05:30Z"},
        "channel": [{"id": "store"}],
        "relatedParty": [
            {"id": "c1", "role": "customer"},
            {"id": "csr-9", "role": "agent"},
            {"id": "s-12", "role": "store"},
        ],
    }
    assert fact(doc) == Fact(
        "x", T0 + 36000, 330.0, "completed", "inbound", ("store",), ("csr-9",), ("s-12",), "c1", "Bill"
    )
    undated = fact({**doc, "interactionDate": {}})
    assert undated.handling is None and undated.at == T0 + 4 * DAY  # creationDate stands in
    backwards = {"startDateTime": "2026-01-01T10:00:00Z", "endDateTime": "2026-01-01T09:00:00Z"}
    assert fact({**doc, "interactionDate": backwards}).handling is None
