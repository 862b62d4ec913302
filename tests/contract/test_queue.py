"""The OperationQueue contract as one worker sees it (several workers: test_queue_workers.py)."""

from __future__ import annotations

import pytest

from openpush.domain.operations import (
    MAX_ORDERING_ID,
    ItemState,
    LogEntry,
    LogResult,
    OperationKind,
)
from openpush.errors import StorageError
from openpush.storage.base import PipelineCommit, StateStore
from tests.contract.conftest import MakeStore, commit_items, item, new_op


def test_operations_are_claimed_once_in_arrival_order(store: StateStore) -> None:
    seqs = store.queue.enqueue([new_op(f"https://x/{n}", ordering_id=n) for n in range(5)])
    assert seqs == sorted(seqs)
    first = store.queue.claim(3)
    assert [op.seq for op in first] == seqs[:3]
    assert [op.document_id for op in first] == ["https://x/0", "https://x/1", "https://x/2"]
    assert [op.seq for op in store.queue.claim(10)] == seqs[3:]
    assert store.queue.claim(10) == []


def test_an_operation_round_trips(store: StateStore) -> None:
    store.queue.enqueue(
        [
            new_op(
                "https://x/é",
                kind=OperationKind.ADD_BY_REFERENCE,
                ordering_id=MAX_ORDERING_ID,
                payload={"title": "ü", "nested": {"list": [1, 2.5, None, True]}},
                request_id="r-1",
            )
        ]
    )
    [op] = store.queue.claim(1)
    assert (op.org_id, op.source_id, op.kind, op.document_id) == (
        "acme",
        "docs",
        OperationKind.ADD_BY_REFERENCE,
        "https://x/é",
    )
    assert op.ordering_id == MAX_ORDERING_ID
    assert op.payload == {"title": "ü", "nested": {"list": [1, 2.5, None, True]}}
    assert (op.request_id, op.attempts) == ("r-1", 1)
    assert op.enqueued_at > 0


async def test_async_enqueue(store: StateStore) -> None:
    [seq] = await store.queue.aenqueue([new_op()])
    assert [op.seq for op in store.queue.claim(5)] == [seq]


def test_completing_applies_the_round_and_removes_its_operations(store: StateStore) -> None:
    store.queue.enqueue([new_op("https://x/1"), new_op("https://x/2")])
    assert store.queue.pending_state("acme", "docs", "https://x/1") is ItemState.ACCEPTED
    claimed = store.queue.claim(1)
    assert store.queue.pending_state("acme", "docs", "https://x/1") is ItemState.PROCESSING
    assert store.queue.depth() == 2
    commit_items(store, item("https://x/1"), done=[op.seq for op in claimed])
    assert store.queue.pending_state("acme", "docs", "https://x/1") is None
    assert store.queue.pending_state("acme", "docs", "https://x/2") is ItemState.ACCEPTED
    assert store.queue.depth() == 1
    assert store.items.count_live("acme", "docs") == 1


def test_complete_async_resolves_once_durable(store: StateStore) -> None:
    store.queue.enqueue([new_op()])
    claimed = store.queue.claim(1)
    future = store.queue.complete_async(PipelineCommit(done=[op.seq for op in claimed]))
    assert future.result(timeout=30) is None
    assert store.queue.depth() == 0


def test_a_round_can_enqueue_follow_up_operations(store: StateStore) -> None:
    store.queue.enqueue([new_op("https://x/1")])
    claimed = store.queue.claim(1)
    store.queue.complete(
        PipelineCommit(done=[claimed[0].seq], enqueue=[new_op("https://x/1", ordering_id=2)])
    )
    [again] = store.queue.claim(5)
    assert (again.document_id, again.ordering_id, again.attempts) == ("https://x/1", 2, 1)
    assert again.seq > claimed[0].seq


def test_a_failed_round_changes_nothing(store: StateStore) -> None:
    store.queue.enqueue([new_op("https://x/1")])
    claimed = store.queue.claim(1)
    broken = LogEntry(None, "docs", "x", "ADD", LogResult.COMPLETED, "", 1, "r")  # type: ignore[arg-type]
    commit = PipelineCommit(done=[claimed[0].seq], logs=[broken])
    commit.items[("acme", "docs", "https://x/1")] = item("https://x/1")
    with pytest.raises(StorageError):
        store.queue.complete(commit)
    assert store.queue.depth() == 1
    assert store.items.get_items("acme", "docs", ["https://x/1"]) == {}
    store.queue.release_claims()
    assert [op.attempts for op in store.queue.claim(1)] == [2]


def test_release_gives_operations_back_without_counting_an_attempt(store: StateStore) -> None:
    store.queue.enqueue([new_op("https://x/1"), new_op("https://x/2")])
    first, second = store.queue.claim(2)
    store.queue.release([first.seq, second.seq])
    again = store.queue.claim(2)
    assert [(op.seq, op.attempts) for op in again] == [(first.seq, 1), (second.seq, 1)]


def test_release_claims_after_a_restart_counts_the_attempt(make_store: MakeStore) -> None:
    store = make_store()
    store.queue.enqueue([new_op("https://x/1")])
    store.queue.claim(1)
    store.queue.release_claims()
    [op] = store.queue.claim(1)
    assert op.attempts == 2


def test_delayed_operations_wait_without_holding_others_back(store: StateStore) -> None:
    store.queue.enqueue(
        [
            new_op(None, kind=OperationKind.DELETE_OLDER_THAN, delay_seconds=3600),
            new_op("https://x/1"),
        ]
    )
    [op] = store.queue.claim(10)
    assert op.document_id == "https://x/1"
    assert store.queue.depth() == 2
    assert store.queue.pending_state("acme", "docs", "https://x/1") is ItemState.PROCESSING


def test_a_reopened_store_sees_the_queue(make_store: MakeStore) -> None:
    first = make_store()
    first.queue.enqueue([new_op("https://x/1")])
    second = make_store()
    assert second.queue.depth() == 1
    assert [op.document_id for op in second.queue.claim(1)] == ["https://x/1"]
