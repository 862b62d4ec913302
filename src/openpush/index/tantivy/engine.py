"""The embedded search index on tantivy.

One index directory holds every organization; every query is scoped to one organization by
a term on ``org`` that the caller cannot remove. Field values live in two JSON fields:
``fx`` (raw values, fast: exact matches, facets, sorting) and ``ft`` (analysed text: word
matches inside field values). Permission tokens live in the multi-valued u64 field ``acl``.

Only one process may hold the writer (tantivy's lock file); other processes open the index
to search and :meth:`TantivyIndex.refresh` picks up new commits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import tantivy
from tantivy import Occur, Query

from openpush.index.base import (
    IndexDocument,
    IndexHit,
    IndexResult,
    IndexSearch,
    Visibility,
    document_uid,
)
from openpush.index.tantivy.compile import (
    QueryCompiler,
    compile_acl,
    lower_analyzer,
    text_analyzer,
)

__all__ = ["TantivyIndex"]

TEXT = "op_text"
LOWER = "op_lower"
_REFRESH_INTERVAL = 0.05


def build_schema() -> tantivy.Schema:
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
    return sb.build()


class _TantivyWriter:
    def __init__(self, index: TantivyIndex, heap_bytes: int) -> None:
        self._index = index
        self._writer = index.index.writer(heap_size=heap_bytes, num_threads=1)
        self._schema = index.schema

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
        for token in document.acl:
            doc.add_unsigned("acl", token)
        if document.fields:
            doc.add_json("fx", orjson.dumps(document.fields).decode())
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
    def __init__(self, path: Path, *, writer_heap_mb: int = 128) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.index.register_tokenizer(TEXT, text_analyzer())
        self.index.register_tokenizer(LOWER, lower_analyzer())
        self._heap = max(writer_heap_mb, 16) * 1024 * 1024
        self._compiler = QueryCompiler(self.index, self.schema, lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        self._refreshed = 0.0
        self._searcher = self.index.searcher()

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

    def _scope(self, request: IndexSearch) -> Query:
        clauses = [
            (Occur.Must, self._compiler.compile(request.query, request.fields)),
            (
                Occur.Must,
                Query.const_score_query(Query.term_query(self.schema, "org", request.org_id), 0.0),
            ),
        ]
        if request.visibility is not None:
            clauses.append(
                (Occur.Must, Query.const_score_query(self._visibility(request.visibility), 0.0))
            )
        return Query.boolean_query(clauses)

    def _visibility(self, visibility: Visibility) -> Query:
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
                        (Occur.Must, compile_acl(self.schema, visibility.acl)),
                    ]
                )
            )
        if not options:
            return Query.empty_query()
        return Query.boolean_query([(Occur.Should, q) for q in options])

    def search(self, request: IndexSearch) -> IndexResult:
        self.refresh()
        searcher = self._searcher
        query = self._scope(request)
        limit = max(request.count, 0)
        kwargs: dict[str, Any] = {"offset": request.first}
        sort = request.sort[0] if request.sort else None
        if sort is not None and sort.field == "date":
            kwargs["order_by_field"] = "date"
            kwargs["order"] = tantivy.Order.Desc if sort.descending else tantivy.Order.Asc
        result = searcher.search(query, max(limit, 1), count=True, **kwargs)
        hits = []
        for score, address in result.hits[:limit]:
            stored = searcher.doc(address).to_dict()
            hits.append(
                IndexHit(
                    source_id=stored["source"][0],
                    document_id=stored["uri"][0],
                    title=stored["title"][0] if stored.get("title") else "",
                    body=stored["body"][0] if stored.get("body") else "",
                    score=float(score) if isinstance(score, float) else 0.0,
                    raw=orjson.loads(stored["rawb"][0]),
                )
            )
        return IndexResult(total=int(result.count or 0), hits=hits)

    def close(self) -> None:
        self._searcher = None  # type: ignore[assignment]
