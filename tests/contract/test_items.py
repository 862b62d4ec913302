"""The ItemStore contract: item states written by the pipeline commit, and their reads."""

from __future__ import annotations

from openpush.domain.operations import MAX_ORDERING_ID, ItemState, LogEntry, LogResult
from openpush.storage.base import StateStore
from tests.contract.conftest import commit_items, item, new_op


def test_items_are_upserted_and_read_back_whole(store: StateStore) -> None:
    commit_items(store, item("https://x/1", ordering_id=5, record={"title": "v1", "n": [1, 2]}))
    commit_items(store, item("https://x/1", ordering_id=7, record={"title": "v2"}))
    found = store.items.get_items("acme", "docs", ["https://x/1", "https://x/1", "https://x/2"])
    assert list(found) == ["https://x/1"]
    record = found["https://x/1"]
    assert (record.ordering_id, record.state, record.record) == (
        7,
        ItemState.INDEXED,
        {"title": "v2"},
    )
    assert (record.org_id, record.source_id, record.last_result) == ("acme", "docs", "COMPLETED")
    assert store.items.get_items("acme", "wiki", ["https://x/1"]) == {}
    assert store.items.get_items("globex", "docs", ["https://x/1"]) == {}
    assert store.items.get_items("acme", "docs", []) == {}


def test_many_items_are_read_in_one_call(store: StateStore) -> None:
    ids = [f"https://x/{n}" for n in range(1500)]
    commit_items(store, *(item(i) for i in ids))
    assert set(store.items.get_items("acme", "docs", ids)) == set(ids)
    assert store.items.count_live("acme", "docs") == 1500


def test_tombstones_keep_their_ordering_but_are_not_live(store: StateStore) -> None:
    commit_items(store, item("https://x/1", ordering_id=3), item("https://x/2", ordering_id=4))
    commit_items(store, item("https://x/1", ordering_id=9, state=ItemState.DELETED))
    tombstone = store.items.get_items("acme", "docs", ["https://x/1"])["https://x/1"]
    assert (tombstone.state, tombstone.ordering_id, tombstone.record) == (
        ItemState.DELETED,
        9,
        None,
    )
    assert store.items.count_live("acme", "docs") == 1
    assert [r.document_id for r in store.items.live_older_than("acme", "docs", 100)] == [
        "https://x/2"
    ]


def test_live_older_than_compares_ordering_ids_as_numbers(store: StateStore) -> None:
    commit_items(
        store,
        item("https://x/small", ordering_id=9),
        item("https://x/big", ordering_id=10),
        item("https://x/huge", ordering_id=MAX_ORDERING_ID),
        item("https://x/other", source="wiki", ordering_id=1),
    )
    older = store.items.live_older_than("acme", "docs", 10)
    assert [r.document_id for r in older] == ["https://x/small"]
    assert {
        r.document_id for r in store.items.live_older_than("acme", "docs", MAX_ORDERING_ID)
    } == {
        "https://x/small",
        "https://x/big",
    }
    huge = store.items.get_items("acme", "docs", ["https://x/huge"])["https://x/huge"]
    assert huge.ordering_id == MAX_ORDERING_ID


def test_live_with_prefix_compares_byte_for_byte(store: StateStore) -> None:
    ids = [
        "https://x/a",
        "https://x/a/b",
        "https://x/a%",
        "https://x/A",
        "https://x/ab",
        "https://y/",
    ]
    commit_items(store, *(item(i) for i in ids))
    commit_items(store, item("https://x/a/c", state=ItemState.DELETED))
    found = sorted(
        r.document_id for r in store.items.live_with_prefix("acme", "docs", "https://x/a")
    )
    assert found == ["https://x/a", "https://x/a%", "https://x/a/b", "https://x/ab"]
    assert store.items.live_with_prefix("acme", "docs", "https://x/a%") != []
    assert [
        r.document_id for r in store.items.live_with_prefix("acme", "docs", "https://x/a/")
    ] == ["https://x/a/b"]
    assert store.items.live_with_prefix("acme", "wiki", "https://") == []


def test_max_ordering_id_covers_items_and_queued_operations(store: StateStore) -> None:
    assert store.items.max_ordering_id("acme", "docs") == 0
    commit_items(store, item("https://x/1", ordering_id=50))
    assert store.items.max_ordering_id("acme", "docs") == 50
    store.queue.enqueue([new_op("https://x/2", ordering_id=10**30, payload={})])
    assert store.items.max_ordering_id("acme", "docs") == 10**30
    assert store.items.max_ordering_id("acme", "wiki") == 0


def test_acl_shapes_accumulate_per_organization(store: StateStore) -> None:
    commit_items(store, shapes={("acme", "1:2"), ("acme", "1"), ("globex", "3")})
    commit_items(store, shapes={("acme", "1")})
    assert store.items.acl_shapes("acme") == ["1", "1:2"]
    assert store.items.acl_shapes("globex") == ["3"]
    assert store.items.acl_shapes("initech") == []


def test_purging_a_source_removes_its_items_and_queued_operations(store: StateStore) -> None:
    purge = getattr(store.items, "purge_source", None)
    assert purge is not None, "every backend lets a deleted source take its items along"
    commit_items(store, item("https://x/1"), item("https://x/1", source="wiki"))
    store.queue.enqueue([new_op("https://x/2"), new_op("https://x/3", source="wiki")])
    purge("acme", "docs")
    assert store.items.get_items("acme", "docs", ["https://x/1"]) == {}
    assert store.items.count_live("acme", "wiki") == 1
    assert store.queue.depth() == 1


def test_a_documentid_holding_nul_is_stored_and_found(store: StateStore) -> None:
    # PostgreSQL text cannot hold NUL (it is stored as U+FFFD there): such a value from a
    # batch file must not fail the round it is in.
    odd = "file://a\x00b"
    store.queue.enqueue([new_op(odd)])
    [op] = store.queue.claim(1)
    entry = LogEntry("acme", "docs", odd, "ADD", LogResult.WARNING, "key \x00 unknown", 1, "r")
    commit_items(store, item(odd), done=[op.seq], logs=[entry])
    assert list(store.items.get_items("acme", "docs", [odd])) == [odd]
    assert store.queue.depth() == 0
    assert store.logs.last_for("acme", "docs", odd) is not None
