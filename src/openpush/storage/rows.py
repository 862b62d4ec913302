"""Domain objects from stored rows: what every state store reads back the same way.

A row is any mapping from column names to values (``sqlite3.Row``, a psycopg dict row); the
caller passes what its backend stores differently, such as the orderingId's column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from openpush.domain.operations import ItemState, LogEntry, LogResult
from openpush.domain.organizations import ApiKey, Privilege
from openpush.domain.sources import (
    ActivityType,
    Source,
    SourceActivity,
    SourceType,
    SourceVisibility,
)
from openpush.domain.transfers import (
    Batch,
    BatchKind,
    BatchState,
    ContainerState,
    FileContainer,
    Stream,
    StreamState,
)
from openpush.storage.base import ItemRecord

__all__ = [
    "activity_from_row",
    "api_key_from_row",
    "batch_from_row",
    "container_from_row",
    "item_from_row",
    "log_from_row",
    "privileges_json",
    "source_from_row",
    "stream_from_row",
]


def batch_from_row(row: Mapping[str, Any], ordering_id: int) -> Batch:
    return Batch(
        id=row["id"],
        org_id=row["org_id"],
        source_id=row["source_id"],
        kind=BatchKind(row["kind"]),
        file_ids=orjson.loads(row["file_ids"]),
        ordering_id=ordering_id,
        state=BatchState(row["state"]),
        total=row["total"],
        processed=row["processed"],
        file_index=row["file_index"],
        entry_index=row["entry_index"],
        counts=orjson.loads(row["counts"]),
        error=row["error"],
        stream_id=row["stream_id"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def container_from_row(row: Mapping[str, Any]) -> FileContainer:
    return FileContainer(
        org_id=row["org_id"],
        file_id=row["file_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        state=ContainerState(row["state"]),
        holder=row["holder"],
    )


def stream_from_row(row: Mapping[str, Any], ordering_id: int) -> Stream:
    return Stream(
        id=row["id"],
        org_id=row["org_id"],
        source_id=row["source_id"],
        ordering_id=ordering_id,
        file_ids=orjson.loads(row["file_ids"]),
        state=StreamState(row["state"]),
        created_at=row["created_at"],
        closed_at=row["closed_at"],
    )


def source_from_row(row: Mapping[str, Any], low_water_ordering_id: int) -> Source:
    return Source(
        org_id=row["org_id"],
        id=row["id"],
        name=row["name"],
        source_type=SourceType(row["source_type"]),
        visibility=SourceVisibility(row["visibility"]),
        push_enabled=bool(row["push_enabled"]),
        stream_enabled=bool(row["stream_enabled"]),
        security_providers=tuple(orjson.loads(row["providers"])),
        low_water_ordering_id=low_water_ordering_id,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def source_update_values(source: Source) -> tuple[Any, ...]:
    """The parameters of both stores' source UPDATE: the changed columns, then the key."""
    providers = orjson.dumps(list(source.security_providers)).decode()
    changed = (source.name, source.visibility.value, providers, source.updated_at)
    return (*changed, source.org_id, source.id)


def api_key_from_row(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        org_id=row["org_id"],
        display_name=row["display_name"],
        privileges=tuple(Privilege.from_dict(p) for p in orjson.loads(row["privileges"])),
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        description=row["description"],
        created_by=row["created_by"],
        disabled_at=row["disabled_at"],
    )


def privileges_json(key: ApiKey) -> str:
    """The ``privileges`` column of ``key``."""
    return orjson.dumps([p.to_dict() for p in key.privileges]).decode()


def activity_from_row(row: Mapping[str, Any]) -> SourceActivity:
    return SourceActivity(
        row["id"],
        row["org_id"],
        row["source_id"],
        ActivityType(row["activity"]),
        row["started_at"],
        row["ended_at"],
    )


def item_from_row(row: Mapping[str, Any], ordering_id: int) -> ItemRecord:
    record = row["record"]
    return ItemRecord(
        org_id=row["org_id"],
        source_id=row["source_id"],
        document_id=row["document_id"],
        ordering_id=ordering_id,
        state=ItemState(row["state"]),
        record=orjson.loads(record) if record else None,
        last_result=row["last_result"],
        last_reason=row["last_reason"],
        updated_at=row["updated_at"],
    )


def log_from_row(row: Mapping[str, Any], ordering_id: int) -> LogEntry:
    return LogEntry(
        org_id=row["org_id"],
        source_id=row["source_id"],
        document_id=row["document_id"],
        operation=row["operation"],
        result=LogResult(row["result"]),
        reason=row["reason"],
        ordering_id=ordering_id,
        request_id=row["request_id"],
        task=row["task"],
        created_at=row["created_at"],
        meta={"guid": row["guid"], **orjson.loads(row["meta"])},
    )
