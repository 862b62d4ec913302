"""The embedded search index on tantivy.

One index directory holds every organization; every query is scoped to one organization by
a term on ``org`` that the caller cannot remove. Field values live in three JSON fields:
``fx`` (raw values, fast: numeric and date ranges, facets, sorting; plus ``_uid``, the
item's uid, the last key of every field sort), ``fl`` (string values lower-cased: exact and
wildcard matches) and ``ft`` (analysed text: word matches inside field values). Permission
tokens live in the multi-valued u64 field ``acl``. Field sorts are in ``_sort``, facet counts
in ``_facets``; both run on the query ``_scope`` builds, so they see only visible items.

A search restricted by a permission filter whose query matches few items is trimmed by
deciding those items one by one instead (``_candidates``), or, with facets or a field sort,
by the filter cut down to the tokens those items hold: same totals, pages and counts, without
walking the whole filter's posting lists.

Only one process may hold the writer (tantivy's lock file); other processes open the index
to search and :meth:`TantivyIndex.refresh` picks up new commits.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import tantivy
from tantivy import Occur, Query

from openpush.domain.fields import FieldType
from openpush.index.base import (
    FacetResult,
    FieldFilter,
    IndexDocument,
    IndexHit,
    IndexResult,
    IndexSearch,
    Visibility,
    document_uid,
)
from openpush.index.tantivy._candidates import (
    POSTINGS_PER_CANDIDATE,
    CandidateCheck,
    add_acl_fields,
    add_acl_schema,
    present_tokens,
)
from openpush.index.tantivy._facets import FacetCounter, FacetJob
from openpush.index.tantivy._sort import UID_COLUMN, FieldSorter, Kind, Ref, SortColumn
from openpush.index.tantivy.compile import (
    QueryCompiler,
    compile_acl,
    lower_analyzer,
    text_analyzer,
)
from openpush.security import acl
from openpush.security.acl import Constant, Expr, leaf_masks

__all__ = ["CANDIDATE_LIMIT", "TantivyIndex"]

log = logging.getLogger("openpush")

TEXT = "op_text"
LOWER = "op_lower"
UID_KEY = UID_COLUMN.removeprefix("fx.")
_REFRESH_INTERVAL = 0.05
_ACL_QUERIES = 256  # compiled permission filters kept (one per recent user and shape list)
# Trimmed searches whose query matches at most this many items (by the terms' document
# frequencies) decide those items one by one instead of running the permission filter.
CANDIDATE_LIMIT = 20_000
_RELEVANCY = frozenset({"relevancy", "qre"})
_SORT_KINDS: dict[FieldType, Kind] = {
    FieldType.LONG: "integer",
    FieldType.LONG_64: "integer",
    FieldType.DATE: "integer",
    FieldType.DOUBLE: "double",
}


def _all(query: Query, *others: Query) -> Query:
    if not others:
        return query
    return Query.boolean_query([(Occur.Must, q) for q in (query, *others)])


def _any(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Should, q) for q in queries])


def build_schema(*, candidates: bool = True) -> tantivy.Schema:
    """The index's fields; ``candidates=False`` is the schema of indexes written before the
    fields ``_candidates`` reads (they still open, and trim with the filter only)."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("uid", stored=True, tokenizer_name="raw")
    sb.add_text_field("org", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("source", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("uri", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("title", stored=True, tokenizer_name=TEXT)
    sb.add_text_field("body", stored=True, tokenizer_name=TEXT)
    sb.add_integer_field("date", stored=False, indexed=True, fast=True)
    sb.add_unsigned_field("acl", stored=False, indexed=True)
    sb.add_json_field("fx", stored=False, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_json_field("fl", stored=False, tokenizer_name=LOWER, index_option="basic")
    sb.add_json_field("ft", stored=False, tokenizer_name=TEXT)
    sb.add_bytes_field("rawb", stored=True, indexed=False)
    if candidates:
        add_acl_schema(sb)
    return sb.build()


class _TantivyWriter:
    def __init__(self, index: TantivyIndex, heap_bytes: int) -> None:
        self._index = index
        self._writer = index.index.writer(heap_size=heap_bytes, num_threads=1)
        self._schema = index.schema
        self._candidates = index.checks_candidates

    def upsert(self, document: IndexDocument, *, new: bool = False) -> None:
        uid = document.uid
        if not new:
            self._writer.delete_documents_by_term("uid", uid)
        doc = tantivy.Document()
        doc.add_text("uid", uid)
        doc.add_text("org", document.org_id)
        doc.add_text("source", document.source_id)
        doc.add_text("uri", document.document_id)
        doc.add_text("title", document.title)
        doc.add_text("body", document.body)
        doc.add_integer("date", int(document.date_ms))
        tokens = sorted(document.acl)
        for token in tokens:
            doc.add_unsigned("acl", token)
        if self._candidates:
            add_acl_fields(doc, document.source_id, tokens)
        doc.add_json("fx", orjson.dumps({**document.fields, UID_KEY: uid}).decode())
        if document.fields:
            strings = {
                k: [v for v in vs if isinstance(v, str)] for k, vs in document.fields.items()
            }
            strings = {k: v for k, v in strings.items() if v}
            if strings:
                encoded = orjson.dumps(strings).decode()
                doc.add_json("fl", encoded)
                doc.add_json("ft", encoded)
        doc.add_bytes("rawb", orjson.dumps(document.raw))
        self._writer.add_document(doc)

    def delete(self, org_id: str, source_id: str, document_id: str) -> None:
        self._writer.delete_documents_by_term("uid", document_uid(org_id, source_id, document_id))

    def delete_source(self, org_id: str, source_id: str) -> None:
        query = Query.boolean_query(
            [
                (Occur.Must, Query.term_query(self._schema, "org", org_id)),
                (Occur.Must, Query.term_query(self._schema, "source", source_id)),
            ]
        )
        self._writer.delete_documents_by_query(query)

    def commit(self) -> None:
        self._writer.commit()
        self._index.refresh(force=True)

    def rollback(self) -> None:
        self._writer.rollback()


class TantivyIndex:
    def __init__(
        self, path: Path, *, writer_heap_mb: int = 128, candidate_limit: int = CANDIDATE_LIMIT
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.checks_candidates = True
        try:
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        except ValueError as exc:
            if "schema does not match" not in str(exc):
                raise
            self.schema = build_schema(candidates=False)
            self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
            self.checks_candidates = False
            log.warning(
                "the search index at %s predates per-item permission fields: trimmed searches "
                "run the full permission filter; push the content into a new data directory "
                "to make selective trimmed searches faster",
                path,
            )
        self.candidate_limit = candidate_limit if self.checks_candidates else 0
        # what deciding one candidate costs, in postings of the permission filter
        self.candidate_cost: float = POSTINGS_PER_CANDIDATE
        self.index.register_tokenizer(TEXT, text_analyzer())
        self.index.register_tokenizer(LOWER, lower_analyzer())
        self._heap = max(writer_heap_mb, 16) * 1024 * 1024
        self._compiler = QueryCompiler(
            self.index, self.schema, lambda: int(time.time() * 1000), lambda: self._searcher
        )
        self._lock = threading.Lock()
        self._refreshed = 0.0
        self._searcher = self.index.searcher()
        self._acl_queries: OrderedDict[Expr, Query] = OrderedDict()
        self._checks: OrderedDict[Expr, CandidateCheck | None] = OrderedDict()

    def writer(self) -> _TantivyWriter:
        return _TantivyWriter(self, self._heap)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._refreshed < _REFRESH_INTERVAL:
            return
        with self._lock:
            self.index.reload()
            self._searcher = self.index.searcher()
            self._refreshed = now

    def _scope(self, request: IndexSearch, visibility: Query | None = None) -> Query:
        """The request's query within its organization and visibility (``visibility``, if
        given, stands for the one ``request.visibility`` compiles to)."""
        clauses = [
            (Occur.Must, self._compiler.compile(request.query, request.fields)),
            (
                Occur.Must,
                Query.const_score_query(Query.term_query(self.schema, "org", request.org_id), 0.0),
            ),
        ]
        if request.visibility is not None:
            if visibility is None:
                visibility = self._visibility(request.visibility)
            clauses.append((Occur.Must, Query.const_score_query(visibility, 0.0)))
        return Query.boolean_query(clauses)

    def _acl_query(self, expr: Expr) -> Query:
        """The compiled permission filter; a user's searches reuse it (queries are immutable)."""
        with self._lock:
            query = self._acl_queries.get(expr)
            if query is not None:
                self._acl_queries.move_to_end(expr)
                return query
        query = compile_acl(self.schema, expr)
        with self._lock:
            self._acl_queries[expr] = query
            while len(self._acl_queries) > _ACL_QUERIES:
                self._acl_queries.popitem(last=False)
        return query

    def _visibility(self, visibility: Visibility, *, cached: bool = True) -> Query:
        """The visibility clause; ``cached=False`` for a one-off filter that should not push
        users' filters out of the cache of compiled ones."""
        acl_query = self._acl_query if cached else partial(compile_acl, self.schema)
        options = []
        if visibility.shared:
            options.append(Query.term_set_query(self.schema, "source", sorted(visibility.shared)))
        if visibility.secured:
            options.append(
                Query.boolean_query(
                    [
                        (
                            Occur.Must,
                            Query.term_set_query(self.schema, "source", sorted(visibility.secured)),
                        ),
                        (Occur.Must, acl_query(visibility.acl)),
                    ]
                )
            )
        if not options:
            return Query.empty_query()
        return Query.boolean_query([(Occur.Should, q) for q in options])

    def search(self, request: IndexSearch) -> IndexResult:
        self.refresh()
        searcher = self._searcher
        filters = [(f.owner, self._filter(f)) for f in request.filters]
        limit, first = max(request.count, 0), max(request.first, 0)
        columns = self._sort_columns(request)
        relevancy = not request.sort or request.sort[0].field in _RELEVANCY
        if columns is None and not request.facets:
            decided = self._decide_candidates(searcher, request, filters, relevancy)
            if decided is not None:
                visible = decided[first : first + limit]
                hits = [self._hit(searcher.doc(a), s) for s, a in visible]
                return IndexResult(total=len(decided), hits=hits, facets=[])
        restricted = None
        if columns is not None or request.facets:
            restricted = self._restricted_visibility(searcher, request)
        scope = self._scope(request, restricted)
        query = _all(scope, *(q for _, q in filters))
        if columns is None:
            ranked = query if relevancy else Query.const_score_query(query, 0.0)
            result = searcher.search(ranked, max(limit, 1), count=True, offset=first)
            total = int(result.count or 0)
            hits = [self._hit(searcher.doc(a), s) for s, a in result.hits[:limit]]
        else:
            sorter = FieldSorter(searcher, self.schema, self._compiler.range_query)
            total, refs = sorter.sort(query, columns, first, limit)
            hits = self._load(searcher, refs)
        facets = self._facets(searcher, request, scope, filters)
        return IndexResult(total=total, hits=hits, facets=facets)

    def _decide_candidates(
        self,
        searcher: tantivy.Searcher,
        request: IndexSearch,
        filters: list[tuple[str, Query]],
        relevancy: bool,
    ) -> list[tuple[Any, tantivy.DocAddress]] | None:
        """Every visible match in rank order, decided match by match (see ``_candidates``);
        None when the permission filter should run instead."""
        found = self._candidates(searcher, request, filters, relevancy)
        if found is None:
            return None
        check, hits = found
        visibility = request.visibility
        assert visibility is not None
        keep = check.visible(searcher, [a for _, a in hits], visibility.shared, visibility.secured)
        if keep is None:
            return None
        return list(itertools.compress(hits, keep.tolist()))

    def _restricted_visibility(
        self, searcher: tantivy.Searcher, request: IndexSearch
    ) -> Query | None:
        """For a search with facets or a field sort: the visibility clause with the permission
        filter cut down to the tokens the query's matches hold (``acl.restrict``). On those
        matches, and on any subset of them (a facet without its own selection), it decides
        as the whole filter, over a fraction of its terms. None: use the whole filter."""
        found = self._candidates(searcher, request, [], relevancy=False)
        if found is None:
            return None
        _, hits = found
        present = present_tokens(searcher, [a for _, a in hits])
        if present is None:
            return None
        visibility = request.visibility
        assert visibility is not None
        restricted = replace(visibility, acl=acl.restrict(visibility.acl, present))
        return self._visibility(restricted, cached=False)

    def _candidates(
        self,
        searcher: tantivy.Searcher,
        request: IndexSearch,
        filters: list[tuple[str, Query]],
        relevancy: bool,
    ) -> tuple[CandidateCheck, list[tuple[Any, tantivy.DocAddress]]] | None:
        """Every match of the request without its permission filter, in rank order, when
        the query is selective enough for that to be cheaper than the filter; else None."""
        visibility = request.visibility
        if (
            visibility is None
            or not visibility.secured
            or isinstance(visibility.acl, Constant)
            or self.candidate_limit <= 0
        ):
            return None
        estimate = self._compiler.estimate(request.query)
        if estimate is None or estimate[1] > self.candidate_limit:
            return None
        wanted = min(estimate[0], self.candidate_limit)
        check = self._check(visibility.acl)
        if check is None or estimate[1] * self.candidate_cost > check.postings(searcher):
            return None  # a small filter: running it costs less than deciding the matches
        sources = sorted(visibility.shared | visibility.secured)
        scope = self._scope(request, Query.term_set_query(self.schema, "source", sources))
        query = _all(scope, *(q for _, q in filters))
        ranked = query if relevancy else Query.const_score_query(query, 0.0)
        hits = searcher.search(ranked, wanted + 1, count=False).hits
        if len(hits) > wanted:
            return None  # the words go together more often than their frequencies said
        return check, hits

    def _check(self, expr: Expr) -> CandidateCheck | None:
        """The filter's candidate check (kept per filter, as compiled filters are)."""
        with self._lock:
            if expr in self._checks:
                self._checks.move_to_end(expr)
                return self._checks[expr]
        masks = leaf_masks(expr)
        check = CandidateCheck(masks) if masks is not None else None
        with self._lock:
            self._checks[expr] = check
            while len(self._checks) > _ACL_QUERIES:
                self._checks.popitem(last=False)
        return check

    def _sort_columns(self, request: IndexSearch) -> list[SortColumn] | None:
        """The columns of a field sort (uid last), or None to rank by score or index order."""
        keys = list(request.sort)
        if not keys or keys[0].field in _RELEVANCY or keys[0].field == "nosort":
            return None
        columns = []
        for key in keys:
            if key.field == "date":
                columns.append(SortColumn("date", key.descending, "date"))
                continue
            definition = request.fields.get(key.field)
            kind = _SORT_KINDS.get(definition.type if definition else FieldType.STRING, "string")
            columns.append(SortColumn(f"fx.{key.field}", key.descending, kind))
        columns.append(SortColumn(UID_COLUMN, kind="uid"))
        return columns

    def _filter(self, wanted: FieldFilter) -> Query:
        """A facet selection: the field has one of the values or a value in one of the ranges."""
        column = f"fx.{wanted.field}"
        options = []
        if wanted.values:
            options.append(Query.term_set_query(self.schema, column, list(wanted.values)))
        for wanted_range in wanted.ranges:
            options.append(
                self._compiler.range_query(
                    column, wanted_range.start, True, wanted_range.end, wanted_range.end_inclusive
                )
            )
        if not options:
            return Query.empty_query()
        return options[0] if len(options) == 1 else _any(*options)

    def _facets(
        self,
        searcher: tantivy.Searcher,
        request: IndexSearch,
        scope: Query,
        filters: list[tuple[str, Query]],
    ) -> list[FacetResult]:
        """Facet counts; facets that end up with the same query share one aggregation pass."""
        queries: dict[tuple[str, frozenset[str]], Query] = {}
        jobs = []
        for facet in request.facets:
            applied = frozenset(owner for owner, _ in filters if not owner or owner != facet.id)
            key = (facet.id if facet.query is not None else "", applied)
            if key not in queries:
                base = scope
                if facet.query is not None:
                    base = self._scope(replace(request, query=facet.query))
                wanted = [q for owner, q in filters if owner in applied]
                queries[key] = _all(base, *wanted)
            definition = request.fields.get(facet.field)
            kind = FieldType(definition.type) if definition else None
            jobs.append(FacetJob(facet, queries[key], kind))
        return FacetCounter(searcher, self.schema).count(jobs)

    def _load(self, searcher: tantivy.Searcher, refs: list[Ref]) -> list[IndexHit]:
        """The stored items of ``refs`` (uids or addresses), in that order."""
        uids = [ref for ref in refs if isinstance(ref, str)]
        by_uid: dict[str, Any] = {}
        if uids:
            found = searcher.search(Query.term_set_query(self.schema, "uid", uids), len(uids))
            for _, address in found.hits:
                stored = searcher.doc(address).to_dict()
                by_uid[stored["uid"][0]] = stored
        hits = []
        for ref in refs:
            stored = by_uid.get(ref) if isinstance(ref, str) else searcher.doc(ref).to_dict()
            if stored is not None:
                hits.append(self._hit(stored, 0.0))
        return hits

    @staticmethod
    def _hit(document: Any, score: object) -> IndexHit:
        stored = document if isinstance(document, dict) else document.to_dict()
        return IndexHit(
            source_id=stored["source"][0],
            document_id=stored["uri"][0],
            title=stored["title"][0] if stored.get("title") else "",
            body=stored["body"][0] if stored.get("body") else "",
            score=float(score) if isinstance(score, float) else 0.0,
            raw=orjson.loads(stored["rawb"][0]),
        )

    def close(self) -> None:
        self._searcher = None  # type: ignore[assignment]
