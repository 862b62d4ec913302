"""The durable operation queue, item state and logs in SQLite.

An operation is committed to ``operations`` before its push call answers 202. The pipeline
claims operations in arrival order and, once they are applied to the index, commits their
item states, their log entries and their removal from the queue in one transaction
(:meth:`SqliteQueue.complete`). A crash between the index commit and that transaction leaves
the operations in the queue; applying them again gives the same result.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future

import orjson

from openpush.domain.operations import (
    ItemState,
    LogEntry,
    OperationKind,
    QueuedOperation,
    ordering_key,
)
from openpush.storage.base import ItemRecord, LogQuery, NewOperation, PipelineCommit
from openpush.storage.rows import item_from_row, log_from_row
from openpush.storage.sqlite.batches import save_batch
from openpush.storage.sqlite.catalog import SqliteCatalog
from openpush.storage.sqlite.database import SqliteDatabase
from openpush.storage.sqlite.identities import write_identity_changes

__all__ = ["SqliteItemStore", "SqliteLogStore", "SqliteQueue"]

_MAX_VARS = 500


def _chunks(values: Sequence[str], size: int = _MAX_VARS) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _item(row: sqlite3.Row) -> ItemRecord:
    return item_from_row(row, int(row["ordering_key"]))


def _log(row: sqlite3.Row) -> LogEntry:
    return log_from_row(row, int(row["ordering_key"]))


class SqliteQueue:
    def __init__(self, db: SqliteDatabase, catalog: SqliteCatalog) -> None:
        self._db = db
        self._catalog = catalog

    @staticmethod
    def rows(operations: Sequence[NewOperation]) -> list[tuple[object, ...]]:
        now = time.time()
        return [
            (
                op.org_id,
                op.source_id,
                op.kind.value,
                op.document_id,
                ordering_key(op.ordering_id),
                orjson.dumps(op.payload),
                op.request_id,
                now,
                now + op.delay_seconds,
            )
            for op in operations
        ]

    @staticmethod
    def insert(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[int]:
        seqs = []
        for row in rows:
            cur = conn.execute(
                "INSERT INTO operations (org_id, source_id, kind, document_id, ordering_key,"
                " payload, request_id, enqueued_at, available_at) VALUES (?,?,?,?,?,?,?,?,?)",
                row,
            )
            seqs.append(int(cur.lastrowid or 0))
        return seqs

    def enqueue(self, operations: Sequence[NewOperation]) -> list[int]:
        rows = self.rows(operations)
        return self._db.write(lambda c: self.insert(c, rows))

    async def aenqueue(self, operations: Sequence[NewOperation]) -> list[int]:
        rows = self.rows(operations)
        return await self._db.awrite(lambda c: self.insert(c, rows))

    def claim(self, limit: int) -> list[QueuedOperation]:
        def claim(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(
                "UPDATE operations SET claimed = 1, attempts = attempts + 1 WHERE seq IN"
                " (SELECT seq FROM operations WHERE claimed = 0 AND available_at <= ?"
                "  ORDER BY seq LIMIT ?) RETURNING *",
                (time.time(), limit),
            ).fetchall()

        rows = sorted(self._db.write(claim), key=lambda r: r["seq"])
        return [
            QueuedOperation(
                seq=r["seq"],
                org_id=r["org_id"],
                source_id=r["source_id"],
                kind=OperationKind(r["kind"]),
                document_id=r["document_id"],
                ordering_id=int(r["ordering_key"]),
                payload=orjson.loads(r["payload"]),
                request_id=r["request_id"],
                enqueued_at=r["enqueued_at"],
                attempts=r["attempts"],
            )
            for r in rows
        ]

    def release_claims(self) -> None:
        """Make every claimed operation claimable again (the worker restarted)."""
        self._db.write(lambda c: c.execute("UPDATE operations SET claimed = 0 WHERE claimed = 1"))

    def release(self, seqs: Sequence[int]) -> None:
        rows = [(seq,) for seq in seqs]
        self._db.write(
            lambda c: c.executemany(
                "UPDATE operations SET claimed = 0, attempts = max(attempts - 1, 0)"
                " WHERE seq = ? AND claimed = 1",
                rows,
            )
        )

    def complete(self, commit: PipelineCommit) -> None:
        self.complete_async(commit).result()

    def complete_async(self, commit: PipelineCommit) -> Future[None]:
        def apply(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO items (org_id, source_id, document_id, ordering_key, state, record,"
                " last_result, last_reason, updated_at) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(org_id, source_id, document_id) DO UPDATE SET"
                " ordering_key=excluded.ordering_key, state=excluded.state,"
                " record=excluded.record, last_result=excluded.last_result,"
                " last_reason=excluded.last_reason, updated_at=excluded.updated_at",
                [
                    (
                        i.org_id,
                        i.source_id,
                        i.document_id,
                        ordering_key(i.ordering_id),
                        i.state.value,
                        orjson.dumps(i.record) if i.record is not None else None,
                        i.last_result,
                        i.last_reason,
                        i.updated_at,
                    )
                    for i in commit.items.values()
                ],
            )
            conn.executemany(
                "INSERT INTO logs (guid, org_id, source_id, document_id, operation, result, task,"
                " reason, ordering_key, request_id, created_at, meta)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        str(uuid.uuid4()),
                        e.org_id,
                        e.source_id,
                        e.document_id,
                        e.operation,
                        e.result.value,
                        e.task,
                        e.reason,
                        ordering_key(e.ordering_id),
                        e.request_id,
                        e.created_at,
                        orjson.dumps(e.meta).decode(),
                    )
                    for e in commit.logs
                ],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO acl_shapes (org_id, shape) VALUES (?, ?)",
                sorted(commit.shapes),
            )
            for batch in commit.batches.values():
                save_batch(conn, batch)
            write_identity_changes(conn, commit.identities)
            conn.executemany(
                "INSERT OR IGNORE INTO waiting_items (org_id, provider, name_key, source_id,"
                " document_id) VALUES (?,?,?,?,?)",
                [(o, k.provider, k.name, s, d) for o, k, s, d in commit.waiting],
            )
            conn.executemany(
                "DELETE FROM waiting_items WHERE org_id = ? AND provider = ? AND name_key = ?",
                [(o, k.provider, k.name) for o, k in commit.released],
            )
            if commit.enqueue:
                self.insert(conn, self.rows(commit.enqueue))
            conn.executemany(
                "DELETE FROM containers WHERE org_id = ? AND file_id = ?",
                sorted(commit.dropped_containers),
            )
            for (org_id, source_id), low in commit.low_water.items():
                self._catalog.set_low_water(conn, org_id, source_id, low)
            conn.executemany(
                "DELETE FROM operations WHERE seq = ?", [(seq,) for seq in commit.done]
            )

        return self._db.submit(apply)

    def pending_state(self, org_id: str, source_id: str, document_id: str) -> ItemState | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT max(claimed) AS claimed, count(*) AS n FROM operations"
                " WHERE org_id = ? AND source_id = ? AND document_id = ?",
                (org_id, source_id, document_id),
            ).fetchone()
        )
        if not row or not row["n"]:
            return None
        return ItemState.PROCESSING if row["claimed"] else ItemState.ACCEPTED

    def depth(self) -> int:
        return int(
            self._db.read(lambda c: c.execute("SELECT count(*) FROM operations").fetchone()[0])
        )


class SqliteItemStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get_items(
        self, org_id: str, source_id: str, document_ids: Iterable[str]
    ) -> dict[str, ItemRecord]:
        ids = list(dict.fromkeys(document_ids))
        found: dict[str, ItemRecord] = {}

        def select(conn: sqlite3.Connection) -> None:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT * FROM items WHERE org_id = ? AND source_id = ?"  # noqa: S608
                    f" AND document_id IN ({marks})",
                    (org_id, source_id, *chunk),
                ):
                    found[row["document_id"]] = _item(row)

        self._db.read(select)
        return found

    def live_with_prefix(self, org_id: str, source_id: str, prefix: str) -> list[ItemRecord]:
        """Live items whose documentId starts with ``prefix`` (compared byte for byte)."""
        upper = prefix + "\U0010ffff"
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM items WHERE org_id = ? AND source_id = ? AND document_id >= ?"
                " AND document_id < ? AND state = 'indexed'",
                (org_id, source_id, prefix, upper),
            ).fetchall()
        )
        return [_item(r) for r in rows if r["document_id"].startswith(prefix)]

    def live_older_than(self, org_id: str, source_id: str, ordering_id: int) -> list[ItemRecord]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM items WHERE org_id = ? AND source_id = ? AND ordering_key < ?"
                " AND state = 'indexed'",
                (org_id, source_id, ordering_key(ordering_id)),
            ).fetchall()
        )
        return [_item(r) for r in rows]

    def max_ordering_id(self, org_id: str, source_id: str) -> int:
        def select(conn: sqlite3.Connection) -> int:
            values = [
                conn.execute(
                    f"SELECT max(ordering_key) FROM {table}"  # noqa: S608
                    " WHERE org_id = ? AND source_id = ?",
                    (org_id, source_id),
                ).fetchone()[0]
                for table in ("items", "operations")
            ]
            return max((int(v) for v in values if v), default=0)

        return self._db.read(select)

    def count_live(self, org_id: str, source_id: str) -> int:
        return int(
            self._db.read(
                lambda c: c.execute(
                    "SELECT count(*) FROM items WHERE org_id = ? AND source_id = ?"
                    " AND state = 'indexed'",
                    (org_id, source_id),
                ).fetchone()[0]
            )
        )

    def acl_shapes(self, org_id: str) -> list[str]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT shape FROM acl_shapes WHERE org_id = ? ORDER BY shape", (org_id,)
            ).fetchall()
        )
        return [r["shape"] for r in rows]

    def purge_source(self, org_id: str, source_id: str) -> None:
        def purge(conn: sqlite3.Connection) -> None:
            for table in ("items", "operations"):
                conn.execute(
                    f"DELETE FROM {table} WHERE org_id = ? AND source_id = ?",  # noqa: S608
                    (org_id, source_id),
                )

        self._db.write(purge)


class SqliteLogStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def query(self, org_id: str, query: LogQuery) -> tuple[list[LogEntry], bool]:
        # For one request's entries, "+" keeps the planner off the time index: the request
        # index (org_id, request_id, id) is far more selective.
        time_column = "+created_at" if query.request_id else "created_at"
        clauses = ["org_id = ?", f"{time_column} >= ?", f"{time_column} <= ?"]
        params: list[object] = [org_id, query.from_time, query.to_time]
        for column, values, negate in (
            ("source_id", query.source_ids, False),
            ("operation", query.operations, False),
            ("result", query.results, False),
            ("task", query.tasks, False),
            ("source_id", query.exclude_source_ids, True),
            ("operation", query.exclude_operations, True),
            ("result", query.exclude_results, True),
            ("task", query.exclude_tasks, True),
        ):
            if values:
                marks = ",".join("?" * len(values))
                clauses.append(f"{column} {'NOT IN' if negate else 'IN'} ({marks})")
                params.extend(values)
        if query.request_id:
            clauses.append("request_id = ?")
            params.append(query.request_id)
        if query.document_id:
            if query.document_id_matching == "EXACT":
                clauses.append("document_id = ?")
                params.append(query.document_id)
            elif query.document_id_matching == "PARTIAL":
                clauses.append("instr(document_id, ?) > 0")
                params.append(query.document_id)
            else:
                clauses.append("document_id GLOB ?")
                params.append(query.document_id)
        # One request's entries (a batch) are found through logs_request; ids grow with time.
        order = "id DESC" if query.request_id else "created_at DESC, id DESC"
        sql = (
            f"SELECT * FROM logs WHERE {' AND '.join(clauses)}"  # noqa: S608
            f" ORDER BY {order} LIMIT ? OFFSET ?"
        )
        params.extend([query.per_page + 1, query.page * query.per_page])
        rows = self._db.read(lambda c: c.execute(sql, params).fetchall())
        entries = [_log(r) for r in rows[: query.per_page]]
        return entries, len(rows) > query.per_page

    def last_for(self, org_id: str, source_id: str, document_id: str) -> LogEntry | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM logs WHERE org_id = ? AND source_id = ? AND document_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (org_id, source_id, document_id),
            ).fetchone()
        )
        return _log(row) if row else None
