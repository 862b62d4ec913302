"""Pushed items: a Coveo ``DocumentBody`` parsed into an :class:`ItemDocument`.

Rules (push-api.md §2.1-2.2, clients.md §7):

* Keys are case-insensitive and unique: ``Data`` and ``data`` is a duplicate
  (:class:`InvalidJsonError`), checked in every object of a raw body (permission objects and
  dictionary values included) and at the top level of an already decoded object.
* Reserved keys: ``documentId``, ``orderingId``, ``data``, ``compressedBinaryData``,
  ``compressedBinaryDataFileId``, ``compressionType``, ``fileExtension``, ``parentId``,
  ``permissions``. The Java client's ``uri`` is ignored. Every other key is metadata, lower-cased
  (so ``permanentId`` becomes ``permanentid``). A reserved key whose value is ``null`` counts as
  absent; ``null`` metadata values (also inside arrays and dictionaries) are dropped.
* Metadata values are primitives, arrays of primitives, or one flat object of primitives (a
  dictionary-field value; the pipeline decides whether the target field accepts it). Deeper
  nesting is a sub-object (:class:`InvalidJsonError`). ``Decimal`` numbers (ijson) become floats.
* At most one content carrier; none at all is a metadata-only item.
* Tolerances: ``fileExtension`` without its leading dot gets one (``html`` -> ``.html``); an
  empty ``fileExtension`` or ``compressionType`` counts as absent; ``orderingId`` may be a string
  of digits.
* ``documentId`` must be a non-empty string with a URI scheme (``^[A-Za-z][A-Za-z0-9+.-]*:``).

Limits (push-api.md §9.1; the values are settings, per organization): :func:`parse_item_json`
refuses a body over ``max_bytes`` and nesting deeper than ``max_depth``;
:func:`check_item_limits` refuses ``data`` or decoded ``compressedBinaryData`` over
``max_content_bytes``, a metadata value over ``max_metadata_value_bytes`` (UTF-8 bytes of a
string; an array or a dictionary counts all its elements, keys included) and a dictionary
value with more than ``max_dictionary_pairs`` pairs (:class:`ItemLimitError`).

Callers of :func:`item_from_object` (batch files) get the same error types as a single push and
should treat any :class:`~openpush.errors.OpenpushError` as a rejected item.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from openpush.errors import (
    InvalidItemError,
    InvalidJsonError,
    InvalidParameterError,
    ItemLimitError,
    MissingParameterError,
    PayloadTooLargeError,
)

if TYPE_CHECKING:
    from openpush.domain.permissions import PermissionModel

__all__ = [
    "MAX_ITEM_BODY_BYTES",
    "CompressionType",
    "ItemDocument",
    "MetadataValue",
    "base64_size",
    "check_item_limits",
    "check_json_depth",
    "item_from_object",
    "parse_compression_type",
    "parse_item_json",
]

MAX_ITEM_BODY_BYTES = 6 * 1024 * 1024

Primitive = str | int | float | bool
MetadataValue = Primitive | list[Primitive] | dict[str, Primitive]

_RESERVED = frozenset({
    "documentid", "orderingid", "data", "compressedbinarydata", "compressedbinarydatafileid",
    "compressiontype", "fileextension", "parentid", "permissions",
})  # fmt: skip
_IGNORED = frozenset({"uri"})
_CARRIERS = ("data", "compressedbinarydata", "compressedbinarydatafileid")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class CompressionType(StrEnum):
    """How ``compressedBinaryData`` / a file container's bytes are compressed."""

    UNCOMPRESSED = "UNCOMPRESSED"
    DEFLATE = "DEFLATE"
    GZIP = "GZIP"
    LZMA = "LZMA"
    ZLIB = "ZLIB"


def parse_compression_type(value: str | None) -> CompressionType | None:
    """Parse a ``compressionType`` case-insensitively (``GZip``, ``ZLib``...); ``""`` is absent."""
    if value is None or not value.strip():
        return None
    try:
        return CompressionType(value.strip().upper())
    except ValueError:
        allowed = ", ".join(CompressionType)
        raise InvalidParameterError(
            f"invalid compressionType {value!r}; expected one of {allowed}"
        ) from None


@dataclass(frozen=True, slots=True)
class ItemDocument:
    """One item to add or update, as accepted from the wire (content not decoded yet)."""

    document_id: str
    metadata: dict[str, MetadataValue]
    data: str | None = None
    compressed_binary_data: str | None = None
    compressed_binary_data_file_id: str | None = None
    compression_type: CompressionType | None = None
    file_extension: str | None = None
    parent_id: str | None = None
    permissions: PermissionModel | None = None
    ordering_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able form for the durable queue; ``None`` attributes are omitted."""
        out: dict[str, Any] = {"document_id": self.document_id, "metadata": self.metadata}
        for name in _OPTIONAL_STR:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.compression_type is not None:
            out["compression_type"] = self.compression_type.value
        if self.permissions is not None:
            out["permissions"] = self.permissions.to_dict()
        if self.ordering_id is not None:
            # a string: up to 40 digits, beyond the 64-bit integers JSON encoders write
            out["ordering_id"] = str(self.ordering_id)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ItemDocument:
        """Rebuild an item written by :meth:`to_dict`."""
        permissions = None
        if raw.get("permissions") is not None:
            from openpush.domain.permissions import PermissionModel

            permissions = PermissionModel.from_dict(raw["permissions"])
        compression = raw.get("compression_type")
        ordering = raw.get("ordering_id")
        return cls(
            document_id=raw["document_id"],
            metadata=dict(raw.get("metadata", {})),
            compression_type=CompressionType(compression) if compression else None,
            permissions=permissions,
            ordering_id=None if ordering is None else int(ordering),  # int in older records
            **{name: raw.get(name) for name in _OPTIONAL_STR},
        )


_OPTIONAL_STR = (
    "data", "compressed_binary_data", "compressed_binary_data_file_id",
    "file_extension", "parent_id",
)  # fmt: skip


def parse_item_json(
    body: bytes,
    *,
    document_id: str | None,
    compression_type: str | None = None,
    max_bytes: int = MAX_ITEM_BODY_BYTES,
    max_depth: int | None = None,
) -> ItemDocument:
    """Parse a single-push body; ``document_id`` and ``compression_type`` come from the query."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"item body exceeds {max_bytes} bytes")
    document_id = document_id or None
    obj = _loads(body) if body.strip() else {}
    if max_depth is not None:
        check_json_depth(obj, max_depth)
    if not isinstance(obj, dict):
        raise InvalidJsonError(f"the item body must be a JSON object, not {type(obj).__name__}")
    if document_id is None and _reserved(obj).get("documentid") is None:
        raise MissingParameterError("documentId is required")
    return item_from_object(obj, document_id=document_id, compression_type=compression_type)


def item_from_object(
    obj: dict[str, Any],
    *,
    document_id: str | None = None,
    compression_type: str | None = None,
) -> ItemDocument:
    """Build an item from an already decoded object (a batch-file entry or a parsed body)."""
    if not isinstance(obj, dict):
        raise InvalidJsonError(f"an item must be a JSON object, not {type(obj).__name__}")
    reserved = _reserved(obj)
    carriers = [key for key in _CARRIERS if reserved.get(key) is not None]
    if len(carriers) > 1:
        raise InvalidJsonError(f"an item has at most one content carrier, got {carriers}")
    in_query = parse_compression_type(compression_type)  # validated even when the body wins
    in_body = parse_compression_type(_optional_str(reserved, "compressiontype"))
    return ItemDocument(
        document_id=_document_id(reserved.get("documentid"), document_id),
        metadata=_metadata(obj),
        data=_optional_str(reserved, "data"),
        compressed_binary_data=_optional_str(reserved, "compressedbinarydata"),
        compressed_binary_data_file_id=_optional_str(reserved, "compressedbinarydatafileid"),
        compression_type=in_body or in_query,
        file_extension=_file_extension(_optional_str(reserved, "fileextension")),
        parent_id=_optional_str(reserved, "parentid"),
        permissions=_permissions(reserved.get("permissions")),
        ordering_id=_ordering_id(reserved.get("orderingid")),
    )


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidJsonError(
            f"invalid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJsonError(f"invalid JSON: {exc}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        folded = key.lower()
        if folded in seen:
            raise InvalidJsonError(f"duplicate key {key!r} (keys are case-insensitive)")
        seen.add(folded)
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise InvalidJsonError(f"invalid JSON: {name} is not a JSON value")


def _reserved(obj: dict[str, Any]) -> dict[str, Any]:
    """Reserved keys of ``obj`` by lower-case name; refuses keys that differ only by case."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in obj.items():
        folded = key.lower()
        if folded in seen:
            raise InvalidJsonError(f"duplicate key {key!r} (keys are case-insensitive)")
        seen.add(folded)
        if folded in _RESERVED:
            out[folded] = value
    return out


def _optional_str(reserved: dict[str, Any], key: str) -> str | None:
    value = reserved.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidItemError(f"{key!r} must be a string, not {type(value).__name__}")


def _document_id(in_body: Any, in_query: str | None) -> str:
    if in_body is not None and not isinstance(in_body, str):
        raise InvalidItemError("'documentId' must be a string")
    if in_query is not None and in_body is not None and in_body != in_query:
        raise InvalidParameterError(
            f"documentId in the body ({in_body!r}) differs from the query ({in_query!r})"
        )
    value = in_query if in_query is not None else in_body
    if value is None:
        raise InvalidItemError("the item has no 'documentId'")
    if not _URI_SCHEME.match(value):
        raise InvalidParameterError(f"documentId {value!r} is not a URI (no scheme)")
    return value


def _file_extension(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith(".") else f".{value}"


def _ordering_id(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # more digits than int() accepts
            pass
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidItemError(f"'orderingId' must be an integer >= 0, got {value!r}")


def _permissions(value: Any) -> PermissionModel | None:
    if value is None:
        return None
    from openpush.domain.permissions import parse_permissions

    return parse_permissions(value)


def _metadata(obj: dict[str, Any]) -> dict[str, MetadataValue]:
    out: dict[str, MetadataValue] = {}
    for key, value in obj.items():
        folded = key.lower()
        if folded in _RESERVED or folded in _IGNORED or value is None:
            continue
        out[folded] = _metadata_value(key, value)
    return out


def _metadata_value(key: str, value: Any) -> MetadataValue:
    if isinstance(value, str | int | float | Decimal):
        return _primitive(key, value)
    if isinstance(value, list):
        return [_primitive(key, item) for item in value if item is not None]
    if isinstance(value, dict):
        return {k: _primitive(key, v) for k, v in value.items() if v is not None}
    raise InvalidItemError(f"unsupported value for metadata {key!r}")


def _primitive(key: str, value: Any) -> Primitive:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str | int | float):
        return value
    raise InvalidJsonError(f"sub-objects are not allowed (key {key!r})")


def check_json_depth(value: Any, max_depth: int, what: str = "the body") -> None:
    """Refuse objects and arrays nested deeper than ``max_depth`` (the outermost one is 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = (
            current.values() if isinstance(current, dict) else current
            if isinstance(current, list) else None
        )  # fmt: skip
        if children is None:
            continue
        if depth > max_depth:
            raise InvalidJsonError(f"{what} nests objects and arrays deeper than {max_depth}")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def base64_size(text: str) -> int:
    """How many bytes the base64 ``text`` decodes to (whitespace and padding ignored)."""
    size = len(text) - sum(text.count(c) for c in " \t\r\n")
    return max(0, size - text.rstrip(" \t\r\n")[-2:].count("=")) * 3 // 4


def check_item_limits(
    item: ItemDocument,
    *,
    max_content_bytes: int,
    max_metadata_value_bytes: int,
    max_dictionary_pairs: int,
) -> None:
    """Refuse an item whose content or a metadata value is over its limit (ItemLimitError)."""
    if item.data is not None and len(item.data) > max_content_bytes // 4:
        size = len(item.data.encode())
        if size > max_content_bytes:
            raise ItemLimitError(f"data is {size} bytes; the limit is {max_content_bytes}")
    if item.compressed_binary_data is not None:
        size = base64_size(item.compressed_binary_data)
        if size > max_content_bytes:
            raise ItemLimitError(
                f"compressedBinaryData decodes to {size} bytes; the limit is {max_content_bytes}"
            )
    for key, value in item.metadata.items():
        if isinstance(value, dict) and len(value) > max_dictionary_pairs:
            raise ItemLimitError(
                f"metadata {key!r} has {len(value)} key/value pairs; the limit is"
                f" {max_dictionary_pairs}"
            )
        size = _value_size(value, max_metadata_value_bytes)
        if size > max_metadata_value_bytes:
            raise ItemLimitError(
                f"metadata {key!r} is {size} bytes; the limit is {max_metadata_value_bytes}"
            )


def _value_size(value: MetadataValue, limit: int) -> int:
    """UTF-8 size of a metadata value (numbers as their text); exact only when near ``limit``."""
    if isinstance(value, str):
        return len(value) if len(value) * 4 <= limit else len(value.encode())
    if isinstance(value, bool | int | float):
        return len(str(value))
    parts: list[Any] = list(value.items()) if isinstance(value, dict) else list(value)
    total = 0
    for part in parts:
        if isinstance(part, tuple):
            total += _value_size(part[0], limit) + _value_size(part[1], limit)
        else:
            total += _value_size(part, limit)
    return total
