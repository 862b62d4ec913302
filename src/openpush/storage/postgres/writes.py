"""What one pipeline round changes, written inside the round's transaction."""

from __future__ import annotations

import uuid

import orjson

from openpush.storage.base import PipelineCommit
from openpush.storage.postgres.batches import save_batch
from openpush.storage.postgres.catalog import set_low_water
from openpush.storage.postgres.database import Connection, nul_free
from openpush.storage.postgres.identities import write_identity_changes

__all__ = ["write_commit"]


def write_commit(conn: Connection, commit: PipelineCommit) -> None:
    """Item states, logs, shapes, batches, identities, waiting items, containers, low water.

    Rows are written in key order, so two rounds touching the same rows (a shape, an
    organization's identity version) lock them in the same order and cannot deadlock.
    """
    cur = conn.cursor()
    items = sorted(commit.items.values(), key=lambda i: (i.org_id, i.source_id, i.document_id))
    if items:
        cur.executemany(
            "INSERT INTO items (org_id, source_id, document_id, ordering_id, state, record,"
            " last_result, last_reason, updated_at) VALUES (%s,%s,%s,%s::numeric,%s,%s,%s,%s,%s)"
            " ON CONFLICT (org_id, source_id, document_id) DO UPDATE SET"
            " ordering_id = excluded.ordering_id, state = excluded.state,"
            " record = excluded.record, last_result = excluded.last_result,"
            " last_reason = excluded.last_reason, updated_at = excluded.updated_at",
            [
                (
                    i.org_id,
                    i.source_id,
                    nul_free(i.document_id),
                    i.ordering_id,
                    i.state.value,
                    orjson.dumps(i.record) if i.record is not None else None,
                    i.last_result,
                    nul_free(i.last_reason),
                    i.updated_at,
                )
                for i in items
            ],
        )
    if commit.logs:
        cur.executemany(
            "INSERT INTO logs (guid, org_id, source_id, document_id, operation, result, task,"
            " reason, ordering_id, request_id, created_at, meta)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::numeric,%s,%s,%s)",
            [
                (
                    str(uuid.uuid4()),
                    e.org_id,
                    e.source_id,
                    nul_free(e.document_id),
                    e.operation,
                    e.result.value,
                    e.task,
                    nul_free(e.reason),
                    e.ordering_id,
                    e.request_id,
                    e.created_at,
                    orjson.dumps(e.meta).decode(),
                )
                for e in commit.logs
            ],
        )
    if commit.shapes:
        cur.executemany(
            "INSERT INTO acl_shapes (org_id, shape) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            sorted(commit.shapes),
        )
    for batch in sorted(commit.batches.values(), key=lambda b: b.id):
        save_batch(conn, batch)
    write_identity_changes(conn, commit.identities)
    if commit.waiting:
        cur.executemany(
            "INSERT INTO waiting_items (org_id, provider, name_key, source_id, document_id)"
            " VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            sorted(
                {(o, k.provider, nul_free(k.name), s, nul_free(d)) for o, k, s, d in commit.waiting}
            ),
        )
    if commit.released:
        cur.executemany(
            "DELETE FROM waiting_items WHERE org_id = %s AND provider = %s AND name_key = %s",
            sorted({(o, k.provider, nul_free(k.name)) for o, k in commit.released}),
        )
    if commit.dropped_containers:
        cur.executemany(
            "DELETE FROM containers WHERE org_id = %s AND file_id = %s",
            sorted(commit.dropped_containers),
        )
    for (org_id, source_id), low in sorted(commit.low_water.items()):
        set_low_water(conn, org_id, source_id, low)
