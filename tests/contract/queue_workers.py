"""A toy pipeline worker for the queue concurrency tests (run in threads and in processes).

Every operation appends its sequence number to the history of each item it touches: an
``item`` operation to its document, a ``source`` one (no documentId) to every item of its
source, an ``org`` one (an identity operation) to every item of the organization. It reads
the history from the store and writes it back in the round's commit, as the real pipeline
decides from the state store: an operation applied twice, lost, run beside another of its
lane, or out of order, shows in the histories.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from openpush.domain.operations import ItemState, LogEntry, LogResult, QueuedOperation
from openpush.storage.base import ItemRecord, PipelineCommit, StateStore

__all__ = ["apply_round", "run_worker", "targets"]


def targets(
    source_id: str, document_id: str | None, payload: dict[str, Any]
) -> list[tuple[str, str]]:
    """The items an operation touches: its own, or those its payload lists."""
    if "targets" in payload:
        return [(source, doc) for source, doc in payload["targets"]]
    assert document_id is not None
    return [(source_id, document_id)]


def apply_round(
    store: StateStore, ops: list[QueuedOperation], pause: float = 0.0
) -> PipelineCommit:
    commit = PipelineCommit()
    for op in ops:
        for source_id, document_id in targets(op.source_id, op.document_id, op.payload):
            key = (op.org_id, source_id, document_id)
            current = commit.items.get(key)
            if current is None:
                current = store.items.get_items(op.org_id, source_id, [document_id]).get(
                    document_id
                )
            history = list(current.record["history"]) if current and current.record else []
            commit.items[key] = ItemRecord(
                op.org_id, source_id, document_id, op.ordering_id, ItemState.INDEXED,
                {"history": [*history, op.seq]}, "COMPLETED", "", time.time(),
            )  # fmt: skip
        commit.logs.append(
            LogEntry(op.org_id, op.source_id, op.document_id or "", op.kind.value,
                     LogResult.COMPLETED, "", op.ordering_id, str(op.seq))
        )  # fmt: skip
        commit.done.append(op.seq)
    if pause:
        time.sleep(pause)  # let other workers claim meanwhile
    return commit


def run_worker(url: str, options: dict[str, Any], seed: int, die_after_rounds: int = 0) -> int:
    """Claim and apply until the queue is empty; returns the rounds applied.

    With ``die_after_rounds``, the process exits abruptly holding its next claims (a worker
    killed mid-round): another worker must claim them again once the lease lapses.
    """
    from openpush.storage.postgres import PostgresStateStore

    rng = random.Random(seed)
    store = PostgresStateStore(url, **options)
    rounds = idle = 0
    try:
        while idle < 50:
            ops = store.queue.claim(rng.randint(1, 25))
            if not ops:
                idle = idle + 1 if store.queue.depth() == 0 else 0
                time.sleep(0.02)
                continue
            idle = 0
            commit = apply_round(store, ops, pause=rng.random() * 0.01)
            if die_after_rounds and rounds == die_after_rounds:
                os._exit(3)
            store.queue.complete(commit)
            rounds += 1
    finally:
        store.close()
    return rounds
