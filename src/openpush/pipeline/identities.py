"""How identity operations change the identity graph (push-api.md §7, ordering as in §8).

Per identity, an operation older than the one that last changed it is SKIPPED. A group push
replaces the members it owns, an identity push the identities granted to it, an alias push
its aliases; a disable keeps the relationships but the identity grants nothing until it is
pushed again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

from openpush.domain.identities import (
    EMAIL_PROVIDER_ID,
    EdgeKind,
    IdentityRef,
    SecurityProvider,
    check_identity_limits,
    parse_alias_update,
    parse_disable,
    parse_identity_update,
)
from openpush.domain.operations import ItemState, LogResult, OperationKind, QueuedOperation
from openpush.domain.transfers import Batch, BatchState
from openpush.errors import FileContainerNotFoundError, InvalidItemError, InvalidRequestError
from openpush.pipeline.apply import RoundContext
from openpush.pipeline.batchfile import MalformedBatchFileError, entries, scan
from openpush.security.evaluate import IdentityKey
from openpush.settings import Settings
from openpush.storage.base import IdentityChange, IdentityRecord, NewOperation

__all__ = ["apply_entry", "apply_identity_operation", "entry_operation", "run_identity_batch"]


class _Identities:
    """The identity side of a round for one organization: keys and current records."""

    def __init__(self, context: RoundContext, org_id: str) -> None:
        self.context = context
        self.org_id = org_id
        self.case_sensitive = context.case_sensitive(org_id)

    def key(self, ref: IdentityRef) -> IdentityKey:
        return ref.key(case_sensitive=ref.provider.casefold() in self.case_sensitive)

    def current(self, key: IdentityKey) -> IdentityRecord | None:
        return self.context.identities(self.org_id, [key])[key]


def _stale(op: QueuedOperation, context: RoundContext, current: IdentityRecord | None) -> bool:
    if current is not None and op.ordering_id < current.ordering_id:
        context.log(
            op,
            op.document_id or "",
            LogResult.SKIPPED,
            f"a newer operation (orderingId {current.ordering_id}) already changed this"
            f" identity; this one (orderingId {op.ordering_id}) was ignored",
        )
        return True
    return False


def _refs(raw: list[dict[str, Any]]) -> list[IdentityRef]:
    return [IdentityRef.from_dict(item) for item in raw]


def _change(
    op: QueuedOperation,
    context: RoundContext,
    graph: _Identities,
    identity: IdentityRef,
    *,
    enabled: bool,
    edges: dict[EdgeKind, list[tuple[IdentityKey, IdentityKey]]],
    reason: str,
) -> None:
    key = graph.key(identity)
    current = graph.current(key)
    if _stale(op, context, current):
        return
    record = IdentityRecord(
        org_id=op.org_id,
        key=key,
        ref=identity if enabled or current is None else current.ref,
        enabled=enabled,
        ordering_id=op.ordering_id,
        updated_at=time.time(),
    )
    context.commit.add_identity(IdentityChange(record, edges))
    context.log(op, identity.name, LogResult.COMPLETED, reason)
    if current is None:
        _release(op, context, key)


def _release(op: QueuedOperation, context: RoundContext, key: IdentityKey) -> None:
    """Apply again the items that were hidden until ``key`` became known (same orderingId)."""
    waiting = context.store.identities.waiting_items(op.org_id, key)
    if not waiting:
        return
    context.commit.released.append((op.org_id, key))
    for source_id, document_id in waiting:
        record = context.item((op.org_id, source_id, document_id))
        if record is None or record.state is not ItemState.INDEXED or not record.record:
            continue
        context.commit.enqueue.append(
            NewOperation(
                org_id=op.org_id,
                source_id=source_id,
                kind=OperationKind.ADD,
                document_id=document_id,
                ordering_id=record.ordering_id,
                payload={"item": record.record["item"]},
                request_id=op.request_id,
            )
        )


def _create_missing(
    op: QueuedOperation, context: RoundContext, graph: _Identities, refs: list[IdentityRef]
) -> None:
    """Members and granted identities become known identities of their provider.

    They are created enabled with orderingId 0, so that any push of their own wins; an
    identity that already exists (even disabled) is left as it is.
    """
    keys = {graph.key(ref): ref for ref in refs}
    known = context.known_identities(op.org_id, list(keys))
    for key, ref in keys.items():
        if key in known:
            continue
        record = IdentityRecord(op.org_id, key, ref, True, 0, time.time())
        context.commit.add_identity(IdentityChange(record, {}))
        _release(op, context, key)


def apply_identity_operation(
    op: QueuedOperation, context: RoundContext, provider: SecurityProvider
) -> None:
    graph = _Identities(context, op.org_id)
    payload = op.payload
    if op.kind is OperationKind.IDENTITY_UPDATE:
        identity = IdentityRef.from_dict(payload["identity"])
        key = graph.key(identity)
        members = _refs(payload.get("members", []))
        granted = _refs(payload.get("wellKnowns", []))
        _change(
            op, context, graph, identity, enabled=True,
            edges={
                EdgeKind.MEMBER: [(key, graph.key(m)) for m in members],
                EdgeKind.GRANTED: [(graph.key(w), key) for w in granted],
            },
            reason=f"identity updated ({len(members)} members, {len(granted)} granted)",
        )  # fmt: skip
        _create_missing(op, context, graph, [*members, *granted])
    elif op.kind is OperationKind.ALIAS_UPDATE:
        identity = IdentityRef.from_dict(payload["identity"])
        key = graph.key(identity)
        mappings = _refs(payload.get("mappings", []))
        edges = {EdgeKind.ALIAS: [(key, graph.key(m)) for m in mappings]}
        if payload.get("wellKnowns"):
            edges[EdgeKind.GRANTED] = [(graph.key(w), key) for w in _refs(payload["wellKnowns"])]
        _change(
            op, context, graph, identity, enabled=True, edges=edges,
            reason=f"alias updated ({len(mappings)} mappings)",
        )  # fmt: skip
    elif op.kind is OperationKind.IDENTITY_DISABLE:
        identity = IdentityRef.from_dict(payload["identity"])
        _change(op, context, graph, identity, enabled=False, edges={}, reason="disabled")
    elif op.kind is OperationKind.IDENTITY_DISABLE_OLDER_THAN:
        records = _older_than(context, op.org_id, provider, op.ordering_id)
        for record in records:
            disabled = dataclasses.replace(record, enabled=False, updated_at=time.time())
            context.commit.add_identity(IdentityChange(disabled, {}))
        context.log(
            op, "", LogResult.COMPLETED,
            f"disabled {len(records)} identities older than {op.ordering_id}",
        )  # fmt: skip


def _older_than(
    context: RoundContext, org_id: str, provider: SecurityProvider, threshold: int
) -> list[IdentityRecord]:
    """The provider's enabled identities last pushed with an orderingId below ``threshold``,
    as this round has left them so far: a push applied earlier in the same round (or in the
    previous round, still committing) counts, so "push the identities, then disable the older
    ones" works however the queue groups the operations. Identities only a relationship created
    (orderingId 0) are never disabled this way."""
    found: dict[IdentityKey, IdentityRecord | None] = {
        r.key: r for r in context.store.identities.older_than(org_id, provider.id, threshold)
    }
    changed = [
        key
        for org, key in (*context.commit.latest_identities, *context.pending_identities)
        if org == org_id and key.provider == provider.key
    ]
    found.update(context.identities(org_id, changed))  # the round's own records win
    return [
        record
        for record in found.values()
        if record is not None and record.enabled and 0 < record.ordering_id < threshold
    ]


def entry_operation(
    op: QueuedOperation,
    batch: Batch,
    provider: SecurityProvider,
    section: str,
    value: Any,
    settings: Settings,
) -> QueuedOperation:
    """The identity operation one entry of an identity batch file stands for.

    Raises :class:`InvalidRequestError` or :class:`InvalidItemError` for an entry to reject
    (malformed, or over ``settings``' identity limits).
    """
    limits = {
        "max_identity_bytes": settings.max_identity_bytes,
        "max_relationships": settings.max_identity_relationships,
    }
    if section == "members":
        update = parse_identity_update(value, provider.id)
        check_identity_limits(update, **limits)
        kind, payload = (
            OperationKind.IDENTITY_UPDATE,
            {
                "identity": update.identity.to_dict(),
                "members": [m.to_dict() for m in update.members],
                "wellKnowns": [w.to_dict() for w in update.well_knowns],
            },
        )
        name = update.identity.name
    elif section == "mappings":
        default = provider.cascading[0] if len(provider.cascading) == 1 else None
        alias = parse_alias_update(value, provider.id, default or EMAIL_PROVIDER_ID)
        check_identity_limits(alias, **limits)
        kind, payload = (
            OperationKind.ALIAS_UPDATE,
            {
                "identity": alias.identity.to_dict(),
                "mappings": [m.to_dict() for m in alias.mappings],
                "wellKnowns": [w.to_dict() for w in alias.well_knowns],
            },
        )
        name = alias.identity.name
    else:
        identity = parse_disable(value, provider.id)
        check_identity_limits(identity, **limits)
        kind, payload, name = (
            OperationKind.IDENTITY_DISABLE,
            {"identity": identity.to_dict()},
            identity.name,
        )
    return dataclasses.replace(
        op, kind=kind, document_id=name, payload=payload, request_id=batch.id,
        ordering_id=batch.ordering_id,
    )  # fmt: skip


def run_identity_batch(
    op: QueuedOperation,
    batch: Batch,
    provider: SecurityProvider,
    *,
    new_context: Callable[[], RoundContext],
    commit: Callable[[RoundContext], None],
    settle: Callable[[], None],
    chunk_size: int,
) -> None:
    """Apply an identity batch file (``members``, ``mappings``, ``deleted``), chunk by chunk.

    ``deleted`` entries may be wrapped (``{"identity": {...}}``) or bare identities (the Java
    client). A malformed file applies nothing; a bad entry is REJECTED and the rest apply.
    """
    batch.state = BatchState.PROCESSING
    failures: list[str] = []
    for file_index in range(batch.file_index, len(batch.file_ids)):
        file_id = batch.file_ids[file_index]
        start = batch.entry_index if file_index == batch.file_index else 0
        context = new_context()
        try:
            blobs = context.blobs
            if blobs is None or blobs.size(op.org_id, file_id) is None:
                raise FileContainerNotFoundError("nothing was uploaded to the file container")
            with blobs.open(op.org_id, file_id) as stream:
                depth = context.settings_for(op.org_id).max_json_depth + 2
                found = scan(stream, batch.kind.sections, max_depth=depth)
                if start == 0:
                    batch.total += found.total
                stream_entries = entries(stream, found, start=start)
                while chunk := list(islice(stream_entries, chunk_size)):
                    for entry in chunk:
                        result = apply_entry(op, batch, provider, context, entry)
                        batch.counts[result.value] = batch.counts.get(result.value, 0) + 1
                    batch.entry_index = chunk[-1].ordinal + 1
                    batch.processed += len(chunk)
                    context.commit.batches[batch.id] = dataclasses.replace(
                        batch, counts=dict(batch.counts)
                    )
                    commit(context)
                    context = new_context()
        except (MalformedBatchFileError, FileContainerNotFoundError) as exc:
            failures.append(f"file {file_id}: {exc.message}")
            context = new_context()
            context.log(op, "", LogResult.ERROR, failures[-1], OperationKind.BATCH_FILE.value)
            commit(context)
        batch.file_index, batch.entry_index = file_index + 1, 0
    settle()
    context = new_context()
    batch.state = BatchState.FAILED if failures else BatchState.COMPLETED
    batch.error = "; ".join(failures)
    batch.finished_at = time.time()
    summary = f"identity batch of {batch.processed} entries applied"
    context.log(
        dataclasses.replace(op, request_id=batch.id),
        "",
        LogResult.ERROR if failures else LogResult.COMPLETED,
        summary + (f"; {batch.error}" if failures else ""),
        OperationKind.BATCH_FILE.value,
    )
    context.commit.batches[batch.id] = batch
    for file_id in batch.file_ids:
        context.release_file(op.org_id, file_id)
    context.commit.done.append(op.seq)
    commit(context)


def apply_entry(
    op: QueuedOperation, batch: Batch, provider: SecurityProvider, context: RoundContext, entry: Any
) -> LogResult:
    """Apply one entry of an identity batch file to ``context``; return its outcome."""
    try:
        settings = context.settings_for(op.org_id)
        entry_op = entry_operation(op, batch, provider, entry.section, entry.value, settings)
    except (InvalidRequestError, InvalidItemError) as exc:
        reason = f"{entry.section}[{entry.index}]: {exc.message}"
        context.log(dataclasses.replace(op, request_id=batch.id), "", LogResult.REJECTED, reason)
        return LogResult.REJECTED
    before = len(context.commit.logs)
    apply_identity_operation(entry_op, context, provider)
    logged = context.commit.logs[before:]
    return logged[-1].result if logged else LogResult.COMPLETED
