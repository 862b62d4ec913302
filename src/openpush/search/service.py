"""Running a search: who is asking, what they may see, what they asked for.

The user's identity set comes from an :class:`IdentityExpander`; the default one takes the
search token's identities as they are (expansion through groups, aliases and granted
identities plugs in here). Visibility is then compiled per source: items of SHARED sources
are visible to everyone, items of SECURED sources when their permission model allows one of
the user's identities, items of PRIVATE sources only to queries that view all content.

The request's expressions, sort and facets are checked and turned into what the index is
asked by :mod:`openpush.search.planning`; the index applies the visibility, the facet
selections and the sort, and counts the facets, in one searcher.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from openpush.domain.fields import FieldDefinition, merged_fields
from openpush.domain.sources import Source, SourceVisibility
from openpush.index.base import (
    FacetRequest,
    FacetResult,
    FieldFilter,
    IndexHit,
    IndexResult,
    IndexSearch,
    SearchIndex,
    SortKey,
    Visibility,
)
from openpush.search.planning import (
    QueryParts,
    build_query,
    check_sort,
    empty_facet,
    facetable,
)
from openpush.search.query import FieldExpr, Node, Phrase, Term, Wildcard
from openpush.search.tokens import UserId
from openpush.security.acl import MATCH_NONE, visibility_filter
from openpush.security.evaluate import IdentityKey, identity_key
from openpush.storage.base import StateStore

__all__ = [
    "DirectExpander",
    "IdentityExpander",
    "SearchRequest",
    "SearchResponse",
    "run_search",
]

MAX_RESULTS = 2000
_WORD = re.compile(r"\w+", re.UNICODE)


class IdentityExpander(Protocol):
    def expand(self, org_id: str, user_ids: Iterable[UserId]) -> frozenset[IdentityKey]: ...


class DirectExpander:
    """Each identity of the token stands for itself."""

    def expand(self, org_id: str, user_ids: Iterable[UserId]) -> frozenset[IdentityKey]:
        return frozenset(identity_key(u.provider, u.name) for u in user_ids if u.name)


@dataclass(slots=True)
class SearchRequest:
    org_id: str
    q: str = ""
    aq: str = ""
    cq: str = ""
    dq: str = ""
    lq: str = ""
    token_filter: str = ""
    enable_query_syntax: bool = True
    first_result: int = 0
    number_of_results: int = 10
    sort: tuple[SortKey, ...] = (SortKey(),)
    view_all: bool = False
    user_ids: tuple[UserId, ...] = ()
    fields_to_include: tuple[str, ...] | None = None
    fields_to_exclude: tuple[str, ...] = ()
    excerpt_length: int = 200
    facets: tuple[FacetRequest, ...] = ()
    filters: tuple[FieldFilter, ...] = ()
    #: facet id -> (queryOverride, advancedQueryOverride, constantQueryOverride); None keeps
    overrides: Mapping[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    #: the organization's fields, when the caller already read them
    fields: Mapping[str, FieldDefinition] | None = None


@dataclass(slots=True)
class SearchResponse:
    result: IndexResult
    query: Node
    identities: frozenset[IdentityKey]
    duration_ms: int
    highlights: tuple[str, ...] = field(default_factory=tuple)
    index_ms: int = 0
    #: one per requested facet, in request order (``result.facets`` holds the counted ones)
    facets: list[FacetResult] = field(default_factory=list)


def _visibility(
    sources: list[Source], identities: frozenset[IdentityKey], shapes: list[str], view_all: bool
) -> Visibility:
    if view_all:
        return Visibility(frozenset(s.id for s in sources), frozenset(), MATCH_NONE)
    shared = frozenset(s.id for s in sources if s.visibility is SourceVisibility.SHARED)
    secured = frozenset(s.id for s in sources if s.visibility is SourceVisibility.SECURED)
    parsed = [tuple(int(n) for n in shape.split(",")) for shape in shapes if shape]
    return Visibility(shared, secured, visibility_filter(identities, parsed))


def org_fields(store: StateStore, org_id: str) -> dict[str, FieldDefinition]:
    """The organization's fields: the system ones and those created through the Field API."""
    return merged_fields(store.catalog.list_fields(org_id))


def highlight_words(node: Node) -> tuple[str, ...]:
    """The free-text words of a query (for excerpts and highlights)."""
    if isinstance(node, Term):
        return (node.text,)
    if isinstance(node, Phrase):
        return node.words
    if isinstance(node, Wildcard):
        return (node.pattern.split("*", 1)[0],) if not node.pattern.startswith("*") else ()
    if isinstance(node, FieldExpr):
        return ()
    children = getattr(node, "children", None)
    if children:
        return tuple(w for child in children for w in highlight_words(child))
    return ()


def run_search(
    store: StateStore, index: SearchIndex, expander: IdentityExpander, request: SearchRequest
) -> SearchResponse:
    started = time.perf_counter()
    fields = request.fields if request.fields is not None else org_fields(store, request.org_id)
    parts = QueryParts(
        request.q,
        request.aq,
        request.cq,
        request.dq,
        request.lq,
        enable_query_syntax=request.enable_query_syntax,
    )
    query = build_query(parts, request.token_filter, fields)
    check_sort(request.sort, fields)
    counted = [
        _with_override(facet, parts, request, fields)
        for facet in request.facets
        if facetable(facet, fields)
    ]
    sources = store.catalog.list_sources(request.org_id)
    identities = (
        frozenset() if request.view_all else expander.expand(request.org_id, request.user_ids)
    )
    visibility = _visibility(
        sources, identities, store.items.acl_shapes(request.org_id), request.view_all
    )
    first = max(request.first_result, 0)
    count = min(max(request.number_of_results, 0), MAX_RESULTS)
    index_started = time.perf_counter()
    result = index.search(
        IndexSearch(
            org_id=request.org_id,
            query=query,
            visibility=visibility,
            first=first,
            count=count,
            sort=request.sort,
            fields=fields,
            filters=request.filters,
            facets=counted,
        )
    )
    ended = time.perf_counter()
    by_id = {facet.id: facet for facet in result.facets}
    facets = [by_id.get(facet.id) or empty_facet(facet) for facet in request.facets]
    return SearchResponse(
        result,
        query,
        identities,
        duration_ms=int((ended - started) * 1000),
        highlights=highlight_words(query),
        index_ms=int((ended - index_started) * 1000),
        facets=facets,
    )


def _with_override(
    facet: FacetRequest,
    parts: QueryParts,
    request: SearchRequest,
    fields: Mapping[str, FieldDefinition],
) -> FacetRequest:
    """``facet`` with its own query when a groupBy overrides part of the request's."""
    override = request.overrides.get(facet.id)
    if override is None or override == (None, None, None):
        return facet
    q, aq, cq = override
    query = build_query(parts.override(q=q, aq=aq, cq=cq), request.token_filter, fields)
    return replace(facet, query=query)


def excerpt(hit: IndexHit, words: tuple[str, ...], length: int) -> tuple[str, list[dict[str, int]]]:
    """A window of the body around the first query word, with the words' highlights."""
    body = " ".join(hit.body.split())
    lowered = body.lower()
    start = 0
    for word in words:
        found = lowered.find(word.lower())
        if found >= 0:
            start = max(0, found - length // 4)
            break
    text = body[start : start + length]
    return text, highlights(text, words)


def highlights(text: str, words: tuple[str, ...]) -> list[dict[str, int]]:
    wanted = tuple(w.lower() for w in words if w)
    return [
        {"offset": m.start(), "length": m.end() - m.start()}
        for m in _WORD.finditer(text)
        if m.group().lower().startswith(wanted)
    ]


def select_raw(
    raw: Mapping[str, Any], include: tuple[str, ...] | None, exclude: tuple[str, ...]
) -> dict[str, Any]:
    if include is not None:
        wanted = {name.lstrip("@").lower() for name in include}
        return {k: v for k, v in raw.items() if k in wanted}
    dropped = {name.lstrip("@").lower() for name in exclude}
    return {k: v for k, v in raw.items() if k not in dropped}
