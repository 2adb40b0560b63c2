"""Compiles the store-neutral `Query` to the search engine's query DSL.

Mirrors `storage.query.compare` over the per-kind `ihub_q` fields (storage/search/documents.py):
a stored text scalar compares as text, a number numerically when the operand is a number (else
by its text), a date-time as an instant when the operand is one (else by its text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from storage.query import DEFAULT_SORT, Condition, Op, Operand, Query, SortKey, UnsupportedQuery
from storage.search.documents import DATE, DATE_TEXT, NUMBER, NUMBER_TEXT, ORDER, TEXT, field


class Node:
    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Term(Node):
    field: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"term": {self.field: {"value": self.value}}}


@dataclass(frozen=True)
class Range(Node):
    field: str
    op: str  # gt, gte, lt, lte
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"range": {self.field: {self.op: self.value}}}


@dataclass(frozen=True)
class Regexp(Node):
    field: str
    pattern: str
    case_insensitive: bool = False

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"value": self.pattern, "flags": "NONE"}
        if self.case_insensitive:
            body["case_insensitive"] = True
        return {"regexp": {self.field: body}}


@dataclass(frozen=True)
class Bool(Node):
    filter: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.filter:
            body["filter"] = [node.to_dict() for node in self.filter]
        if self.should:
            body["should"] = [node.to_dict() for node in self.should]
            body["minimum_should_match"] = 1
        if self.must_not:
            body["must_not"] = [node.to_dict() for node in self.must_not]
        return {"bool": body}


@dataclass(frozen=True)
class MatchAll(Node):
    def to_dict(self) -> dict[str, Any]:
        return {"match_all": {}}


def _operand_nodes(op: Op, path: str, operand: Operand) -> list[Node]:
    if op is Op.REGEX:
        pattern, insensitive = lucene_regexp(operand.text)
        return [Regexp(field(family, path), pattern, insensitive) for family in (TEXT, NUMBER_TEXT, DATE_TEXT)]
    number = (
        (field(NUMBER, path), operand.number)
        if operand.number is not None
        else (field(NUMBER_TEXT, path), operand.text)
    )
    date = (
        (field(DATE, path), operand.instant) if operand.instant is not None else (field(DATE_TEXT, path), operand.text)
    )
    pairs = [(field(TEXT, path), operand.text), number, date]
    if op in (Op.EQ, Op.NE):
        return [Term(name, value) for name, value in pairs]
    return [Range(name, op.value, value) for name, value in pairs]


def condition_node(condition: Condition) -> Node:
    branches = [node for operand in condition.values for node in _operand_nodes(condition.op, condition.path, operand)]
    any_value = Bool(should=tuple(branches))
    return Bool(must_not=(any_value,)) if condition.op is Op.NE else any_value


def query_node(query: Query) -> Node:
    if not query.conditions:
        return MatchAll()
    return Bool(filter=tuple(condition_node(condition) for condition in query.conditions))


def sort_clause(sort: tuple[SortKey, ...]) -> list[dict[str, Any]]:
    """Numbers and date-times before text ascending, text first descending; missing last; then id."""
    clauses: list[dict[str, Any]] = []
    for key in sort or DEFAULT_SORT:
        numeric = (field(ORDER, key.path), "double")
        text = (field(TEXT, key.path), "keyword")
        order, mode = ("desc", "max") if key.descending else ("asc", "min")
        for name, kind in (text, numeric) if key.descending else (numeric, text):
            clauses.append({name: {"order": order, "mode": mode, "missing": "_last", "unmapped_type": kind}})
    clauses.append({"id": {"order": "asc"}})
    return clauses


def search_body(query: Query) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": query_node(query).to_dict(),
        "sort": sort_clause(query.sort),
        "from": query.offset,
        "track_total_hits": True,
    }
    if query.limit is not None:
        body["size"] = query.limit
    return body


# -- regular expressions ---------------------------------------------------------------------
# The `.regex` semantics (an RE2 search, storage.query.compile_pattern, which has already accepted
# the pattern) in Lucene's regexp syntax, for the subset both share. Anything else is refused (400)
# rather than approximated.
_LUCENE_OPERATORS = set('@&~<>#"')
_CLASS_ESCAPES = {"d": "0-9", "s": "\t\n\f\r "}  # RE2's \d and \s, as the inside of a [...] class
# flags other than a leading (?i), named or flagged groups, and escaped letters and digits other than
# \d and \s: RE2 gives those meanings (\b, \w, \z, \pL, \x41, \t, \Q...\E) Lucene's syntax lacks
_UNSUPPORTED = re.compile(r"\(\?[^i]|\(\?i.|\\(?![ds])[A-Za-z0-9]")


def lucene_regexp(pattern: str) -> tuple[str, bool]:
    """(Lucene pattern, case-insensitive) meaning the same as the RE2 search of `pattern`."""
    insensitive = pattern.startswith("(?i)")
    body = pattern[4:] if insensitive else pattern
    if _UNSUPPORTED.search(body):
        raise UnsupportedQuery(f"regular expression '{pattern}' uses syntax the search store does not support")
    anchored_start = body.startswith("^")
    anchored_end = body.endswith("$") and not body.endswith("\\$")
    inner = body[1 if anchored_start else 0 : len(body) - (1 if anchored_end else 0)]
    if (anchored_start or anchored_end) and _top_level_alternation(inner):
        raise UnsupportedQuery(f"regular expression '{pattern}': anchors with top-level '|' are not supported")
    out = []
    i, in_class = 0, False
    while i < len(inner):
        char = inner[i]
        if char == "\\" and i + 1 < len(inner):
            nxt = inner[i + 1]
            if nxt in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[nxt] if in_class else f"[{_CLASS_ESCAPES[nxt]}]")
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if in_class:
            if char == "[" and inner[i + 1 : i + 2] == ":":
                raise UnsupportedQuery(
                    f"regular expression '{pattern}': POSIX classes such as [:alpha:] are not supported"
                )
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if inner[i + 1 : i + 2] == "^":  # negated class: copy the caret as is
                out.append("[^")
                i += 2
                continue
        elif char in "^$":
            raise UnsupportedQuery(f"regular expression '{pattern}': '^' and '$' only at the ends")
        out.append("\\" + char if char in _LUCENE_OPERATORS else char)
        i += 1
    core = "".join(out)
    return ("" if anchored_start else ".*") + f"({core})" + ("" if anchored_end else ".*"), insensitive


def _top_level_alternation(text: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False
