"""The indexing worker: claim → decide → index → commit → acknowledge.

Each round claims up to ``worker_batch_size`` operations in arrival order and applies them to
the index with one commit; then one state-store transaction records item states, log
entries and the removal of the operations from the queue. If the process dies between the
two commits, the operations are claimed again at restart and re-applied with the same
decisions (the ordering checks read the state store, which did not move), so nothing
accepted is lost and nothing is applied twice.

``stop()`` is graceful: the worker finishes the round or the batch chunk it is applying,
commits it, and gives the rest of its claimed operations back to the queue without counting
the claim as an attempt. A batch stopped that way resumes at its next chunk on the next start.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from openpush import metrics
from openpush.blobs.base import BlobStore
from openpush.domain.operations import LogResult, OperationKind, QueuedOperation
from openpush.domain.transfers import BatchKind
from openpush.index.base import IndexWriter, SearchIndex
from openpush.pipeline.apply import RoundContext, apply_operation
from openpush.pipeline.batches import run_batch
from openpush.pipeline.identities import run_identity_batch
from openpush.pipeline.retry import RetryPolicy
from openpush.settings import Settings
from openpush.storage.base import StateStore

__all__ = ["Worker"]

log = logging.getLogger("openpush.worker")


class _Stopping(Exception):
    """Raised at a chunk boundary of a batch when the worker was asked to stop."""


class Worker:
    def __init__(
        self,
        store: StateStore,
        index: SearchIndex,
        settings: Settings,
        *,
        blobs: BlobStore | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._index = index
        self._settings = settings
        self._blobs = blobs
        self._next_sweep = 0.0
        self._pending: tuple[Future[None], RoundContext] | None = None
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="openpush-commit")
        self._writer = index.writer()
        self._retry = RetryPolicy()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_commit = on_commit
        self._tasks: queue.SimpleQueue[Callable[[IndexWriter], Any]] = queue.SimpleQueue()
        store.queue.release_claims()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="openpush-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the current round or batch chunk; False if the thread outlived ``timeout``.

        A worker that does not stop in time is left to die with the process: everything it
        had not committed is claimed again at the next start (see the module docstring).
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the worker did not stop within %.0fs; its round is redone", timeout)
                return False
        self._committer.shutdown(wait=True)
        return True

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """Started, its thread alive, and not asked to stop."""
        return self._thread is not None and self._thread.is_alive() and not self.stopping

    def wake(self) -> None:
        self._wake.set()

    def run_exclusive(self, task: Callable[[IndexWriter], Any]) -> None:
        """Run ``task`` with the index writer in the worker thread, before the next round."""
        self._tasks.put(task)
        self._wake.set()

    def _run_tasks(self) -> bool:
        ran = False
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            task(self._writer)
            ran = True
        if ran:
            self._writer.commit()
        return ran

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._maybe_sweep()
                done = self.run_once()
            except _Stopping:
                break
            except Exception:
                log.exception("pipeline round failed; its operations will be retried")
                self._store.queue.release_claims()
                done = 0
                self._stop.wait(1.0)
            if not done:
                self._wake.wait(self._settings.worker_poll_interval)
                self._wake.clear()
        try:  # index work handed over by requests (a source's deletion) is not left behind
            self._run_tasks()
        except Exception:
            log.exception("index tasks failed while stopping")

    # -- one round ----------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and apply one batch of operations; returns how many were claimed."""
        ran_tasks = self._run_tasks()
        operations = self._store.queue.claim(self._settings.worker_batch_size)
        if not operations:
            return int(ran_tasks)
        started = time.monotonic()
        context = self._context()
        for index, operation in enumerate(operations):
            if operation.kind is OperationKind.BATCH_FILE:
                self._commit(context)
                context = self._context()
                try:
                    self._run_batch(operation)
                except _Stopping:
                    self._store.queue.release([op.seq for op in operations[index:]])
                    self._log_stopped_batch(operation)
                    raise
            else:
                self._apply(operation, context)
        self._commit(context)
        metrics.record_applied(operations)
        log.debug("applied %d operations in %.3fs", len(operations), time.monotonic() - started)
        return len(operations)

    def _context(self) -> RoundContext:
        context = RoundContext(self._store, self._settings, self._blobs)
        if self._pending is not None:
            context.pending = self._pending[1].commit.items
            context.pending_identities = self._pending[1].commit.latest_identities
        return context

    def _commit(self, context: RoundContext) -> None:
        """Commit a round and wait until it is durable."""
        self._commit_async(context)
        self._settle()

    def _chunk_context(self) -> RoundContext:
        """A batch's next chunk (or final step) starts here; a stopping worker stops here.

        Every chunk before this point committed with the batch's position, so the batch
        resumes right after it at the next start, and nothing is applied twice.
        """
        if self._stop.is_set():
            raise _Stopping
        return self._context()

    def _commit_async(self, context: RoundContext) -> None:
        """Hand a round's index writes to the writer and commit in the background.

        A background thread commits the index (tantivy does its indexing work then, outside
        the GIL) and then the state transaction, while this thread decides and prepares the
        next round. The previous round is settled first, so the index is never more than one
        round ahead of the state store: after a crash, at most the last round is applied
        again (its upserts and deletes are idempotent; its logs were never committed).
        """
        self._settle()
        if not context.commit.done and not context.commit.logs and not context.index_changed:
            return
        try:
            context.apply_index_ops(self._writer)
        except Exception:
            self._rollback()
            raise
        self._pending = (self._committer.submit(self._finish_round, context), context)

    def _finish_round(self, context: RoundContext) -> None:
        if context.index_changed:
            self._writer.commit()
        self._store.queue.complete(context.commit)

    def _settle(self) -> None:
        """Wait for the round in flight; then delete the containers it used."""
        if self._pending is None:
            return
        future, context = self._pending
        self._pending = None
        try:
            future.result()
        except Exception:
            self._rollback()
            raise
        metrics.record_outcomes(context.commit.logs)
        if self._blobs is not None:
            for org_id, file_id in context.used_files:
                self._blobs.delete(org_id, file_id)
        if self._on_commit is not None:
            self._on_commit()

    def _run_batch(self, operation: QueuedOperation) -> None:
        batch_id = operation.payload.get("batch_id", "")
        batch = self._store.transfers.get_batch(operation.org_id, operation.source_id, batch_id)
        if batch is not None and batch.kind is BatchKind.IDENTITIES:
            provider = self._store.identities.get_provider(operation.org_id, operation.source_id)
            if provider is not None and not self._retry.exhausted(operation):
                try:
                    run_identity_batch(
                        operation,
                        batch,
                        provider,
                        new_context=self._chunk_context,
                        commit=self._commit_async,
                        settle=self._settle,
                        chunk_size=self._settings.batch_chunk_size,
                    )
                finally:
                    self._settle()
                return
        source = self._store.catalog.get_source(operation.org_id, operation.source_id)
        if batch is None or source is None or self._retry.exhausted(operation):
            context = self._context()
            reason = (
                self._retry.reason(operation)
                if batch is not None and source is not None
                else "the batch or its source no longer exists"
            )
            context.log(operation, "", LogResult.ERROR, reason)
            context.commit.done.append(operation.seq)
            self._commit(context)
            return
        try:
            run_batch(
                operation,
                batch,
                source,
                new_context=self._chunk_context,
                commit=self._commit_async,
                settle=self._settle,
                chunk_size=self._settings.batch_chunk_size,
            )
        finally:
            self._settle()

    def _log_stopped_batch(self, operation: QueuedOperation) -> None:
        batch_id = operation.payload.get("batch_id", "")
        batch = self._store.transfers.get_batch(operation.org_id, operation.source_id, batch_id)
        if batch is not None:
            log.warning(
                "stopped in the middle of batch %s after %d of %d entries;"
                " it resumes there at the next start",
                batch.id, batch.processed, batch.total,
            )  # fmt: skip

    # -- housekeeping -------------------------------------------------------------------

    SWEEP_INTERVAL = 60.0
    STREAM_LIFETIME = 24 * 3600.0

    def _maybe_sweep(self) -> None:
        now = time.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_INTERVAL
        try:
            self.sweep(now)
        except Exception:
            log.exception("container clean-up failed; it will run again")

    def sweep(self, now: float) -> None:
        """Delete expired unused containers, abandoned streams and orphaned blobs."""
        transfers = self._store.transfers
        keys = {(c.org_id, c.file_id) for c in transfers.stale_containers(now)}
        for stream in transfers.abandoned_streams(now - self.STREAM_LIFETIME):
            keys.update((stream.org_id, file_id) for file_id in stream.file_ids)
            transfers.drop_stream(stream)
        transfers.drop_containers(keys)
        if self._blobs is None:
            return
        for org_id, file_id in keys:
            self._blobs.delete(org_id, file_id)
        ttl = self._settings.file_container_ttl_seconds
        for org_id, file_id, modified in self._blobs.iter_stored():
            if modified < now - ttl and transfers.get_container(org_id, file_id) is None:
                self._blobs.delete(org_id, file_id)

    def _apply(self, operation: QueuedOperation, context: RoundContext) -> None:
        if self._retry.exhausted(operation):
            context.fail(operation, self._retry.reason(operation))
            return
        try:
            apply_operation(operation, context)
        except Exception as exc:
            log.exception("operation %s failed", operation.seq)
            context.fail(operation, f"internal error while applying the operation: {exc}")

    def _rollback(self) -> None:
        rollback = getattr(self._writer, "rollback", None)
        if rollback is not None:
            rollback()

    def drain(self, timeout: float = 30.0) -> None:
        """Apply operations until the queue holds none that are ready (tests, CLI)."""
        deadline = time.monotonic() + timeout
        while self.run_once():
            if time.monotonic() > deadline:
                raise TimeoutError("the queue did not drain in time")
