"""File containers, batches and streams in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import orjson

from openpush.domain.operations import ordering_key
from openpush.domain.transfers import (
    Batch,
    ContainerState,
    FileContainer,
    Stream,
    StreamState,
)
from openpush.errors import FileContainerNotFoundError, StreamNotFoundError
from openpush.storage.base import NewOperation
from openpush.storage.rows import container_from_row, stream_from_row
from openpush.storage.sqlite.batches import load_batch, save_batch
from openpush.storage.sqlite.database import SqliteDatabase
from openpush.storage.sqlite.queue import SqliteQueue

__all__ = ["SqliteTransfers"]


def _container(row: sqlite3.Row) -> FileContainer:
    return container_from_row(row)


def _stream(row: sqlite3.Row) -> Stream:
    return stream_from_row(row, int(row["ordering_key"]))


def _insert_container(conn: sqlite3.Connection, c: FileContainer) -> None:
    conn.execute(
        "INSERT INTO containers (org_id, file_id, created_at, expires_at, state, holder)"
        " VALUES (?,?,?,?,?,?)",
        (c.org_id, c.file_id, c.created_at, c.expires_at, c.state.value, c.holder),
    )


class SqliteTransfers:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # -- containers ---------------------------------------------------------------------

    def create_container(self, container: FileContainer) -> None:
        self._db.write(lambda c: _insert_container(c, container))

    def get_container(self, org_id: str, file_id: str) -> FileContainer | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM containers WHERE org_id = ? AND file_id = ?", (org_id, file_id)
            ).fetchone()
        )
        return _container(row) if row else None

    def stale_containers(self, now: float) -> list[FileContainer]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM containers WHERE state = ? AND holder = '' AND expires_at < ?",
                (ContainerState.OPEN.value, now),
            ).fetchall()
        )
        return [_container(r) for r in rows]

    def drop_containers(self, keys: Iterable[tuple[str, str]]) -> None:
        rows = list(keys)
        if rows:
            self._db.write(
                lambda c: c.executemany(
                    "DELETE FROM containers WHERE org_id = ? AND file_id = ?", rows
                )
            )

    @staticmethod
    def _hold(
        conn: sqlite3.Connection, org_id: str, file_ids: Sequence[str], holder: str, now: float
    ) -> None:
        for file_id in file_ids:
            cur = conn.execute(
                "UPDATE containers SET state = ?, holder = ? WHERE org_id = ? AND file_id = ?"
                " AND state = ? AND expires_at >= ?",
                (
                    ContainerState.HELD.value,
                    holder,
                    org_id,
                    file_id,
                    ContainerState.OPEN.value,
                    now,
                ),
            )
            if cur.rowcount != 1:
                raise FileContainerNotFoundError(
                    f"file container {file_id!r} does not exist, expired or was already used"
                )

    async def asubmit(
        self,
        operation: NewOperation,
        *,
        hold_files: Sequence[str] = (),
        batch: Batch | None = None,
        close_stream: str | None = None,
        now: float,
    ) -> None:
        rows = SqliteQueue.rows([operation])
        holder = batch.id if batch is not None else operation.request_id

        def submit(conn: sqlite3.Connection) -> None:
            if close_stream is not None:
                cur = conn.execute(
                    "UPDATE streams SET state = ?, closed_at = ? WHERE id = ? AND org_id = ?"
                    " AND source_id = ? AND state = ?",
                    (
                        StreamState.CLOSED.value,
                        now,
                        close_stream,
                        operation.org_id,
                        operation.source_id,
                        StreamState.OPEN.value,
                    ),
                )
                if cur.rowcount != 1:
                    raise StreamNotFoundError(f"stream {close_stream!r} is not open")
                conn.execute(
                    "UPDATE containers SET state = ?, holder = ? WHERE org_id = ? AND holder = ?",
                    (ContainerState.HELD.value, holder, operation.org_id, close_stream),
                )
            self._hold(conn, operation.org_id, hold_files, holder, now)
            if batch is not None:
                save_batch(conn, batch)
            SqliteQueue.insert(conn, rows)

        await self._db.awrite(submit)

    # -- batches ------------------------------------------------------------------------

    def get_batch(self, org_id: str, source_id: str, batch_id: str) -> Batch | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM batches WHERE id = ? AND org_id = ? AND source_id = ?",
                (batch_id, org_id, source_id),
            ).fetchone()
        )
        return load_batch(row) if row else None

    # -- streams ------------------------------------------------------------------------

    def create_stream(self, stream: Stream, first: FileContainer) -> None:
        def create(conn: sqlite3.Connection) -> None:
            _insert_container(conn, first)
            conn.execute(
                "INSERT INTO streams (id, org_id, source_id, ordering_key, file_ids, state,"
                " created_at) VALUES (?,?,?,?,?,?,?)",
                (
                    stream.id,
                    stream.org_id,
                    stream.source_id,
                    ordering_key(stream.ordering_id),
                    orjson.dumps([first.file_id]).decode(),
                    StreamState.OPEN.value,
                    stream.created_at,
                ),
            )

        self._db.write(create)
        stream.file_ids = [first.file_id]

    def add_stream_chunk(self, stream: Stream, container: FileContainer) -> None:
        def add(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT file_ids FROM streams WHERE id = ? AND org_id = ? AND source_id = ?"
                " AND state = ?",
                (stream.id, stream.org_id, stream.source_id, StreamState.OPEN.value),
            ).fetchone()
            if row is None:
                raise StreamNotFoundError(f"stream {stream.id!r} is not open")
            files = [*orjson.loads(row["file_ids"]), container.file_id]
            _insert_container(conn, container)
            conn.execute(
                "UPDATE streams SET file_ids = ? WHERE id = ?",
                (orjson.dumps(files).decode(), stream.id),
            )

        self._db.write(add)

    def get_stream(self, org_id: str, source_id: str, stream_id: str) -> Stream | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM streams WHERE id = ? AND org_id = ? AND source_id = ?",
                (stream_id, org_id, source_id),
            ).fetchone()
        )
        return _stream(row) if row else None

    def abandoned_streams(self, opened_before: float) -> list[Stream]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM streams WHERE state = ? AND created_at < ?",
                (StreamState.OPEN.value, opened_before),
            ).fetchall()
        )
        return [_stream(r) for r in rows]

    def drop_stream(self, stream: Stream) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM streams WHERE id = ?", (stream.id,))
            conn.executemany(
                "DELETE FROM containers WHERE org_id = ? AND file_id = ?",
                [(stream.org_id, f) for f in stream.file_ids],
            )

        self._db.write(drop)
