"""Domain objects from stored rows: what every state store reads back the same way.

A row is any mapping from column names to values (``sqlite3.Row``, a psycopg dict row); the
caller passes what its backend stores differently, such as the orderingId's column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from openpush.domain.transfers import (
    Batch,
    BatchKind,
    BatchState,
    ContainerState,
    FileContainer,
    Stream,
    StreamState,
)

__all__ = ["batch_from_row", "container_from_row", "stream_from_row"]


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
