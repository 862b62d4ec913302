"""The PostgreSQL search index: one table that every API and worker process shares.

``index_documents`` (migration ``0002_search_index.sql``) holds one row per indexed item of
every organization; every query is scoped to one organization by ``d.org_id``, and the
permission filter is compiled into the same ``WHERE`` (:mod:`.compile`), so totals, pages
and facet counts only ever count visible items. A search runs its statements (total, page,
facets) in one read-only REPEATABLE READ transaction: they all see the same snapshot.

Decisions:

* **Text.** Words are analysed in Python by the embedded index's own analyzer (tantivy's
  simple tokenizer, lower case, ASCII folding, English Snowball stemmer, no stop words) and
  stored as a ``tsvector`` (:mod:`._text`), rather than by a PostgreSQL text-search
  configuration: PostgreSQL's parser splits words differently (``v1.0.2``, URLs, e-mail
  addresses are single tokens there) and ``unaccent`` is an extension. Both indexes thus
  match exactly the same words.
* **Ranking.** ``ts_rank`` with title words weighing twice body and field words, against
  every word, phrase and prefix of the query that is not under a ``NOT``; ties are broken by
  uid. It is not BM25: there is no inverse document frequency and no length normalisation
  (``ts_rank``'s would count field words in the length, and let a long item with more
  occurrences rank below a short one with fewer), so scores and the order of items with
  different matches differ from tantivy's, but more occurrences and title matches always
  rank higher. A query without such words ranks every item equally, so the order is by uid;
  ``nosort`` is by uid too (there is no index order).
* **Writes.** A writer buffers upserts and deletes (the last one per uid wins; a source's
  deletion drops what was buffered for it) and applies them in one transaction on
  :meth:`PostgresIndexWriter.commit`: source deletions, deletions, then an ``INSERT … ON
  CONFLICT (uid) DO UPDATE`` of every upsert, in uid order so that concurrent writers lock
  rows in the same order. Nothing is visible before the commit; every commit is visible to
  every process at once, so :meth:`PostgresIndex.refresh` has nothing to do.

Limitations: phrases past the 16,383rd word of a text may not match (PostgreSQL's position
limit), wildcard words other than a trailing ``*`` scan the words of every candidate item,
and a value holding NUL is stored with U+FFFD instead (PostgreSQL text cannot hold NUL).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import orjson

from openpush.index.base import IndexDocument, IndexResult, IndexSearch, document_uid
from openpush.index.postgres import _text
from openpush.index.postgres._search import Search
from openpush.index.postgres.compile import signed
from openpush.storage.postgres.database import Connection, PostgresDatabase, nul_free

__all__ = ["PostgresIndex", "PostgresIndexWriter", "document_row"]

_UPSERT = (
    "INSERT INTO index_documents (uid, org_id, source_id, document_id, title, body, date_ms,"
    " acl, fields, lowered, words, raw)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::bigint[], %s::jsonb, %s::jsonb, %s::tsvector, %s)"
    " ON CONFLICT (uid) DO UPDATE SET org_id = excluded.org_id,"
    " source_id = excluded.source_id, document_id = excluded.document_id,"
    " title = excluded.title, body = excluded.body, date_ms = excluded.date_ms,"
    " acl = excluded.acl, fields = excluded.fields, lowered = excluded.lowered,"
    " words = excluded.words, raw = excluded.raw"
)


# the table's row count as of its last ANALYZE or VACUUM (-1: never)
_SIZE = "SELECT reltuples AS rows FROM pg_class WHERE oid = 'index_documents'::regclass"
#: pg_try_advisory_xact_lock key of the statistics refresh ("opanalyz")
_ANALYZE_LOCK = 0x6F70616E616C797A


def _uid(org_id: str, source_id: str, document_id: str) -> str:
    return document_uid(nul_free(org_id), nul_free(source_id), nul_free(document_id))


def _clean(value: Any) -> Any:
    return nul_free(value) if isinstance(value, str) else value


def document_row(document: IndexDocument) -> tuple[Any, ...]:
    """The ``index_documents`` row of ``document`` (the parameters of ``_UPSERT``)."""
    vector = _text.Vector()
    vector.add(_text.TITLE, _text.analyze(document.title), "A")
    fields = {name: [_clean(v) for v in values] for name, values in document.fields.items()}
    lowered = {}
    for name, values in fields.items():
        strings = [v for v in values if isinstance(v, str)]
        if strings:
            vector.add_values(_text.field_prefix(name), strings, "C")
            lowered[name] = [v.lower() for v in strings]
    vector.add(_text.BODY, _text.analyze(document.body), "D")
    return (
        _uid(document.org_id, document.source_id, document.document_id),
        nul_free(document.org_id),
        nul_free(document.source_id),
        nul_free(document.document_id),
        nul_free(document.title),
        nul_free(document.body),
        int(document.date_ms),
        sorted(signed(token) for token in document.acl),
        orjson.dumps(fields).decode(),
        orjson.dumps(lowered).decode(),
        vector.text(),
        orjson.dumps(document.raw),
    )


@dataclass(slots=True)
class _Buffer:
    sources: list[tuple[str, str]]
    # uid -> (org_id, source_id, the document; None to delete it)
    items: dict[str, tuple[str, str, IndexDocument | None]]


class PostgresIndexWriter:
    """A write session: changes are buffered and applied in one transaction on commit."""

    def __init__(self, db: PostgresDatabase, statistics: _Statistics | None = None) -> None:
        self._db = db
        self._statistics = statistics or _Statistics()
        self._lock = threading.Lock()
        self._buffer = _Buffer([], {})

    def upsert(self, document: IndexDocument, *, new: bool = False) -> None:
        key = _uid(document.org_id, document.source_id, document.document_id)
        with self._lock:
            self._buffer.items[key] = (document.org_id, document.source_id, document)

    def delete(self, org_id: str, source_id: str, document_id: str) -> None:
        with self._lock:
            self._buffer.items[_uid(org_id, source_id, document_id)] = (org_id, source_id, None)

    def delete_source(self, org_id: str, source_id: str) -> None:
        with self._lock:
            items = self._buffer.items
            self._buffer.items = {
                k: v for k, v in items.items() if (v[0], v[1]) != (org_id, source_id)
            }
            self._buffer.sources.append((nul_free(org_id), nul_free(source_id)))

    def commit(self) -> None:
        with self._lock:
            buffer, self._buffer = self._buffer, _Buffer([], {})
        if not buffer.sources and not buffer.items:
            return
        deleted = sorted(uid for uid, (_, _, doc) in buffer.items.items() if doc is None)
        rows = sorted(
            (document_row(doc) for _, _, doc in buffer.items.values() if doc is not None),
            key=lambda row: str(row[0]),
        )
        self._db.write(lambda conn: _apply(conn, buffer.sources, deleted, rows))
        if rows:
            self._db.write(lambda conn: self._statistics.wrote(conn, len(rows)))

    def rollback(self) -> None:
        with self._lock:
            self._buffer = _Buffer([], {})


def _apply(
    conn: Connection,
    sources: list[tuple[str, str]],
    deleted: list[str],
    rows: list[tuple[Any, ...]],
) -> None:
    cur = conn.cursor()
    for org_id, source_id in sources:
        cur.execute(
            "DELETE FROM index_documents WHERE org_id = %s AND source_id = %s",
            (org_id, source_id),
        )
    if deleted:
        cur.execute("DELETE FROM index_documents WHERE uid = ANY(%s)", (deleted,))
    if rows:
        cur.executemany(_UPSERT, rows)


class _Statistics:
    """Keeps the planner's statistics of ``index_documents`` fresh after large writes.

    Whether a word's GIN index or a full scan answers a query is the planner's call, from the
    table's statistics. Without them (a bulk load into a new table, autovacuum turned off or
    behind) it walks the organization's every row and tests each item's words: measured on
    20,000 items, 96 ms for a word of 1,046 items instead of 2.4 ms. So once the rows this
    process wrote since its last ``ANALYZE`` exceed 1,000 plus a tenth of the table (as
    PostgreSQL last counted it), it analyses the table; an advisory lock keeps two processes
    from analysing at once (the other one counts on).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written = 0

    def wrote(self, conn: Connection, rows: int) -> bool:
        """Count ``rows`` written; True if the table was analysed."""
        with self._lock:
            self._written += rows
            written = self._written
        size = conn.execute(_SIZE).fetchone()
        if size is None or written <= 1000 + 0.1 * max(size["rows"], 0):
            return False
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS got", (_ANALYZE_LOCK,))
        if not got.fetchone()["got"]:  # type: ignore[index]
            return False
        conn.execute("ANALYZE index_documents")
        with self._lock:
            self._written -= written
        return True


class PostgresIndex:
    """The index in ``index_documents``, on a pool the state store may share."""

    #: several processes may write at once (see api/routes/sources.py)
    concurrent_writers = True

    def __init__(self, db: PostgresDatabase, *, owns_database: bool = False) -> None:
        self._db = db
        self._owns_database = owns_database
        self._statistics = _Statistics()

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> PostgresIndex:
        """An index on a pool of its own (closed with the index)."""
        return cls(PostgresDatabase(url, max_size=pool_size), owns_database=True)

    def writer(self) -> PostgresIndexWriter:
        return PostgresIndexWriter(self._db, self._statistics)

    def refresh(self) -> None:
        """Nothing to do: every committed write is visible to every search."""

    def close(self) -> None:
        if self._owns_database:
            self._db.close()

    def search(self, request: IndexSearch) -> IndexResult:
        return self._db.read(lambda conn: Search(conn, request).run())
