"""Batch rows, shared by the transfer store and the pipeline commit."""

from __future__ import annotations

import sqlite3

import orjson

from openpush.domain.operations import ordering_key
from openpush.domain.transfers import Batch
from openpush.storage.rows import batch_from_row

__all__ = ["load_batch", "save_batch"]


def load_batch(row: sqlite3.Row) -> Batch:
    return batch_from_row(row, int(row["ordering_key"]))


def save_batch(conn: sqlite3.Connection, b: Batch) -> None:
    """Insert or update a batch row (used by the queue's pipeline commit too)."""
    conn.execute(
        "INSERT INTO batches (id, org_id, source_id, kind, file_ids, ordering_key, state, total,"
        " processed, file_index, entry_index, counts, error, stream_id, created_at, finished_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
        " state=excluded.state, total=excluded.total, processed=excluded.processed,"
        " file_index=excluded.file_index, entry_index=excluded.entry_index,"
        " counts=excluded.counts, error=excluded.error, finished_at=excluded.finished_at",
        (
            b.id,
            b.org_id,
            b.source_id,
            b.kind.value,
            orjson.dumps(b.file_ids).decode(),
            ordering_key(b.ordering_id),
            b.state.value,
            b.total,
            b.processed,
            b.file_index,
            b.entry_index,
            orjson.dumps(b.counts).decode(),
            b.error,
            b.stream_id,
            b.created_at,
            b.finished_at,
        ),
    )
