"""The search-index protocol: what the pipeline writes and what the Search API asks.

The index never decides who may see what by itself: the caller passes a :class:`Visibility`
(sources shared with everyone, secured sources, and the permission filter compiled from the
user's identity set by :mod:`openpush.security.acl`). Implementations apply it *inside* the
query, so totals, paging and facet counts only ever count visible items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openpush.domain.fields import FieldDefinition
from openpush.search.query import Node
from openpush.security.acl import Expr

__all__ = [
    "IndexDocument",
    "IndexHit",
    "IndexResult",
    "IndexSearch",
    "IndexWriter",
    "SearchIndex",
    "SortKey",
    "Visibility",
    "document_uid",
]


def document_uid(org_id: str, source_id: str, document_id: str) -> str:
    return f"{org_id}\x1f{source_id}\x1f{document_id}"


@dataclass(slots=True)
class IndexDocument:
    org_id: str
    source_id: str
    document_id: str
    title: str
    body: str
    date_ms: int
    fields: dict[str, list[Any]]
    raw: dict[str, Any]
    acl: frozenset[int]

    @property
    def uid(self) -> str:
        return document_uid(self.org_id, self.source_id, self.document_id)


@dataclass(frozen=True, slots=True)
class Visibility:
    """Items of ``shared`` sources are visible; items of ``secured`` ones when ``acl`` holds."""

    shared: frozenset[str]
    secured: frozenset[str]
    acl: Expr


@dataclass(frozen=True, slots=True)
class SortKey:
    """``field`` is ``relevancy``, ``date`` or a field name; ``nosort`` keeps index order."""

    field: str = "relevancy"
    descending: bool = True


@dataclass(slots=True)
class IndexSearch:
    org_id: str
    query: Node
    visibility: Visibility | None
    first: int = 0
    count: int = 10
    sort: Sequence[SortKey] = (SortKey(),)
    fields: Mapping[str, FieldDefinition] = field(default_factory=dict)


@dataclass(slots=True)
class IndexHit:
    source_id: str
    document_id: str
    title: str
    body: str
    score: float
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IndexResult:
    total: int
    hits: list[IndexHit]


class IndexWriter(Protocol):
    """A write session; nothing is visible to searches before :meth:`commit`."""

    def upsert(self, document: IndexDocument, *, new: bool = False) -> None:
        """Add or replace ``document``; ``new`` promises the index holds no such uid yet."""
        ...

    def delete(self, org_id: str, source_id: str, document_id: str) -> None: ...
    def delete_source(self, org_id: str, source_id: str) -> None: ...
    def commit(self) -> None: ...


class SearchIndex(Protocol):
    def writer(self) -> IndexWriter: ...
    def search(self, request: IndexSearch) -> IndexResult: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...
