"""Parses a TMF630 query string into the store-neutral `storage.query.Query`.

Parsed from the raw query string (not a pre-decoded mapping) so that the symbolic forms survive:
`a>=v` arrives as `a%3E=v` (key `a>`), `a>v` as `a%3Ev` with no `=` at all.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from storage.query import BadPattern, Condition, Op, Operand, Query, SortKey

RESERVED = ("fields", "sort", "offset", "limit")

# What one query may ask for (a list request's or a hub filter's): past any of these it is a 400,
# answered before any work, so no query costs more than these allow.
MAX_QUERY_CHARS = 16 * 1024  # the raw (encoded) query string
MAX_CONDITIONS = 100  # filter parameters
# comma-separated values of all filter parameters together: each is three clauses for a search
# engine, which allows 1024 by default (and SQLite's planning time grows faster than their number)
MAX_VALUES = 300
MAX_SORT_KEYS = 16
MAX_FIELDS = 100  # attribute names in `fields`
MAX_OFFSET = 1_000_000  # the largest `offset`, and the largest `limit` (pages are smaller still)

_SYMBOLS = {">=": Op.GTE, "<=": Op.LTE, ">": Op.GT, "<": Op.LT, "!=": Op.NE}
_SEGMENT = re.compile(r"^[A-Za-z_@$][\w@$\-]*$")
# TMF630 and common dialects name these; we refuse them instead of reading them as attribute names.
_UNSUPPORTED_OPS = frozenset({"in", "nin", "like", "contains", "exists", "between", "startswith", "endswith"})
# `+` in an unencoded offset (…T10:00:00+02:00) arrives as a space.
_SPACED_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+) (\d{2}:?\d{2})$")
_DIGITS = re.compile(r"[0-9]+")
# spaces around an operator; a match starts only where a run of spaces starts and never gives
# spaces back, so a long run costs its length, not its length squared
_SPACED_OPERATOR = re.compile(r"(?<!\s)\s*+(!=|>=|<=|=|>|<)\s*+")


class QueryError(ValueError):
    """A query parameter the server cannot honour (-> 400)."""


def _pairs(raw: str) -> list[tuple[str, str]]:
    """(key, value) pairs; a symbolic operator stays on the key: `a>=`, `a<=`, `a!=`, `a>`, `a<`."""
    pairs = []
    for chunk in raw.split("&"):
        if not chunk:
            continue
        key, sep, value = chunk.partition("=")
        key, value = unquote_plus(key), unquote_plus(value)
        if not sep:  # `a>v` / `a<v`: no '=' at all, the operator and value are inside the key
            match = re.match(r"^([^<>]+[<>])(.*)$", key)
            if not match:
                raise QueryError(f"query parameter '{key}' has no value")
            key, value = match.groups()
        elif key.endswith((">", "<", "!")):
            key += "="
        pairs.append((key, value))
    return pairs


def _split_values(value: str) -> tuple[str, ...]:
    """Comma means OR; `\\,` is a literal comma."""
    parts = re.split(r"(?<!\\),", value)
    return tuple(part.replace("\\,", ",") for part in parts)


def _operator(key: str) -> tuple[str, Op]:
    for symbol in (">=", "<=", "!="):
        if key.endswith(symbol):
            return key[: -len(symbol)], _SYMBOLS[symbol]
    if key.endswith((">", "<")):
        return key[:-1], _SYMBOLS[key[-1]]
    path, _, last = key.rpartition(".")
    if path:
        try:
            return path, Op(last)
        except ValueError:
            if last.lower() in _UNSUPPORTED_OPS:
                raise QueryError(f"operator '.{last}' is not supported in '{key}'") from None
    return key, Op.EQ


def _path(path: str, parameter: str) -> str:
    segments = path.split(".")
    if not all(_SEGMENT.match(segment) for segment in segments):
        raise QueryError(f"'{parameter}' is not an attribute path or an operator this server supports")
    return path


def _non_negative_int(name: str, value: str) -> int:
    # ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses
    if not _DIGITS.fullmatch(value):
        raise QueryError(f"'{name}' must be a non-negative integer, got '{value[:40]}'")
    digits = value.lstrip("0") or "0"  # no int() of thousands of digits
    if len(digits) > len(str(MAX_OFFSET)) or int(digits) > MAX_OFFSET:
        raise QueryError(f"'{name}' must be at most {MAX_OFFSET}, got '{value[:40]}'")
    return int(digits)


def _normalise_value(value: str) -> str:
    return _SPACED_OFFSET.sub(r"\1+\2", value)


def parse_conditions(pairs: list[tuple[str, str]]) -> tuple[Condition, ...]:
    conditions = []
    total = 0
    for key, value in pairs:
        name, op = _operator(key)
        path = _path(name, key)
        # a regex has its own alternation (and commas in {m,n}); elsewhere a comma means OR
        values = (value,) if op is Op.REGEX else _split_values(value)
        if op in (Op.GT, Op.GTE, Op.LT, Op.LTE) and len(values) > 1:
            raise QueryError(f"'{key}' takes one value, got {len(values)}")
        total += len(values)
        if total > MAX_VALUES:
            raise QueryError(f"'{key}' brings the filter values to {total}; at most {MAX_VALUES} are allowed")
        try:
            operands = tuple(Operand.of(_normalise_value(v), op) for v in values)
        except BadPattern as exc:
            raise QueryError(
                f"'{key}' is not a regular expression this server accepts (RE2 syntax, "
                f"https://github.com/google/re2/wiki/Syntax): {exc}"
            ) from None
        conditions.append(Condition(path, op, operands))
    return tuple(conditions)


def parse_query(raw: str, *, allow: tuple[str, ...] = RESERVED) -> Query:
    """A list request's query string -> Query. `allow`: which reserved parameters are accepted."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(f"the query string has {len(raw)} characters; at most {MAX_QUERY_CHARS} are allowed")
    fields: tuple[str, ...] | None = None
    sort: tuple[SortKey, ...] = ()
    offset, limit = 0, None
    filters = []
    for key, value in _pairs(raw):
        if key in RESERVED and key not in allow:
            raise QueryError(f"'{key}' is not accepted here")
        if key == "fields":
            names = tuple(n.strip() for n in value.split(",") if n.strip())
            if not names:
                raise QueryError("'fields' needs at least one attribute name or 'none'")
            if len(names) > MAX_FIELDS:
                raise QueryError(f"'fields' names {len(names)} attributes; at most {MAX_FIELDS} are allowed")
            fields = () if names == ("none",) else tuple(_path(n, "fields") for n in names if n != "none")
        elif key == "sort":
            items = value.split(",")
            if len(items) > MAX_SORT_KEYS:
                raise QueryError(f"'sort' has {len(items)} keys; at most {MAX_SORT_KEYS} are allowed")
            keys = []
            for item in (s.strip() for s in items):
                if not item:
                    raise QueryError("'sort' has an empty key")
                descending = item.startswith("-")
                keys.append(SortKey(_path(item.lstrip("+-"), "sort"), descending))
            sort = tuple(keys)
        elif key == "offset":
            offset = _non_negative_int("offset", value)
        elif key == "limit":
            limit = _non_negative_int("limit", value)
        else:
            filters.append((key, value))
    if len(filters) > MAX_CONDITIONS:
        raise QueryError(f"{len(filters)} filter parameters; at most {MAX_CONDITIONS} are allowed")
    return Query(parse_conditions(filters), sort, fields, offset, limit)


def parse_filter(text: str) -> Query:
    """A hub subscription's `query` (`eventType=X&event.partyInteraction.status=Y`, spaces allowed)."""
    cleaned = "&".join(_SPACED_OPERATOR.sub(r"\1", part.strip()) for part in text.strip().lstrip("?").split("&"))
    return parse_query(cleaned, allow=())
