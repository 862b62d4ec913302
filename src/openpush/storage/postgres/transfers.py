"""File containers, batches and streams in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from openpush.domain.transfers import Batch, ContainerState, FileContainer, Stream, StreamState
from openpush.errors import FileContainerNotFoundError, StreamNotFoundError
from openpush.storage.base import NewOperation
from openpush.storage.postgres.batches import load_batch, save_batch
from openpush.storage.postgres.database import Connection, PostgresDatabase
from openpush.storage.postgres.queue import insert_operations
from openpush.storage.rows import container_from_row, stream_from_row

__all__ = ["PostgresTransfers"]

Row = dict[str, Any]


def _container(row: Row) -> FileContainer:
    return container_from_row(row)


def _stream(row: Row) -> Stream:
    return stream_from_row(row, int(row["ordering_id"]))


def _insert_container(conn: Connection, c: FileContainer) -> None:
    conn.execute(
        "INSERT INTO containers (org_id, file_id, created_at, expires_at, state, holder)"
        " VALUES (%s,%s,%s,%s,%s,%s)",
        (c.org_id, c.file_id, c.created_at, c.expires_at, c.state.value, c.holder),
    )


def _hold(conn: Connection, org_id: str, file_ids: Sequence[str], holder: str, now: float) -> None:
    for file_id in file_ids:
        cur = conn.execute(
            "UPDATE containers SET state = %s, holder = %s WHERE org_id = %s AND file_id = %s"
            " AND state = %s AND expires_at >= %s",
            (ContainerState.HELD.value, holder, org_id, file_id, ContainerState.OPEN.value, now),
        )
        if cur.rowcount != 1:
            raise FileContainerNotFoundError(
                f"file container {file_id!r} does not exist, expired or was already used"
            )


def _close_stream(
    conn: Connection, operation: NewOperation, stream_id: str, holder: str, now: float
) -> None:
    cur = conn.execute(
        "UPDATE streams SET state = %s, closed_at = %s WHERE id = %s AND org_id = %s"
        " AND source_id = %s AND state = %s",
        (
            StreamState.CLOSED.value,
            now,
            stream_id,
            operation.org_id,
            operation.source_id,
            StreamState.OPEN.value,
        ),
    )
    if cur.rowcount != 1:
        raise StreamNotFoundError(f"stream {stream_id!r} is not open")
    conn.execute(
        "UPDATE containers SET state = %s, holder = %s WHERE org_id = %s AND holder = %s",
        (ContainerState.HELD.value, holder, operation.org_id, stream_id),
    )


class PostgresTransfers:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    # -- containers ---------------------------------------------------------------------

    def create_container(self, container: FileContainer) -> None:
        self._db.write(lambda c: _insert_container(c, container))

    def get_container(self, org_id: str, file_id: str) -> FileContainer | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM containers WHERE org_id = %s AND file_id = %s", (org_id, file_id)
            ).fetchone()
        )
        return _container(row) if row else None

    def stale_containers(self, now: float) -> list[FileContainer]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM containers WHERE state = %s AND holder = '' AND expires_at < %s",
                (ContainerState.OPEN.value, now),
            ).fetchall()
        )
        return [_container(r) for r in rows]

    def drop_containers(self, keys: Iterable[tuple[str, str]]) -> None:
        rows = sorted(set(keys))
        if rows:
            self._db.write(
                lambda c: c.cursor().executemany(
                    "DELETE FROM containers WHERE org_id = %s AND file_id = %s", rows
                )
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
        holder = batch.id if batch is not None else operation.request_id

        def submit(conn: Connection) -> None:
            if close_stream is not None:
                _close_stream(conn, operation, close_stream, holder, now)
            _hold(conn, operation.org_id, hold_files, holder, now)
            if batch is not None:
                save_batch(conn, batch)
            insert_operations(conn, [operation], batch)

        await self._db.awrite(submit)

    # -- batches ------------------------------------------------------------------------

    def get_batch(self, org_id: str, source_id: str, batch_id: str) -> Batch | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM batches WHERE id = %s AND org_id = %s AND source_id = %s",
                (batch_id, org_id, source_id),
            ).fetchone()
        )
        return load_batch(row) if row else None

    # -- streams ------------------------------------------------------------------------

    def create_stream(self, stream: Stream, first: FileContainer) -> None:
        def create(conn: Connection) -> None:
            _insert_container(conn, first)
            conn.execute(
                "INSERT INTO streams (id, org_id, source_id, ordering_id, file_ids, state,"
                " created_at) VALUES (%s,%s,%s,%s::numeric,%s,%s,%s)",
                (
                    stream.id,
                    stream.org_id,
                    stream.source_id,
                    stream.ordering_id,
                    orjson.dumps([first.file_id]).decode(),
                    StreamState.OPEN.value,
                    stream.created_at,
                ),
            )

        self._db.write(create)
        stream.file_ids = [first.file_id]

    def add_stream_chunk(self, stream: Stream, container: FileContainer) -> None:
        def add(conn: Connection) -> None:
            row = conn.execute(
                "SELECT file_ids FROM streams WHERE id = %s AND org_id = %s AND source_id = %s"
                " AND state = %s FOR UPDATE",
                (stream.id, stream.org_id, stream.source_id, StreamState.OPEN.value),
            ).fetchone()
            if row is None:
                raise StreamNotFoundError(f"stream {stream.id!r} is not open")
            files = [*orjson.loads(row["file_ids"]), container.file_id]
            _insert_container(conn, container)
            conn.execute(
                "UPDATE streams SET file_ids = %s WHERE id = %s",
                (orjson.dumps(files).decode(), stream.id),
            )

        self._db.write(add)

    def get_stream(self, org_id: str, source_id: str, stream_id: str) -> Stream | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM streams WHERE id = %s AND org_id = %s AND source_id = %s",
                (stream_id, org_id, source_id),
            ).fetchone()
        )
        return _stream(row) if row else None

    def abandoned_streams(self, opened_before: float) -> list[Stream]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM streams WHERE state = %s AND created_at < %s",
                (StreamState.OPEN.value, opened_before),
            ).fetchall()
        )
        return [_stream(r) for r in rows]

    def drop_stream(self, stream: Stream) -> None:
        def drop(conn: Connection) -> None:
            conn.execute("DELETE FROM streams WHERE id = %s", (stream.id,))
            conn.execute(
                "DELETE FROM containers WHERE org_id = %s AND file_id = ANY(%s)",
                (stream.org_id, list(stream.file_ids)),
            )

        self._db.write(drop)
