"""Coveo query expressions as an engine-independent syntax tree.

``parse`` turns one expression (a request's ``q``, ``aq``, ``cq``, ``dq`` or ``lq``) into plain
frozen dataclasses that each index adapter translates into its own engine's query; ``combine``
merges the parts of a request; ``to_text`` prints a tree back in canonical syntax.

Grammar (keywords are upper-case only: ``and``, ``or`` and ``not`` are ordinary words)::

    expression := conjunct ( ["AND"] conjunct )*      neighbours are ANDed implicitly
    conjunct   := unary ( "OR" unary )*               OR binds tighter than AND
    unary      := "NOT" unary | "-" unary | primary   NOT binds to what follows it
    primary    := "(" expression ")" | '"' phrase '"' | field | word
    field      := "@" name [ operator value ]         no operator: the field exists
    operator   := "==" | "=" | "<>" | "<" | "<=" | ">" | ">=" | "*="
    value      := item | "(" item ( "," item )* ")"
    item       := scalar [ ".." scalar ]
    scalar     := '"' string '"' | a bare number, date or string

So ``a b OR c`` is ``a AND (b OR c)`` and ``NOT a OR b`` is ``(NOT a) OR b``. A ``-`` directly
before a word, phrase, field or group negates it; a lone ``-`` is a word. A free-text word
containing ``*`` is a ``Wildcard``. Comparison operators take only numbers and dates (as in
Coveo's grammar), ranges only numbers or dates of one kind, ``*=`` only strings. A value list
may mix values and ranges (``@size==(1..5,10)``). A quoted value is always a ``StringValue``;
:func:`openpush.search.binding.bind` later converts values to their field's type.

``combine`` builds Coveo's ``((q aq) OR dq) cq``. Absent or empty parts are left out of the
expression rather than read as "everything", so a request with only ``dq`` matches ``dq``.
``lq`` is parsed as plain text (query syntax off) and ANDed next to ``q``: Coveo feeds ``lq``
to Intelligent Term Detection, which openpush does not implement, and ANDing is the literal
reading. ``enable_query_syntax`` applies to ``q`` only, as in Coveo.
"""

from __future__ import annotations

from openpush.errors import QuerySyntaxError
from openpush.search._dates import date_error, is_date_spec, resolve_date, resolve_span
from openpush.search._lexer import Scanner, format_number, parse_number, quote, string_literal
from openpush.search._nodes import (
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
    Scalar,
    StringValue,
    Term,
    Value,
    Wildcard,
    all_of,
    any_of,
    range_problem,
    value_problem,
)

__all__ = [
    "And",
    "DateValue",
    "FieldExpr",
    "ListValue",
    "MatchAll",
    "Node",
    "Not",
    "NumberValue",
    "Or",
    "Phrase",
    "RangeValue",
    "Scalar",
    "StringValue",
    "Term",
    "Value",
    "Wildcard",
    "all_of",
    "any_of",
    "combine",
    "format_number",
    "is_date_spec",
    "parse",
    "parse_number",
    "resolve_date",
    "resolve_span",
    "to_text",
]

# -- parsing -----------------------------------------------------------------------------------


def parse(text: str, *, enable_query_syntax: bool = True) -> Node:
    """Parse one query expression; raises ``QuerySyntaxError`` with a 0-based position.

    With ``enable_query_syntax=False`` every whitespace-separated word is a ``Term`` (quotes,
    operators and fields are plain text) and the terms are ANDed.
    """
    if not enable_query_syntax:
        return all_of(*(Term(word) for word in text.split()))
    return _Parser(text).parse()


def _unclosed(position: int) -> QuerySyntaxError:
    return QuerySyntaxError("unbalanced parentheses: '(' is never closed", position)


def _unopened(position: int) -> QuerySyntaxError:
    return QuerySyntaxError("unbalanced parentheses: ')' has no matching '('", position)


class _Parser:
    """Recursive descent over a ``Scanner``; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self._scan = Scanner(text)

    def parse(self) -> Node:
        scan = self._scan
        scan.skip_spaces()
        if scan.at_end():
            return MatchAll()
        node = self._expression()
        if not scan.at_end():  # only a stray ")" ends an expression early
            raise _unopened(scan.pos)
        return node

    def _expression(self) -> Node:
        scan = self._scan
        conjuncts = [self._conjunct()]
        while True:
            scan.skip_spaces()
            if scan.at_end() or scan.peek() == ")":
                return all_of(*conjuncts)
            if scan.peek_keyword() == "AND":
                self._keyword("AND")
            conjuncts.append(self._conjunct())

    def _conjunct(self) -> Node:
        disjuncts = [self._unary()]
        while True:
            self._scan.skip_spaces()
            if self._scan.peek_keyword() != "OR":
                return any_of(*disjuncts)
            self._keyword("OR")
            disjuncts.append(self._unary())

    def _keyword(self, keyword: str) -> None:
        """Consume a keyword operator and check that an operand follows it."""
        scan = self._scan
        position = scan.pos
        scan.advance(len(keyword))
        scan.skip_spaces()
        if scan.at_end() or scan.peek() == ")" or scan.peek_keyword() in ("AND", "OR"):
            raise QuerySyntaxError(f"{keyword} must be followed by an expression", position)

    def _unary(self) -> Node:
        scan = self._scan
        scan.skip_spaces()
        keyword = scan.peek_keyword()
        if keyword == "NOT":
            self._keyword("NOT")
            return Not(self._unary())
        if keyword is not None:
            raise QuerySyntaxError(f"{keyword} must be preceded by an expression", scan.pos)
        if scan.peek() == "-" and not scan.at_space(1) and scan.peek(1) != ")":
            scan.advance()
            return Not(self._unary())
        return self._primary()

    def _primary(self) -> Node:
        scan = self._scan
        char = scan.peek()
        if char == "(":
            return self._group()
        if char == '"':
            words = tuple(scan.read_quoted().split())
            return Phrase(words) if words else MatchAll()
        if char == "@":
            return self._field()
        if char == ")":
            raise _unopened(scan.pos)
        if not char:
            raise QuerySyntaxError("expected an expression", scan.pos)
        word = scan.read_word()
        return Wildcard(word) if "*" in word else Term(word)

    def _group(self) -> Node:
        scan = self._scan
        opening = scan.pos
        scan.advance()
        scan.skip_spaces()
        if scan.peek() == ")":
            raise QuerySyntaxError("empty parentheses", opening)
        if scan.at_end():
            raise _unclosed(opening)
        node = self._expression()
        if scan.at_end():
            raise _unclosed(opening)
        scan.advance()  # the ")" that ended the expression
        return node

    def _field(self) -> FieldExpr:
        scan = self._scan
        start = scan.pos
        name = scan.read_field_name()
        after_name = scan.pos
        scan.skip_spaces()
        op_position = scan.pos
        op = scan.read_operator()
        if op is None:
            scan.pos = after_name
            if not scan.at_space() and scan.peek() != ")":
                message = f"unexpected {scan.peek()!r} after field name @{name}"
                raise QuerySyntaxError(message, after_name)
            return FieldExpr(name, "exists", position=start)
        scan.skip_spaces()
        if scan.at_end() or scan.peek() == ")":
            raise QuerySyntaxError(f"operator {op} needs a value", op_position)
        value_position = scan.pos
        value = self._list(op) if scan.peek() == "(" else self._scalar_or_range(op)
        problem = value_problem(op, value)
        if problem:
            raise QuerySyntaxError(problem, value_position)
        return FieldExpr(name, op, value, position=start)

    def _scalar_or_range(self, op: str) -> Scalar | RangeValue:
        scan = self._scan
        start = scan.pos
        low = self._scalar(op)
        after_low = scan.pos
        scan.skip_spaces()
        if not scan.startswith(".."):
            scan.pos = after_low
            return low
        dots = scan.pos
        scan.advance(2)
        scan.skip_spaces()
        if scan.at_end() or scan.peek() == ")":
            raise QuerySyntaxError("a range needs an upper bound", dots)
        high = self._scalar(op)
        problem = range_problem(low, high)
        if problem:
            raise QuerySyntaxError(problem, start)
        return RangeValue(low, high)

    def _list(self, op: str) -> ListValue:
        scan = self._scan
        opening = scan.pos
        scan.advance()
        values: list[Scalar | RangeValue] = []
        while True:
            scan.skip_spaces()
            if scan.at_end():
                raise _unclosed(opening)
            if scan.peek() == ")" and not values:
                raise QuerySyntaxError("empty value list", opening)
            values.append(self._scalar_or_range(op))
            scan.skip_spaces()
            if scan.at_end():
                raise _unclosed(opening)
            separator = scan.peek()
            scan.advance()
            if separator == ")":
                return ListValue(tuple(values))
            if separator != ",":
                raise QuerySyntaxError("expected ',' or ')' in a value list", scan.pos - 1)

    def _scalar(self, op: str) -> Scalar:
        scan = self._scan
        start = scan.pos
        if scan.peek() == '"':
            return StringValue(scan.read_quoted())
        raw = scan.read_bare_value()
        if not raw:
            raise QuerySyntaxError("expected a value", start)
        return _classify(raw, op, start)


def _classify(raw: str, op: str, position: int) -> Scalar:
    """The value a bare token denotes: ``*=`` patterns are strings, then number, date, string."""
    if op == "*=":
        return StringValue(raw)
    number = parse_number(raw)
    if number is not None:
        return NumberValue(number)
    if is_date_spec(raw):
        problem = date_error(raw)
        if problem:
            raise QuerySyntaxError(problem, position)
        return DateValue(raw)
    return StringValue(raw)


# -- combining and printing ----------------------------------------------------------------------


def combine(
    q: str | Node | None = None,
    aq: str | Node | None = None,
    cq: str | Node | None = None,
    dq: str | Node | None = None,
    lq: str | Node | None = None,
    *,
    enable_query_syntax: bool = True,
) -> Node:
    """Coveo's ``((q lq aq) OR dq) cq`` with absent parts left out; MatchAll if all are absent.

    Each part is a string to parse or an already-built node. A parse error is re-raised with
    the part's name in front of the message (``"aq: ..."``) and its position unchanged.
    """
    core = [
        part
        for part in (
            _part("q", q, syntax=enable_query_syntax),
            _part("lq", lq, syntax=False),
            _part("aq", aq, syntax=True),
        )
        if part is not None
    ]
    expression = all_of(*core) if core else None
    disjunctive = _part("dq", dq, syntax=True)
    if disjunctive is not None:
        expression = disjunctive if expression is None else any_of(expression, disjunctive)
    constant = _part("cq", cq, syntax=True)
    return all_of(*(part for part in (expression, constant) if part is not None))


def _part(name: str, part: str | Node | None, *, syntax: bool) -> Node | None:
    if isinstance(part, str):
        try:
            part = parse(part, enable_query_syntax=syntax)
        except QuerySyntaxError as exc:
            raise QuerySyntaxError(f"{name}: {exc.message}", exc.position) from exc
    return None if part is None or isinstance(part, MatchAll) else part


def to_text(node: Node) -> str:
    """Canonical text for ``node``: explicit ``AND``/``OR``/``NOT``, nested groups parenthesised.

    ``parse(to_text(node)) == node`` for every tree ``parse`` builds with query syntax on.
    """
    return "" if isinstance(node, MatchAll) else _text(node)


def _text(node: Node) -> str:
    match node:
        case Term(text=text):
            return text
        case Wildcard(pattern=pattern):
            return pattern
        case Phrase(words=words):
            return quote(" ".join(words))
        case FieldExpr():
            return _field_text(node)
        case And(children=children):
            return " AND ".join(_operand(child) for child in children)
        case Or(children=children):
            return " OR ".join(_operand(child) for child in children)
        case Not(child=child):
            return f"NOT {_operand(child)}"
        case MatchAll():
            return '""'
    raise TypeError(f"not a query node: {node!r}")


def _operand(node: Node) -> str:
    return f"({_text(node)})" if isinstance(node, And | Or) else _text(node)


def _field_text(node: FieldExpr) -> str:
    if node.value is None:
        return f"@{node.field}"
    return f"@{node.field}{node.op}{_value_text(node.value)}"


def _value_text(value: Value) -> str:
    if isinstance(value, ListValue):
        return "(" + ",".join(_value_text(item) for item in value.values) + ")"
    if isinstance(value, RangeValue):
        return f"{_scalar_text(value.low)}..{_scalar_text(value.high)}"
    return _scalar_text(value)


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, NumberValue):
        return format_number(value.number)
    if isinstance(value, DateValue):
        return value.spec
    return string_literal(value.text)
