"""The query syntax tree: plain frozen dataclasses with no engine code.

Index adapters translate these nodes into their engine's queries; ``openpush.search.query``
builds them from Coveo expressions and re-exports them. Every node validates itself on
construction, so an adapter never sees, say, a comparison with a string or an empty list.
Build ``And``/``Or`` through ``all_of``/``any_of``: they flatten nesting and simplify around
``MatchAll``, which keeps trees canonical (``to_text`` then ``parse`` gives the same tree).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import TypeAlias

from openpush.search._dates import is_date_spec
from openpush.search._lexer import COMPARISON_OPERATORS, FIELD_OPERATORS

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
    "range_problem",
    "value_problem",
]

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _is_word(text: str) -> bool:
    return bool(text) and not any(char.isspace() for char in text)


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringValue:
    """A string field value, unescaped."""

    text: str


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A finite number; ``int`` when written without a decimal point."""

    number: int | float

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not math.isfinite(self.number):
            raise ValueError(f"not a finite number: {self.number!r}")


@dataclass(frozen=True, slots=True)
class DateValue:
    """A date as written (``2024/01/31``, ``now-7d``); ``resolve_date`` turns it into epoch ms."""

    spec: str

    def __post_init__(self) -> None:
        if not is_date_spec(self.spec):
            raise ValueError(f"not a date: {self.spec!r}")


Scalar: TypeAlias = StringValue | NumberValue | DateValue


@dataclass(frozen=True, slots=True)
class RangeValue:
    """``low..high``, both ends included; both numbers or both dates."""

    low: Scalar
    high: Scalar

    def __post_init__(self) -> None:
        problem = range_problem(self.low, self.high)
        if problem:
            raise ValueError(problem)


@dataclass(frozen=True, slots=True)
class ListValue:
    """``(a,b,1..5)``: the field matches any of the values; an item may be a range."""

    values: tuple[Scalar | RangeValue, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("a value list needs at least one value")


Value: TypeAlias = Scalar | RangeValue | ListValue


def range_problem(low: Scalar, high: Scalar) -> str | None:
    kinds = {type(low), type(high)}
    if not kinds <= {NumberValue, DateValue}:
        return "a range needs numbers or dates"
    if len(kinds) > 1:
        return "both ends of a range must be numbers, or both dates"
    return None


def value_problem(op: str, value: Value | None) -> str | None:
    if op == "exists":
        return None if value is None else "an exists test takes no value"
    if op not in FIELD_OPERATORS:
        return f"unknown field operator {op!r}"
    if value is None:
        return f"operator {op} needs a value"
    if op in COMPARISON_OPERATORS and not isinstance(value, NumberValue | DateValue):
        return f"operator {op} needs a number or a date"
    if op == "*=" and not _only_strings(value):
        return "operator *= needs a string or a list of strings"
    if isinstance(value, ListValue) and any(isinstance(v, ListValue) for v in value.values):
        return "a value list cannot contain a value list"
    return None


def _only_strings(value: Value) -> bool:
    if isinstance(value, ListValue):
        return all(isinstance(item, StringValue) for item in value.values)
    return isinstance(value, StringValue)


# -- nodes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A free-text word as typed; case folding and stemming are the engine's business."""

    text: str

    def __post_init__(self) -> None:
        if not _is_word(self.text):
            raise ValueError(f"a term is one non-empty word: {self.text!r}")


@dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted exact phrase, split on whitespace."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.words))
        if not self.words or not all(_is_word(word) for word in self.words):
            raise ValueError(f"a phrase is one or more non-empty words: {self.words!r}")


@dataclass(frozen=True, slots=True)
class Wildcard:
    """A free-text word with ``*`` standing for any run of characters."""

    pattern: str

    def __post_init__(self) -> None:
        if not _is_word(self.pattern) or "*" not in self.pattern:
            raise ValueError(f"a wildcard is one word containing '*': {self.pattern!r}")


@dataclass(frozen=True, slots=True)
class FieldExpr:
    """``@field op value``; ``op`` is ``exists`` (and ``value`` None) for a bare ``@field``.

    ``position`` is where the expression starts in the text it was parsed from (for error
    messages); it takes no part in equality.
    """

    field: str
    op: str
    value: Value | None = None
    position: int = dataclasses.field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if _FIELD_NAME.fullmatch(self.field) is None:
            raise ValueError(f"not a lower-case field name: {self.field!r}")
        problem = value_problem(self.op, self.value)
        if problem:
            raise ValueError(problem)


@dataclass(frozen=True, slots=True)
class And:
    """All children match. Build with ``all_of``, which flattens and simplifies."""

    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", tuple(self.children))
        if len(self.children) < 2:
            raise ValueError("And needs at least two children; use all_of()")


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches. Build with ``any_of``, which flattens and simplifies."""

    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "children", tuple(self.children))
        if len(self.children) < 2:
            raise ValueError("Or needs at least two children; use any_of()")


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    child: Node


@dataclass(frozen=True, slots=True)
class MatchAll:
    """The empty expression: every item (that the caller may see) matches."""


Node: TypeAlias = Term | Phrase | Wildcard | FieldExpr | And | Or | Not | MatchAll


def all_of(*nodes: Node) -> Node:
    """The conjunction of ``nodes``: nested Ands flattened, MatchAll dropped, MatchAll if none."""
    children: list[Node] = []
    for node in nodes:
        if isinstance(node, And):
            children.extend(node.children)
        elif not isinstance(node, MatchAll):
            children.append(node)
    if not children:
        return MatchAll()
    return children[0] if len(children) == 1 else And(tuple(children))


def any_of(*nodes: Node) -> Node:
    """The disjunction of one or more ``nodes``: nested Ors flattened; MatchAll absorbs all."""
    if not nodes:
        raise ValueError("any_of() needs at least one node")
    children: list[Node] = []
    for node in nodes:
        if isinstance(node, MatchAll):
            return node
        children.extend(node.children if isinstance(node, Or) else (node,))
    return children[0] if len(children) == 1 else Or(tuple(children))
