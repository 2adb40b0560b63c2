"""Compiles the store-neutral `Query` to SQL over the embedded schema (see schema.sql).

Every scalar of every document is a row of `leaf(pid, v, seq, kind, num)`, so a condition on
any dotted path is one indexed sub-select; `storage.query.compare` is the semantics mirrored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.query import DEFAULT_SORT, Condition, Kind, Op, Operand, Query, SortKey

# Paths that are materialised as indexed columns of `interaction` (single-valued date-times).
SORT_COLUMNS = {"creationDate": "created", "interactionDate.startDateTime": "started"}

_SQL_OP = {Op.EQ: "=", Op.NE: "=", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}
_PID = "pid = (SELECT pid FROM path WHERE path = ?)"


@dataclass
class Sql:
    text: str
    params: list[Any] = field(default_factory=list)


def _operand_sql(op: Op, operand: Operand) -> Sql:
    """True for a leaf row that satisfies `op operand` (compare() in SQL)."""
    if op is Op.REGEX:
        return Sql("v REGEXP ?", [operand.text])
    sign = _SQL_OP[op]
    if op in (Op.EQ, Op.NE):
        # Text equality also decides numbers and dates whose text is the query text; the typed
        # branches catch 42.0 == 42 and the same instant written differently. All use indexes.
        parts, params = ["v = ?"], list[str | float]([operand.text])
        if operand.number_text is not None:
            parts.append(f"(kind = '{Kind.NUMBER}' AND v = ?)")
            params.append(operand.number_text)
        if operand.instant is not None:
            parts.append(f"(kind = '{Kind.DATE}' AND num = ?)")
            params.append(operand.instant)
        return Sql("(" + " OR ".join(parts) + ")", params)
    if operand.number is not None:
        return Sql(
            f"((kind = '{Kind.NUMBER}' AND num {sign} ?) OR (kind <> '{Kind.NUMBER}' AND v {sign} ?))",
            [operand.number, operand.text],
        )
    if operand.instant is not None:
        return Sql(
            f"((kind = '{Kind.DATE}' AND num {sign} ?) OR (kind <> '{Kind.DATE}' AND v {sign} ?))",
            [operand.instant, operand.text],
        )
    return Sql(f"v {sign} ?", [operand.text])


def condition_sql(condition: Condition) -> Sql:
    preds = [_operand_sql(condition.op, operand) for operand in condition.values]
    params: list[Any] = [condition.path]
    for pred in preds:
        params.extend(pred.params)
    any_value = " OR ".join(pred.text for pred in preds)
    negate = "NOT " if condition.op is Op.NE else ""
    return Sql(f"seq {negate}IN (SELECT seq FROM leaf WHERE {_PID} AND ({any_value}))", params)


def where_sql(query: Query) -> Sql:
    if not query.conditions:
        return Sql("1")
    parts = [condition_sql(condition) for condition in query.conditions]
    return Sql(" AND ".join(p.text for p in parts), [x for p in parts for x in p.params])


def order_sql(sort: tuple[SortKey, ...]) -> Sql:
    """ORDER BY mirroring storage.query.sort_documents (min/max over arrays, missing last, id)."""
    terms, params = [], []
    for key in sort or DEFAULT_SORT:
        direction = "DESC" if key.descending else "ASC"
        column = SORT_COLUMNS.get(key.path)
        if column is None:
            column = "sort_value(doc, ?, ?)"
            params.extend([key.path, key.descending])
        terms.append(f"{column} {direction} NULLS LAST")
    return Sql("ORDER BY " + ", ".join(terms) + ", id", params)


def page_sql(query: Query) -> Sql:
    where, order = where_sql(query), order_sql(query.sort)
    limit = -1 if query.limit is None else query.limit
    return Sql(
        f"SELECT doc, version FROM interaction WHERE {where.text} {order.text} LIMIT ? OFFSET ?",
        [*where.params, *order.params, limit, query.offset],
    )


def count_sql(query: Query) -> Sql:
    where = where_sql(query)
    return Sql(f"SELECT count(*) FROM interaction WHERE {where.text}", where.params)
