"""Validation without side effects: the pipeline's own code over a round that never commits.

A :class:`~openpush.pipeline.apply.RoundContext` collects everything a round would change —
item and identity states, log entries, index writes, containers used up — and only the worker's
commit applies it. A dry run builds the same context, runs the very functions the worker runs
(``add_item``, the batch entry applier, the identity entry applier), reads the outcome from the
log entries the context collected, and drops the context. The state store and the blob store
are only read: nothing is queued, logged, indexed or consumed.

A batch file is checked as the worker applies it: scanned end to end first (a malformed file is
one file-level error), then entry by entry in chunks of ``batch_chunk_size``. Each chunk runs in
a fresh context, so an entry sees the stored state and the entries of its own chunk, as in the
pipeline except that earlier chunks are not committed (an entry that would be SKIPPED only
because an earlier chunk updated the same item is reported against the stored item).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from openpush.blobs.base import BlobStore
from openpush.domain.identities import SecurityProvider
from openpush.domain.items import ItemDocument
from openpush.domain.operations import LogEntry, LogResult, OperationKind, QueuedOperation
from openpush.domain.sources import Source
from openpush.domain.transfers import Batch, BatchKind
from openpush.pipeline.apply import RoundContext, add_item
from openpush.pipeline.batches import EntryApplier, file_depth
from openpush.pipeline.batchfile import Entry, MalformedBatchFileError, entries, scan
from openpush.pipeline.identities import apply_entry
from openpush.settings import Settings
from openpush.storage.base import StateStore

__all__ = ["DryRun", "Finding", "Report"]

_FAILED = frozenset({LogResult.REJECTED, LogResult.ERROR})
REQUEST_ID = "validate"


@dataclass(slots=True)
class Finding:
    """What the pipeline would do with one item or identity, and why."""

    result: LogResult
    reasons: list[str]
    document_id: str | None = None
    identity: str | None = None
    of_identity: bool = False  # an identity's finding (``identity``), not an item's
    operation: str = ""
    section: str | None = None
    index: int | None = None
    status: int | None = None  # set when the push call itself would be refused
    error_code: str | None = None


@dataclass(slots=True)
class Report:
    """The findings of one validation; ``counts`` and ``total`` cover every entry."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    errors: list[str] = field(default_factory=list)  # file-level: nothing would be applied
    warnings: list[str] = field(default_factory=list)  # file-level
    truncated: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors and not any(self.counts.get(r.value) for r in _FAILED)

    def add(self, finding: Finding, limit: int) -> None:
        self.total += 1
        self.counts[finding.result.value] = self.counts.get(finding.result.value, 0) + 1
        if len(self.findings) < limit:
            self.findings.append(finding)
        else:
            self.truncated = True


@dataclass
class DryRun:
    """Runs pipeline checks for one organization against the current stored state."""

    store: StateStore
    settings: Settings
    blobs: BlobStore | None
    org_id: str

    def _context(self) -> RoundContext:
        return RoundContext(self.store, self.settings, self.blobs)

    def _op(self, target_id: str, kind: OperationKind, name: str | None, ordering: int) -> Any:
        return QueuedOperation(
            seq=0,
            org_id=self.org_id,
            source_id=target_id,
            kind=kind,
            document_id=name,
            ordering_id=ordering,
            payload={},
            request_id=REQUEST_ID,
            enqueued_at=time.time(),
            attempts=1,
        )

    # -- items -----------------------------------------------------------------------------

    def item(self, source: Source, item: ItemDocument, ordering_id: int) -> Finding:
        """The outcome of pushing ``item`` alone with ``ordering_id``."""
        by_reference = item.compressed_binary_data_file_id is not None
        kind = OperationKind.ADD_BY_REFERENCE if by_reference else OperationKind.ADD
        context = self._context()
        op = self._op(source.id, kind, item.document_id, ordering_id)
        result = add_item(context, op, source, item)
        return Finding(
            result=result,
            reasons=[log.reason for log in context.commit.logs],
            document_id=item.document_id,
            operation=kind.value,
        )

    def item_batch(self, source: Source, file_id: str, ordering_id: int, *, limit: int) -> Report:
        """The outcome of a documents batch over container ``file_id``."""
        batch = self._batch(source.id, BatchKind.DOCUMENTS, file_id, ordering_id)
        applier = EntryApplier(
            self._op(source.id, OperationKind.BATCH_FILE, None, ordering_id), batch, source
        )
        report = Report()
        for context, entry in self._entries(report, batch, file_id, applier.document_id):
            before = len(context.commit.logs)
            document_id = applier.document_id(entry)
            result = applier.apply(context, entry)
            logs = context.commit.logs[before:]
            own = [log for log in logs if log.document_id in (document_id or "", "")]
            report.add(
                Finding(
                    result=result,
                    reasons=[log.reason for log in own or logs],
                    document_id=document_id,
                    operation=own[0].operation if own else "",
                    section=entry.section,
                    index=entry.index,
                ),
                limit,
            )
        return report

    # -- identities ------------------------------------------------------------------------

    def identity(
        self, provider: SecurityProvider, value: Any, ordering_id: int, section: str = "members"
    ) -> Finding:
        """The outcome of one identity push (``section`` names its kind, as in batch files)."""
        batch = self._batch(provider.id, BatchKind.IDENTITIES, "", ordering_id)
        context = self._context()
        op = self._op(provider.id, OperationKind.BATCH_FILE, None, ordering_id)
        result = apply_entry(op, batch, provider, context, Entry(section, 0, 0, value))
        return _identity_finding(result, context.commit.logs, Entry(section, 0, 0, value))

    def identity_batch(
        self, provider: SecurityProvider, file_id: str, ordering_id: int, *, limit: int
    ) -> Report:
        """The outcome of an identity batch over container ``file_id``."""
        batch = self._batch(provider.id, BatchKind.IDENTITIES, file_id, ordering_id)
        op = self._op(provider.id, OperationKind.BATCH_FILE, None, ordering_id)
        report = Report()
        for context, entry in self._entries(report, batch, file_id):
            before = len(context.commit.logs)
            result = apply_entry(op, batch, provider, context, entry)
            report.add(_identity_finding(result, context.commit.logs[before:], entry), limit)
        return report

    # -- files -----------------------------------------------------------------------------

    def _batch(self, target_id: str, kind: BatchKind, file_id: str, ordering_id: int) -> Batch:
        return Batch(
            id=REQUEST_ID,
            org_id=self.org_id,
            source_id=target_id,
            kind=kind,
            file_ids=[file_id],
            ordering_id=ordering_id,
        )

    def _entries(
        self,
        report: Report,
        batch: Batch,
        file_id: str,
        document_id: Callable[[Entry], str | None] | None = None,
    ) -> Iterator[tuple[RoundContext, Entry]]:
        """Each entry of the file with the (per-chunk) context to check it in.

        ``document_id`` names an item entry's documentId: the chunk's items are then read from
        the store in one query, as the worker does.
        """
        settings = self.settings.for_org(self.org_id)
        size = self.blobs.size(self.org_id, file_id) if self.blobs is not None else None
        if self.blobs is None or size is None:
            report.errors.append("nothing was uploaded to the file container")
            return
        if size > settings.file_container_max_bytes:
            limit = settings.file_container_max_bytes
            report.errors.append(f"the file holds {size} bytes; the limit is {limit}")
            return
        with self.blobs.open(self.org_id, file_id) as stream:
            try:
                found = scan(stream, batch.kind.sections, max_depth=file_depth(settings))
            except MalformedBatchFileError as exc:
                report.errors.append(exc.message)
                return
            if found.ignored_keys:
                report.warnings.append(f"ignored keys {', '.join(found.ignored_keys)}")
            stream_entries = entries(stream, found)
            try:
                while chunk := list(islice(stream_entries, self.settings.batch_chunk_size)):
                    context = self._context()
                    if document_id is not None:
                        ids = filter(None, map(document_id, chunk))
                        context.prefetch(self.org_id, batch.source_id, ids)
                    for entry in chunk:
                        yield context, entry
            except MalformedBatchFileError as exc:  # the file changed while it was read
                report.errors.append(exc.message)


def _identity_finding(result: LogResult, logs: list[LogEntry], entry: Entry) -> Finding:
    named = [log.document_id for log in logs if log.document_id]
    return Finding(
        result=result,
        reasons=[log.reason for log in logs],
        identity=named[0] if named else None,
        of_identity=True,
        operation=logs[0].operation if logs else "",
        section=entry.section,
        index=entry.index,
    )
