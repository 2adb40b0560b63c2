"""The TMF630 query string -> Query structure."""

import pytest

from storage.query import Op, SortKey
from storage.tmf630 import QueryError, parse_filter, parse_query


def single(raw):
    (condition,) = parse_query(raw).conditions
    return condition.path, condition.op, [v.text for v in condition.values]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("status=open", ("status", Op.EQ, ["open"])),
        ("status.eq=open", ("status", Op.EQ, ["open"])),
        ("status.ne=open", ("status", Op.NE, ["open"])),
        ("relatedParty.id=42", ("relatedParty.id", Op.EQ, ["42"])),
        ("interactionDate.startDateTime.gt=2026-01-01", ("interactionDate.startDateTime", Op.GT, ["2026-01-01"])),
        ("creationDate.gte=2026-01-01", ("creationDate", Op.GTE, ["2026-01-01"])),
        ("creationDate.lt=2026-01-01", ("creationDate", Op.LT, ["2026-01-01"])),
        ("creationDate.lte=2026-01-01", ("creationDate", Op.LTE, ["2026-01-01"])),
        ("reason.regex=^Bill", ("reason", Op.REGEX, ["^Bill"])),
        ("reason.regex=a{1,3}", ("reason", Op.REGEX, ["a{1,3}"])),
        # symbolic forms as they arrive on the wire
        ("creationDate%3E=2026-01-01", ("creationDate", Op.GTE, ["2026-01-01"])),
        ("creationDate%3C=2026-01-01", ("creationDate", Op.LTE, ["2026-01-01"])),
        ("creationDate%3E2026-01-01", ("creationDate", Op.GT, ["2026-01-01"])),
        ("creationDate%3C2026-01-01", ("creationDate", Op.LT, ["2026-01-01"])),
        ("creationDate>=2026-01-01", ("creationDate", Op.GTE, ["2026-01-01"])),
        ("status!=open", ("status", Op.NE, ["open"])),
        # comma is OR, escaped comma is literal, spaces decode
        ("status=open,closed", ("status", Op.EQ, ["open", "closed"])),
        ("reason=Hello\\,%20world", ("reason", Op.EQ, ["Hello, world"])),
        ("reason=Buy+TV", ("reason", Op.EQ, ["Buy TV"])),
        # the CTK sends href unencoded
        (
            "href=http://h:8683/tmf-api/partyInteraction/v4/partyInteraction/a1",
            ("href", Op.EQ, ["http://h:8683/tmf-api/partyInteraction/v4/partyInteraction/a1"]),
        ),
        ("@type=VoiceInteraction", ("@type", Op.EQ, ["VoiceInteraction"])),
        # an unencoded '+' offset becomes a space; it is put back for date-times
        ("creationDate.gt=2026-01-01T10:00:00+02:00", ("creationDate", Op.GT, ["2026-01-01T10:00:00+02:00"])),
    ],
)
def test_filters(raw, expected):
    assert single(raw) == expected


def test_parameters_are_anded_and_typed_once():
    query = parse_query("status=open&amount.gt=5&creationDate.lt=2026-02-01T00:00:00Z")
    assert [c.path for c in query.conditions] == ["status", "amount", "creationDate"]
    amount, created = query.conditions[1].values[0], query.conditions[2].values[0]
    assert (amount.number, amount.instant) == (5.0, None)
    assert created.instant == 1769904000.0


def test_paging_sorting_and_fields():
    query = parse_query("fields=reason,channel.id&sort=-interactionDate.startDateTime,reason&offset=20&limit=10")
    assert query.fields == ("reason", "channel.id")
    assert query.sort == (SortKey("interactionDate.startDateTime", True), SortKey("reason"))
    assert (query.offset, query.limit, query.conditions) == (20, 10, ())
    assert parse_query("fields=none").fields == ()
    assert parse_query("").fields is None and parse_query("").limit is None


@pytest.mark.parametrize(
    "raw",
    [
        "offset=-1",
        "limit=abc",
        "limit=1.5",
        "offset=",
        "sort=",
        "sort=a,,b",
        "fields=",
        "creationDate.gt=1,2",
        "reason.regex=(unclosed",
        "status.like=open",
        "status.in=a,b",
        "a b=1",
        "status*=x",
        "flag",
        "channel..id=1",
    ],
)
def test_bad_parameters_are_refused(raw):
    with pytest.raises(QueryError):
        parse_query(raw)


def test_only_allowed_reserved_parameters():
    with pytest.raises(QueryError, match="sort"):
        parse_query("sort=reason", allow=("fields",))


def test_subscription_filters_allow_spaces_and_a_leading_question_mark():
    query = parse_filter("?eventType = PartyInteractionCreateEvent & event.partyInteraction.status=open")
    assert [(c.path, c.values[0].text) for c in query.conditions] == [
        ("eventType", "PartyInteractionCreateEvent"),
        ("event.partyInteraction.status", "open"),
    ]
    with pytest.raises(QueryError):
        parse_filter("limit=5")
