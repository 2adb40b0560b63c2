"""The store contract every store is checked against: generated data, queries, the oracle.

`expected` answers a query with the reference evaluator (storage.query); each store's test loads
`contract_documents()` and must return exactly the same totals and ids, in the same order.
"""

from uuid import uuid4

from ingest.demo import interactions
from schemas import PartyInteractionCreate
from storage.changes import ABSENT, Change, apply
from storage.query import matches, sort_documents
from storage.tmf630 import parse_query


def resource(body, n):
    """The interaction a create of `body` stores (storage.changes), with a generated id and time."""
    interaction_id = f"{n:05d}-{uuid4().hex[:6]}"
    created = f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z"
    wire = PartyInteractionCreate.model_validate(body).to_json_dict()
    change = Change.at("create", interaction_id, created, wire, href=f"http://h/pi/{interaction_id}")
    return apply(ABSENT, change).new.doc


def create_change(doc):
    """The change that stores `doc` (a `resource`) as it is."""
    body = {k: v for k, v in doc.items() if k not in ("id", "href", "creationDate")}
    return Change.at("create", doc["id"], doc["creationDate"], body, href=doc["href"])


EXTRA = [
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 42},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 42.0},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": 5},
    {"reason": "Numbers", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": "42"},
    {"reason": "Mixed", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "score": [7, "x", 100]},
    {"reason": "Flags", "direction": "in", "channel": [{"id": "web"}], "@type": "Survey", "vip": True},
    {
        "reason": "Offset",
        "direction": "in",
        "channel": [{"id": "web"}],
        "interactionDate": {"startDateTime": "2026-03-01T12:00:00+02:00"},
    },
    {
        "reason": "Offset",
        "direction": "in",
        "channel": [{"id": "web"}],
        "interactionDate": {"startDateTime": "2026-03-01T10:00:00.000Z"},
    },
    {"reason": "Comma, inside", "direction": "in", "channel": [{"id": "web"}]},
]


# one customer's interactions for the timeline's text search (storage.timeline.matches_text), each
# known by its reason; SEARCHES: what a CSR types, and the reasons it must find
SEARCH_PARTY = "cust-words"
SEARCHED = [
    ("Billing question", "Bill explained", "Agent credited the roaming charges"),
    ("Roaming", "Customer roams in São Paulo", "Data bundle added"),
    ("Charge dispute", "Charged twice for one bill", None),
    ("SIM replacement", "New eSIM issued", "Shipped to the store"),
]
SEARCHES = {
    "charges": {"Billing question", "Charge dispute"},  # the exact word, and the same stem
    "charge": {"Billing question", "Charge dispute"},  # singular finds plural
    "roaming": {"Billing question", "Roaming"},  # roaming and roams: one stem
    "roam": {"Billing question", "Roaming"},  # a prefix of roaming, and roams's stem
    "bil": {"Billing question", "Charge dispute"},  # a prefix: billing, bill
    "roaming charge": {"Billing question"},  # every word
    "CHARGE Roaming": {"Billing question"},  # in any order and any case
    "sao": {"Roaming"},  # without its diacritics
    "São paulo": {"Roaming"},
    "esim": {"SIM replacement"},
    "roamer": set(),  # neither a prefix nor the stem of a word there
    "refund": set(),  # not there at all
}


def searched_body(reason, description, note):
    body = {
        "reason": reason,
        "description": description,
        "direction": "inbound",
        "channel": [{"id": "voice"}],
        "relatedParty": [{"id": SEARCH_PARTY, "role": "customer", "@referredType": "Individual"}],
    }
    if note:
        body["note"] = [{"text": note}]
    return body


def contract_documents():
    bodies = [*interactions(300, seed=7, parties=40), *EXTRA, *(searched_body(*fields) for fields in SEARCHED)]
    return [resource(body, n) for n, body in enumerate(bodies)]


def expected(docs, raw):
    query = parse_query(raw)
    hits = sort_documents([d for d in docs if matches(query, d)], query.sort)
    end = None if query.limit is None else query.offset + query.limit
    return len(hits), [d["id"] for d in hits[query.offset : end]]


QUERIES = [
    "",
    "status=completed",
    "status=completed,open",
    "status.ne=completed",
    "status.ne=completed,open",
    "relatedParty.id=cust-3",
    "relatedParty.id=cust-3&sort=-interactionDate.startDateTime&limit=5",
    "relatedParty.role=agent&channel.id=voice",
    "relatedParty.@referredType=Organization",
    "channel.name=Retail store&sort=reason,-creationDate",
    "interactionDate.startDateTime.gte=2026-06-01T00:00:00Z&interactionDate.startDateTime.lt=2026-07-01",
    "interactionDate.startDateTime%3E=2026-06-01&sort=interactionDate.startDateTime",
    "interactionDate.startDateTime%3C2026-02-01",
    "interactionDate.startDateTime=2026-03-01T10:00:00Z",
    "interactionDate.endDateTime.gt=2026-10-01&sort=-interactionDate.endDateTime&offset=3&limit=4",
    "reason.regex=^(Bill|Pay)&sort=reason",
    "reason.regex=(?i)outage",
    "reason=Comma\\, inside",
    "note.text=Customer informed&sort=-creationDate&limit=10",
    "interactionItem.item.role=productOrder",
    "score=42",
    "score.gt=6",
    "score.lte=42&sort=-score",
    "score=x",
    "score.ne=42",
    "vip=true",
    "missing=1",
    "missing.ne=1&limit=3",
    "sort=-score,creationDate&limit=12",
    "sort=relatedParty.id&limit=20",
    "sort=-relatedParty.id&offset=290",
    "sort=status,-interactionDate.startDateTime&offset=10&limit=25",
    "creationDate.gte=2026-02-10&creationDate.lt=2026-02-12&sort=-creationDate",
    "description.regex=store&status.ne=cancelled&direction=inbound",
    "limit=0",
    "offset=1000",
]


def random_queries(docs, count=60, seed=3):
    """Range conditions on the date of one party's interactions, each from a real document."""
    import random

    rng = random.Random(seed)
    sample = [d for d in docs if "relatedParty" in d and "interactionDate" in d]
    for _ in range(count):
        doc = rng.choice(sample)
        party = rng.choice(doc["relatedParty"])["id"]
        start = doc["interactionDate"]["startDateTime"]
        op = rng.choice(["gt", "gte", "lt", "lte", "eq", "ne"])
        yield f"relatedParty.id={party}&interactionDate.startDateTime.{op}={start}&sort=-interactionDate.startDateTime"


def timeline_queries(docs):
    """Timeline queries over the contract documents: busy parties, each filter, text search."""
    from collections import Counter

    from storage.timeline import TimelineQuery, words

    parties = Counter(p["id"] for d in docs for p in d.get("relatedParty", []))
    busiest = [party for party, _ in parties.most_common(3)]
    agent = next(p for p in parties if p.startswith("agent-"))
    yield TimelineQuery(busiest[0], limit=4)
    yield TimelineQuery(busiest[1], limit=50)
    yield TimelineQuery(busiest[2], statuses=frozenset({"completed", "open"}), limit=3)
    yield TimelineQuery(busiest[0], channels=frozenset({"voice", "chat"}), limit=2)
    yield TimelineQuery(busiest[1], reasons=frozenset({"Billing question", "SIM replacement"}), limit=5)
    yield TimelineQuery(busiest[0], start=1767225600.0 + 90 * 86400, end=1767225600.0 + 250 * 86400, limit=3)
    yield TimelineQuery(busiest[2], text=("customer", "informed"), limit=2)
    yield TimelineQuery(agent, limit=7)
    yield TimelineQuery("nobody", limit=5)
    for q in SEARCHES:
        yield TimelineQuery(SEARCH_PARTY, text=tuple(words(q)), limit=3)
    yield TimelineQuery(busiest[0], text=tuple(words("custom inform")), limit=2)


def found_by_searches(fetch):
    """{q: reasons found} for each of SEARCHES (fetch: TimelineQuery -> the page's items, as dicts);
    every store must give SEARCHES itself."""
    from storage.timeline import TimelineQuery, words

    return {q: {item["reason"] for item in fetch(TimelineQuery(SEARCH_PARTY, text=tuple(words(q))))} for q in SEARCHES}


def walk_timeline(fetch, query):
    """All pages of a timeline through its cursors: [(ids, cursor, facets)] (fetch: query -> same)."""
    from dataclasses import replace

    from storage.timeline import decode_cursor

    pages, after = [], None
    while True:
        ids, cursor, facets = fetch(replace(query, after=after))
        pages.append((ids, cursor, facets))
        if cursor is None:
            return pages
        after = decode_cursor(cursor)
