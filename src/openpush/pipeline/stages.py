"""Decode → extract → map → secure: one item becomes an index document.

Pure functions over an :class:`ItemDocument` and the context the worker loads once per round
(the source and the organization's fields). A problem that makes the item unusable raises
:class:`~openpush.errors.InvalidItemError` (the item is REJECTED); a problem that only loses
part of it becomes a warning (the item is indexed with result WARNING).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpush.domain.fields import FieldDefinition, coerce_value
from openpush.domain.items import CompressionType, ItemDocument, check_item_limits
from openpush.domain.sources import Source, SourceVisibility
from openpush.errors import ContentDecodingError, InvalidItemError, ItemLimitError
from openpush.index.base import IndexDocument
from openpush.pipeline.content import decode_base64, decompress, extract
from openpush.security.acl import encode_model
from openpush.settings import Settings

__all__ = ["Prepared", "permanent_id", "prepare_item"]


@dataclass(slots=True)
class Prepared:
    document: IndexDocument
    record: dict[str, Any]
    shape: str
    warnings: list[str] = field(default_factory=list)


def permanent_id(uri: str) -> str:
    """What the official clients compute: md5(uri)[:30] + sha1(uri)[:30]."""
    data = uri.encode()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return md5[:30] + sha1[:30]


# (fileId, most bytes the caller can use) -> the container's bytes; more is an InvalidItemError
FileLoader = Callable[[str, int], bytes]


def _content(
    item: ItemDocument, settings: Settings, load_file: FileLoader | None
) -> tuple[bytes, ItemDocument]:
    """The item's decoded content, and the item as it is stored (content inline)."""
    limit = settings.max_item_content_bytes
    if item.data is not None:
        raw = item.data.encode()
        if len(raw) > limit:
            raise ContentDecodingError(f"data is {len(raw)} bytes; the limit is {limit}")
        return raw, item
    if item.compressed_binary_data is not None:
        packed = decode_base64(item.compressed_binary_data, max_output=limit)
    elif item.compressed_binary_data_file_id is not None:
        if load_file is None:
            raise InvalidItemError("file containers are not available to this pipeline")
        # Uncompressed bytes over the decompressed cap are refused before they are read.
        uncompressed = item.compression_type is CompressionType.UNCOMPRESSED
        most = (
            settings.max_decompressed_bytes if uncompressed else settings.file_container_max_bytes
        )
        packed = load_file(item.compressed_binary_data_file_id, most)
        # The container is deleted once used: keep its bytes with the item so that a later
        # merge or partial update can re-index it.
        item = dataclasses.replace(
            item,
            compressed_binary_data=base64.b64encode(packed).decode(),
            compressed_binary_data_file_id=None,
        )
    else:
        return b"", item
    content = decompress(
        packed,
        item.compression_type,
        max_output=settings.max_decompressed_bytes,
        max_ratio=settings.max_decompression_ratio,
    )
    return content, item


def _map_fields(
    metadata: Mapping[str, Any], fields: Mapping[str, FieldDefinition], warnings: list[str]
) -> dict[str, list[Any]]:
    mapped: dict[str, list[Any]] = {}
    unmapped = []
    for key, value in metadata.items():
        definition = fields.get(key)
        if definition is None:
            unmapped.append(key)
            continue
        try:
            values = coerce_value(definition, value)
        except ValueError as exc:
            warnings.append(f"metadata {key!r} not indexed: {exc}")
            continue
        if values:
            mapped[key] = values
    if unmapped:
        names = ", ".join(sorted(unmapped))
        warnings.append(f"metadata with no matching field is kept but not indexed: {names}")
    return mapped


def _raw_value(values: list[Any], multi: bool) -> Any:
    return values if multi or len(values) > 1 else values[0]


def prepare_item(
    item: ItemDocument,
    *,
    source: Source,
    fields: Mapping[str, FieldDefinition],
    ordering_id: int,
    settings: Settings,
    load_file: FileLoader | None = None,
    case_sensitive_providers: frozenset[str] = frozenset(),
) -> Prepared:
    warnings: list[str] = []
    check_item_limits(
        item,
        max_content_bytes=settings.max_item_content_bytes,
        max_metadata_value_bytes=settings.max_metadata_value_bytes,
        max_dictionary_pairs=settings.max_dictionary_pairs,
    )
    model = item.permissions
    if model is not None and model.permission_count > settings.max_permissions_per_item:
        raise ItemLimitError(
            f"the item has {model.permission_count} permissions; "
            f"the limit is {settings.max_permissions_per_item}"
        )
    content, item = _content(item, settings, load_file)
    extracted = extract(content, item.file_extension)
    warnings.extend(extracted.warnings)

    metadata = dict(item.metadata)
    title = metadata.get("title")
    if not isinstance(title, str) or not title.strip():
        title = extracted.title or item.document_id
    now_ms = int(time.time() * 1000)
    system: dict[str, Any] = {
        "title": title,
        "uri": item.document_id,
        "clickableuri": metadata.get("clickableuri", item.document_id),
        "printableuri": metadata.get("printableuri", item.document_id),
        "source": source.name,
        "sourcetype": "Push",
        "filetype": extracted.filetype,
        "size": len(content),
        "indexeddate": now_ms,
        "permanentid": metadata.get("permanentid") or permanent_id(item.document_id),
    }
    if item.parent_id:
        system["topparentid"] = item.parent_id
        if item.parent_id != item.document_id:
            system["attachmentparentid"] = item.parent_id
    merged = {**metadata, **{k: v for k, v in system.items() if k not in metadata or k == "title"}}
    merged.setdefault("date", now_ms)
    mapped = _map_fields(merged, fields, warnings)
    date_values = mapped.get("date") or [now_ms]

    raw = {
        name: _raw_value(values, fields[name].multi_value_facet)
        for name, values in mapped.items()
        if fields[name].include_in_results
    }
    raw["sysuri"] = item.document_id
    raw["source"] = source.name

    encoding = (
        encode_model(
            model,
            default_provider=source.default_provider,
            case_sensitive_providers=case_sensitive_providers,
        )
        if model
        else None
    )
    if source.visibility is SourceVisibility.SECURED and (model is None or not model.levels):
        warnings.append(
            "no permission model: in a secured source only queries that view all content see it"
        )
    shape = ",".join(str(n) for n in encoding.shape) if encoding else ""
    document = IndexDocument(
        org_id=source.org_id,
        source_id=source.id,
        document_id=item.document_id,
        title=str(title),
        body=extracted.text,
        date_ms=int(date_values[0]),
        fields=mapped,
        raw=raw,
        acl=encoding.tokens if encoding else frozenset(),
    )
    record = {
        "item": item.to_dict(),
        "title": str(title),
        "text_length": len(extracted.text),
        "ordering_id": str(ordering_id),
    }
    return Prepared(document=document, record=record, shape=shape, warnings=warnings)
