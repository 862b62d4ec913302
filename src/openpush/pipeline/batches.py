"""Applying a batch: one accepted request whose entries come from file containers.

A documents batch, a stream update or merge and the load of a closed stream all run here.
Each file is validated end to end first (``batchfile.scan``: a malformed file applies
nothing), then streamed entry by entry and applied in chunks: one index commit and one
state transaction per chunk, which also records how far the batch got. After a crash the
batch resumes at the first entry of the first chunk that did not commit, so memory stays
bounded by one chunk whatever the file size, and no entry is applied twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from openpush.domain.items import item_from_object
from openpush.domain.operations import LogResult, OperationKind, QueuedOperation
from openpush.domain.partial import parse_partial_update
from openpush.domain.sources import Source
from openpush.domain.transfers import Batch, BatchKind, BatchState
from openpush.errors import (
    FileContainerNotFoundError,
    InvalidItemError,
    InvalidRequestError,
)
from openpush.pipeline.apply import (
    RoundContext,
    add_item,
    delete_item,
    delete_older_than,
    is_catalog,
    merge_item,
    partial_update_item,
)
from openpush.pipeline.batchfile import Entry, MalformedBatchFileError, entries, scan
from openpush.settings import Settings

__all__ = ["EntryApplier", "file_depth", "run_batch"]

NewContext = Callable[[], RoundContext]
Commit = Callable[[RoundContext], None]


def file_depth(settings: Settings) -> int:
    """The nesting a batch file may have: an entry's ``max_json_depth``, plus its two wrappers."""
    return settings.max_json_depth + 2


def _chunks(values: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while chunk := list(islice(values, size)):
        yield chunk


def _reserved(value: dict[str, Any], name: str) -> Any:
    for key, item in value.items():
        if key.lower() == name:
            return item
    return None


class EntryApplier:
    """Turns entries of one batch into item operations."""

    def __init__(self, op: QueuedOperation, batch: Batch, source: Source) -> None:
        self.op = op
        self.batch = batch
        self.source = source

    def _op(
        self, kind: OperationKind, document_id: str, ordering_id: int | None
    ) -> QueuedOperation:
        op = self.op  # built directly: dataclasses.replace is slow, and this runs per entry
        return QueuedOperation(
            seq=op.seq,
            org_id=op.org_id,
            source_id=op.source_id,
            kind=kind,
            document_id=document_id,
            ordering_id=self.batch.ordering_id if ordering_id is None else ordering_id,
            payload={},
            request_id=self.batch.id,
            enqueued_at=op.enqueued_at,
            attempts=op.attempts,
        )

    def document_id(self, entry: Entry) -> str | None:
        value = entry.value
        if isinstance(value, dict):
            found = _reserved(value, "documentid")
            if isinstance(found, str):
                return found
        return None

    def apply(self, context: RoundContext, entry: Entry) -> LogResult:
        try:
            return self._apply(context, entry)
        except (InvalidRequestError, InvalidItemError) as exc:
            document_id = self.document_id(entry) or ""
            reason = f"{entry.section}[{entry.index}]: {exc.message}"
            op = self._op(OperationKind.ADD, document_id, None)
            context.log(op, document_id, LogResult.REJECTED, reason)
            if document_id:
                key = (op.org_id, op.source_id, document_id)
                context.note_outcome(key, LogResult.REJECTED, reason)
            return LogResult.REJECTED

    def _apply(self, context: RoundContext, entry: Entry) -> LogResult:
        section = entry.section
        if section == "delete":
            return self._delete(context, entry.value)
        if section == "partialUpdate":
            update = parse_partial_update(entry.value)
            op = self._op(OperationKind.UPDATE, update.document_id, None)
            return partial_update_item(context, op, self.source, update)
        item = item_from_object(entry.value)
        op = self._op(OperationKind.ADD, item.document_id, item.ordering_id)
        if self.batch.kind is BatchKind.STREAM_MERGE:
            return merge_item(context, op, self.source, item)
        return add_item(context, op, self.source, item)

    def _delete(self, context: RoundContext, value: Any) -> LogResult:
        if not isinstance(value, dict):
            raise InvalidItemError("a delete entry must be an object with a documentId")
        document_id = _reserved(value, "documentid")
        if not isinstance(document_id, str) or not document_id:
            raise InvalidItemError("a delete entry needs a non-empty documentId")
        children = _reserved(value, "deletechildren")
        if children is not None and not isinstance(children, bool):
            raise InvalidItemError("deleteChildren must be true or false")
        ordering = _reserved(value, "orderingid")
        op = self._op(
            OperationKind.DELETE, document_id, ordering if isinstance(ordering, int) else None
        )
        return delete_item(context, op, self.source, document_id, bool(children))


def run_batch(
    op: QueuedOperation,
    batch: Batch,
    source: Source,
    *,
    new_context: NewContext,
    commit: Commit,
    settle: Callable[[], None],
    chunk_size: int,
) -> None:
    """Apply ``batch`` from where it stopped; the last commit removes ``op`` from the queue.

    ``commit`` may return before the state transaction is durable (the next chunk is
    prepared meanwhile); ``settle`` waits for it.
    """
    applier = EntryApplier(op, batch, source)
    batch.state = BatchState.PROCESSING
    failures: list[str] = []
    for file_index in range(batch.file_index, len(batch.file_ids)):
        file_id = batch.file_ids[file_index]
        start = batch.entry_index if file_index == batch.file_index else 0
        try:
            _run_file(applier, file_id, start, new_context, commit, chunk_size)
        except (MalformedBatchFileError, FileContainerNotFoundError) as exc:
            failures.append(f"file {file_id}: {exc.message}")
            context = new_context()
            context.log(op, "", LogResult.ERROR, failures[-1], OperationKind.BATCH_FILE.value)
            context.commit.batches[batch.id] = dataclasses.replace(batch)
            commit(context)
        batch.file_index, batch.entry_index = file_index + 1, 0
    settle()  # the final step counts and lists live items: the store must be current
    _finish(applier, failures, new_context, commit)


def _run_file(
    applier: EntryApplier,
    file_id: str,
    start: int,
    new_context: NewContext,
    commit: Commit,
    chunk_size: int,
) -> None:
    batch, op = applier.batch, applier.op
    context = new_context()
    blobs = context.blobs
    if blobs is None or context.store.transfers.get_container(op.org_id, file_id) is None:
        raise FileContainerNotFoundError("the file container no longer exists")
    size = blobs.size(op.org_id, file_id)
    if size is None:
        if batch.kind is BatchKind.STREAM_LOAD:
            return  # a chunk container requested but never used (the JS client does this)
        raise FileContainerNotFoundError("nothing was uploaded to the file container")
    settings = context.settings_for(op.org_id)
    limit = settings.file_container_max_bytes
    if size > limit:
        raise MalformedBatchFileError(f"the file holds {size} bytes; the limit is {limit}")
    with blobs.open(op.org_id, file_id) as stream:
        found = scan(stream, batch.kind.sections, max_depth=file_depth(settings))
        if start == 0:
            batch.total += found.total
            if found.ignored_keys:
                names = ", ".join(found.ignored_keys)
                context.log(
                    op, "", LogResult.WARNING, f"file {file_id}: ignored keys {names}",
                    OperationKind.BATCH_FILE.value,
                )  # fmt: skip
        for chunk in _chunks(entries(stream, found, start=start), chunk_size):
            _apply_chunk(applier, context, chunk)
            batch.entry_index = chunk[-1].ordinal + 1
            batch.processed += len(chunk)
            context.commit.batches[batch.id] = dataclasses.replace(batch, counts=dict(batch.counts))
            commit(context)
            context = new_context()
    if context.commit.logs:
        commit(context)


def _apply_chunk(applier: EntryApplier, context: RoundContext, chunk: list[Entry]) -> None:
    op = applier.op
    context.prefetch(op.org_id, op.source_id, filter(None, map(applier.document_id, chunk)))
    for entry in chunk:
        _count(applier.batch, applier.apply(context, entry))


def _count(batch: Batch, result: LogResult) -> None:
    batch.counts[result.value] = batch.counts.get(result.value, 0) + 1


def _finish(
    applier: EntryApplier, failures: list[str], new_context: NewContext, commit: Commit
) -> None:
    batch, op, source = applier.batch, applier.op, applier.source
    context = new_context()
    if batch.kind is BatchKind.STREAM_LOAD:
        if failures:
            context.log(
                op, "", LogResult.ERROR,
                "the stream load is incomplete; items that were not streamed were kept",
                OperationKind.DELETE_OLDER_THAN.value,
            )  # fmt: skip
        else:
            load_op = dataclasses.replace(
                op, kind=OperationKind.DELETE_OLDER_THAN, request_id=batch.id
            )
            delete_older_than(
                context, load_op, source, batch.ordering_id,
                low_water=False, keep_all_safety=is_catalog(source),
            )  # fmt: skip
    batch.state = BatchState.FAILED if failures else BatchState.COMPLETED
    batch.error = "; ".join(failures)
    batch.finished_at = time.time()
    summary = ", ".join(f"{n} {result}" for result, n in sorted(batch.counts.items()))
    result = LogResult.ERROR if failures else LogResult.COMPLETED
    context.log(
        dataclasses.replace(op, request_id=batch.id), "", result,
        f"batch of {batch.processed} entries applied ({summary or 'empty'})"
        + (f"; {batch.error}" if failures else ""),
        OperationKind.BATCH_FILE.value,
    )  # fmt: skip
    context.commit.batches[batch.id] = batch
    for file_id in batch.file_ids:
        context.release_file(op.org_id, file_id)
    context.commit.done.append(op.seq)
    commit(context)
