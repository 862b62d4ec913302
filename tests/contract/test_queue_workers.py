"""Several workers on one PostgreSQL queue: lanes, leases, take-overs, and a concurrency run.

The SQLite queue has one worker per data directory, so these run on PostgreSQL only.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openpush.domain.operations import OperationKind
from openpush.domain.organizations import Organization
from openpush.errors import StorageError
from openpush.storage.base import NewOperation, PipelineCommit
from tests.contract.conftest import commit_items, item, new_op
from tests.contract.queue_workers import apply_round, run_worker, targets
from tests.pgserver import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def open_store(url: str) -> Iterator[Any]:
    from openpush.storage.postgres import PostgresStateStore

    stores: list[PostgresStateStore] = []

    def make(**options: Any) -> PostgresStateStore:
        store = PostgresStateStore(url, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def seqs(ops: list[Any]) -> list[int]:
    return [op.seq for op in ops]


def done(store: Any, ops: list[Any]) -> None:
    store.queue.complete(PipelineCommit(done=seqs(ops)))


def test_a_worker_never_overtakes_another_on_the_same_item(open_store: Any) -> None:
    a, b = open_store(), open_store()
    x1, x2, y1 = a.queue.enqueue([new_op("https://x"), new_op("https://x"), new_op("https://y")])
    assert seqs(a.queue.claim(1)) == [x1]
    assert seqs(b.queue.claim(10)) == [y1]  # x2 waits for x1
    assert b.queue.claim(10) == []
    a.queue.complete(PipelineCommit(done=[x1]))
    assert seqs(b.queue.claim(10)) == [x2]


def test_one_worker_takes_an_items_operations_together(open_store: Any) -> None:
    a, b = open_store(), open_store()
    queued = a.queue.enqueue([new_op("https://x", ordering_id=n) for n in range(5)])
    assert seqs(a.queue.claim(3)) == queued[:3]
    assert b.queue.claim(10) == []  # the rest of x waits for a's round


def test_a_source_operation_waits_for_and_holds_back_its_source(open_store: Any) -> None:
    a, b = open_store(), open_store()
    item_x, older_than, item_y, wiki = a.queue.enqueue(
        [
            new_op("https://x"),
            new_op(None, kind=OperationKind.DELETE_OLDER_THAN),
            new_op("https://y"),
            new_op("https://z", source="wiki"),
        ]
    )
    assert seqs(a.queue.claim(1)) == [item_x]
    assert seqs(b.queue.claim(10)) == [wiki]  # docs waits: item x, then the delete
    a.queue.complete(PipelineCommit(done=[item_x]))
    assert seqs(b.queue.claim(1)) == [older_than]
    assert a.queue.claim(10) == []  # item y comes after the delete
    b.queue.complete(PipelineCommit(done=[older_than]))
    assert seqs(a.queue.claim(10)) == [item_y]


def test_a_claim_takes_one_batch_file_and_leaves_the_next_to_another_worker(
    open_store: Any,
) -> None:
    a, b = open_store(), open_store()
    docs_file, wiki_file, docs_after, wiki_item = a.queue.enqueue(
        [
            new_op(None, kind=OperationKind.BATCH_FILE),
            new_op(None, source="wiki", kind=OperationKind.BATCH_FILE),
            new_op("https://x"),
            new_op("https://w", source="wiki"),
        ]
    )
    # a takes docs' file (and what follows it in docs), not wiki's file too
    assert seqs(a.queue.claim(10)) == [docs_file, docs_after]
    assert seqs(b.queue.claim(10)) == [wiki_file, wiki_item]


def test_identity_operations_hold_back_their_organization(open_store: Any) -> None:
    a, b = open_store(), open_store()
    a.catalog.create_organization(Organization("globex", "Globex"))
    identity, acme_item, globex_item = a.queue.enqueue(
        [
            new_op("alice", source="ldap", kind=OperationKind.IDENTITY_UPDATE),
            new_op("https://x"),
            new_op("https://x", org="globex"),
        ]
    )
    assert seqs(a.queue.claim(1)) == [identity]
    assert seqs(b.queue.claim(10)) == [globex_item]
    a.queue.complete(PipelineCommit(done=[identity]))
    assert seqs(b.queue.claim(10)) == [acme_item]


async def test_an_identity_batch_is_an_organization_operation(open_store: Any) -> None:
    from openpush.domain.transfers import Batch, BatchKind

    a, b = open_store(), open_store()
    batch = Batch("b1", "acme", "ldap", BatchKind.IDENTITIES, [], 1)
    op = new_op(None, source="ldap", kind=OperationKind.BATCH_FILE, payload={"batch_id": "b1"})
    await a.transfers.asubmit(op, batch=batch, now=time.time())
    a.queue.enqueue([new_op("https://x")])
    assert len(a.queue.claim(1)) == 1
    assert b.queue.claim(10) == []


def test_a_delayed_operation_holds_nothing_back_until_due(open_store: Any) -> None:
    a = open_store()
    delayed, later = a.queue.enqueue(
        [new_op(None, kind=OperationKind.DELETE_OLDER_THAN, delay_seconds=0.5), new_op("https://x")]
    )
    assert seqs(a.queue.claim(10)) == [later]
    time.sleep(0.6)
    assert a.queue.claim(10) == []  # due now, but must not run beside the item in flight
    a.queue.complete(PipelineCommit(done=[later]))
    assert seqs(a.queue.claim(10)) == [delayed]


def test_a_dead_workers_claims_lapse_and_are_claimed_again(open_store: Any) -> None:
    dead, alive = open_store(lease_seconds=0.5), open_store()
    queued = dead.queue.enqueue([new_op("https://x"), new_op("https://x"), new_op("https://y")])
    assert seqs(dead.queue.claim(2)) == queued[:2]
    dead.close()  # killed: no release, no more heartbeats
    assert seqs(alive.queue.claim(10)) == [queued[2]]
    time.sleep(0.7)
    again = alive.queue.claim(10)
    assert [(op.seq, op.attempts) for op in again] == [(queued[0], 2), (queued[1], 2)]


def test_heartbeats_keep_a_slow_workers_claims(open_store: Any) -> None:
    slow, other = open_store(lease_seconds=0.6, heartbeat_seconds=0.1), open_store()
    queued = slow.queue.enqueue([new_op("https://x")])
    slow.queue.claim(1)
    time.sleep(1.5)
    assert other.queue.claim(10) == []
    commit_items(slow, item("https://x"), done=queued)
    assert slow.queue.depth() == 0


def test_a_worker_that_lost_its_claims_cannot_commit(open_store: Any) -> None:
    stalled = open_store(lease_seconds=0.4, heartbeat_seconds=3600)
    other = open_store()
    queued = stalled.queue.enqueue([new_op("https://x"), new_op("https://y")])
    stalled_ops = stalled.queue.claim(2)
    time.sleep(0.5)
    taken = other.queue.claim(10)
    assert seqs(taken) == queued
    with pytest.raises(StorageError, match="no longer claimed by this worker"):
        commit_items(stalled, item("https://x"), done=seqs(stalled_ops))
    assert stalled.items.get_items("acme", "docs", ["https://x"]) == {}
    stalled.queue.release_claims()  # what the worker does after a failed round
    assert stalled.queue.claim(10) == []
    commit_items(other, item("https://x"), done=seqs(taken))
    assert other.queue.depth() == 0


def test_renew_does_not_revive_a_lapsed_lease(open_store: Any) -> None:
    stalled = open_store(lease_seconds=0.3, heartbeat_seconds=3600)
    stalled.queue.enqueue([new_op("https://x")])
    stalled.queue.claim(1)
    assert stalled.queue.renew() == 1
    time.sleep(0.4)
    assert stalled.queue.renew() == 0


# -- many workers at once ---------------------------------------------------------------

SOURCES = ("docs", "wiki")
DOCS = [f"https://x/{n}" for n in range(12)]


def _workload() -> list[NewOperation]:
    """Item operations on a few items, with source and organization operations among them."""
    targets = [[s, d] for s in SOURCES for d in DOCS]
    ops: list[NewOperation] = []
    for round_ in range(12):
        for source in SOURCES:
            ops.extend(new_op(doc, source=source, ordering_id=round_) for doc in DOCS)
            if round_ % 4 == 1:
                ops.append(
                    new_op(
                        None,
                        source=source,
                        kind=OperationKind.DELETE_OLDER_THAN,
                        payload={"targets": [t for t in targets if t[0] == source]},
                    )
                )
        if round_ % 6 == 3:
            ops.append(
                new_op(
                    "alice", source="ldap", kind=OperationKind.IDENTITY_UPDATE,
                    payload={"targets": targets},
                )
            )  # fmt: skip
    return ops


def _check_histories(store: Any, ops: list[NewOperation], seqs_: list[int]) -> None:
    """Each item's history is exactly the operations touching it, in arrival order."""
    expected: dict[tuple[str, str], list[int]] = {}
    for op, seq in zip(ops, seqs_, strict=True):
        for source, doc in targets(op.source_id, op.document_id, op.payload):
            expected.setdefault((source, doc), []).append(seq)
    for source in SOURCES:
        found = store.items.get_items("acme", source, DOCS)
        for doc in DOCS:
            assert found[doc].record["history"] == expected[(source, doc)], (source, doc)
    assert store.queue.depth() == 0


def _seed_ops() -> list[NewOperation]:
    return [new_op(d, source=s) for s in SOURCES for d in DOCS]


def _seed(store: Any) -> list[int]:
    """Every item exists before the run (source and organization operations touch them all)."""
    seeded = store.queue.enqueue(_seed_ops())
    store.queue.complete(apply_round(store, store.queue.claim(1000)))
    return seeded


def test_threads_apply_every_operation_once_and_in_order(open_store: Any) -> None:
    main = open_store()
    seeded = _seed(main)
    ops = _workload()
    half = len(ops) // 2
    seqs_ = main.queue.enqueue(ops[:half])
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            run_worker(main.db.url, {"lease_seconds": 5.0}, seed)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for op in ops[half:]:  # enqueue the rest while the workers claim
        seqs_.extend(main.queue.enqueue([op]))
    for worker in workers:
        worker.join(120)
    assert not errors, errors
    _check_histories(main, _seed_ops() + ops, seeded + seqs_)


def test_processes_apply_every_operation_once_even_when_one_dies(open_store: Any) -> None:
    main = open_store()
    seeded = _seed(main)
    ops = _workload()
    seqs_ = main.queue.enqueue(ops)
    context = multiprocessing.get_context("spawn")
    options = {"lease_seconds": 1.0}
    processes = [
        context.Process(target=run_worker, args=(main.db.url, options, n, 2 if n == 0 else 0))
        for n in range(3)
    ]
    # The first runs alone until it dies holding claims (started together, the others could
    # drain the queue before it reached its third round); the other two then share the rest,
    # the dead one's claims included once their lease lapses.
    processes[0].start()
    processes[0].join(120)
    for process in processes[1:]:
        process.start()
    for process in processes[1:]:
        process.join(120)
    assert [p.exitcode for p in processes] == [3, 0, 0]
    assert main.queue.depth() == 0
    _check_histories(main, _seed_ops() + ops, seeded + seqs_)
    logged = main.logs.query("acme", _all_logs())[0]
    assert len({e.request_id for e in logged}) == len(logged)  # one log entry per operation


def _all_logs() -> Any:
    from openpush.storage.base import LogQuery

    return LogQuery(0.0, 1e12, per_page=100_000)
