"""The TransferStore contract: file containers, batches (submitted and advanced) and streams."""

from __future__ import annotations

import pytest

from openpush.domain.operations import OperationKind
from openpush.domain.transfers import (
    Batch,
    BatchKind,
    BatchState,
    ContainerState,
    FileContainer,
    Stream,
    StreamState,
)
from openpush.errors import FileContainerNotFoundError, StreamNotFoundError
from openpush.storage.base import NewOperation, PipelineCommit, StateStore
from tests.contract.conftest import new_op

NOW = 1_000.0


def container(file_id: str, *, expires_at: float = NOW + 60, holder: str = "") -> FileContainer:
    return FileContainer("acme", file_id, created_at=NOW, expires_at=expires_at, holder=holder)


def batch(batch_id: str = "b1", files: tuple[str, ...] = ("f1",)) -> Batch:
    return Batch(batch_id, "acme", "docs", BatchKind.DOCUMENTS, list(files), 10**25, created_at=NOW)


def batch_op(batch_id: str = "b1") -> NewOperation:
    return new_op(
        None, kind=OperationKind.BATCH_FILE, payload={"batch_id": batch_id}, request_id=batch_id
    )


def test_containers_are_created_read_and_dropped(store: StateStore) -> None:
    store.transfers.create_container(container("f1"))
    store.transfers.create_container(container("f2", expires_at=NOW - 1))
    store.transfers.create_container(container("f3", expires_at=NOW - 1, holder="stream"))
    assert store.transfers.get_container("acme", "f1") == container("f1")
    assert store.transfers.get_container("globex", "f1") is None
    assert [c.file_id for c in store.transfers.stale_containers(NOW)] == ["f2"]
    store.transfers.drop_containers([("acme", "f1"), ("acme", "f2"), ("acme", "missing")])
    store.transfers.drop_containers([])
    assert store.transfers.get_container("acme", "f1") is None
    assert store.transfers.get_container("acme", "f3") is not None


async def test_a_submit_holds_its_containers_records_its_batch_and_enqueues(
    store: StateStore,
) -> None:
    store.transfers.create_container(container("f1"))
    await store.transfers.asubmit(batch_op(), hold_files=["f1"], batch=batch(), now=NOW)
    held = store.transfers.get_container("acme", "f1")
    assert held is not None and (held.state, held.holder) == (ContainerState.HELD, "b1")
    recorded = store.transfers.get_batch("acme", "docs", "b1")
    assert recorded == batch()
    assert store.transfers.get_batch("acme", "wiki", "b1") is None
    [operation] = store.queue.claim(10)
    assert (operation.kind, operation.payload, operation.document_id) == (
        OperationKind.BATCH_FILE,
        {"batch_id": "b1"},
        None,
    )


@pytest.mark.parametrize("problem", ["missing", "expired", "held"])
async def test_a_submit_with_an_unusable_container_changes_nothing(
    store: StateStore, problem: str
) -> None:
    store.transfers.create_container(container("ok"))
    if problem == "expired":
        store.transfers.create_container(container("bad", expires_at=NOW - 1))
    elif problem == "held":
        store.transfers.create_container(container("bad"))
        await store.transfers.asubmit(new_op("https://x/0"), hold_files=["bad"], now=NOW)
        store.queue.complete(PipelineCommit(done=[op.seq for op in store.queue.claim(10)]))
    with pytest.raises(FileContainerNotFoundError):
        await store.transfers.asubmit(
            batch_op(),
            hold_files=["ok", "bad"],
            batch=batch(files=("ok", "bad")),
            now=NOW,
        )
    kept = store.transfers.get_container("acme", "ok")
    assert kept is not None and kept.state is ContainerState.OPEN
    assert store.transfers.get_batch("acme", "docs", "b1") is None
    assert store.queue.depth() == 0


def test_the_pipeline_commit_advances_a_batch_and_drops_its_containers(store: StateStore) -> None:
    store.transfers.create_container(container("f1"))
    progressed = batch()
    progressed.state = BatchState.COMPLETED
    progressed.total = progressed.processed = 3
    progressed.file_index, progressed.entry_index = 1, 0
    progressed.counts = {"COMPLETED": 2, "REJECTED": 1}
    progressed.finished_at = NOW + 5
    store.queue.complete(
        PipelineCommit(batches={"b1": progressed}, dropped_containers={("acme", "f1")})
    )
    assert store.transfers.get_batch("acme", "docs", "b1") == progressed
    assert store.transfers.get_container("acme", "f1") is None


async def test_streams_collect_chunks_until_closed(store: StateStore) -> None:
    stream = Stream("s1", "acme", "docs", ordering_id=77, created_at=NOW)
    store.transfers.create_stream(stream, container("c1", holder="s1"))
    assert stream.file_ids == ["c1"]
    store.transfers.add_stream_chunk(stream, container("c2", holder="s1"))
    opened = store.transfers.get_stream("acme", "docs", "s1")
    assert opened is not None
    assert (opened.file_ids, opened.state, opened.ordering_id) == (
        ["c1", "c2"],
        StreamState.OPEN,
        77,
    )
    assert store.transfers.get_stream("acme", "wiki", "s1") is None
    load = Batch("b9", "acme", "docs", BatchKind.STREAM_LOAD, ["c1", "c2"], 77, stream_id="s1")
    await store.transfers.asubmit(batch_op("b9"), batch=load, close_stream="s1", now=NOW + 1)
    closed = store.transfers.get_stream("acme", "docs", "s1")
    assert closed is not None and (closed.state, closed.closed_at) == (StreamState.CLOSED, NOW + 1)
    for file_id in ("c1", "c2"):
        held = store.transfers.get_container("acme", file_id)
        assert held is not None and (held.state, held.holder) == (ContainerState.HELD, "b9")
    with pytest.raises(StreamNotFoundError):
        store.transfers.add_stream_chunk(stream, container("c3", holder="s1"))
    with pytest.raises(StreamNotFoundError):
        await store.transfers.asubmit(
            batch_op("b10"), batch=batch("b10"), close_stream="s1", now=NOW
        )
    assert store.queue.depth() == 1


def test_abandoned_streams_are_found_and_dropped_with_their_containers(store: StateStore) -> None:
    old = Stream("old", "acme", "docs", ordering_id=1, created_at=NOW - 100)
    new = Stream("new", "acme", "docs", ordering_id=2, created_at=NOW)
    store.transfers.create_stream(old, container("o1", holder="old"))
    store.transfers.create_stream(new, container("n1", holder="new"))
    store.transfers.add_stream_chunk(old, container("o2", holder="old"))
    [abandoned] = store.transfers.abandoned_streams(NOW - 50)
    assert (abandoned.id, abandoned.file_ids) == ("old", ["o1", "o2"])
    store.transfers.drop_stream(abandoned)
    assert store.transfers.get_stream("acme", "docs", "old") is None
    assert store.transfers.get_container("acme", "o1") is None
    assert store.transfers.get_container("acme", "o2") is None
    assert store.transfers.get_container("acme", "n1") is not None
