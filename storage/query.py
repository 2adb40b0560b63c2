"""The store-neutral TMF630 query, its value semantics, and the reference evaluator.

A list request is parsed once (storage/tmf630.py) into a `Query`. Each store compiles it
(storage/sqlite/compiler.py, later the search-DSL compiler); `matches` and `sort_key` below state
the semantics in plain code and are the oracle every store's results are tested against.

Semantics, in one place:
- A dotted path reaches into objects; arrays are flattened at any depth, so a condition holds
  when *some* scalar under the path satisfies it ("an element must match").
- Values compare by the type of what is stored: JSON numbers numerically when the query value is
  a number, date-time strings as instants when the query value is a date-time, everything else
  as text (booleans as `true`/`false`). JSON null and missing attributes never match.
- `a,b` in one value is OR; conditions (parameters) are ANDed. `ne` is the negation of `eq`
  (no scalar equals any of the values), so it also matches documents that lack the attribute.
- `regex` is an RE2 search over the text form (matches anywhere unless anchored): time linear in
  the value's length, whatever the pattern (`compile_pattern`).
- Sorting uses, per document, the smallest scalar under the path for ascending keys and the
  largest for descending ones (Elasticsearch's default for arrays); numbers and date-times sort
  before text; documents without the attribute come last; ties break on `id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import re2  # google-re2: no backtracking, so no pattern can take exponential time

from schemas.common import epoch_seconds


class UnsupportedQuery(ValueError):
    """A valid query a particular store cannot answer exactly; refused (400), never approximated."""


class BadPattern(ValueError):
    """A `.regex` value that is not an RE2 pattern within the limits below (the parser's 400)."""


MAX_PATTERN_CHARS = 1000  # also Elasticsearch's default index.max_regex_length
# RE2's memory budget per pattern (compiled program and matching caches): a pattern whose program
# does not fit is refused at once instead of being compiled at length.
PATTERN_MAX_MEM = 2 * 1024 * 1024
# RE2 reads a repetition count it cannot parse (ten digits or more) as literal text; any count of
# five digits is past its maximum (1000) anyway, so it is refused rather than read another way.
_HUGE_COUNT = re.compile(r"(?<!\\)(?:\\\\)*\{[0-9]{5,}")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = PATTERN_MAX_MEM
_RE2_OPTIONS.log_errors = False  # a refused pattern is the client's 400, not a server log line
_RE2_OPTIONS.never_capture = True  # only "does it match" is asked: RE2's fastest engines


@dataclass(frozen=True, slots=True)
class Pattern:
    """A `.regex` value compiled by RE2 (https://github.com/google/re2/wiki/Syntax)."""

    text: str
    compiled: Any  # re2._Regexp (the package has no type hints)

    def search(self, value: str) -> bool:
        """Whether the pattern matches anywhere in `value`."""
        # bytes take the binding's fast path; the pattern is UTF-8 too, so the answer is the same
        return self.compiled.search(value.encode()) is not None


@lru_cache(maxsize=128)
def compile_pattern(text: str) -> Pattern:
    """The one place a `.regex` value is compiled: for the parser (validation), the reference
    evaluator and the embedded store's REGEXP, so they all run the same engine."""
    if len(text) > MAX_PATTERN_CHARS:
        raise BadPattern(f"longer than {MAX_PATTERN_CHARS} characters")
    if _HUGE_COUNT.search(text):
        raise BadPattern("a repetition count over 1000")
    try:
        return Pattern(text, re2.compile(text, _RE2_OPTIONS))
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if isinstance(exc.args[0], bytes) else str(exc)
        raise BadPattern(reason) from None


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    REGEX = "regex"


class Kind(StrEnum):
    """What a stored scalar is, for comparisons."""

    TEXT = "s"
    NUMBER = "n"
    DATE = "d"  # a string holding an ISO 8601 date-time
    BOOL = "b"


# numbers and date-times (0, number) before text (1, text); tuples whose kinds differ never compare
# their second items
SortValue = tuple[int, Any]
Comparable = TypeVar("Comparable", float, str)


class Scalar(NamedTuple):  # a tuple: every store builds dozens per written document
    """A stored scalar, classified once: its text form and, for numbers and dates, a number."""

    kind: Kind
    text: str
    number: float | None  # the JSON number, or the date-time as epoch seconds

    @property
    def sort_value(self) -> SortValue:
        return (0, self.number) if self.number is not None else (1, self.text)


@dataclass(frozen=True, slots=True)
class Operand:
    """A query value, classified once: as text, and as number / instant where it parses."""

    text: str
    number: float | None = None
    instant: float | None = None
    pattern: Pattern | None = None

    @property
    def number_text(self) -> str | None:
        return None if self.number is None else number_text(self.number)

    @classmethod
    def of(cls, text: str, op: Op) -> Operand:
        if op is Op.REGEX:
            return cls(text, pattern=compile_pattern(text))
        return cls(text, number=_as_number(text), instant=epoch_seconds(text))


@dataclass(frozen=True, slots=True)
class Condition:
    """`path op v1,v2,...`: true when the operator holds for any of the values."""

    path: str
    op: Op
    values: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    path: str
    descending: bool = False


# Without `sort`, oldest first: the order in which interactions were created.
DEFAULT_SORT = (SortKey("creationDate"),)


@dataclass(frozen=True, slots=True)
class Query:
    conditions: tuple[Condition, ...] = ()  # ANDed
    sort: tuple[SortKey, ...] = ()
    fields: tuple[str, ...] | None = None  # None: whole resource; () : only id and href
    offset: int = 0
    limit: int | None = None  # None: everything that matches


@dataclass(slots=True)
class Page:
    total: int
    items: list[bytes] = field(default_factory=list)  # JSON documents, as stored
    versions: list[int] = field(default_factory=list)  # each item's version (its ETag), in the same order


def number_text(number: float) -> str:
    """Canonical text of a number, so that 42, 42.0 and "42" compare equal as text."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number) if isinstance(number, float) else str(number)


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def classify(value: Any) -> Scalar | None:
    """Classify a JSON scalar; None for null (and for objects/arrays, which are not scalars)."""
    if isinstance(value, str):  # the common case first
        # cheap test first: most strings are not dates, and the regex is the costly part
        at = epoch_seconds(value) if value[4:5] == "-" and value[:4].isdigit() else None
        if at is not None:
            return Scalar(Kind.DATE, value, at)
        return Scalar(Kind.TEXT, value, None)
    if isinstance(value, bool):
        return Scalar(Kind.BOOL, "true" if value else "false", None)
    if isinstance(value, (int, float)):
        return Scalar(Kind.NUMBER, number_text(value), float(value))
    return None


def scalars(doc: Any, path: str) -> Iterator[Any]:
    """Every non-null scalar under a dotted path, arrays flattened at any depth."""
    yield from _walk(doc, path.split("."), 0)


def _walk(node: Any, parts: list[str], depth: int) -> Iterator[Any]:
    if isinstance(node, list):
        for element in node:
            yield from _walk(element, parts, depth)
    elif depth == len(parts):
        if node is not None and not isinstance(node, dict):
            yield node
    elif isinstance(node, dict) and parts[depth] in node:
        yield from _walk(node[parts[depth]], parts, depth + 1)


def leaves(doc: Any) -> list[tuple[str, Scalar]]:
    """Every (path, scalar) of a document, for stores that index all paths (on the write path of
    every store, hence a loop rather than recursive generators)."""
    found: list[tuple[str, Scalar]] = []
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, dict):  # pushed in reverse: popped in document order
            stack.extend((f"{prefix}.{key}" if prefix else key, value) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((prefix, element) for element in reversed(node))
        elif node is not None:
            scalar = classify(node)
            if scalar is not None:
                found.append((prefix, scalar))
    return found


def compare(op: Op, scalar: Scalar, operand: Operand) -> bool:
    """Whether one stored scalar satisfies `op operand` (EQ..REGEX; NE is handled by callers)."""
    if op is Op.REGEX:
        assert operand.pattern is not None  # Operand.of compiles every regex operand
        return operand.pattern.search(scalar.text)
    if scalar.number is not None:
        if scalar.kind is Kind.NUMBER and operand.number is not None:
            return _ordered(op, scalar.number, operand.number)
        if scalar.kind is Kind.DATE and operand.instant is not None:
            return _ordered(op, scalar.number, operand.instant)
    return _ordered(op, scalar.text, operand.text)


def _ordered(op: Op, left: Comparable, right: Comparable) -> bool:
    if op is Op.EQ or op is Op.NE:
        return left == right
    if op is Op.GT:
        return left > right
    if op is Op.GTE:
        return left >= right
    if op is Op.LT:
        return left < right
    return left <= right


def holds(condition: Condition, doc: dict[str, Any]) -> bool:
    found = False
    for value in scalars(doc, condition.path):
        scalar = classify(value)
        if scalar is not None and any(compare(condition.op, scalar, operand) for operand in condition.values):
            found = True
            break
    return not found if condition.op is Op.NE else found


def matches(query: Query, doc: dict[str, Any]) -> bool:
    """The reference evaluator: does this document satisfy every condition of the query?"""
    return all(holds(condition, doc) for condition in query.conditions)


def sort_value(doc: dict[str, Any], key: SortKey) -> SortValue | None:
    """The value a document sorts by for one key, or None when it lacks the attribute."""
    values = [scalar.sort_value for value in scalars(doc, key.path) if (scalar := classify(value)) is not None]
    if not values:
        return None
    return max(values) if key.descending else min(values)


def sort_documents(docs: list[dict[str, Any]], sort: tuple[SortKey, ...]) -> list[dict[str, Any]]:
    """Reference ordering: stable sorts from the last key to the first, then `id`."""
    ordered = sorted(docs, key=lambda doc: doc.get("id", ""))
    for key in reversed(sort or DEFAULT_SORT):
        keyed = [(value, doc) for doc in ordered if (value := sort_value(doc, key)) is not None]
        missing = [doc for doc in ordered if sort_value(doc, key) is None]
        keyed.sort(key=lambda pair: pair[0], reverse=key.descending)
        ordered = [doc for _, doc in keyed] + missing
    return ordered


def project(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """`fields=a,b.c`: only those attributes (dotted paths reach inside), plus id and href."""
    out: dict[str, Any] = {}
    for name in ("id", "href", *fields):
        _copy_path(doc, out, name.split("."))
    return out


def _copy_path(source: Any, target: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(source, dict) or head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, dict):
        _copy_path(value, target.setdefault(head, {}), rest)
    elif isinstance(value, list):
        existing = target.get(head)
        items = existing if isinstance(existing, list) else [{} for _ in value]
        for element, into in zip(value, items, strict=True):
            if isinstance(element, dict):
                _copy_path(element, into, rest)
        target[head] = items
