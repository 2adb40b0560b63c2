"""The customer-360 timeline: what it shows, stated once (the stores index `timeline_rows`).

A party's timeline holds every interaction whose `relatedParty` names the party (any role),
newest first by `interactionDate.startDateTime`, falling back to `creationDate`; ties break on id
(descending). Filters: channel ids, statuses, reasons (each a set, OR within, AND across),
`from`/`to` on the timeline time (inclusive), and `q`: every word of q finds a word of the reason,
the description or a note's text, as a prefix of it or by its stem (`matches_text`). Facets count,
for the filtered set, interactions per channel id, status and reason. Pages are cursors over
(time, id), so a page deep in a long history costs the same as the first.
"""

from __future__ import annotations

import base64
import re
import threading
import unicodedata
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import Stemmer

from schemas.common import epoch_seconds

_WORD = re.compile(r"\w+")
FACETS = ("channel", "status", "reason")


MAX_WORD_CHARS = 100  # a longer token is searched by its first 100 characters, on both sides
MAX_QUERY_WORDS = 32  # distinct words in q (the engine refuses a query of thousands)


def words(text: str) -> list[str]:
    """The searchable words of a text (a document's or a query's): case-folded, without diacritics
    (São is sao), at most MAX_WORD_CHARS long, so that a 100k-character token is no 100k-character
    index term."""
    folded = text.casefold()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    return [word[:MAX_WORD_CHARS] for word in _WORD.findall(folded)]


_stemmers = threading.local()  # a Stemmer is not safe to share between threads


def stem(word: str) -> str:
    """The English stem of a word (Snowball's English stemmer): charges, charging and charge are charg."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return str(stemmer.stemWord(word))


def matches_text(query_words: tuple[str, ...], found: tuple[str, ...], stems: frozenset[str]) -> bool:
    """The search rule, on both stores: every query word begins a word of the text (roam, roaming)
    or has the stem of one (charges, charge). `found` is sorted, so a prefix is one bisection."""
    for word in query_words:
        i = bisect_left(found, word)
        if not (i < len(found) and found[i].startswith(word)) and stem(word) not in stems:
            return False
    return True


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    party_id: str
    channels: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    start: float | None = None  # epoch seconds, inclusive
    end: float | None = None
    text: tuple[str, ...] = ()  # words of q
    after: tuple[float, str] | None = None  # cursor: (time, id) of the last item already seen
    limit: int = 20


@dataclass(slots=True)
class TimelinePage:
    items: list[bytes] = field(default_factory=list)  # JSON documents, as stored
    next_cursor: str | None = None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """What a store keeps of one interaction for one of its parties."""

    party_id: str
    at: float
    interaction_id: str
    channels: tuple[str, ...]
    status: str | None
    reason: str | None
    words: tuple[str, ...]  # sorted, distinct
    stems: frozenset[str]


def timeline_time(doc: dict[str, Any]) -> float:
    start = (doc.get("interactionDate") or {}).get("startDateTime")
    at = epoch_seconds(start) if isinstance(start, str) else None
    if at is None:
        at = epoch_seconds(doc["creationDate"])
    if at is None:  # the server sets creationDate: this is a document it did not write
        raise ValueError(f"creationDate is not a date-time: {doc['creationDate']!r}")
    return at


def document_words(doc: dict[str, Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The searchable words of an interaction (sorted, distinct) and their stems."""
    texts = [doc.get("reason"), doc.get("description"), *((n or {}).get("text") for n in doc.get("note") or [])]
    found = sorted({w for text in texts if isinstance(text, str) for w in words(text)})
    return tuple(found), frozenset(map(stem, found))


def timeline_rows(doc: dict[str, Any]) -> list[TimelineRow]:
    parties = {p["id"] for p in doc.get("relatedParty") or [] if isinstance(p, dict) and isinstance(p.get("id"), str)}
    at, (found, stems) = timeline_time(doc), document_words(doc)
    channels = tuple(c["id"] for c in doc.get("channel") or [] if isinstance(c, dict) and "id" in c)
    return [
        TimelineRow(party, at, doc["id"], channels, doc.get("status"), doc.get("reason"), found, stems)
        for party in sorted(parties)
    ]


def row_matches(query: TimelineQuery, row: TimelineRow) -> bool:
    """Every filter but the cursor (facets count over this set)."""
    return (
        row.party_id == query.party_id
        and (not query.channels or bool(query.channels.intersection(row.channels)))
        and (not query.statuses or row.status in query.statuses)
        and (not query.reasons or row.reason in query.reasons)
        and (query.start is None or row.at >= query.start)
        and (query.end is None or row.at <= query.end)
        and matches_text(query.text, row.words, row.stems)
    )


def facet_counts(rows: list[TimelineRow]) -> dict[str, list[dict[str, Any]]]:
    counters: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for row in rows:
        counters["channel"].update(set(row.channels))
        if row.status is not None:
            counters["status"][row.status] += 1
        if row.reason is not None:
            counters["reason"][row.reason] += 1
    return {
        name: [{"value": v, "count": n} for v, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
        for name, c in counters.items()
    }


def encode_cursor(at: float, interaction_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([at, interaction_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError for anything that is not a cursor this server made."""
    try:
        at, interaction_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(interaction_id, str) or not isinstance(at, (int, float)) or isinstance(at, bool):
            raise ValueError
        return float(at), interaction_id
    except Exception:
        raise ValueError("not a valid cursor") from None


def reference_timeline(
    docs: list[dict[str, Any]], query: TimelineQuery
) -> tuple[list[str], str | None, dict[str, Any]]:
    """The oracle: ids of the page, next cursor, facets."""
    rows = [row for doc in docs for row in timeline_rows(doc) if row_matches(query, row)]
    ordered = sorted(rows, key=lambda r: (r.at, r.interaction_id), reverse=True)
    if query.after is not None:
        ordered = [r for r in ordered if (r.at, r.interaction_id) < query.after]
    page = ordered[: query.limit]
    more = len(ordered) > query.limit
    cursor = encode_cursor(page[-1].at, page[-1].interaction_id) if more else None
    return [r.interaction_id for r in page], cursor, facet_counts(rows)
