"""File containers, batches and streams: how large pushes travel (push-api.md §2.5, §3, §4).

A *file container* is a short-lived upload slot. A *batch* is one accepted request that the
pipeline applies from one or more containers — a documents batch, a stream update or merge,
or the load of a closed stream — and whose per-item outcomes the batch endpoint lists. A
*stream* is an open load operation collecting chunk containers until it is closed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Batch",
    "BatchKind",
    "BatchState",
    "ContainerState",
    "FileContainer",
    "Stream",
    "StreamState",
    "new_id",
]


def new_id() -> str:
    return str(uuid.uuid4())


class ContainerState(StrEnum):
    OPEN = "open"  # accepts uploads, may be referenced once
    HELD = "held"  # referenced by an accepted operation; deleted once that operation is applied


@dataclass(slots=True)
class FileContainer:
    org_id: str
    file_id: str
    created_at: float
    expires_at: float
    state: ContainerState = ContainerState.OPEN
    holder: str = ""

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) > self.expires_at


class BatchKind(StrEnum):
    """What a batch applies; the sections its files may hold follow from it."""

    DOCUMENTS = "DOCUMENTS"  # PUT …/documents/batch
    STREAM_UPDATE = "STREAM_UPDATE"  # PUT …/stream/update
    STREAM_MERGE = "STREAM_MERGE"  # PUT …/stream/merge
    STREAM_LOAD = "STREAM_LOAD"  # POST …/stream/{id}/close: chunks, then delete the rest
    IDENTITIES = "IDENTITIES"  # PUT …/providers/{p}/permissions/batch (source_id = provider)

    @property
    def sections(self) -> tuple[str, ...]:
        if self is BatchKind.STREAM_UPDATE:
            return ("addOrUpdate", "delete", "partialUpdate")
        if self is BatchKind.STREAM_MERGE:
            return ("addOrUpdate", "merge")
        if self is BatchKind.STREAM_LOAD:
            return ("addOrUpdate",)
        if self is BatchKind.IDENTITIES:
            return ("members", "mappings", "deleted")
        return ("addOrUpdate", "delete")


class BatchState(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # at least one of its files could not be read; see ``error``


@dataclass(slots=True)
class Batch:
    id: str
    org_id: str
    source_id: str
    kind: BatchKind
    file_ids: list[str]
    ordering_id: int
    state: BatchState = BatchState.QUEUED
    total: int = 0  # entries found so far in the files scanned
    processed: int = 0  # entries applied, over all files
    file_index: int = 0  # the file being applied (resume point after a crash)
    entry_index: int = 0  # entries of that file already applied
    counts: dict[str, int] = field(default_factory=dict)  # log result -> entries
    error: str = ""
    stream_id: str = ""
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None


class StreamState(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(slots=True)
class Stream:
    id: str
    org_id: str
    source_id: str
    ordering_id: int
    file_ids: list[str] = field(default_factory=list)
    state: StreamState = StreamState.OPEN
    created_at: float = field(default_factory=time.time)
    closed_at: float | None = None
