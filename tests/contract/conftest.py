"""The state-store contract suite: every test runs on every backend.

``store`` is a fresh store; ``make_store()`` opens another one on the same data (a second
worker, or a process restarted). PostgreSQL tests carry the ``postgres`` marker and use a
database of their own (``tests/pgserver.py`` says when they skip).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openpush.domain.operations import ItemState, OperationKind
from openpush.domain.organizations import Organization
from openpush.domain.sources import Source, SourceVisibility
from openpush.storage.base import ItemRecord, NewOperation, PipelineCommit, StateStore
from tests.pgserver import fresh_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

MakeStore = Callable[..., StateStore]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> Iterator[MakeStore]:
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(fresh_database())

            def make(**options: Any) -> StateStore:
                from openpush.storage.postgres import PostgresStateStore

                store = PostgresStateStore(url, **options)
                stack.callback(store.close)
                return store
        else:

            def make(**options: Any) -> StateStore:
                from openpush.storage.sqlite import SqliteStateStore

                store = SqliteStateStore(tmp_path / "state.db", synchronous="NORMAL")
                stack.callback(store.close)
                return store

        yield make


@pytest.fixture
def store(make_store: MakeStore) -> StateStore:
    """A store holding two organizations, acme (sources docs and wiki) and globex."""
    store = make_store()
    for org in ("acme", "globex"):
        store.catalog.create_organization(Organization(org, org.title()))
    for name in ("docs", "wiki"):
        store.catalog.create_source(Source("acme", name, name, visibility=SourceVisibility.SHARED))
    store.catalog.create_source(Source("globex", "docs", "docs"))
    return store


# -- builders shared by the suite -------------------------------------------------------


def new_op(
    document_id: str | None = "https://x/1",
    *,
    org: str = "acme",
    source: str = "docs",
    kind: OperationKind = OperationKind.ADD,
    ordering_id: int = 1,
    payload: dict[str, Any] | None = None,
    request_id: str = "req",
    delay_seconds: float = 0.0,
) -> NewOperation:
    return NewOperation(
        org_id=org,
        source_id=source,
        kind=kind,
        document_id=document_id,
        ordering_id=ordering_id,
        payload=payload if payload is not None else {"n": ordering_id},
        request_id=request_id,
        delay_seconds=delay_seconds,
    )


def item(
    document_id: str,
    *,
    org: str = "acme",
    source: str = "docs",
    ordering_id: int = 1,
    state: ItemState = ItemState.INDEXED,
    record: dict[str, Any] | None = None,
) -> ItemRecord:
    return ItemRecord(
        org_id=org,
        source_id=source,
        document_id=document_id,
        ordering_id=ordering_id,
        state=state,
        record=record if record is not None or state is ItemState.DELETED else {"v": 1},
        last_result="COMPLETED",
        last_reason="",
        updated_at=time.time(),
    )


def commit_items(store: StateStore, *records: ItemRecord, **changes: Any) -> None:
    commit = PipelineCommit(**changes)
    for record in records:
        commit.items[(record.org_id, record.source_id, record.document_id)] = record
    store.queue.complete(commit)
