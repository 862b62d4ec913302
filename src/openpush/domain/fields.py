"""Index fields: definitions, the system fields of every organization, value conversion.

Defaults follow push-api.md §11.3: ``facet`` and ``sort`` are false for STRING fields and true
for the others; a non-STRING field cannot have ``facet`` false, and ``multi_value_facet`` /
``merge_with_lexicon`` are STRING-only (both refused with :class:`InvalidParameterError`).

:func:`coerce_value` is Coveo's "implicit field type conversion" (§2.2.4). It always returns a
list, raises ``ValueError`` when a value cannot be converted (the pipeline logs a WARNING and
leaves the field empty), and converts:

* STRING: strings as they are (split on each character of ``multi_value_facet_tokenizers`` when
  ``multi_value_facet`` is on, parts stripped and empty parts dropped); numbers via ``str``;
  booleans as ``"True"`` / ``"False"`` (the .NET spelling the Coveo index shows).
* LONG (32-bit signed) / LONG_64 (64-bit signed): integers, integral floats (``3.0``) and
  numeric strings (``"42"``, ``"4.2e1"``); fractions, out-of-range values and booleans are
  refused.
* DOUBLE: numbers and numeric strings, finite only; booleans are refused.
* DATE: via :func:`openpush.domain.dates.parse_date`, to epoch milliseconds.

Arrays give one value per element. A dictionary (``{key: value}``) is only valid for a
``key_value`` field; ``coerce_value`` then returns ``[]`` and the caller converts each entry of
the dictionary itself. A plain value sent to a ``key_value`` field is converted as usual.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from openpush.domain.dates import parse_date
from openpush.errors import InvalidParameterError

__all__ = [
    "DEFAULT_FIELDS",
    "FieldDefinition",
    "FieldType",
    "FieldValue",
    "coerce_value",
    "validate_field_name",
]

FieldValue = str | int | float

_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_INTEGER_RANGES = {"LONG": 2**31, "LONG_64": 2**63}


class FieldType(StrEnum):
    """The index field types openpush supports."""

    STRING = "STRING"
    LONG = "LONG"
    LONG_64 = "LONG_64"
    DOUBLE = "DOUBLE"
    DATE = "DATE"


def validate_field_name(name: str) -> str:
    """Return ``name`` if it is a valid field name (``^[a-z][a-z0-9_]{0,254}$``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameterError(
            f"invalid field name {name!r}: it must match ^[a-z][a-z0-9_]{{0,254}}$"
        )
    return name


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    """One index field. ``facet`` / ``sort`` left as ``None`` take the default for the type."""

    name: str
    type: FieldType = FieldType.STRING
    facet: bool | None = None
    multi_value_facet: bool = False
    multi_value_facet_tokenizers: str = ";"
    sort: bool | None = None
    include_in_query: bool = True
    include_in_results: bool = True
    merge_with_lexicon: bool = False
    key_value: bool = False
    description: str = ""
    system: bool = False

    def __post_init__(self) -> None:
        validate_field_name(self.name)
        try:
            kind = FieldType(self.type)
        except ValueError:
            allowed = ", ".join(FieldType)
            raise InvalidParameterError(
                f"invalid field type {self.type!r}; expected one of {allowed}"
            ) from None
        string = kind is FieldType.STRING
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "facet", not string if self.facet is None else self.facet)
        object.__setattr__(self, "sort", not string if self.sort is None else self.sort)
        if string:
            return
        if not self.facet:
            raise InvalidParameterError(f"field {self.name!r}: facet cannot be false on {kind}")
        if self.multi_value_facet or self.merge_with_lexicon:
            raise InvalidParameterError(
                f"field {self.name!r}: multi_value_facet and merge_with_lexicon are STRING-only"
            )


def _system(
    name: str,
    kind: FieldType = FieldType.STRING,
    *,
    facet: bool | None = None,
    sort: bool | None = None,
    multi_value_facet: bool = False,
    merge_with_lexicon: bool = False,
) -> FieldDefinition:
    return FieldDefinition(
        name,
        kind,
        facet=facet,
        sort=sort,
        multi_value_facet=multi_value_facet,
        merge_with_lexicon=merge_with_lexicon,
        system=True,
    )


DEFAULT_FIELDS: Mapping[str, FieldDefinition] = MappingProxyType(
    {
        field.name: field
        for field in (
            _system("title", sort=True, merge_with_lexicon=True),
            _system("author", facet=True),
            _system("date", FieldType.DATE),
            _system("filetype", facet=True),
            _system("size", FieldType.LONG_64),
            _system("source", facet=True),
            _system("sourcetype", facet=True),
            _system("permanentid"),
            _system("uri"),
            _system("clickableuri"),
            _system("printableuri"),
            _system("language", facet=True, multi_value_facet=True),
            _system("indexeddate", FieldType.DATE),
            _system("documenttype", facet=True),
            _system("filename"),
            _system("topparentid"),
            _system("attachmentparentid"),
            _system("urihash"),
            _system("collection", facet=True),
        )
    }
)


_STRING = FieldType.STRING


def coerce_value(field: FieldDefinition, value: object) -> list[FieldValue]:
    """Convert a metadata value to ``field``'s type; ``ValueError`` when it cannot."""
    if value is None:
        return []
    if type(value) is str and field.type is _STRING and not field.multi_value_facet:
        return [value]  # the common case, without the general path's conversions
    if isinstance(value, dict):
        if field.key_value:
            return []
        raise ValueError(f"field {field.name!r} is not a dictionary field; got a key/value object")
    items = value if isinstance(value, list | tuple) else [value]
    out: list[FieldValue] = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, str | int | float):
            raise ValueError(f"field {field.name!r}: {type(item).__name__} is not a field value")
        out.extend(_CONVERTERS[field.type](field, item))
    return out


def _to_string(field: FieldDefinition, value: str | int | float) -> list[FieldValue]:
    if isinstance(value, bool):
        text = "True" if value else "False"
    else:
        text = value if isinstance(value, str) else str(value)
    separators = field.multi_value_facet_tokenizers
    if not field.multi_value_facet or not separators:
        return [text]
    parts = re.split(f"[{re.escape(separators)}]", text)
    return [part.strip() for part in parts if part.strip()]


def _to_integer(field: FieldDefinition, value: str | int | float) -> list[FieldValue]:
    if type(value) is int:  # the common case, without a Decimal
        limit = _INTEGER_RANGES[field.type]
        if not -limit <= value < limit:
            raise ValueError(f"field {field.name!r} ({field.type}): {value!r} is out of range")
        return [value]
    number = _decimal(field, value)
    if number != number.to_integral_value():
        raise ValueError(f"field {field.name!r} ({field.type}): {value!r} is not an integer")
    limit = _INTEGER_RANGES[field.type]
    if not -limit <= number < limit:
        raise ValueError(f"field {field.name!r} ({field.type}): {value!r} is out of range")
    return [int(number)]


def _to_double(field: FieldDefinition, value: str | int | float) -> list[FieldValue]:
    result = float(_decimal(field, value))
    if not math.isfinite(result):
        raise ValueError(f"field {field.name!r} (DOUBLE): {value!r} is out of range")
    return [result]


def _to_date(field: FieldDefinition, value: str | int | float) -> list[FieldValue]:
    try:
        return [parse_date(value)]
    except ValueError as exc:
        raise ValueError(f"field {field.name!r} (DATE): {exc}") from None


def _decimal(field: FieldDefinition, value: str | int | float) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"field {field.name!r} ({field.type}): a boolean is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"field {field.name!r} ({field.type}): {value!r} is not a number")
        return Decimal(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"field {field.name!r} ({field.type}): {value!r} is not finite")
    return Decimal(value)


_CONVERTERS: dict[FieldType, Callable[[FieldDefinition, str | int | float], list[FieldValue]]] = {
    FieldType.STRING: _to_string,
    FieldType.LONG: _to_integer,
    FieldType.LONG_64: _to_integer,
    FieldType.DOUBLE: _to_double,
    FieldType.DATE: _to_date,
}


def merged_fields(custom: Iterable[FieldDefinition]) -> dict[str, FieldDefinition]:
    """An organization's fields: the default ones, overridden or extended by ``custom``."""
    merged = dict(DEFAULT_FIELDS)
    merged.update({f.name: f for f in custom})
    return merged
