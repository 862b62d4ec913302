"""The LogStore contract: entries written by the pipeline commit, filtered and paged."""

from __future__ import annotations

import pytest

from openpush.domain.operations import LogEntry, LogResult
from openpush.storage.base import LogQuery, PipelineCommit, StateStore


def entry(document_id: str, created_at: float, **fields: object) -> LogEntry:
    values: dict[str, object] = {
        "org_id": "acme",
        "source_id": "docs",
        "operation": "ADD",
        "result": LogResult.COMPLETED,
        "reason": "",
        "ordering_id": 1,
        "request_id": "r1",
        "created_at": created_at,
        "meta": {"orderingId": "1"},
    }
    values.update(fields)
    return LogEntry(document_id=document_id, **values)  # type: ignore[arg-type]


@pytest.fixture
def logged(store: StateStore) -> StateStore:
    entries = [
        entry("https://x/1", 100.0),
        entry("https://x/2", 101.0, result=LogResult.REJECTED, reason="bad", request_id="r2"),
        entry("https://x/3", 102.0, operation="DELETE", request_id="r2"),
        entry("file://a*b", 103.0, source_id="wiki", result=LogResult.WARNING, task="STREAMING"),
        entry("https://x/1", 104.0, ordering_id=10**39, meta={"orderingId": "big", "error": "e"}),
        entry("https://x/9", 105.0, org_id="globex"),
    ]
    store.queue.complete(PipelineCommit(logs=entries))
    return store


def ids(store: StateStore, **query: object) -> list[str]:
    values: dict[str, object] = {"from_time": 0.0, "to_time": 1e12}
    values.update(query)
    entries, _ = store.logs.query("acme", LogQuery(**values))  # type: ignore[arg-type]
    return [f"{e.document_id}@{e.created_at:.0f}" for e in entries]


def test_entries_come_newest_first_within_the_time_range(logged: StateStore) -> None:
    assert ids(logged) == [
        "https://x/1@104",
        "file://a*b@103",
        "https://x/3@102",
        "https://x/2@101",
        "https://x/1@100",
    ]
    assert ids(logged, from_time=101.0, to_time=102.0) == ["https://x/3@102", "https://x/2@101"]


def test_entries_round_trip_with_their_meta(logged: StateStore) -> None:
    entries, _ = logged.logs.query("acme", LogQuery(0.0, 1e12, per_page=1))
    newest = entries[0]
    assert newest.ordering_id == 10**39
    assert newest.meta["orderingId"] == "big"
    assert newest.meta["error"] == "e"
    assert newest.meta["guid"]
    assert (newest.org_id, newest.source_id, newest.operation, newest.task) == (
        "acme",
        "docs",
        "ADD",
        "INDEXING",
    )


def test_filters_include_and_exclude(logged: StateStore) -> None:
    assert ids(logged, source_ids=["wiki"]) == ["file://a*b@103"]
    assert ids(logged, exclude_source_ids=["docs"]) == ["file://a*b@103"]
    assert ids(logged, results=["REJECTED", "WARNING"]) == ["file://a*b@103", "https://x/2@101"]
    assert ids(logged, exclude_results=["COMPLETED"]) == ["file://a*b@103", "https://x/2@101"]
    assert ids(logged, operations=["DELETE"]) == ["https://x/3@102"]
    assert len(ids(logged, exclude_operations=["DELETE"])) == 4
    assert ids(logged, tasks=["STREAMING"]) == ["file://a*b@103"]
    assert len(ids(logged, exclude_tasks=["STREAMING"])) == 4
    assert ids(logged, request_id="r2") == ["https://x/3@102", "https://x/2@101"]


@pytest.mark.parametrize(
    ("matching", "pattern", "expected"),
    [
        ("EXACT", "https://x/1", ["https://x/1@104", "https://x/1@100"]),
        ("EXACT", "https://x/", []),
        (
            "PARTIAL",
            "x/",
            ["https://x/1@104", "https://x/3@102", "https://x/2@101", "https://x/1@100"],
        ),
        ("PARTIAL", "*", ["file://a*b@103"]),
        ("WILDCARD", "https://x/[23]", ["https://x/3@102", "https://x/2@101"]),
        ("WILDCARD", "https://x/[^23]", ["https://x/1@104", "https://x/1@100"]),
        ("WILDCARD", "*://a*", ["file://a*b@103"]),
        ("WILDCARD", "https://?/1", ["https://x/1@104", "https://x/1@100"]),
        ("WILDCARD", "HTTPS://*", []),
        ("WILDCARD", "https://x.1", []),
    ],
)
def test_document_id_matching(
    logged: StateStore, matching: str, pattern: str, expected: list[str]
) -> None:
    assert ids(logged, document_id=pattern, document_id_matching=matching) == expected


def test_pages_say_whether_more_follow(logged: StateStore) -> None:
    first, more = logged.logs.query("acme", LogQuery(0.0, 1e12, page=0, per_page=2))
    last, no_more = logged.logs.query("acme", LogQuery(0.0, 1e12, page=2, per_page=2))
    assert (len(first), more) == (2, True)
    assert (len(last), no_more) == (1, False)
    assert logged.logs.query("acme", LogQuery(0.0, 1e12, page=9))[0] == []


def test_last_for_is_the_newest_entry_of_an_item(logged: StateStore) -> None:
    last = logged.logs.last_for("acme", "docs", "https://x/1")
    assert last is not None and last.created_at == 104.0
    assert logged.logs.last_for("acme", "wiki", "https://x/1") is None
    assert logged.logs.last_for("globex", "docs", "https://x/9") is not None
