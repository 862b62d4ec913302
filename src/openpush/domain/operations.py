"""Operations on the durable queue, their outcomes, and the log entries they leave.

An operation is what a push call asks for; the pipeline applies it later. Its ``ordering_id``
is an arbitrary-precision non-negative integer: Coveo's Crawling Module sends values beyond
signed 64-bit. Stores keep it as ``ordering_key``, a zero-padded decimal string whose
lexicographic order is the numeric order.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "MAX_ORDERING_ID",
    "ItemState",
    "LogEntry",
    "LogResult",
    "OperationKind",
    "OrderingClock",
    "QueuedOperation",
    "ordering_key",
    "parse_ordering_id",
]

ORDERING_DIGITS = 40
MAX_ORDERING_ID = 10**ORDERING_DIGITS - 1


class OperationKind(StrEnum):
    """What an operation does; the value is the log ``operation`` it produces."""

    ADD = "ADD"
    ADD_BY_REFERENCE = "ADD_BY_REFERENCE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    DELETE_AND_CHILDREN = "DELETE_AND_CHILDREN"
    DELETE_OLDER_THAN = "DELETE_OLDER_THAN"
    BATCH_FILE = "BATCH_FILE"
    IDENTITY_UPDATE = "UPDATE_IDENTITY"
    ALIAS_UPDATE = "UPDATE_ALIAS"
    IDENTITY_DISABLE = "DISABLE_IDENTITY"
    IDENTITY_DISABLE_OLDER_THAN = "DISABLE_IDENTITIES_OLDER_THAN"

    @property
    def is_identity(self) -> bool:
        """Identity operations name a provider where item operations name a source."""
        return self.name.startswith(("IDENTITY", "ALIAS"))


class LogResult(StrEnum):
    COMPLETED = "COMPLETED"
    WARNING = "WARNING"
    ERROR = "ERROR"
    REJECTED = "REJECTED"
    SKIPPED = "SKIPPED"


class ItemState(StrEnum):
    """What the item status endpoint reports for a documentId."""

    ACCEPTED = "accepted"
    PROCESSING = "processing"
    INDEXED = "indexed"
    REJECTED = "rejected"
    DELETED = "deleted"
    UNKNOWN = "unknown"


def ordering_key(ordering_id: int) -> str:
    return f"{ordering_id:0{ORDERING_DIGITS}d}"


def parse_ordering_id(value: object) -> int:
    """An orderingId from a query string or body: a non-negative integer of at most 40 digits."""
    if isinstance(value, bool):
        raise ValueError("orderingId must be a non-negative integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"orderingId must be a non-negative integer, got {value!r}")
    if number < 0 or number > MAX_ORDERING_ID:
        raise ValueError(f"orderingId must be between 0 and {MAX_ORDERING_ID}")
    return number


class OrderingClock:
    """Server-assigned orderingIds: milliseconds since the epoch, strictly increasing.

    Two pushes of one item within the same millisecond still get distinct, ordered ids.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            now = time.time_ns() // 1_000_000
            self._last = max(now, self._last + 1)
            return self._last


@dataclass(slots=True)
class QueuedOperation:
    """One row of the durable queue."""

    seq: int
    org_id: str
    source_id: str
    kind: OperationKind
    document_id: str | None
    ordering_id: int
    payload: dict[str, Any]
    request_id: str
    enqueued_at: float
    attempts: int = 0


@dataclass(slots=True)
class LogEntry:
    """One outcome of one operation, as the Logs API returns it."""

    org_id: str
    source_id: str
    document_id: str
    operation: str
    result: LogResult
    reason: str
    ordering_id: int
    request_id: str
    task: str = "INDEXING"
    created_at: float = field(default_factory=time.time)
    meta: dict[str, Any] = field(default_factory=dict)
