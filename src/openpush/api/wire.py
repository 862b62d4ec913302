"""Coveo's wire shapes: camelCase models in and out. Nothing else speaks camelCase."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.domain.operations import ItemState, LogEntry, parse_ordering_id
from openpush.domain.organizations import Privilege
from openpush.domain.sources import Source, SourceActivity
from openpush.errors import InvalidParameterError
from openpush.storage.base import ItemRecord

__all__ = [
    "MAX_PAGE",
    "field_from_wire",
    "field_model",
    "iso",
    "item_status_model",
    "log_entry_model",
    "page_model",
    "parse_bool",
    "parse_ordering",
    "parse_time",
    "privilege_from_wire",
    "source_model",
]

_FIELD_KEYS = {
    "multiValueFacet": "multi_value_facet",
    "multiValueFacetTokenizers": "multi_value_facet_tokenizers",
    "includeInQuery": "include_in_query",
    "includeInResults": "include_in_results",
    "mergeWithLexicon": "merge_with_lexicon",
    "keyValue": "key_value",
    "facet": "facet",
    "sort": "sort",
    "description": "description",
}


def iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.isdigit():
            return int(text) / 1000.0
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterError(f"{name} must be a W3C date-time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_bool(name: str, value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise InvalidParameterError(f"{name} must be true or false, got {value!r}")


def parse_ordering(value: str) -> int:
    try:
        return parse_ordering_id(value)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


def privilege_from_wire(raw: Any, name: str = "privilege") -> Privilege:
    """A ``{owner, targetDomain, type, targetId}`` object. ``owner`` defaults to ``PLATFORM``,
    ``type`` to ``ENABLE`` (the Coveo CLI sends none for search privileges) and ``targetId``
    to ``*``."""
    if not isinstance(raw, dict):
        raise InvalidParameterError(f"{name} must be an object")
    domain = raw.get("targetDomain")
    if not isinstance(domain, str) or not domain.strip():
        raise InvalidParameterError(f"{name} needs a 'targetDomain' string")
    for key in ("owner", "type", "targetId"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidParameterError(f"{name}.{key} must be a string")
    return Privilege.from_dict(raw)


#: The highest ``page`` number the paged lists accept (a larger one is 412 INVALID_PARAMETER).
MAX_PAGE = 1_000_000


def page_model(items: list[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    return {
        "items": items,
        "totalEntries": total,
        "totalPages": max(1, math.ceil(total / per_page)) if per_page else 1,
        "page": page,
        "perPage": per_page,
    }


# statusType of a status call -> Coveo's OperationType of the source's operation
_OPERATION_TYPES = {
    "REBUILD": "REBUILD",
    "REFRESH": "FULL_REFRESH",
    "INCREMENTAL": "INCREMENTAL_REFRESH",
}


def _operation(activity: SourceActivity) -> dict[str, Any]:
    return {
        "id": str(activity.id),
        "operationType": _OPERATION_TYPES.get(activity.activity.value, activity.activity.value),
        "startedDate": int(activity.started_at * 1000),
        "timestamp": int((activity.ended_at or activity.started_at) * 1000),
        "result": "SUCCESS" if activity.ended_at is not None else None,
    }


def source_model(
    source: Source, *, documents: int, activities: Sequence[SourceActivity]
) -> dict[str, Any]:
    """Coveo's SourceModel. ``activities`` are the source's latest status-call activities,
    newest first: a running one (no end) makes the source ``REFRESHING``, a finished one
    ``IDLE``; a source that never had one is ``PUSH_READY``."""
    latest = activities[0] if activities else None
    running = latest if latest is not None and latest.ended_at is None else None
    finished = next((a for a in activities if a.ended_at is not None), None)
    status = "REFRESHING" if running else ("IDLE" if latest else "PUSH_READY")
    changed = (latest.ended_at or latest.started_at) if latest else source.created_at
    information: dict[str, Any] = {
        "sourceStatus": {
            "type": status,
            "allowedOperations": ["DELETE"],
            "activity": running.activity.value if running else None,
            "refreshType": _OPERATION_TYPES[running.activity.value] if running else None,
            "timestamp": int(changed * 1000),
            "numberOfDocuments": documents,
        },
        "numberOfDocuments": documents,
        "lastOperation": _operation(finished) if finished else None,
    }
    if running:
        information["currentOperation"] = {
            "operationType": _OPERATION_TYPES[running.activity.value]
        }
    return {
        "id": source.id,
        "name": source.name,
        "sourceType": source.source_type.value,
        "sourceVisibility": source.visibility.value,
        "pushEnabled": source.push_enabled,
        "streamEnabled": source.stream_enabled,
        "securityProviderReferences": list(source.security_providers),
        "owner": "",
        "createdDate": int(source.created_at * 1000),
        "lastModifiedDate": int(source.updated_at * 1000),
        "information": information,
    }


def field_model(definition: FieldDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "type": definition.type.value,
        "description": definition.description,
        "facet": definition.facet,
        "multiValueFacet": definition.multi_value_facet,
        "multiValueFacetTokenizers": definition.multi_value_facet_tokenizers,
        "sort": definition.sort,
        "includeInQuery": definition.include_in_query,
        "includeInResults": definition.include_in_results,
        "mergeWithLexicon": definition.merge_with_lexicon,
        "keyValue": definition.key_value,
        "system": definition.system,
    }


def field_from_wire(raw: Any) -> FieldDefinition:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise InvalidParameterError("a field needs a 'name' string")
    kind = str(raw.get("type") or "STRING").upper()
    if kind not in FieldType.__members__:
        raise InvalidParameterError(f"invalid field type {raw.get('type')!r}")
    values = {snake: raw[wire] for wire, snake in _FIELD_KEYS.items() if raw.get(wire) is not None}
    return FieldDefinition(name=raw["name"], type=FieldType(kind), **values)


def log_entry_model(entry: LogEntry) -> dict[str, Any]:
    meta: dict[str, Any] = {"orderingId": str(entry.ordering_id), "reason": entry.reason}
    if entry.result.value in {"ERROR", "REJECTED"}:
        meta["error"] = entry.reason
    return {
        "datetime": iso(entry.created_at),
        "guid": entry.meta.get("guid", ""),
        "id": entry.document_id,
        "meta": meta,
        "operation": entry.operation,
        "organizationId": entry.org_id,
        "requestId": entry.request_id,
        "resourceId": entry.task,
        "result": entry.result.value,
        "sourceId": entry.source_id,
        "task": entry.task,
    }


def item_status_model(
    source_id: str,
    document_id: str,
    state: ItemState,
    record: ItemRecord | None,
    last: LogEntry | None,
) -> dict[str, Any]:
    return {
        "sourceId": source_id,
        "documentId": document_id,
        "state": state.value,
        "orderingId": str(record.ordering_id) if record and record.ordering_id else None,
        "lastResult": last.result.value if last else None,
        "lastReason": last.reason if last else None,
        "lastOperation": last.operation if last else None,
        "lastOrderingId": str(last.ordering_id) if last else None,
        "updatedAt": iso(record.updated_at) if record else None,
    }
