"""Field expressions checked against the organization's fields, values converted to their type.

The parser knows nothing about fields: in ``@size=="10"`` the value is a string and in
``@date==5`` a number. :func:`bind` walks a tree once the field definitions are known and

* converts values to the field's type: on a numeric field (LONG, LONG_64, DOUBLE) a quoted
  number becomes a number; on a DATE field a quoted date becomes a date and a number is an
  instant in epoch milliseconds; on a STRING field numbers and dates are matched as text;
* refuses what can never match, with the expression's position: a comparison or a range on a
  STRING field, a word or a date on a numeric field, a word on a DATE field, ``*=`` on a field
  that is not STRING.

A field the organization does not define is left as parsed. No item has values for it, so a
field expression on it matches nothing (and its negation everything the user may see).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.errors import QuerySyntaxError
from openpush.search._dates import date_error, is_date_spec
from openpush.search._lexer import COMPARISON_OPERATORS, format_number, parse_number
from openpush.search._nodes import (
    And,
    DateValue,
    FieldExpr,
    ListValue,
    Node,
    Not,
    NumberValue,
    Or,
    RangeValue,
    Scalar,
    StringValue,
    Value,
)

__all__ = ["bind"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = frozenset({FieldType.LONG, FieldType.LONG_64, FieldType.DOUBLE})


class _MismatchError(Exception):
    """A value that cannot stand for the field's type; ``bind`` adds the field and position."""


def bind(node: Node, fields: Mapping[str, FieldDefinition]) -> Node:
    """``node`` with every field expression's value converted to its field's type.

    Raises ``QuerySyntaxError`` at the expression's position when a value or an operator
    cannot apply to the field's type.
    """
    if isinstance(node, FieldExpr):
        return _bind_field(node, fields.get(node.field))
    if isinstance(node, And):
        return And(tuple(bind(child, fields) for child in node.children))
    if isinstance(node, Or):
        return Or(tuple(bind(child, fields) for child in node.children))
    if isinstance(node, Not):
        return Not(bind(node.child, fields))
    return node


def _bind_field(node: FieldExpr, definition: FieldDefinition | None) -> FieldExpr:
    if definition is None or node.value is None:
        return node
    kind = FieldType(definition.type)
    try:
        _check_operator(node.op, kind)
        value = _convert(node.value, kind)
    except _MismatchError as exc:
        raise QuerySyntaxError(f"@{node.field} is a {kind} field: {exc}", node.position) from None
    return FieldExpr(node.field, node.op, value, position=node.position)


def _check_operator(op: str, kind: FieldType) -> None:
    if op == "*=" and kind is not FieldType.STRING:
        raise _MismatchError("operator *= needs a STRING field")
    if op in COMPARISON_OPERATORS and kind is FieldType.STRING:
        raise _MismatchError(f"operator {op} needs a numeric or DATE field")


def _convert(value: Value, kind: FieldType) -> Value:
    if isinstance(value, ListValue):
        items: list[Scalar | RangeValue] = []
        for item in value.values:
            converted = _convert(item, kind)
            assert not isinstance(converted, ListValue)
            items.append(converted)
        return ListValue(tuple(items))
    if isinstance(value, RangeValue):
        if kind is FieldType.STRING:
            raise _MismatchError("a range needs a numeric or DATE field")
        low, high = _scalar(value.low, kind), _scalar(value.high, kind)
        if type(low) is not type(high):
            raise _MismatchError("both ends of a range must be numbers, or both dates")
        return RangeValue(low, high)
    return _scalar(value, kind)


def _scalar(value: Scalar, kind: FieldType) -> Scalar:
    if kind is FieldType.STRING:
        return StringValue(_text(value))
    if kind in _NUMERIC:
        return _number(value)
    return _date(value)


def _text(value: Scalar) -> str:
    if isinstance(value, NumberValue):
        return format_number(value.number)
    if isinstance(value, DateValue):
        return value.spec
    return value.text


def _number(value: Scalar) -> NumberValue:
    if isinstance(value, NumberValue):
        return value
    if isinstance(value, DateValue):
        raise _MismatchError(f"{value.spec!r} is a date, not a number")
    text = value.text.strip()
    number = parse_number(text)
    if number is None:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        raise _MismatchError(f"{value.text!r} is not a number")
    return NumberValue(number)


def _date(value: Scalar) -> DateValue:
    if isinstance(value, DateValue):
        return value
    if isinstance(value, NumberValue):
        return DateValue(_instant(value.number))
    text = value.text.strip()
    if not is_date_spec(text):
        raise _MismatchError(f"{value.text!r} is not a date")
    problem = date_error(text)
    if problem:
        raise _MismatchError(problem)
    return DateValue(text)


def _instant(epoch_ms: float) -> str:
    """An epoch-milliseconds number as a date spec precise to the millisecond."""
    try:
        moment = _EPOCH + timedelta(milliseconds=int(epoch_ms))
    except OverflowError:
        raise _MismatchError(f"{format_number(epoch_ms)} is out of the date range") from None
    if moment.year < 1000:
        raise _MismatchError(f"{format_number(epoch_ms)} is out of the date range")
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
