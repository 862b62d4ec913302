"""Query syntax trees and permission filters → tantivy queries.

Free text searches ``title`` (boosted) and ``body``; words go through the same analyzer as
the indexed text (lower-case, ASCII folding, English stemming). Field expressions use
``fl`` (raw values, lower-cased: exact and wildcard string matches), ``ft`` (analysed
values: word matches) and ``fx`` (typed values: numeric and date comparisons).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import tantivy
from tantivy import Occur, Query

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.errors import QuerySyntaxError
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

__all__ = ["QueryCompiler", "compile_acl", "lower_analyzer", "text_analyzer", "wildcard_regex"]

_TITLE_BOOST = 2.0
_TEXT_FIELDS = ("title", "body")


def text_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(100))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def lower_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .build()
    )


def _must(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def _should(queries: list[Query]) -> Query:
    if not queries:
        return Query.empty_query()
    return (
        queries[0]
        if len(queries) == 1
        else Query.boolean_query([(Occur.Should, q) for q in queries])
    )


def _negate(query: Query) -> Query:
    return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, query)])


def compile_acl(schema: tantivy.Schema, expr: acl.Expr) -> Query:
    """A permission filter (see :mod:`openpush.security.acl`) as a tantivy query."""
    if isinstance(expr, acl.AnyOf):
        # An OR of term queries: about 3x faster than term_set_query for the large token sets
        # of users with many identities (bench/identity_trimming.py). The whole filter is
        # wrapped in a zero constant score, so it never changes the ranking.
        return _should([Query.term_query(schema, "acl", t) for t in sorted(expr.tokens)])
    if isinstance(expr, acl.AllOf):
        # negated children as MustNot clauses: no match-all scan to subtract them from
        clauses = [
            (Occur.MustNot, compile_acl(schema, c.child))
            if isinstance(c, acl.Not)
            else (Occur.Must, compile_acl(schema, c))
            for c in expr.children
        ]
        if all(occur == Occur.MustNot for occur, _ in clauses):
            clauses.insert(0, (Occur.Must, Query.all_query()))
        return Query.boolean_query(clauses)
    if isinstance(expr, acl.AnyExpr):
        return _should([compile_acl(schema, c) for c in expr.children])
    if isinstance(expr, acl.Not):
        return _negate(compile_acl(schema, expr.child))
    return Query.all_query() if expr.value else Query.empty_query()


class QueryCompiler:
    """Syntax trees → tantivy queries, for one index.

    Field expressions follow the field's type (``openpush.search.binding`` has already
    converted the values): on STRING fields ``==`` is an exact, case-insensitive match on
    ``fl``, ``=`` a word or phrase match on ``ft`` and ``*=`` a wildcard over the field's
    values; on numeric and DATE fields every operator is a range over ``fx``, a date covering
    the span its precision names (``openpush.search.query.resolve_span``). ``<>`` matches items
    that have the field and none of the values; a bare ``@field`` items that have the field.
    """

    def __init__(
        self,
        index: tantivy.Index,
        schema: tantivy.Schema,
        now_ms: Callable[[], int],
        searcher: Callable[[], tantivy.Searcher] | None = None,
    ) -> None:
        self._index = index
        self._schema = schema
        self._text = text_analyzer()
        self._now_ms = now_ms
        self._searcher = searcher or index.searcher

    def words(self, text: str) -> list[str]:
        return list(self._text.analyze(text))

    def compile(self, node: Node, fields: Mapping[str, FieldDefinition]) -> Query:
        if isinstance(node, MatchAll):
            return Query.all_query()
        if isinstance(node, Term):
            return self._text_query(self.words(node.text))
        if isinstance(node, Phrase):
            return self._text_query(self.words(" ".join(node.words)))
        if isinstance(node, Wildcard):
            return self._wildcard(node.pattern)
        if isinstance(node, And):
            return _must(*(self.compile(c, fields) for c in node.children))
        if isinstance(node, Or):
            return _should([self.compile(c, fields) for c in node.children])
        if isinstance(node, Not):
            return _negate(self.compile(node.child, fields))
        if isinstance(node, FieldExpr):
            definition = fields.get(node.field)
            return self._field(node, definition.type if definition else None)
        raise QuerySyntaxError(f"unsupported expression {node!r}")

    def estimate(self, node: Node) -> tuple[int, float] | None:
        """How many items ``node`` matches: (at most, expected), from the words' document
        frequencies alone (deleted items still count, so "at most" never falls short).

        The expectation takes the parts of an AND as independent. None when there is no
        useful figure (match-all, negations, wildcards, field expressions on their own).
        """
        if isinstance(node, Term | Phrase):
            words = self.words(node.text if isinstance(node, Term) else " ".join(node.words))
            if not words:
                return None
            searcher = self._searcher()
            # a phrase matches no more items than its rarest word, in each field
            counts = [min(searcher.doc_freq(name, w) for w in words) for name in _TEXT_FIELDS]
            return sum(counts), float(max(counts))
        if isinstance(node, And):
            parts = [e for e in map(self.estimate, node.children) if e is not None]
            if not parts:
                return None
            items = max(self._searcher().num_docs, 1)
            likely = float(items)
            for _, expected in parts:
                likely *= min(expected / items, 1.0)
            return min(most for most, _ in parts), likely
        if isinstance(node, Or):
            most, likely = 0, 0.0
            for child in node.children:
                part = self.estimate(child)
                if part is None:
                    return None
                most, likely = most + part[0], likely + part[1]
            return most, likely
        return None

    def _text_query(self, words: list[str]) -> Query:
        if not words:
            return Query.all_query()
        options = []
        for name in _TEXT_FIELDS:
            if len(words) == 1:
                query = Query.term_query(self._schema, name, words[0])
            else:
                query = Query.phrase_query(self._schema, name, words)
            options.append(Query.boost_query(query, _TITLE_BOOST) if name == "title" else query)
        return _should(options)

    def _wildcard(self, pattern: str) -> Query:
        regex = wildcard_regex(pattern.lower())
        return _should([Query.regex_query(self._schema, name, regex) for name in _TEXT_FIELDS])

    # -- field expressions --------------------------------------------------------------

    def _field(self, node: FieldExpr, kind: FieldType | None) -> Query:
        path = node.field
        exists = Query.exists_query(f"fx.{path}")
        if node.op == "exists":
            return exists
        value = node.value
        if node.op == "*=":
            return self._field_wildcard(path, value)
        if node.op in _COMPARISONS:
            assert isinstance(value, NumberValue | DateValue)
            low, high, high_inclusive = self._bounds(value)
            bounds = _COMPARISONS[node.op](low, high, high_inclusive)
            return self.range_query(f"fx.{path}", *bounds)
        matches = self._matches(path, kind, value, exact=node.op != "=")
        if node.op == "<>":
            return Query.boolean_query([(Occur.Must, exists), (Occur.MustNot, matches)])
        return matches

    def _matches(self, path: str, kind: FieldType | None, value: object, *, exact: bool) -> Query:
        if isinstance(value, ListValue):
            return _should([self._matches(path, kind, v, exact=exact) for v in value.values])
        if isinstance(value, RangeValue):
            low, _, _ = self._bounds(value.low)
            _, high, high_inclusive = self._bounds(value.high)
            return self.range_query(f"fx.{path}", low, True, high, high_inclusive)
        if kind is FieldType.STRING or (kind is None and isinstance(value, StringValue)):
            return self._string(path, _scalar_text(value), exact=exact)
        low, high, high_inclusive = self._bounds(value)
        return self.range_query(f"fx.{path}", low, True, high, high_inclusive)

    def _string(self, path: str, text: str, *, exact: bool) -> Query:
        if exact:
            return Query.term_query(self._schema, f"fl.{path}", text.lower())
        words = self.words(text)
        if not words:
            return Query.all_query()
        if len(words) == 1:
            return Query.term_query(self._schema, f"ft.{path}", words[0])
        return Query.phrase_query(self._schema, f"ft.{path}", words)

    def _field_wildcard(self, path: str, value: object) -> Query:
        """The field's raw values matching the patterns, as a term set (no regex on JSON)."""
        values = value.values if isinstance(value, ListValue) else (value,)
        regex = "|".join(wildcard_regex(_scalar_text(v), single="?") for v in values)
        column = f"fx.{path}"
        terms = {"field": column, "size": _WILDCARD_VALUES, "include": f"(?i)(?:{regex})"}
        found = self._searcher().aggregate(Query.exists_query(column), {"v": {"terms": terms}})
        matched = [bucket["key"] for bucket in found["v"]["buckets"]]
        if not matched:
            return Query.empty_query()
        return Query.term_set_query(self._schema, column, matched)

    def _bounds(self, value: object) -> tuple[int | float, int | float, bool]:
        """``(low, high, high_inclusive)``: the values a scalar stands for."""
        if isinstance(value, DateValue):
            start, end = resolve_span(value.spec, self._now_ms())
            return start, end, False
        if isinstance(value, NumberValue):
            return value.number, value.number, True
        if isinstance(value, StringValue):
            number = parse_number(value.text.strip())
            if number is not None:
                return number, number, True
            raise QuerySyntaxError(f"{value.text!r} is not a number")
        raise QuerySyntaxError(f"cannot compare with {value!r}")

    def range_query(
        self,
        column: str,
        low: float | None,
        low_inclusive: bool,
        high: float | None,
        high_inclusive: bool,
    ) -> Query:
        """A numeric ``column`` between two bounds (None: open); ints and floats both match."""
        if low is None and high is None:
            return Query.exists_query(column)
        if high is None:
            text = f"{'>=' if low_inclusive else '>'}{_number(low)}"
        elif low is None:
            text = f"{'<=' if high_inclusive else '<'}{_number(high)}"
        else:
            opening, closing = "[" if low_inclusive else "{", "]" if high_inclusive else "}"
            text = f"{opening}{_number(low)} TO {_number(high)}{closing}"
        return self._index.parse_query(f"{column}:{text}")


_WILDCARD_VALUES = 65_536
_Bound = tuple[float | None, bool, float | None, bool]
_COMPARISONS: dict[str, Callable[[float, float, bool], _Bound]] = {
    ">": lambda low, high, incl: (high, not incl, None, True),
    ">=": lambda low, high, incl: (low, True, None, True),
    "<": lambda low, high, incl: (None, True, low, False),
    "<=": lambda low, high, incl: (None, True, high, incl),
}
_REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")


def wildcard_regex(pattern: str, *, single: str | None = None) -> str:
    """A regex for a wildcard pattern: ``*`` is any run of characters, ``single`` any one."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == single:
            parts.append(".")
        elif char in _REGEX_META:
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "".join(parts)


def _number(value: float | None) -> str:
    return format_number(value) if value is not None else ""


def _scalar_text(value: object) -> str:
    if isinstance(value, StringValue):
        return value.text
    if isinstance(value, NumberValue):
        return format_number(value.number)
    if isinstance(value, DateValue):
        return value.spec
    raise QuerySyntaxError(f"cannot match a string field with {value!r}")
