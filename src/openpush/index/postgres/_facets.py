"""Facet counts in SQL, on the very conditions the results come from.

The caller passes each facet's condition (scope, visibility and the filters that apply to
that facet), so a count never includes an item the user may not see. A values facet groups
the field's values (an item counts once per value); a ranges facet counts the items with a
value in each range, all ranges in one pass; generated ranges first read the smallest and
largest value. The orders, the allowed-value patterns and the generated ranges follow
:mod:`openpush.search.facets`, as the embedded index does; counts are exact.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from openpush.domain.fields import FieldType, FieldValue
from openpush.index.base import FacetBucket, FacetRange, FacetRequest, FacetResult, FieldFilter
from openpush.index.postgres.compile import (
    Params,
    all_of,
    compile_filter,
    number,
    numbers_of,
    pattern_regex,
)
from openpush.search.facets import generate_ranges, order_buckets, wildcard_matcher
from openpush.storage.postgres.database import Connection

__all__ = ["count_facet"]

_SCAN = 10_000  # values read for the alphabetical orders and numeric allowed values
_NUMERIC = frozenset({FieldType.LONG, FieldType.LONG_64, FieldType.DOUBLE, FieldType.DATE})
# a value's order: numbers (by value) before strings (by code point), as in search/facets.py
_VALUE_ORDER = sql.SQL(
    "CASE WHEN jsonb_typeof(v.x) = 'number' THEN v.x::numeric END NULLS LAST,"
    ' (v.x #>> ARRAY[]::text[]) COLLATE "C"'
)


def count_facet(
    conn: Connection,
    p: Params,
    facet: FacetRequest,
    where: sql.Composable,
    kind: FieldType | None,
) -> FacetResult:
    """One facet's buckets over the items ``where`` selects."""
    if facet.kind == "values":
        return _values(conn, p, facet, where, kind)
    return _ranges(conn, p, facet, where, kind)


def _rows(conn: Connection, query: sql.Composable, p: Params) -> list[dict[str, Any]]:
    return conn.execute(query, p.values).fetchall()


# -- values ------------------------------------------------------------------------------


def _values(
    conn: Connection, p: Params, facet: FacetRequest, where: sql.Composable, kind: FieldType | None
) -> FacetResult:
    wanted = max(facet.count, 0)
    in_python = bool(facet.allowed) and kind in _NUMERIC
    in_sql = bool(facet.allowed) and not in_python
    scan = facet.order != "occurrences" or in_python
    selected = where
    if in_sql:
        patterns = "|".join(pattern_regex(a, single="?") for a in facet.allowed)
        selected = all_of(
            where,
            sql.SQL("jsonb_typeof(v.x) = 'string' AND (v.x #>> ARRAY[]::text[]) ~* {}").format(
                p(f"^(?:{patterns})$")
            ),
        )
    order = _VALUE_ORDER if scan else sql.SQL("n DESC, {}").format(_VALUE_ORDER)
    query = sql.SQL(
        "SELECT v.x AS value, count(DISTINCT d.uid) AS n, count(*) OVER () AS distinct_values,"
        " sum(count(*)) OVER () AS value_count"
        " FROM index_documents AS d CROSS JOIN LATERAL jsonb_array_elements(d.fields -> {})"
        " AS v(x) WHERE {} GROUP BY v.x ORDER BY {} LIMIT {}"
    ).format(p(facet.field), selected, order, p(_SCAN if scan else wanted + 1))
    rows = _rows(conn, query, p)
    buckets = [FacetBucket(int(r["n"]), value=r["value"]) for r in rows]
    if in_python:
        allowed = wildcard_matcher(facet.allowed)
        buckets = [b for b in buckets if b.value is not None and allowed(b.value)]
    ordered = order_buckets(buckets, facet.order)
    more = len(ordered) > wanted or (bool(rows) and int(rows[0]["distinct_values"]) > len(rows))
    chosen = ordered[:wanted]
    shown = {b.value for b in chosen}
    for value in facet.include:
        if value not in shown:
            chosen.append(
                FacetBucket(_count_value(conn, p, where, facet.field, value), value=value)
            )
            shown.add(value)
    if in_sql:
        with_value = _value_count(conn, p, where, facet.field)
    else:
        with_value = int(rows[0]["value_count"]) if rows else 0
    return FacetResult(facet.id, facet.field, chosen, more=more, with_value=with_value)


def _count_value(
    conn: Connection, p: Params, where: sql.Composable, name: str, value: FieldValue
) -> int:
    has = compile_filter(p, FieldFilter(name, values=(value,)))
    query = sql.SQL("SELECT count(*) AS n FROM index_documents AS d WHERE {}").format(
        all_of(where, has)
    )
    return int(_rows(conn, query, p)[0]["n"])


def _value_count(conn: Connection, p: Params, where: sql.Composable, name: str) -> int:
    query = sql.SQL(
        "SELECT coalesce(sum(jsonb_array_length(d.fields -> {})), 0) AS n"
        " FROM index_documents AS d WHERE {} AND d.fields ? {}"
    ).format(p(name), where, p(name))
    return int(_rows(conn, query, p)[0]["n"])


# -- ranges ------------------------------------------------------------------------------


def _ranges(
    conn: Connection, p: Params, facet: FacetRequest, where: sql.Composable, kind: FieldType | None
) -> FacetResult:
    source = sql.SQL("FROM index_documents AS d CROSS JOIN LATERAL {} WHERE {}").format(
        numbers_of(p, facet.field), where
    )
    ranges = list(facet.ranges)
    generated = not ranges
    if generated:
        stats = _rows(
            conn,
            sql.SQL(
                "SELECT min(vn.n) AS low, max(vn.n) AS high, count(*) AS value_count {}"
            ).format(source),
            p,
        )[0]
        if stats["low"] is None:
            return FacetResult(facet.id, facet.field, [], with_value=int(stats["value_count"]))
        ranges = generate_ranges(
            float(stats["low"]),
            float(stats["high"]),
            facet.count,
            integral=kind is not FieldType.DOUBLE,
            dates=kind is FieldType.DATE,
        )
    counts = [
        sql.SQL("count(DISTINCT d.uid) FILTER (WHERE {}) AS {}").format(
            _inside(p, wanted), sql.Identifier(f"r{i}")
        )
        for i, wanted in enumerate(ranges)
    ]
    columns = sql.SQL(", ").join([sql.SQL("count(*) AS value_count"), *counts])
    row = _rows(conn, sql.SQL("SELECT {} {}").format(columns, source), p)[0]
    buckets = []
    for i, wanted in enumerate(ranges):
        count = int(row[f"r{i}"])
        if count or not generated:
            buckets.append(FacetBucket(count, range=wanted))
    return FacetResult(facet.id, facet.field, buckets, with_value=int(row["value_count"]))


def _inside(p: Params, wanted: FacetRange) -> sql.Composable:
    closing = sql.SQL("<=" if wanted.end_inclusive else "<")
    return sql.SQL("vn.n >= {}::numeric AND vn.n {} {}::numeric").format(
        p(number(wanted.start)), closing, p(number(wanted.end))
    )
