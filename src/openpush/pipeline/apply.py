"""How each kind of operation changes items, the index and the log.

Ordering rules (push-api.md §8), applied per item:

- an operation whose orderingId is lower than the source's low-water mark (the highest
  delete-older-than so far) is REJECTED;
- an operation whose orderingId is lower than the one that last changed the item is SKIPPED:
  the newer version stays;
- equal orderingIds apply in arrival order (items of one batch share its orderingId, and a
  later push of the same id is a newer intention).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from openpush.domain.fields import FieldDefinition, merged_fields
from openpush.domain.items import ItemDocument
from openpush.domain.operations import (
    ItemState,
    LogEntry,
    LogResult,
    OperationKind,
    QueuedOperation,
)
from openpush.domain.sources import Source
from openpush.errors import InvalidItemError
from openpush.index.base import IndexWriter
from openpush.pipeline.stages import prepare_item
from openpush.settings import Settings
from openpush.storage.base import ItemRecord, PipelineCommit, StateStore

__all__ = ["RoundContext", "apply_operation"]

Key = tuple[str, str, str]


@dataclass(slots=True)
class RoundContext:
    """What one pipeline round reads once and what it will commit."""

    store: StateStore
    settings: Settings
    writer: IndexWriter
    commit: PipelineCommit = field(default_factory=PipelineCommit)
    index_changed: bool = False
    _sources: dict[tuple[str, str], Source | None] = field(default_factory=dict)
    _fields: dict[str, dict[str, FieldDefinition]] = field(default_factory=dict)
    _cache: dict[Key, ItemRecord | None] = field(default_factory=dict)

    def source(self, org_id: str, source_id: str) -> Source | None:
        key = (org_id, source_id)
        if key not in self._sources:
            self._sources[key] = self.store.catalog.get_source(org_id, source_id)
        return self._sources[key]

    def fields(self, org_id: str) -> dict[str, FieldDefinition]:
        if org_id not in self._fields:
            self._fields[org_id] = merged_fields(self.store.catalog.list_fields(org_id))
        return self._fields[org_id]

    def item(self, key: Key) -> ItemRecord | None:
        """The item as this round has left it so far (read once from the store)."""
        if key in self.commit.items:
            return self.commit.items[key]
        if key not in self._cache:
            self._cache[key] = self.store.items.get_items(key[0], key[1], [key[2]]).get(key[2])
        return self._cache[key]

    def low_water(self, source: Source) -> int:
        pending = self.commit.low_water.get((source.org_id, source.id), 0)
        return max(source.low_water_ordering_id, pending)

    def log(
        self,
        op: QueuedOperation,
        document_id: str,
        result: LogResult,
        reason: str,
        operation: str | None = None,
    ) -> None:
        self.commit.logs.append(
            LogEntry(
                org_id=op.org_id,
                source_id=op.source_id,
                document_id=document_id,
                operation=operation or op.kind.value,
                result=result,
                reason=reason,
                ordering_id=op.ordering_id,
                request_id=op.request_id,
            )
        )

    def set_item(
        self,
        key: Key,
        ordering_id: int,
        state: ItemState,
        record: dict[str, Any] | None,
        result: LogResult,
        reason: str,
    ) -> None:
        self.commit.items[key] = ItemRecord(
            org_id=key[0],
            source_id=key[1],
            document_id=key[2],
            ordering_id=ordering_id,
            state=state,
            record=record,
            last_result=result.value,
            last_reason=reason,
            updated_at=time.time(),
        )

    def note_outcome(self, key: Key, result: LogResult, reason: str) -> None:
        """Record a refused operation on the item's status without changing the item."""
        current = self.item(key)
        if current is None:
            self.set_item(key, 0, ItemState.REJECTED, None, result, reason)
        else:
            current.last_result, current.last_reason = result.value, reason
            current.updated_at = time.time()
            self.commit.items[key] = current

    def fail(self, op: QueuedOperation, reason: str) -> None:
        self.log(op, op.document_id or "", LogResult.ERROR, reason)
        if op.document_id is not None:
            self.note_outcome((op.org_id, op.source_id, op.document_id), LogResult.ERROR, reason)
        self.commit.done.append(op.seq)


def _stale(context: RoundContext, op: QueuedOperation, source: Source, key: Key) -> bool:
    """Log and return True when ``op`` must not change the item (ordering rules)."""
    low = context.low_water(source)
    if op.ordering_id < low:
        reason = (
            f"orderingId {op.ordering_id} is older than the source's last delete-older-than"
            f" ({low}); push with a higher orderingId"
        )
        context.log(op, key[2], LogResult.REJECTED, reason)
        context.note_outcome(key, LogResult.REJECTED, reason)
        return True
    current = context.item(key)
    if current is not None and op.ordering_id < current.ordering_id:
        reason = (
            f"a newer operation (orderingId {current.ordering_id}) already applies to this"
            f" item; this one (orderingId {op.ordering_id}) was ignored"
        )
        context.log(op, key[2], LogResult.SKIPPED, reason)
        return True
    return False


def _add(op: QueuedOperation, context: RoundContext, source: Source) -> None:
    assert op.document_id is not None
    key = (op.org_id, op.source_id, op.document_id)
    if _stale(context, op, source, key):
        return
    try:
        item = ItemDocument.from_dict(op.payload["item"])
        prepared = prepare_item(
            item,
            source=source,
            fields=context.fields(op.org_id),
            ordering_id=op.ordering_id,
            settings=context.settings,
        )
    except InvalidItemError as exc:
        context.log(op, op.document_id, LogResult.REJECTED, exc.message)
        context.note_outcome(key, LogResult.REJECTED, exc.message)
        return
    context.writer.upsert(prepared.document)
    context.index_changed = True
    if prepared.shape:
        context.commit.shapes.add((op.org_id, prepared.shape))
    result = LogResult.WARNING if prepared.warnings else LogResult.COMPLETED
    reason = "; ".join(prepared.warnings) or "indexed"
    context.set_item(key, op.ordering_id, ItemState.INDEXED, prepared.record, result, reason)
    context.log(op, op.document_id, result, reason)


def _delete_one(
    op: QueuedOperation, context: RoundContext, key: Key, reason: str, operation: str
) -> None:
    context.writer.delete(*key)
    context.index_changed = True
    context.set_item(key, op.ordering_id, ItemState.DELETED, None, LogResult.COMPLETED, reason)
    context.log(op, key[2], LogResult.COMPLETED, reason, operation)


def _children(context: RoundContext, op: QueuedOperation, prefix: str) -> list[Key]:
    keys = {
        (r.org_id, r.source_id, r.document_id)
        for r in context.store.items.live_with_prefix(op.org_id, op.source_id, prefix)
    }
    keys.update(
        k
        for k, r in context.commit.items.items()
        if k[:2] == (op.org_id, op.source_id) and k[2].startswith(prefix)
    )
    return sorted(keys)


def _delete(op: QueuedOperation, context: RoundContext, source: Source) -> None:
    assert op.document_id is not None
    key = (op.org_id, op.source_id, op.document_id)
    if _stale(context, op, source, key):
        return
    existed = context.item(key)
    reason = "deleted" if existed and existed.state is ItemState.INDEXED else "deleted (no item)"
    _delete_one(op, context, key, reason, OperationKind.DELETE.value)
    if not op.payload.get("delete_children"):
        return
    prefix = op.document_id if op.document_id.endswith("/") else op.document_id + "/"
    for child in _children(context, op, prefix):
        record = context.item(child)
        if record is None or record.state is not ItemState.INDEXED:
            continue
        if record.ordering_id > op.ordering_id:
            continue
        _delete_one(
            op,
            context,
            child,
            f"deleted with its parent {op.document_id}",
            OperationKind.DELETE_AND_CHILDREN.value,
        )


def _delete_older_than(op: QueuedOperation, context: RoundContext, source: Source) -> None:
    threshold = op.ordering_id
    keys = {
        (r.org_id, r.source_id, r.document_id)
        for r in context.store.items.live_older_than(op.org_id, op.source_id, threshold)
    }
    keys.update(k for k in context.commit.items if k[:2] == (op.org_id, op.source_id))
    deleted = 0
    for key in sorted(keys):
        record = context.item(key)
        if record is None or record.state is not ItemState.INDEXED:
            continue
        if record.ordering_id >= threshold:
            continue
        context.writer.delete(*key)
        context.index_changed = True
        reason = f"older than orderingId {threshold}"
        context.set_item(
            key, record.ordering_id, ItemState.DELETED, None, LogResult.COMPLETED, reason
        )
        context.log(op, key[2], LogResult.COMPLETED, reason, OperationKind.DELETE.value)
        deleted += 1
    mark = (op.org_id, op.source_id)
    context.commit.low_water[mark] = max(context.commit.low_water.get(mark, 0), threshold)
    context.log(op, "", LogResult.COMPLETED, f"deleted {deleted} items older than {threshold}")


_HANDLERS = {
    OperationKind.ADD: _add,
    OperationKind.ADD_BY_REFERENCE: _add,
    OperationKind.DELETE: _delete,
    OperationKind.DELETE_OLDER_THAN: _delete_older_than,
}


def apply_operation(op: QueuedOperation, context: RoundContext) -> None:
    source = context.source(op.org_id, op.source_id)
    if source is None:
        context.log(op, op.document_id or "", LogResult.SKIPPED, "the source no longer exists")
    else:
        handler = _HANDLERS.get(op.kind)
        if handler is None:
            context.log(
                op,
                op.document_id or "",
                LogResult.ERROR,
                f"operation {op.kind.value} is not supported",
            )
        else:
            handler(op, context, source)
    context.commit.done.append(op.seq)
