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

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpush.blobs.base import BlobStore
from openpush.domain.fields import FieldDefinition, merged_fields
from openpush.domain.items import ItemDocument
from openpush.domain.operations import (
    ItemState,
    LogEntry,
    LogResult,
    OperationKind,
    QueuedOperation,
)
from openpush.domain.partial import PartialUpdate, apply_partial_update
from openpush.domain.sources import Source, SourceType, SourceVisibility
from openpush.errors import InvalidItemError
from openpush.index.base import IndexDocument, IndexWriter
from openpush.pipeline.stages import prepare_item
from openpush.security.evaluate import IdentityKey, permission_key
from openpush.settings import Settings
from openpush.storage.base import IdentityRecord, ItemRecord, PipelineCommit, StateStore

__all__ = [
    "RoundContext",
    "add_item",
    "apply_operation",
    "delete_item",
    "delete_older_than",
    "merge_item",
    "partial_update_item",
]

Key = tuple[str, str, str]


@dataclass(slots=True)
class RoundContext:
    """What one pipeline round reads once and what it will commit."""

    store: StateStore
    settings: Settings
    blobs: BlobStore | None = None
    commit: PipelineCommit = field(default_factory=PipelineCommit)
    index_changed: bool = False
    # index writes, applied by the worker when the round commits (see Worker._commit_async)
    index_ops: list[tuple[IndexDocument | None, Key, bool]] = field(default_factory=list)
    used_files: list[tuple[str, str]] = field(default_factory=list)
    # item states of the previous round whose transaction is still committing
    pending: dict[Key, ItemRecord] = field(default_factory=dict)
    _sources: dict[tuple[str, str], Source | None] = field(default_factory=dict)
    _fields: dict[str, dict[str, FieldDefinition]] = field(default_factory=dict)
    _cache: dict[Key, ItemRecord | None] = field(default_factory=dict)
    _case_sensitive: dict[str, frozenset[str]] = field(default_factory=dict)
    _identity_providers: dict[str, frozenset[str]] = field(default_factory=dict)
    # identities as the previous round left them, while its transaction is still committing
    pending_identities: dict[tuple[str, IdentityKey], IdentityRecord] = field(default_factory=dict)
    _stored_identities: dict[str, dict[IdentityKey, IdentityRecord | None]] = field(
        default_factory=dict
    )
    _org_settings: dict[str, Settings] = field(default_factory=dict)

    def settings_for(self, org_id: str) -> Settings:
        """The settings (limits) ``org_id`` is held to: ``org_limits`` applied, read once."""
        found = self._org_settings.get(org_id)
        if found is None:
            found = self._org_settings[org_id] = self.settings.for_org(org_id)
        return found

    def source(self, org_id: str, source_id: str) -> Source | None:
        key = (org_id, source_id)
        if key not in self._sources:
            self._sources[key] = self.store.catalog.get_source(org_id, source_id)
        return self._sources[key]

    def identity_providers(self, org_id: str) -> frozenset[str]:
        """Casefolded ids of the providers that hold pushed identities (all but Email)."""
        if org_id not in self._identity_providers:
            providers = self.store.identities.list_providers(org_id)
            self._identity_providers[org_id] = frozenset(
                p.key for p in providers if p.type != "EMAIL"
            )
        return self._identity_providers[org_id]

    def identities(
        self, org_id: str, keys: Iterable[IdentityKey]
    ) -> dict[IdentityKey, IdentityRecord | None]:
        """The identities as this round has left them so far (None: unknown): its own
        changes, else the previous round's still committing, else the store (read once)."""
        found: dict[IdentityKey, IdentityRecord | None] = {}
        stored = self._stored_identities.setdefault(org_id, {})
        missing = []
        for key in keys:
            record = self.commit.latest_identities.get((org_id, key))
            if record is None:
                record = self.pending_identities.get((org_id, key))
            if record is not None:
                found[key] = record
            elif key in stored:
                found[key] = stored[key]
            else:
                missing.append(key)
        if missing:
            read = self.store.identities.get_identities(org_id, missing)
            for key in missing:
                found[key] = stored[key] = read.get(key)
        return found

    def known_identities(self, org_id: str, keys: list[IdentityKey]) -> set[IdentityKey]:
        """Which of ``keys`` the organization's providers know (enabled or not)."""
        return {k for k, record in self.identities(org_id, keys).items() if record is not None}

    def case_sensitive(self, org_id: str) -> frozenset[str]:
        """Casefolded ids of the organization's case-sensitive providers."""
        if org_id not in self._case_sensitive:
            providers = self.store.identities.list_providers(org_id)
            self._case_sensitive[org_id] = frozenset(p.key for p in providers if p.case_sensitive)
        return self._case_sensitive[org_id]

    def fields(self, org_id: str) -> dict[str, FieldDefinition]:
        if org_id not in self._fields:
            self._fields[org_id] = merged_fields(self.store.catalog.list_fields(org_id))
        return self._fields[org_id]

    def item(self, key: Key) -> ItemRecord | None:
        """The item as this round has left it so far (read once from the store)."""
        if key in self.commit.items:
            return self.commit.items[key]
        if key in self.pending:
            return self.pending[key]
        if key not in self._cache:
            self._cache[key] = self.store.items.get_items(key[0], key[1], [key[2]]).get(key[2])
        return self._cache[key]

    def index_upsert(self, document: IndexDocument, *, new: bool) -> None:
        key = (document.org_id, document.source_id, document.document_id)
        self.index_ops.append((document, key, new))
        self.index_changed = True

    def index_delete(self, key: Key) -> None:
        self.index_ops.append((None, key, False))
        self.index_changed = True

    def apply_index_ops(self, writer: IndexWriter) -> None:
        for document, key, new in self.index_ops:
            if document is None:
                writer.delete(*key)
            else:
                writer.upsert(document, new=new)
        self.index_ops.clear()

    def prefetch(self, org_id: str, source_id: str, document_ids: Iterable[str]) -> None:
        """Read many items in one query (a batch chunk) before deciding on each."""
        wanted = [
            d
            for d in dict.fromkeys(document_ids)
            if (org_id, source_id, d) not in self._cache
            and (org_id, source_id, d) not in self.commit.items
            and (org_id, source_id, d) not in self.pending
        ]
        if not wanted:
            return
        found = self.store.items.get_items(org_id, source_id, wanted)
        for document_id in wanted:
            self._cache[(org_id, source_id, document_id)] = found.get(document_id)

    def file_loader(self, org_id: str) -> Any:
        """Read a file container of ``org_id`` (an item's compressedBinaryDataFileId)."""

        def load(file_id: str, most: int) -> bytes:
            container = self.store.transfers.get_container(org_id, file_id)
            if container is None or self.blobs is None:
                raise InvalidItemError(
                    f"file container {file_id!r} does not exist, expired or was already used"
                )
            limit = min(most, self.settings_for(org_id).file_container_max_bytes)
            size = self.blobs.size(org_id, file_id)
            if size is None:
                raise InvalidItemError(f"nothing was uploaded to file container {file_id!r}")
            if size > limit:
                raise InvalidItemError(
                    f"file container {file_id!r} holds {size} bytes; the limit is {limit}"
                )
            with self.blobs.open(org_id, file_id) as stream:
                packed = stream.read(size + 1)  # not limit + 1: read() allocates what it is asked
            if len(packed) > limit:
                raise InvalidItemError(f"file container {file_id!r} holds over {limit} bytes")
            self.release_file(org_id, file_id)
            return packed

        return load

    def release_file(self, org_id: str, file_id: str) -> None:
        """Delete a used container once this round commits."""
        self.commit.dropped_containers.add((org_id, file_id))
        self.used_files.append((org_id, file_id))

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


def _stale(
    context: RoundContext, op: QueuedOperation, source: Source, key: Key
) -> LogResult | None:
    """Log and return the outcome when ``op`` must not change the item (ordering rules)."""
    low = context.low_water(source)
    if op.ordering_id < low:
        reason = (
            f"orderingId {op.ordering_id} is older than the source's last delete-older-than"
            f" ({low}); push with a higher orderingId"
        )
        context.log(op, key[2], LogResult.REJECTED, reason)
        context.note_outcome(key, LogResult.REJECTED, reason)
        return LogResult.REJECTED
    current = context.item(key)
    if current is not None and op.ordering_id < current.ordering_id:
        reason = (
            f"a newer operation (orderingId {current.ordering_id}) already applies to this"
            f" item; this one (orderingId {op.ordering_id}) was ignored"
        )
        context.log(op, key[2], LogResult.SKIPPED, reason)
        return LogResult.SKIPPED
    return None


def _add(op: QueuedOperation, context: RoundContext, source: Source) -> None:
    assert op.document_id is not None
    add_item(context, op, source, ItemDocument.from_dict(op.payload["item"]))


def add_item(
    context: RoundContext, op: QueuedOperation, source: Source, item: ItemDocument
) -> LogResult:
    """Index ``item`` unless ordering rules forbid it; log and return the outcome."""
    key = (op.org_id, op.source_id, item.document_id)
    stale = _stale(context, op, source, key)
    if stale is not None:
        return stale
    try:
        prepared = prepare_item(
            item,
            source=source,
            fields=context.fields(op.org_id),
            ordering_id=op.ordering_id,
            settings=context.settings_for(op.org_id),
            load_file=context.file_loader(op.org_id),
            case_sensitive_providers=context.case_sensitive(op.org_id),
        )
    except InvalidItemError as exc:
        context.log(op, item.document_id, LogResult.REJECTED, exc.message)
        context.note_outcome(key, LogResult.REJECTED, exc.message)
        return LogResult.REJECTED
    unknown_allowed, unknown_denied, waiting = _unknown_identities(context, op.org_id, source, item)
    if unknown_allowed:
        prepared.warnings.append(
            "identities unknown to their provider match nobody until they are pushed: "
            + ", ".join(unknown_allowed)
        )
    if unknown_denied and source.visibility is SourceVisibility.SECURED:
        # Fail closed: an unresolvable denied identity could hide the item from anyone.
        prepared.document.acl = frozenset()
        context.commit.waiting.extend(
            (op.org_id, k, op.source_id, item.document_id) for k in waiting
        )
        prepared.warnings.append(
            "the item is hidden until these denied identities are known to their provider"
            " (it is applied again when they are pushed): " + ", ".join(unknown_denied)
        )
    # An item the state store has never seen cannot be in the index, unless an earlier
    # attempt of this very operation wrote it before a crash: then it is not a first attempt.
    new = op.attempts <= 1 and context.item(key) is None
    context.index_upsert(prepared.document, new=new)
    context.index_changed = True
    if prepared.shape:
        context.commit.shapes.add((op.org_id, prepared.shape))
    result = LogResult.WARNING if prepared.warnings else LogResult.COMPLETED
    reason = "; ".join(prepared.warnings) or "indexed"
    context.set_item(key, op.ordering_id, ItemState.INDEXED, prepared.record, result, reason)
    context.log(op, item.document_id, result, reason)
    return result


def _unknown_identities(
    context: RoundContext, org_id: str, source: Source, item: ItemDocument
) -> tuple[list[str], list[str], list[IdentityKey]]:
    """Permission identities of providers holding pushed identities that they do not know.

    Returns the labels of unknown allowed and unknown denied identities, and the keys of the
    unknown denied ones (the item waits for them).
    """
    model = item.permissions
    known = context.identity_providers(org_id)
    if model is None or not known:
        return [], [], []
    sensitive = context.case_sensitive(org_id)
    wanted: dict[IdentityKey, tuple[str, bool]] = {}
    for level in model.levels:
        for pset in level.sets:
            for denied, identities in ((False, pset.allowed), (True, pset.denied)):
                for identity in identities:
                    key = permission_key(
                        identity,
                        default_provider=source.default_provider,
                        case_sensitive_providers=sensitive,
                    )
                    if key.provider in known:
                        label = f"{identity.provider or source.default_provider}/{identity.name}"
                        previous = wanted.get(key)
                        wanted[key] = (label, denied or bool(previous and previous[1]))
    if not wanted:
        return [], [], []
    found = context.known_identities(org_id, list(wanted))
    allowed = sorted(
        label for key, (label, denied) in wanted.items() if key not in found and not denied
    )
    missing = [key for key, (_, denied) in wanted.items() if key not in found and denied]
    return allowed, sorted(wanted[key][0] for key in missing), missing


def _current_item(context: RoundContext, key: Key) -> ItemDocument | None:
    record = context.item(key)
    if record is None or record.state is not ItemState.INDEXED or not record.record:
        return None
    return ItemDocument.from_dict(record.record["item"])


def merge_item(
    context: RoundContext, op: QueuedOperation, source: Source, update: ItemDocument
) -> LogResult:
    """Shallow merge (§4.4): create the item if missing, else overwrite only what is sent."""
    current = _current_item(context, (op.org_id, op.source_id, update.document_id))
    if current is None:
        return add_item(context, op, source, update)
    changes: dict[str, Any] = {"metadata": {**current.metadata, **update.metadata}}
    if any(
        v is not None
        for v in (
            update.data,
            update.compressed_binary_data,
            update.compressed_binary_data_file_id,
        )
    ):
        changes.update(
            data=update.data,
            compressed_binary_data=update.compressed_binary_data,
            compressed_binary_data_file_id=update.compressed_binary_data_file_id,
            compression_type=update.compression_type,
        )
    for name in ("file_extension", "parent_id", "permissions"):
        if getattr(update, name) is not None:
            changes[name] = getattr(update, name)
    return add_item(context, op, source, dataclasses.replace(current, **changes))


def partial_update_item(
    context: RoundContext, op: QueuedOperation, source: Source, update: PartialUpdate
) -> LogResult:
    """Apply one partialUpdate entry (§4.3) to an existing item and re-index it."""
    key = (op.org_id, op.source_id, update.document_id)
    current = _current_item(context, key)
    if current is None:
        stale = _stale(context, op, source, key)
        if stale is not None:
            return stale
        reason = f"partial update of an item that does not exist ({update.operator.value})"
        context.log(op, update.document_id, LogResult.ERROR, reason)
        return LogResult.ERROR
    try:
        # metadata keys are stored lower-cased (they are case-insensitive on the wire)
        metadata = apply_partial_update(
            current.metadata, dataclasses.replace(update, field=update.field.lower())
        )
    except InvalidItemError as exc:
        context.log(op, update.document_id, LogResult.REJECTED, exc.message)
        return LogResult.REJECTED
    return add_item(context, op, source, dataclasses.replace(current, metadata=metadata))


def _delete_one(
    op: QueuedOperation, context: RoundContext, key: Key, reason: str, operation: str
) -> None:
    context.index_delete(key)
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
    delete_item(context, op, source, op.document_id, bool(op.payload.get("delete_children")))


def delete_item(
    context: RoundContext, op: QueuedOperation, source: Source, document_id: str, children: bool
) -> LogResult:
    key = (op.org_id, op.source_id, document_id)
    stale = _stale(context, op, source, key)
    if stale is not None:
        return stale
    existed = context.item(key)
    reason = "deleted" if existed and existed.state is ItemState.INDEXED else "deleted (no item)"
    _delete_one(op, context, key, reason, OperationKind.DELETE.value)
    if not children:
        return LogResult.COMPLETED
    prefix = document_id if document_id.endswith("/") else document_id + "/"
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
            f"deleted with its parent {document_id}",
            OperationKind.DELETE_AND_CHILDREN.value,
        )
    return LogResult.COMPLETED


def _delete_older_than(op: QueuedOperation, context: RoundContext, source: Source) -> None:
    delete_older_than(context, op, source, op.ordering_id, low_water=True)


def delete_older_than(
    context: RoundContext,
    op: QueuedOperation,
    source: Source,
    threshold: int,
    *,
    low_water: bool,
    keep_all_safety: bool = False,
) -> int:
    """Delete every live item last changed by an orderingId strictly below ``threshold``.

    ``low_water`` leaves the threshold as the source's low-water mark (§2.4).
    ``keep_all_safety`` skips the deletion when it would remove every item of the source
    (the Catalog safety rule of a stream load, §4.1). Returns how many items were deleted.
    """
    keys = {
        (r.org_id, r.source_id, r.document_id)
        for r in context.store.items.live_older_than(op.org_id, op.source_id, threshold)
    }
    for k in (*context.commit.items, *context.pending):
        if k[:2] == (op.org_id, op.source_id):
            keys.add(k)
    doomed = []
    for key in sorted(keys):
        record = context.item(key)
        if (
            record is not None
            and record.state is ItemState.INDEXED
            and record.ordering_id < threshold
        ):
            doomed.append((key, record))
    if keep_all_safety and doomed and len(doomed) >= _live_count(context, op):
        context.log(
            op,
            "",
            LogResult.WARNING,
            f"the load would delete all {len(doomed)} items of the catalog source;"
            " nothing was deleted (safety rule)",
        )
        return 0
    reason = f"older than orderingId {threshold}"
    for key, record in doomed:
        context.index_delete(key)
        context.index_changed = True
        context.set_item(
            key, record.ordering_id, ItemState.DELETED, None, LogResult.COMPLETED, reason
        )
        context.log(op, key[2], LogResult.COMPLETED, reason, OperationKind.DELETE.value)
    if low_water:
        mark = (op.org_id, op.source_id)
        context.commit.low_water[mark] = max(context.commit.low_water.get(mark, 0), threshold)
    context.log(op, "", LogResult.COMPLETED, f"deleted {len(doomed)} items older than {threshold}")
    return len(doomed)


def _live_count(context: RoundContext, op: QueuedOperation) -> int:
    """Live items of the source as this round has left them so far."""
    stored = context.store.items.count_live(op.org_id, op.source_id)
    pending = [k for k in context.commit.items if k[:2] == (op.org_id, op.source_id)]
    originally = context.store.items.get_items(op.org_id, op.source_id, [k[2] for k in pending])
    for key in pending:
        was = originally.get(key[2])
        was_live = was is not None and was.state is ItemState.INDEXED
        now_live = context.commit.items[key].state is ItemState.INDEXED
        stored += int(now_live) - int(was_live)
    return stored


def is_catalog(source: Source) -> bool:
    return source.source_type is SourceType.CATALOG


_HANDLERS = {
    OperationKind.ADD: _add,
    OperationKind.ADD_BY_REFERENCE: _add,
    OperationKind.DELETE: _delete,
    OperationKind.DELETE_OLDER_THAN: _delete_older_than,
}


def apply_operation(op: QueuedOperation, context: RoundContext) -> None:
    if op.kind.is_identity:
        from openpush.pipeline.identities import apply_identity_operation

        provider = context.store.identities.get_provider(op.org_id, op.source_id)
        if provider is None:
            context.log(
                op, op.document_id or "", LogResult.SKIPPED, "the provider no longer exists"
            )
        else:
            apply_identity_operation(op, context, provider)
        context.commit.done.append(op.seq)
        return
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
