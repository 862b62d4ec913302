"""Stream API partial item updates (push-api.md §4.3).

A ``partialUpdate`` entry changes one metadata field of an item that already exists::

    {"documentId": "product://1", "operator": "arrayAppend", "field": "colors", "value": ["red"]}

Parsing choices (the wire is loose, so the parser is tolerant where it is unambiguous):

* Entry keys match case-insensitively (``DocumentId``, ``Operator``...); two keys that differ
  only by case are refused as ambiguous; unknown keys are ignored, like ``uri`` on items.
* Operator names ignore case and underscores, because the Java client serialises the enum
  constant (``FIELDVALUEREPLACE``, ``ARRAY_APPEND``) instead of its camelCase wire name.
* ``arrayAppend`` / ``arrayRemove`` accept a single non-null scalar as a one-element list and
  ``dictionaryRemove`` accepts a single key as a one-key list: a connector sending one value
  means exactly that. :func:`parse_partial_update` stores the list form.
* The field may not be a reserved item key: ``data``, ``permissions``... are not metadata.

Applying is pure: :func:`apply_partial_update` returns a new metadata dict. Field names match
existing keys case-insensitively and keep the existing spelling. An array or dictionary operator
that leaves an empty container removes the field instead (``fieldValueReplace`` stores what it
is given, ``[]`` included); a remove on a missing field is a no-op; an array operator on a
dictionary field, or a dictionary operator on any other value, is refused.
Value equality for ``arrayRemove`` is JSON equality: ``1`` equals ``1.0`` but ``true`` is not
``1`` and strings compare case-sensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openpush.errors import InvalidItemError

__all__ = [
    "PartialOperator",
    "PartialUpdate",
    "apply_partial_update",
    "parse_operator",
    "parse_partial_update",
]

_RESERVED = frozenset({
    "documentid", "data", "compressedbinarydata", "compressedbinarydatafileid",
    "compressiontype", "fileextension", "parentid", "permissions", "orderingid",
})  # fmt: skip
_ENTRY_KEYS = ("documentid", "operator", "field", "value")


class PartialOperator(StrEnum):
    """The five partial-update operators, valued by their camelCase wire names."""

    FIELD_VALUE_REPLACE = "fieldValueReplace"
    ARRAY_APPEND = "arrayAppend"
    ARRAY_REMOVE = "arrayRemove"
    DICTIONARY_PUT = "dictionaryPut"
    DICTIONARY_REMOVE = "dictionaryRemove"


_BY_FOLDED = {op.value.lower(): op for op in PartialOperator}


@dataclass(frozen=True, slots=True)
class PartialUpdate:
    """One parsed ``partialUpdate`` entry; ``value`` is normalised (see the module notes)."""

    document_id: str
    operator: PartialOperator
    field: str
    value: Any


def parse_operator(name: object) -> PartialOperator:
    """Parse an operator name, ignoring case, underscores and surrounding blanks."""
    if isinstance(name, str):
        operator = _BY_FOLDED.get(name.strip().replace("_", "").lower())
        if operator is not None:
            return operator
    allowed = ", ".join(op.value for op in PartialOperator)
    raise InvalidItemError(f"unknown partial update operator {name!r}; expected one of {allowed}")


def parse_partial_update(obj: object) -> PartialUpdate:
    """Validate one ``partialUpdate`` entry of a stream update file."""
    if not isinstance(obj, dict):
        raise InvalidItemError(
            f"a partialUpdate entry must be a JSON object, not {_json_type(obj)}"
        )
    fields = _entry_fields(obj)
    document_id = fields.get("documentid")
    if not isinstance(document_id, str) or not document_id.strip():
        raise InvalidItemError(
            f"a partialUpdate entry needs a non-empty string 'documentId', got {document_id!r}"
        )
    context = f"partialUpdate of {document_id!r}"
    if "operator" not in fields:
        raise InvalidItemError(f"{context}: 'operator' is missing")
    try:
        operator = parse_operator(fields["operator"])
    except InvalidItemError as exc:
        raise InvalidItemError(f"{context}: {exc.message}") from None
    context = f"{operator.value} on {document_id!r}"
    field = _field_name(fields.get("field"), context)
    if "value" not in fields:
        raise InvalidItemError(f"{context}: 'value' is missing (use null to clear a field)")
    value = _normalise_value(operator, fields["value"], f"{context} (field {field!r})")
    return PartialUpdate(document_id=document_id, operator=operator, field=field, value=value)


def apply_partial_update(metadata: Mapping[str, Any], update: PartialUpdate) -> dict[str, Any]:
    """Return a new metadata dict with ``update`` applied; ``metadata`` is never modified."""
    context = f"{update.operator.value} on {update.document_id!r} (field {update.field!r})"
    value = _normalise_value(update.operator, update.value, context)
    out = dict(metadata)
    key = _existing_key(out, update.field)
    current = out.get(key) if key is not None else None
    target = key if key is not None else update.field
    result = _OPERATIONS[update.operator](current, value, context)
    if result is _REMOVE:
        out.pop(target, None)
    else:
        out[target] = result
    return out


# -- parsing helpers ---------------------------------------------------------------------------


def _entry_fields(obj: dict[Any, Any]) -> dict[str, Any]:
    """The known keys of an entry by lower-case name; refuses keys that differ only by case."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        folded = key.lower() if isinstance(key, str) else key
        if folded not in _ENTRY_KEYS:
            continue
        if folded in out:
            raise InvalidItemError(
                f"a partialUpdate entry has the key {key!r} twice (keys are case-insensitive)"
            )
        out[folded] = value
    return out


def _field_name(field: Any, context: str) -> str:
    if not isinstance(field, str) or not field.strip():
        raise InvalidItemError(f"{context}: 'field' must be a non-empty string, got {field!r}")
    if field.lower() in _RESERVED:
        raise InvalidItemError(
            f"{context}: {field!r} is a reserved item key, not a metadata field; "
            "send a full addOrUpdate to change it"
        )
    return field


def _normalise_value(operator: PartialOperator, value: Any, context: str) -> Any:
    """Check ``value`` against what ``operator`` needs; return its canonical form."""
    if operator is PartialOperator.FIELD_VALUE_REPLACE:
        return value
    if operator in (PartialOperator.ARRAY_APPEND, PartialOperator.ARRAY_REMOVE):
        if isinstance(value, list):
            return value
        if value is None or isinstance(value, dict):
            raise InvalidItemError(
                f"{context}: 'value' must be an array (or a single value), not {_json_type(value)}"
            )
        return [value]
    if operator is PartialOperator.DICTIONARY_PUT:
        if isinstance(value, dict):
            return value
        raise InvalidItemError(f"{context}: 'value' must be an object, not {_json_type(value)}")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise InvalidItemError(
        f"{context}: 'value' must be a key or an array of keys (strings), got {value!r}"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- applying helpers --------------------------------------------------------------------------

_REMOVE = object()  # an operation's result that means "the field goes away"


def _existing_key(metadata: Mapping[str, Any], field: str) -> str | None:
    """The spelling under which ``field`` is stored (first match when several differ by case)."""
    if field in metadata:
        return field
    folded = field.lower()
    return next((key for key in metadata if key.lower() == folded), None)


def _replace(current: Any, value: Any, context: str) -> Any:
    return _REMOVE if value is None else value


def _append(current: Any, values: list[Any], context: str) -> Any:
    if current is None:
        return _unless_empty(list(values))
    if isinstance(current, list):
        return _unless_empty([*current, *values])
    if isinstance(current, dict):
        raise InvalidItemError(f"{context}: cannot append array values to a dictionary field")
    return [current, *values]


def _remove_values(current: Any, values: list[Any], context: str) -> Any:
    if current is None:
        return _REMOVE
    if isinstance(current, dict):
        raise InvalidItemError(f"{context}: cannot remove array values from a dictionary field")
    if not isinstance(current, list):
        return _REMOVE if any(_same(current, value) for value in values) else current
    return _unless_empty(
        [item for item in current if not any(_same(item, value) for value in values)]
    )


def _put(current: Any, value: dict[str, Any], context: str) -> Any:
    if current is None:
        return _unless_empty(dict(value))
    if not isinstance(current, dict):
        raise InvalidItemError(
            f"{context}: the field holds {_json_type(current)}, not a dictionary"
        )
    return _unless_empty({**current, **value})


def _remove_keys(current: Any, keys: list[str], context: str) -> Any:
    if current is None:
        return _REMOVE
    if not isinstance(current, dict):
        raise InvalidItemError(
            f"{context}: the field holds {_json_type(current)}, not a dictionary"
        )
    drop = set(keys)
    return _unless_empty({key: value for key, value in current.items() if key not in drop})


def _unless_empty(result: list[Any] | dict[str, Any]) -> Any:
    """An array or dictionary operation never leaves an empty container behind."""
    return result if result else _REMOVE


def _same(left: Any, right: Any) -> bool:
    """JSON equality: numbers compare by value, but a boolean never equals a number."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


_OPERATIONS = {
    PartialOperator.FIELD_VALUE_REPLACE: _replace,
    PartialOperator.ARRAY_APPEND: _append,
    PartialOperator.ARRAY_REMOVE: _remove_values,
    PartialOperator.DICTIONARY_PUT: _put,
    PartialOperator.DICTIONARY_REMOVE: _remove_keys,
}
