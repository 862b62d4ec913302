"""The search-index protocol: what the pipeline writes and what the Search API asks.

The index never decides who may see what by itself: the caller passes a :class:`Visibility`
(sources shared with everyone, secured sources, and the permission filter compiled from the
user's identity set by :mod:`openpush.security.acl`). Implementations apply it *inside* the
query, so totals, paging and facet counts only ever count visible items.

A search also carries field filters (facet selections, ANDed to the query) and facet requests.
A facet counts over the query, the visibility and every filter except those it owns, so a
facet's own selection does not hide its other values. Sorting is exact: a field sort orders by
the keys, then by uid, and pages never overlap or skip while the index does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from openpush.domain.fields import FieldDefinition, FieldValue
from openpush.search.query import Node
from openpush.security.acl import Expr

__all__ = [
    "FacetBucket",
    "FacetRange",
    "FacetRequest",
    "FacetResult",
    "FieldFilter",
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
    """``field`` is ``relevancy``, ``date`` or a field name; ``nosort`` keeps index order.

    A field sort puts items without a value for the field after all others, in both
    directions; an item with several values sorts by its first one.
    """

    field: str = "relevancy"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class FacetRange:
    """``[start, end)``, or ``[start, end]`` with ``end_inclusive``; numbers or epoch ms."""

    start: int | float
    end: int | float
    end_inclusive: bool = False


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """Items whose ``field`` has one of ``values`` (exact, raw) or a value in one of ``ranges``.

    ``owner`` names the facet the filter comes from ("" for none): that facet's counts
    ignore it.
    """

    field: str
    values: tuple[FieldValue, ...] = ()
    ranges: tuple[FacetRange, ...] = ()
    owner: str = ""


@dataclass(frozen=True, slots=True)
class FacetRequest:
    """Count the values of ``field`` (``kind="values"``) or items per range (``"ranges"``).

    ``order`` (values): ``occurrences`` (count, then value), ``alpha_ascending``,
    ``alpha_descending`` (case-insensitive), ``natural_ascending``, ``natural_descending``
    (digit runs compared as numbers). ``count`` values are returned, plus every value of
    ``include`` (selected values) that has none. ``allowed`` restricts the values to those
    matching one of its wildcard patterns. ``ranges`` (ranges) are counted as given; with none,
    ``count`` equal-width ranges between the smallest and largest value are generated (empty
    ones dropped). ``query`` replaces the search's query for this facet (groupBy overrides).
    """

    id: str
    field: str
    kind: Literal["values", "ranges"] = "values"
    count: int = 8
    order: str = "occurrences"
    include: tuple[FieldValue, ...] = ()
    allowed: tuple[str, ...] = ()
    ranges: tuple[FacetRange, ...] = ()
    query: Node | None = None


@dataclass(frozen=True, slots=True)
class FacetBucket:
    """A value (``value``) or a range (``range``) and the number of visible items with it."""

    count: int
    value: FieldValue | None = None
    range: FacetRange | None = None


@dataclass(slots=True)
class FacetResult:
    """The buckets of one facet; ``with_value`` is how many matching items have a value."""

    id: str
    field: str
    buckets: list[FacetBucket]
    more: bool = False
    with_value: int = 0


@dataclass(slots=True)
class IndexSearch:
    org_id: str
    query: Node
    visibility: Visibility | None
    first: int = 0
    count: int = 10
    sort: Sequence[SortKey] = (SortKey(),)
    fields: Mapping[str, FieldDefinition] = field(default_factory=dict)
    filters: Sequence[FieldFilter] = ()
    facets: Sequence[FacetRequest] = ()


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
    facets: list[FacetResult] = field(default_factory=list)


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
