"""One search on the PostgreSQL index: the total, the page and the facets, on one snapshot.

The statements share one :class:`~openpush.index.postgres.compile.Params` (each one binds the
parameters it names) and run in one read-only REPEATABLE READ transaction. The page is ordered
by relevancy (``ts_rank``), by the sort keys (per key the smallest value ascending, the largest
descending, items without one last) or not at all (``nosort``); the uid breaks every tie.
"""

from __future__ import annotations

import time

import orjson
from psycopg import sql

from openpush.domain.fields import FieldType
from openpush.index.base import FacetResult, IndexHit, IndexResult, IndexSearch, SortKey
from openpush.index.postgres import _text
from openpush.index.postgres._facets import count_facet
from openpush.index.postgres.compile import (
    Params,
    QueryCompiler,
    all_of,
    compile_filter,
    compile_visibility,
    numbers_of,
)
from openpush.search.query import Node
from openpush.storage.postgres.database import Connection

__all__ = ["Search"]

_RELEVANCY = frozenset({"relevancy", "qre"})
_NUMERIC = frozenset({FieldType.LONG, FieldType.LONG_64, FieldType.DOUBLE, FieldType.DATE})
# ts_rank weights {D, C, B, A}: body (D) and field values (C) half of the title (A); no length
# normalisation (engine.py says why)
_RANK = sql.SQL("ts_rank(ARRAY[0.5, 0.5, 0.5, 1.0]::real[], d.words, {}::tsquery, 0)")


class Search:
    """One search's statements, on one connection and one snapshot."""

    def __init__(self, conn: Connection, request: IndexSearch) -> None:
        self._conn = conn
        self._request = request
        self._p = Params()
        self._now_ms = int(time.time() * 1000)

    def run(self) -> IndexResult:
        request, p = self._request, self._p
        self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        compiler = QueryCompiler(p, request.fields, self._now_ms)
        scope = self._scope(compiler, request.query)
        filters = [(f.owner, compile_filter(p, f)) for f in request.filters]
        where = all_of(scope, *(condition for _, condition in filters))
        total = self._count(where)
        limit, first = max(request.count, 0), max(request.first, 0)
        hits = []
        if limit and first < total:
            hits = self._page(where, compiler.ranked, first, limit)
        return IndexResult(total=total, hits=hits, facets=self._facets(scope, filters))

    def _scope(self, compiler: QueryCompiler, query: Node) -> sql.Composable:
        request = self._request
        conditions = [
            sql.SQL("d.org_id = {}").format(self._p(request.org_id)),
            compiler.compile(query),
        ]
        if request.visibility is not None:
            conditions.append(compile_visibility(self._p, request.visibility))
        return all_of(*conditions)

    def _count(self, where: sql.Composable) -> int:
        query = sql.SQL("SELECT count(*) AS n FROM index_documents AS d WHERE {}").format(where)
        row = self._conn.execute(query, self._p.values).fetchone()
        return int(row["n"]) if row else 0

    def _page(
        self, where: sql.Composable, ranked: list[str], first: int, limit: int
    ) -> list[IndexHit]:
        score, order = self._order(ranked)
        query = sql.SQL(
            "SELECT d.source_id, d.document_id, d.title, d.body, d.raw, {} AS score"
            " FROM index_documents AS d WHERE {} ORDER BY {} LIMIT {} OFFSET {}"
        ).format(score, where, order, self._p(limit), self._p(first))
        rows = self._conn.execute(query, self._p.values).fetchall()
        return [
            IndexHit(
                source_id=row["source_id"],
                document_id=row["document_id"],
                title=row["title"],
                body=row["body"],
                score=float(row["score"]),
                raw=orjson.loads(row["raw"]),
            )
            for row in rows
        ]

    def _order(self, ranked: list[str]) -> tuple[sql.Composable, sql.Composable]:
        """The score column and the ORDER BY of the page; uid breaks every tie."""
        keys = list(self._request.sort)
        field = keys[0].field if keys else "relevancy"
        if field in _RELEVANCY:
            if not ranked:
                return sql.SQL("0.0"), sql.SQL("d.uid")
            score = _RANK.format(self._p(_text.any_query(ranked)))
            return score, sql.SQL("score DESC, d.uid")
        if field == "nosort":
            return sql.SQL("0.0"), sql.SQL("d.uid")
        order = [self._key(key) for key in keys]
        return sql.SQL("0.0"), sql.SQL(", ").join([*order, sql.SQL("d.uid")])

    def _key(self, key: SortKey) -> sql.Composable:
        """One sort key: items without a value last; several values: min up, max down."""
        direction = sql.SQL("DESC" if key.descending else "ASC")
        if key.field == "date":
            return sql.SQL("d.date_ms {}").format(direction)
        definition = self._request.fields.get(key.field)
        extreme = sql.SQL("max" if key.descending else "min")
        if definition is not None and definition.type in _NUMERIC:
            value = sql.SQL("(SELECT {}(vn.n) FROM {})").format(
                extreme, numbers_of(self._p, key.field)
            )
        else:
            value = sql.SQL(
                '(SELECT {}(v.x COLLATE "C")'
                " FROM jsonb_array_elements_text(d.fields -> {}) AS v(x))"
            ).format(extreme, self._p(key.field))
        return sql.SQL("{} {} NULLS LAST").format(value, direction)

    def _facets(
        self, scope: sql.Composable, filters: list[tuple[str, sql.Composable]]
    ) -> list[FacetResult]:
        """Each facet over its query (or the search's) and the filters it does not own."""
        request = self._request
        results = []
        for facet in request.facets:
            base = scope
            if facet.query is not None:
                compiler = QueryCompiler(self._p, request.fields, self._now_ms)
                base = self._scope(compiler, facet.query)
            applied = [c for owner, c in filters if not owner or owner != facet.id]
            definition = request.fields.get(facet.field)
            kind = FieldType(definition.type) if definition else None
            where = all_of(base, *applied)
            results.append(count_facet(self._conn, self._p, facet, where, kind))
        return results
