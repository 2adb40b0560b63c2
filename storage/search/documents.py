"""What the search index holds: the index mapping and the document indexed for an interaction.

Two views of one interaction live in each index document:
- the resource itself, under its own attribute names, with an explicit mapping of the TMF683
  attributes (keyword + text, dates, nested parties) for dashboards, the timeline and KPIs;
  attributes the mapping does not know are kept in `_source` but not indexed, so an extension
  attribute can never cause a mapping conflict;
- `ihub_q`: every scalar of the document by dotted path and by kind, the same rows the embedded
  store indexes (storage.query.leaves), so any TMF630 condition on any path compiles to a term or
  range query with exactly the embedded store's semantics (storage/search/compiler.py). It is
  indexed but excluded from `_source`.
"""

from __future__ import annotations

from typing import Any

from schemas.common import epoch_seconds
from storage.kpis import fact
from storage.query import Kind, classify
from storage.timeline import document_words

QUERY_FIELD = "ihub_q"
# ihub_q.<family>.<path with '/' for '.'>; families by scalar kind (storage.query.Kind)
TEXT = "s"  # text of TEXT and BOOL scalars (keyword)
NUMBER = "n"  # JSON numbers (double)
NUMBER_TEXT = "ns"  # canonical text of numbers (keyword)
DATE = "d"  # date-time strings as epoch seconds (double)
DATE_TEXT = "ds"  # date-time strings as written (keyword)
ORDER = "o"  # numbers and date-times together, for sorting (double)

# the customer-360 timeline (storage/timeline.py): its time, its searchable words and their stems
TIMELINE_AT = "ihub_at"
TIMELINE_WORDS = "ihub_words"
TIMELINE_STEMS = "ihub_stems"

# KPI facts (storage/kpis.py) as plain fields, for Kibana
KPI_AGENT = "ihub_agent"
KPI_STORE = "ihub_store"
KPI_CUSTOMER = "ihub_customer"
KPI_HANDLING = "ihub_handling_seconds"
DERIVED = (QUERY_FIELD, TIMELINE_AT, TIMELINE_WORDS, TIMELINE_STEMS, KPI_AGENT, KPI_STORE, KPI_CUSTOMER, KPI_HANDLING)

# What the documents of an index hold, kept in its mapping's `_meta` when it is made (an index made
# before this was kept holds 1). A field added to the mapping reaches an older index's mapping
# (SearchStore.ensure_index), but its documents get it only from `ihub reindex`.
# 2: timeline words without diacritics, and their stems
MAPPING_VERSION = 2
MAPPING_META = "ihub_mapping"

# Lucene refuses terms over 32766 bytes; longer text is kept in _source but not matched by equality.
MAX_KEYWORD_CHARS = 8191


def field(family: str, path: str) -> str:
    return f"{QUERY_FIELD}.{family}.{path.replace('.', '/')}"


# child paths of ihub_q by (parent path, key): the same few dozen on every document. Bounded,
# since extension attributes may bring any number of new keys.
_PATHS: dict[tuple[str, str], str] = {}
_MAX_PATHS = 10_000


def _child(name: str, key: str) -> str:
    path = _PATHS.get((name, key))
    if path is None:
        path = f"{name}/{key.replace('.', '/')}" if name else key.replace(".", "/")
        if len(_PATHS) >= _MAX_PATHS:
            _PATHS.clear()
        _PATHS[(name, key)] = path
    return path


def query_fields(doc: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """`ihub_q`: each scalar of `doc` (storage.query.leaves, with the same classify) by family and
    path. One recursive pass straight into the families, strings (most scalars) classified
    inline: on every document a worker writes (documents nest at most MAX_DEPTH levels)."""
    fields = _QueryFields()
    fields.add(doc, "")
    families = {
        TEXT: fields.text,
        NUMBER: fields.number,
        NUMBER_TEXT: fields.number_text,
        DATE: fields.date,
        DATE_TEXT: fields.date_text,
        ORDER: fields.order,
    }
    return {family: values for family, values in families.items() if values}


class _QueryFields:
    """A document's scalars by family and path, as `add` finds them. A class, not a closure that
    calls itself: that would be a reference cycle, and every list here would wait for the cycle
    collector instead of going with the document (60 objects per document)."""

    __slots__ = ("date", "date_text", "number", "number_text", "order", "text")

    def __init__(self) -> None:
        self.text: dict[str, list[Any]] = {}
        self.number: dict[str, list[Any]] = {}
        self.number_text: dict[str, list[Any]] = {}
        self.date: dict[str, list[Any]] = {}
        self.date_text: dict[str, list[Any]] = {}
        self.order: dict[str, list[Any]] = {}

    def add(self, value: Any, name: str) -> None:
        kind = type(value)
        if kind is str:
            # classify's own test: most strings are not dates, and parsing is the costly part
            at = epoch_seconds(value) if value[4:5] == "-" and value[:4].isdigit() else None
            if at is None:
                self.text.setdefault(name, []).append(value)
            else:
                self.date.setdefault(name, []).append(at)
                self.date_text.setdefault(name, []).append(value)
                self.order.setdefault(name, []).append(at)
        elif kind is dict:
            for key, child in value.items():
                self.add(child, _child(name, key))
        elif kind is list:
            for child in value:
                self.add(child, name)
        elif isinstance(value, (dict, list)):  # a subclass: as its base
            self.add(dict(value) if isinstance(value, dict) else list(value), name)
        elif value is not None:
            scalar = classify(value)
            if scalar is None:
                return
            if scalar.kind is Kind.NUMBER:
                self.number.setdefault(name, []).append(scalar.number)
                self.number_text.setdefault(name, []).append(scalar.text)
                self.order.setdefault(name, []).append(scalar.number)
            elif scalar.kind is Kind.DATE:
                self.date.setdefault(name, []).append(scalar.number)
                self.date_text.setdefault(name, []).append(scalar.text)
                self.order.setdefault(name, []).append(scalar.number)
            else:
                self.text.setdefault(name, []).append(scalar.text)


def search_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The index document for a stored resource: the resource, its query fields, its timeline
    fields, and the KPI facts dashboards group by (Kibana cannot pair a party's id with its role)."""
    facts = fact(doc)
    found, stems = document_words(doc)
    return {
        **doc,
        QUERY_FIELD: query_fields(doc),
        TIMELINE_AT: facts.at,
        TIMELINE_WORDS: list(found),
        TIMELINE_STEMS: sorted(stems),
        KPI_AGENT: list(facts.agents),
        KPI_STORE: list(facts.stores),
        KPI_CUSTOMER: facts.customer,
        KPI_HANDLING: facts.handling,
    }


_KEYWORD = {"type": "keyword", "ignore_above": MAX_KEYWORD_CHARS}
_DATE = {"type": "date", "ignore_malformed": True}
_TEXT_AND_KEYWORD = {"type": "text", "fields": {"keyword": _KEYWORD}}
_KEYWORD_AND_TEXT = {**_KEYWORD, "fields": {"text": {"type": "text"}}}
_REF = {
    "properties": {
        "id": _KEYWORD,
        "href": _KEYWORD,
        "name": _KEYWORD_AND_TEXT,
        "role": _KEYWORD,
        "@referredType": _KEYWORD,
        "@type": _KEYWORD,
    }
}
_NOTE = {"properties": {"id": _KEYWORD, "author": _KEYWORD, "date": _DATE, "text": {"type": "text"}}}
_PERIOD = {"properties": {"startDateTime": _DATE, "endDateTime": _DATE}}


_UNSORTED_KEYWORD = {**_KEYWORD, "doc_values": False}
_UNSORTED_DOUBLE = {"type": "double", "doc_values": False}


def _template(name: str, family: str, mapping: dict[str, Any]) -> dict[str, Any]:
    return {name: {"path_match": f"{QUERY_FIELD}.{family}.*", "mapping": mapping}}


MAPPINGS: dict[str, Any] = {
    "_meta": {MAPPING_META: MAPPING_VERSION},
    "dynamic": False,
    "_source": {"excludes": list(DERIVED)},
    "dynamic_templates": [
        # only the families a sort reads (storage/search/compiler.py: ORDER and TEXT) keep doc
        # values; the others are matched by their inverted index or points alone, a third of the disk
        _template("q_text", TEXT, _KEYWORD),
        _template("q_number", NUMBER, _UNSORTED_DOUBLE),
        _template("q_number_text", NUMBER_TEXT, _UNSORTED_KEYWORD),
        _template("q_date", DATE, _UNSORTED_DOUBLE),
        _template("q_date_text", DATE_TEXT, _UNSORTED_KEYWORD),
        _template("q_order", ORDER, {"type": "double"}),
    ],
    "properties": {
        "id": _KEYWORD,
        "href": _KEYWORD,
        "@type": _KEYWORD,
        "@baseType": _KEYWORD,
        "creationDate": _DATE,
        "statusChangeDate": _DATE,
        "direction": _KEYWORD,
        "status": _KEYWORD,
        "reason": _KEYWORD_AND_TEXT,
        "description": _TEXT_AND_KEYWORD,
        "interactionDate": _PERIOD,
        "channel": _REF,
        "relatedParty": {"type": "nested", "include_in_parent": True, **_REF},
        "note": _NOTE,
        "attachment": {"properties": {"id": _KEYWORD, "name": _KEYWORD, "mimeType": _KEYWORD}},
        "interactionItem": {
            "properties": {
                "id": _KEYWORD,
                "reason": _KEYWORD_AND_TEXT,
                "item": _REF,
                "channel": _REF,
                "relatedParty": _REF,
                "note": _NOTE,
            }
        },
        "interactionRelationship": {"properties": {"id": _KEYWORD, "relationshipType": _KEYWORD}},
        QUERY_FIELD: {"type": "object", "dynamic": True},
        TIMELINE_AT: {"type": "double"},
        TIMELINE_WORDS: {"type": "keyword", "doc_values": False},
        TIMELINE_STEMS: {"type": "keyword", "doc_values": False},
        KPI_AGENT: _KEYWORD,
        KPI_STORE: _KEYWORD,
        KPI_CUSTOMER: _KEYWORD,
        KPI_HANDLING: {"type": "double"},
    },
}

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    # DEFLATE for the stored source: interactions are written once and mostly read in pages
    "codec": "best_compression",
    # every distinct attribute path adds a few ihub_q fields
    "mapping.total_fields.limit": 10000,
}
