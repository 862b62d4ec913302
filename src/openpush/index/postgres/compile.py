"""Query syntax trees, permission filters and facet selections → SQL conditions.

Every condition is a :mod:`psycopg.sql` composition over the row ``d`` of
``index_documents``; every value (words, field names, numbers, tokens, patterns) is a bound
parameter collected by :class:`Params`, never SQL text. The semantics are those of
:mod:`openpush.index.tantivy.compile`:

* free text matches words of the title or the body (``d.words``, see :mod:`._text`), a
  phrase consecutive words of one of them, a wildcard word the words its pattern matches
  (a trailing ``*`` is a prefix query on the GIN index; other patterns a regular expression
  over the item's words);
* on STRING fields ``==`` is an exact, case-insensitive match of a whole value
  (``d.lowered @> {"field": ["value"]}``), ``=`` a word or phrase match inside one value and
  ``*=`` a wildcard over the values (``?`` one character);
* on numeric and DATE fields every operator is a range over the typed values (``d.fields``),
  a date covering the span its precision names; ``<>`` matches items that have the field and
  none of the values; a bare ``@field`` items that have the field.

Conditions never evaluate to NULL, so ``NOT`` is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import orjson
from psycopg import sql

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.errors import QuerySyntaxError
from openpush.index.base import FieldFilter, Visibility
from openpush.index.postgres import _text
from openpush.search.query import (
    And,
    DateValue,
    FieldExpr,
    ListValue,
    MatchAll,
    Node,
    Not,
    NumberValue,
    Or,
    Phrase,
    RangeValue,
    StringValue,
    Term,
    Wildcard,
    format_number,
    parse_number,
    resolve_span,
)
from openpush.security import acl
from openpush.storage.postgres.database import nul_free

__all__ = [
    "FALSE",
    "TRUE",
    "Params",
    "QueryCompiler",
    "all_of",
    "compile_acl",
    "compile_filter",
    "compile_visibility",
    "number",
    "numbers_of",
    "pattern_regex",
    "signed",
]

TRUE = sql.SQL("TRUE")
FALSE = sql.SQL("FALSE")
_SIGN = 1 << 63


class Params:
    """The bound parameters of one search: each value gets a named placeholder."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = nul_free(value) if isinstance(value, str) else value
        return sql.Placeholder(name)


def all_of(*conditions: sql.Composable) -> sql.Composable:
    kept = [c for c in conditions if c is not TRUE]
    if not kept:
        return TRUE
    if len(kept) == 1:
        return kept[0]
    return sql.SQL("({})").format(sql.SQL(" AND ").join(kept))


def _any(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return FALSE
    if len(conditions) == 1:
        return conditions[0]
    return sql.SQL("({})").format(sql.SQL(" OR ").join(conditions))


def _not(condition: sql.Composable) -> sql.Composable:
    return sql.SQL("NOT {}").format(condition) if condition is not TRUE else FALSE


def signed(token: int) -> int:
    """A u64 permission token as the bigint the index stores."""
    return token - (1 << 64) if token >= _SIGN else token


def number(value: int | float) -> int | Decimal:
    """A bound for a ``numeric`` comparison: floats as the decimal their repr names."""
    return value if isinstance(value, int) else Decimal(repr(value))


def numbers_of(p: Params, name: str) -> sql.Composable:
    """The rows ``v(x, n)`` of a field's values; ``n`` is the number, NULL for a string."""
    return sql.SQL(
        "jsonb_array_elements(d.fields -> {}) AS v(x)"
        " CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(v.x) = 'number'"
        " THEN v.x::numeric END AS n) AS vn"
    ).format(p(name))


# -- permissions, sources, facet selections ---------------------------------------------------


def compile_acl(p: Params, expr: acl.Expr) -> sql.Composable:
    """A permission filter (see :mod:`openpush.security.acl`) over ``d.acl``."""
    if isinstance(expr, acl.AnyOf):
        tokens = sorted(signed(t) for t in expr.tokens)
        return sql.SQL("d.acl && {}::bigint[]").format(p(tokens))
    if isinstance(expr, acl.AllOf):
        # single-token children become one containment test: d.acl @> {a, b, c}
        required = [
            signed(next(iter(c.tokens)))
            for c in expr.children
            if isinstance(c, acl.AnyOf) and len(c.tokens) == 1
        ]
        others = [
            compile_acl(p, c)
            for c in expr.children
            if not (isinstance(c, acl.AnyOf) and len(c.tokens) == 1)
        ]
        if required:
            others.insert(0, sql.SQL("d.acl @> {}::bigint[]").format(p(sorted(required))))
        return all_of(*others)
    if isinstance(expr, acl.AnyExpr):
        return _any([compile_acl(p, c) for c in expr.children])
    if isinstance(expr, acl.Not):
        return _not(compile_acl(p, expr.child))
    return TRUE if expr.value else FALSE


def compile_visibility(p: Params, visibility: Visibility) -> sql.Composable:
    """Items of shared sources, and of secured ones when the permission filter holds."""
    options: list[sql.Composable] = []
    if visibility.shared:
        options.append(sql.SQL("d.source_id = ANY({})").format(p(sorted(visibility.shared))))
    if visibility.secured:
        secured = sql.SQL("d.source_id = ANY({})").format(p(sorted(visibility.secured)))
        options.append(all_of(secured, compile_acl(p, visibility.acl)))
    return _any(options)


def compile_filter(p: Params, wanted: FieldFilter) -> sql.Composable:
    """A facet selection: the field has one of the values (exact) or one in a range."""
    options = [_contains(p, "fields", wanted.field, value) for value in wanted.values]
    options += [
        _range(p, wanted.field, r.start, True, r.end, r.end_inclusive) for r in wanted.ranges
    ]
    return _any(options)


def _contains(p: Params, column: str, name: str, value: object) -> sql.Composable:
    if isinstance(value, str):
        value = nul_free(value)
    document = orjson.dumps({name: [value]}).decode()
    return sql.SQL("d.{} @> {}::jsonb").format(sql.Identifier(column), p(document))


def _exists(p: Params, name: str) -> sql.Composable:
    return sql.SQL("d.fields ? {}").format(p(name))


def _range(
    p: Params,
    name: str,
    low: float | None,
    low_inclusive: bool,
    high: float | None,
    high_inclusive: bool,
) -> sql.Composable:
    """Items with a numeric value of ``name`` between two bounds (None: open)."""
    if low is None and high is None:
        return _exists(p, name)
    tests = []
    if low is not None:
        operator = ">=" if low_inclusive else ">"
        tests.append(sql.SQL("vn.n {} {}::numeric").format(sql.SQL(operator), p(number(low))))
    if high is not None:
        operator = "<=" if high_inclusive else "<"
        tests.append(sql.SQL("vn.n {} {}::numeric").format(sql.SQL(operator), p(number(high))))
    return sql.SQL("EXISTS (SELECT FROM {} WHERE {})").format(
        numbers_of(p, name), sql.SQL(" AND ").join(tests)
    )


# -- the query language -----------------------------------------------------------------------


_Bound = tuple[float | None, bool, float | None, bool]
_COMPARISONS: dict[str, Callable[[float, float, bool], _Bound]] = {
    ">": lambda low, high, incl: (high, not incl, None, True),
    ">=": lambda low, high, incl: (low, True, None, True),
    "<": lambda low, high, incl: (None, True, low, False),
    "<=": lambda low, high, incl: (None, True, high, incl),
}


class QueryCompiler:
    """One search's syntax trees → conditions, and the words that rank its matches.

    ``ranked`` collects the tsquery text of every word, phrase and prefix match that is not
    under a ``NOT``: relevancy is ``ts_rank`` of the item's words against all of them.
    """

    def __init__(self, params: Params, fields: Mapping[str, FieldDefinition], now_ms: int) -> None:
        self._p = params
        self._fields = fields
        self._now_ms = now_ms
        self.ranked: list[str] = []

    def compile(self, node: Node, positive: bool = True) -> sql.Composable:
        if isinstance(node, MatchAll):
            return TRUE
        if isinstance(node, Term):
            return self._words(_text.analyze(node.text), positive)
        if isinstance(node, Phrase):
            return self._words(_text.analyze(" ".join(node.words)), positive)
        if isinstance(node, Wildcard):
            return self._wildcard(node.pattern.lower(), positive)
        if isinstance(node, And):
            return all_of(*(self.compile(c, positive) for c in node.children))
        if isinstance(node, Or):
            return _any([self.compile(c, positive) for c in node.children])
        if isinstance(node, Not):
            return _not(self.compile(node.child, not positive))
        if isinstance(node, FieldExpr):
            definition = self._fields.get(node.field)
            return self._field(node, definition.type if definition else None, positive)
        raise QuerySyntaxError(f"unsupported expression {node!r}")

    def _match(self, query: str, positive: bool) -> sql.Composable:
        if positive:
            self.ranked.append(query)
        return sql.SQL("d.words @@ {}::tsquery").format(self._p(query))

    def _words(self, words: list[str], positive: bool) -> sql.Composable:
        if not words:
            return TRUE
        query = _text.any_query(_text.phrase_query(s, words) for s in (_text.TITLE, _text.BODY))
        return self._match(query, positive)

    def _wildcard(self, pattern: str, positive: bool) -> sql.Composable:
        start = pattern.rstrip("*")
        if start and "*" not in start:
            sources = (_text.TITLE, _text.BODY)
            return self._match(
                _text.any_query(_text.prefix_query(s, start) for s in sources), positive
            )
        regex = f"^[tb]:{pattern_regex(pattern)}$"
        return sql.SQL(
            "EXISTS (SELECT FROM unnest(tsvector_to_array(d.words)) AS w(lexeme)"
            " WHERE w.lexeme ~ {})"
        ).format(self._p(regex))

    # -- field expressions --------------------------------------------------------------

    def _field(self, node: FieldExpr, kind: FieldType | None, positive: bool) -> sql.Composable:
        name, value = node.field, node.value
        if node.op == "exists":
            return _exists(self._p, name)
        if node.op == "*=":
            return self._field_wildcard(name, value)
        if node.op in _COMPARISONS:
            assert isinstance(value, NumberValue | DateValue)
            low, high, high_inclusive = self._bounds(value)
            return _range(self._p, name, *_COMPARISONS[node.op](low, high, high_inclusive))
        negated = node.op == "<>"
        matches = self._matches(
            name, kind, value, exact=node.op != "=", positive=positive and not negated
        )
        if negated:
            return all_of(_exists(self._p, name), _not(matches))
        return matches

    def _matches(
        self, name: str, kind: FieldType | None, value: object, *, exact: bool, positive: bool
    ) -> sql.Composable:
        if isinstance(value, ListValue):
            return _any(
                [self._matches(name, kind, v, exact=exact, positive=positive) for v in value.values]
            )
        if isinstance(value, RangeValue):
            low, _, _ = self._bounds(value.low)
            _, high, high_inclusive = self._bounds(value.high)
            return _range(self._p, name, low, True, high, high_inclusive)
        if kind is FieldType.STRING or (kind is None and isinstance(value, StringValue)):
            text = _scalar_text(value)
            if exact:
                return _contains(self._p, "lowered", name, text.lower())
            words = _text.analyze(text)
            if not words:
                return TRUE
            return self._match(_text.phrase_query(_text.field_prefix(name), words), positive)
        low, high, high_inclusive = self._bounds(value)
        return _range(self._p, name, low, True, high, high_inclusive)

    def _field_wildcard(self, name: str, value: object) -> sql.Composable:
        """Items with a value matching one of the patterns, case-insensitively."""
        values = value.values if isinstance(value, ListValue) else (value,)
        regex = "|".join(pattern_regex(_scalar_text(v).lower(), single="?") for v in values)
        return sql.SQL(
            "EXISTS (SELECT FROM jsonb_array_elements_text(d.lowered -> {}) AS v(x) WHERE v.x ~ {})"
        ).format(self._p(name), self._p(f"^(?:{regex})$"))

    def _bounds(self, value: object) -> tuple[int | float, int | float, bool]:
        """``(low, high, high_inclusive)``: the values a scalar stands for."""
        if isinstance(value, DateValue):
            start, end = resolve_span(value.spec, self._now_ms)
            return start, end, False
        if isinstance(value, NumberValue):
            return value.number, value.number, True
        if isinstance(value, StringValue):
            parsed = parse_number(value.text.strip())
            if parsed is not None:
                return parsed, parsed, True
            raise QuerySyntaxError(f"{value.text!r} is not a number")
        raise QuerySyntaxError(f"cannot compare with {value!r}")


def pattern_regex(pattern: str, *, single: str | None = None) -> str:
    """A PostgreSQL regular expression for a wildcard pattern (``*`` any run of characters,
    ``single`` any one); every other character stands for itself."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == single:
            parts.append(".")
        elif char.isalnum():
            parts.append(char)
        else:
            parts.append("\\" + char)
    return "".join(parts)


def _scalar_text(value: object) -> str:
    if isinstance(value, StringValue):
        return value.text
    if isinstance(value, NumberValue):
        return format_number(value.number)
    if isinstance(value, DateValue):
        return value.spec
    raise QuerySyntaxError(f"cannot match a string field with {value!r}")
