"""The durable operation queue on PostgreSQL, shared by workers in several processes.

It keeps the single SQLite worker's guarantees when many workers claim at once:

- **Once.** A worker owns what it claimed (``claimed_by``) while its lease lies ahead; a
  heartbeat thread renews the leases of a live worker. The claimed operations leave the
  queue only in the transaction that records their outcome (:meth:`PostgresQueue.complete`),
  and that transaction first checks, under row locks, that the worker still owns every
  claim it holds: a worker whose lease lapsed and was claimed again by another rolls back.
- **In order.** Operations that touch the same thing are applied in arrival order and never
  side by side. Each operation has a scope: ``item`` (one documentId of one source),
  ``source`` (delete-older-than, batch files) or ``org`` (identity operations: items'
  permissions read identities). A claim skips every operation that overlaps one claimed by
  a live worker, or one that arrived earlier and is ready but not part of this claim; a
  delayed operation (``queueDelay``) holds nothing back until it is due, as in SQLite.
- **Shared.** A claim takes at most one batch file: a batch file is minutes of work, and the
  next one (of another source, or an identity batch of another organization) goes to the
  next worker that asks rather than waiting behind it.
- **Crash-safe.** A killed worker's claims lapse with its lease and are claimed again, the
  attempt counted.

Claims take an exclusive advisory lock and enqueues a shared one, so a claim never runs
beside an enqueue that has drawn a sequence number but not committed: the queue a claim sees
is a prefix of arrival order, never one with a hole that fills in later. A claim is short
(a few indexed statements), so an enqueue seldom waits more than milliseconds. Rows are still locked
``FOR UPDATE SKIP LOCKED``, which keeps a claim off operations that are being completed or
released at that moment.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from openpush.domain.operations import ItemState, OperationKind, QueuedOperation
from openpush.domain.transfers import Batch, BatchKind
from openpush.errors import StorageError
from openpush.storage.base import NewOperation, PipelineCommit
from openpush.storage.postgres.database import Connection, PostgresDatabase, nul_free
from openpush.storage.postgres.writes import write_commit

__all__ = ["CLAIM_LOCK", "PostgresQueue", "insert_operations", "scope_of"]

log = logging.getLogger("openpush.storage.postgres")

Row = dict[str, Any]

#: pg_advisory_xact_lock key: exclusive for a claim, shared for an enqueue ("openpush").
CLAIM_LOCK = 0x6F70656E70757368
#: How many windows of ``limit`` ready operations one claim looks through.
_WINDOWS = 4
_NOW = "SELECT extract(epoch FROM clock_timestamp())::float8 AS now"
# Operations claimed by a live worker: they hold back everything they overlap.
_IN_FLIGHT = (
    "SELECT seq, org_id, source_id, scope, document_id, kind FROM operations"
    " WHERE claimed_by IS NOT NULL AND lease_until >= %s"
)
# The next ``limit`` ready operations after a sequence number, locked for this claim.
_WINDOW = (
    "SELECT seq, org_id, source_id, scope, document_id, kind FROM operations"
    " WHERE seq > %s AND available_at <= %s AND (claimed_by IS NULL OR lease_until < %s)"
    " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED"
)
# Ready operations of the same stretch that another transaction holds locked.
_LOCKED_ELSEWHERE = (
    "SELECT seq, org_id, source_id, scope, document_id, kind FROM operations"
    " WHERE seq > %s AND seq <= %s AND available_at <= %s"
    " AND (claimed_by IS NULL OR lease_until < %s) AND NOT (seq = ANY(%s))"
)


def scope_of(operation: NewOperation, batch: Batch | None = None) -> str:
    """What ``operation`` must not overtake or run beside (see the module docstring)."""
    if operation.kind.is_identity or (batch is not None and batch.kind is BatchKind.IDENTITIES):
        return "org"
    return "source" if operation.document_id is None else "item"


def insert_operations(
    conn: Connection, operations: Sequence[NewOperation], batch: Batch | None = None
) -> list[int]:
    """Append ``operations`` to the queue inside the caller's transaction."""
    if not operations:
        return []
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (CLAIM_LOCK,))
    rows = [
        (
            op.org_id,
            op.source_id,
            op.kind.value,
            scope_of(op, batch),
            None if op.document_id is None else nul_free(op.document_id),
            op.ordering_id,
            orjson.dumps(op.payload),
            op.request_id,
            op.delay_seconds,
        )
        for op in operations
    ]
    # times from the database server's clock, like the leases the claims compare them with
    sql = (
        "INSERT INTO operations (org_id, source_id, kind, scope, document_id, ordering_id,"
        " payload, request_id, enqueued_at, available_at)"
        " SELECT %s,%s,%s,%s,%s,%s::numeric,%s,%s, now, now + %s::float8"
        " FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS t"
        " RETURNING seq"
    )
    cur = conn.cursor()
    if len(rows) == 1:
        return [cur.execute(sql, rows[0]).fetchone()["seq"]]  # type: ignore[index]
    cur.executemany(sql, rows, returning=True)
    seqs = []
    while True:
        seqs.append(cur.fetchone()["seq"])  # type: ignore[index]
        if not cur.nextset():
            return seqs


class _Blockers:
    """The lanes a claim must leave alone, by scope (see ``overlaps`` in the docstring)."""

    def __init__(self) -> None:
        self.orgs: set[str] = set()  # an org-scope operation: the whole organization
        self.any_in_org: set[str] = set()
        self.sources: set[tuple[str, str]] = set()  # a source-scope one: the whole source
        self.any_in_source: set[tuple[str, str]] = set()
        self.items: set[tuple[str, str, str | None]] = set()

    def add(self, row: Row) -> None:
        org, source = row["org_id"], (row["org_id"], row["source_id"])
        self.any_in_org.add(org)
        self.any_in_source.add(source)
        if row["scope"] == "org":
            self.orgs.add(org)
        elif row["scope"] == "source":
            self.sources.add(source)
        else:
            self.items.add((*source, row["document_id"]))

    def block(self, row: Row) -> bool:
        org, source = row["org_id"], (row["org_id"], row["source_id"])
        if org in self.orgs:
            return True
        if row["scope"] == "org":
            return org in self.any_in_org
        if source in self.sources:
            return True
        if row["scope"] == "source":
            return source in self.any_in_source
        return (*source, row["document_id"]) in self.items


def _claimable(conn: Connection, limit: int, now: float) -> list[int]:
    """The operations this claim may take, in order, locked until the claim commits."""
    blockers = _Blockers()
    for row in conn.execute(_IN_FLIGHT, (now,)):
        blockers.add(row)
    chosen: list[int] = []
    files = 0  # batch files chosen: at most one, so that other workers get the next ones
    after = 0
    for _ in range(_WINDOWS):
        window = conn.execute(_WINDOW, (after, now, now, limit)).fetchall()
        if not window:
            break
        mine = [r["seq"] for r in window]
        taken = set(mine)
        others = conn.execute(_LOCKED_ELSEWHERE, (after, mine[-1], now, now, mine)).fetchall()
        for row in sorted((*window, *others), key=lambda r: r["seq"]):
            is_file = row["kind"] == OperationKind.BATCH_FILE.value
            if (
                row["seq"] in taken
                and not blockers.block(row)
                and len(chosen) < limit
                and not (is_file and files)
            ):
                chosen.append(row["seq"])
                files += is_file
            else:
                blockers.add(row)
        if len(chosen) >= limit or len(window) < limit:
            break
        after = mine[-1]
    return chosen


def _queued(row: Row) -> QueuedOperation:
    return QueuedOperation(
        seq=row["seq"],
        org_id=row["org_id"],
        source_id=row["source_id"],
        kind=OperationKind(row["kind"]),
        document_id=row["document_id"],
        ordering_id=int(row["ordering_id"]),
        payload=orjson.loads(row["payload"]),
        request_id=row["request_id"],
        enqueued_at=row["enqueued_at"],
        attempts=row["attempts"],
    )


class _Claims:
    """The sequence numbers this store holds claimed, shared by the worker and heartbeat."""

    def __init__(self) -> None:
        self._seqs: set[int] = set()
        self._lock = threading.Lock()

    def add(self, seqs: Iterable[int]) -> None:
        with self._lock:
            self._seqs.update(seqs)

    def discard(self, seqs: Iterable[int]) -> None:
        with self._lock:
            self._seqs.difference_update(seqs)

    def clear(self) -> None:
        with self._lock:
            self._seqs.clear()

    def snapshot(self) -> list[int]:
        with self._lock:
            return sorted(self._seqs)


class PostgresQueue:
    """One claimer: a store instance is one worker.

    Its id, ``claimer``, is ``host:pid:random``: what an operator reads in the
    ``operations.claimed_by`` column to tell which process holds a claim.
    """

    def __init__(
        self,
        db: PostgresDatabase,
        *,
        lease_seconds: float = 60.0,
        heartbeat_seconds: float | None = None,
    ) -> None:
        self._db = db
        self.claimer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or lease_seconds / 4
        self._claims = _Claims()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._committer: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def enqueue(self, operations: Sequence[NewOperation]) -> list[int]:
        return self._db.write(lambda c: insert_operations(c, operations))

    async def aenqueue(self, operations: Sequence[NewOperation]) -> list[int]:
        return await self._db.awrite(lambda c: insert_operations(c, operations))

    def claim(self, limit: int) -> list[QueuedOperation]:
        def claim(conn: Connection) -> list[Row]:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK,))
            now = conn.execute(_NOW).fetchone()["now"]  # type: ignore[index]
            chosen = _claimable(conn, limit, now)
            if not chosen:
                return []
            return conn.execute(
                "UPDATE operations SET claimed_by = %s, lease_until = %s,"
                " attempts = attempts + 1 WHERE seq = ANY(%s) RETURNING *",
                (self.claimer, now + self.lease_seconds, chosen),
            ).fetchall()

        rows = sorted(self._db.write(claim), key=lambda r: r["seq"])
        if rows:
            self._claims.add(r["seq"] for r in rows)
            self._start_heartbeat()
        return [_queued(r) for r in rows]

    def release_claims(self) -> None:
        """Give back every claim of this store (its worker restarts or failed a round).

        Other workers' claims are theirs: a dead worker's lapse with their lease. So do this
        worker's when the database cannot be reached (the worker calls this after a failed
        round): it stops renewing them, and they lapse.
        """
        self._claims.clear()
        try:
            self._db.write(
                lambda c: c.execute(
                    "UPDATE operations SET claimed_by = NULL, lease_until = NULL"
                    " WHERE claimed_by = %s",
                    (self.claimer,),
                )
            )
        except StorageError:
            log.warning("could not release the claims of %s; they lapse", self.claimer)

    def release(self, seqs: Sequence[int]) -> None:
        self._db.write(
            lambda c: c.execute(
                "UPDATE operations SET claimed_by = NULL, lease_until = NULL,"
                " attempts = greatest(attempts - 1, 0) WHERE seq = ANY(%s) AND claimed_by = %s",
                (list(seqs), self.claimer),
            )
        )
        self._claims.discard(seqs)

    def complete(self, commit: PipelineCommit) -> None:
        held = self._claims.snapshot()

        def apply(conn: Connection) -> None:
            self._check_claims(conn, held)
            with conn.pipeline():  # statements stream to the server, no round trip each
                write_commit(conn, commit)
                if commit.enqueue:
                    insert_operations(conn, commit.enqueue)
                if commit.done:
                    conn.execute("DELETE FROM operations WHERE seq = ANY(%s)", (commit.done,))

        self._db.write(apply)
        self._claims.discard(commit.done)

    def complete_async(self, commit: PipelineCommit) -> Future[None]:
        with self._lock:
            if self._committer is None:
                self._committer = ThreadPoolExecutor(1, thread_name_prefix="openpush-pg-commit")
        return self._committer.submit(self.complete, commit)

    def _check_claims(self, conn: Connection, held: list[int]) -> None:
        """Lock this worker's claims; fail if another worker took any over (lease lapsed)."""
        if not held:
            return
        rows = conn.execute(
            "SELECT seq FROM operations WHERE seq = ANY(%s) AND claimed_by = %s FOR UPDATE",
            (held, self.claimer),
        ).fetchall()
        lost = sorted(set(held) - {r["seq"] for r in rows})
        if lost:
            self._claims.discard(lost)
            raise StorageError(
                f"operations {lost[:10]} are no longer claimed by this worker (its lease of "
                f"{self.lease_seconds:.0f}s lapsed and another worker claimed them, or they "
                "were deleted with their source): this round is rolled back"
            )

    def pending_state(self, org_id: str, source_id: str, document_id: str) -> ItemState | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT count(*) AS n, bool_or(claimed_by IS NOT NULL AND lease_until >="
                " extract(epoch FROM clock_timestamp())) AS claimed FROM operations"
                " WHERE org_id = %s AND source_id = %s AND document_id = %s",
                (org_id, source_id, document_id),
            ).fetchone()
        )
        if not row or not row["n"]:
            return None
        return ItemState.PROCESSING if row["claimed"] else ItemState.ACCEPTED

    def depth(self) -> int:
        row = self._db.read(lambda c: c.execute("SELECT count(*) AS n FROM operations").fetchone())
        return int(row["n"]) if row else 0

    # -- leases -------------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is not None or self._stop.is_set():
                return
            self._heartbeat = threading.Thread(
                target=self._beat, name="openpush-pg-heartbeat", daemon=True
            )
            self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.renew()
            except Exception:  # a missed beat is retried: the lease has slack
                log.warning("could not renew the queue leases of %s", self.claimer, exc_info=True)

    def renew(self) -> int:
        """Extend the leases this worker still holds (a lapsed one is not revived)."""
        if not self._claims.snapshot():
            return 0
        return self._db.write(
            lambda c: (
                c.execute(
                    "UPDATE operations SET lease_until = extract(epoch FROM clock_timestamp())"
                    " + %s WHERE claimed_by = %s"
                    " AND lease_until >= extract(epoch FROM clock_timestamp())",
                    (self.lease_seconds, self.claimer),
                ).rowcount
            )
        )

    def close(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        if self._committer is not None:
            self._committer.shutdown(wait=True)
