"""Item state and the indexing log in PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openpush.domain.operations import LogEntry
from openpush.storage.base import ItemRecord, LogQuery
from openpush.storage.postgres.database import Connection, PostgresDatabase, nul_free
from openpush.storage.rows import item_from_row, log_from_row

__all__ = ["PostgresItemStore", "PostgresLogStore", "glob_to_regex"]

Row = dict[str, Any]


def _item(row: Row) -> ItemRecord:
    return item_from_row(row, int(row["ordering_id"]))


def _log(row: Row) -> LogEntry:
    return log_from_row(row, int(row["ordering_id"]))


def glob_to_regex(pattern: str) -> str:
    """SQLite's GLOB (``*``, ``?``, ``[…]`` with ``^`` negation; case-sensitive) as a regex."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        first = i + 3 if pattern.startswith("[^", i) else i + 2  # "[]…]" holds a "]"
        end = pattern.find("]", first) if char == "[" else -1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif end != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            escaped = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + "$"


class PostgresItemStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def get_items(
        self, org_id: str, source_id: str, document_ids: Iterable[str]
    ) -> dict[str, ItemRecord]:
        stored = {nul_free(i): i for i in document_ids}  # stored id -> the caller's
        if not stored:
            return {}
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM items WHERE org_id = %s AND source_id = %s"
                " AND document_id = ANY(%s)",
                (org_id, source_id, list(stored)),
            ).fetchall()
        )
        found = {}
        for row in rows:
            record = _item(row)
            record.document_id = stored[record.document_id]
            found[record.document_id] = record
        return found

    def live_with_prefix(self, org_id: str, source_id: str, prefix: str) -> list[ItemRecord]:
        """Live items whose documentId starts with ``prefix`` (compared byte for byte)."""
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM items WHERE org_id = %s AND source_id = %s"
                " AND document_id >= %s AND document_id < %s AND state = 'indexed'",
                (org_id, source_id, nul_free(prefix), nul_free(prefix) + "\U0010ffff"),
            ).fetchall()
        )
        return [_item(r) for r in rows if r["document_id"].startswith(nul_free(prefix))]

    def live_older_than(self, org_id: str, source_id: str, ordering_id: int) -> list[ItemRecord]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM items WHERE org_id = %s AND source_id = %s"
                " AND ordering_id < %s::numeric AND state = 'indexed'",
                (org_id, source_id, ordering_id),
            ).fetchall()
        )
        return [_item(r) for r in rows]

    def max_ordering_id(self, org_id: str, source_id: str) -> int:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT greatest("
                " (SELECT max(ordering_id) FROM items WHERE org_id = %(o)s AND source_id = %(s)s),"
                " (SELECT max(ordering_id) FROM operations"
                "  WHERE org_id = %(o)s AND source_id = %(s)s)) AS m",
                {"o": org_id, "s": source_id},
            ).fetchone()
        )
        return int(row["m"]) if row and row["m"] is not None else 0

    def count_live(self, org_id: str, source_id: str) -> int:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT count(*) AS n FROM items WHERE org_id = %s AND source_id = %s"
                " AND state = 'indexed'",
                (org_id, source_id),
            ).fetchone()
        )
        return int(row["n"]) if row else 0

    def acl_shapes(self, org_id: str) -> list[str]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT shape FROM acl_shapes WHERE org_id = %s ORDER BY shape", (org_id,)
            ).fetchall()
        )
        return [r["shape"] for r in rows]

    def purge_source(self, org_id: str, source_id: str) -> None:
        def purge(conn: Connection) -> None:
            conn.execute(
                "DELETE FROM items WHERE org_id = %s AND source_id = %s", (org_id, source_id)
            )
            conn.execute(
                "DELETE FROM operations WHERE org_id = %s AND source_id = %s",
                (org_id, source_id),
            )

        self._db.write(purge)


_FILTERS = (
    ("source_id", "source_ids", False),
    ("operation", "operations", False),
    ("result", "results", False),
    ("task", "tasks", False),
    ("source_id", "exclude_source_ids", True),
    ("operation", "exclude_operations", True),
    ("result", "exclude_results", True),
    ("task", "exclude_tasks", True),
)


class PostgresLogStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def query(self, org_id: str, query: LogQuery) -> tuple[list[LogEntry], bool]:
        clauses = ["org_id = %s", "created_at >= %s", "created_at <= %s"]
        params: list[object] = [org_id, query.from_time, query.to_time]
        for column, attribute, negate in _FILTERS:
            values = list(getattr(query, attribute))
            if values:
                clauses.append(f"{'NOT ' if negate else ''}{column} = ANY(%s)")
                params.append(values)
        if query.request_id:
            clauses.append("request_id = %s")
            params.append(nul_free(query.request_id))
        if query.document_id:
            document_id = nul_free(query.document_id)
            if query.document_id_matching == "EXACT":
                clauses.append("document_id = %s")
                params.append(document_id)
            elif query.document_id_matching == "PARTIAL":
                clauses.append("strpos(document_id, %s) > 0")
                params.append(document_id)
            else:
                clauses.append("document_id ~ %s")
                params.append(glob_to_regex(document_id))
        # One request's entries (a batch) are found through logs_request; ids grow with time.
        order = "id DESC" if query.request_id else "created_at DESC, id DESC"
        sql = (
            f"SELECT * FROM logs WHERE {' AND '.join(clauses)}"  # noqa: S608 - placeholders only
            f" ORDER BY {order} LIMIT %s OFFSET %s"
        )
        params.extend([query.per_page + 1, query.page * query.per_page])
        rows = self._db.read(lambda c: c.execute(sql, params).fetchall())
        entries = [_log(r) for r in rows[: query.per_page]]
        return entries, len(rows) > query.per_page

    def last_for(self, org_id: str, source_id: str, document_id: str) -> LogEntry | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM logs WHERE org_id = %s AND source_id = %s AND document_id = %s"
                " ORDER BY id DESC LIMIT 1",
                (org_id, source_id, nul_free(document_id)),
            ).fetchone()
        )
        return _log(row) if row else None
