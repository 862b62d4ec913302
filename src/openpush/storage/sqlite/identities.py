"""Security providers, identities and their relationships in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping

import orjson

from openpush.domain.identities import (
    EMAIL_PROVIDER_ID,
    IdentityRef,
    SecurityProvider,
)
from openpush.domain.operations import ordering_key
from openpush.security.evaluate import IdentityKey
from openpush.storage.base import (
    ALL_IDENTITIES,
    IdentityChange,
    IdentityFilter,
    IdentityRecord,
)
from openpush.storage.edges import Dialect, EdgeReads, identity_listing, kinds_sql
from openpush.storage.sqlite.database import SqliteDatabase

__all__ = ["SqliteIdentities", "SqliteIdentityGraph", "write_identity_changes"]

_CHUNK = 400
# (tag, near side, far side, kinds) of the statements neighbours() unites
_NEIGHBOUR_PARTS = (
    ("p", "child", "parent", "IN ('member', 'granted')"),
    ("a", "child", "parent", "= 'alias'"),
    ("a", "parent", "child", "= 'alias'"),
)


# Shared key objects: an expansion turns thousands of rows into keys, and IdentityKey is a
# frozen dataclass (slow to build, cheap to look up).
_KEYS: dict[tuple[str, str], IdentityKey] = {}
_KEYS_MAX = 200_000


_DIALECT = Dialect("?", "json_extract(ref, '$.type')", "lower")


def _key(provider: str, name: str) -> IdentityKey:
    key = _KEYS.get((provider, name))
    if key is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        key = _KEYS[(provider, name)] = IdentityKey(provider, name)
    return key


def _provider(row: sqlite3.Row) -> SecurityProvider:
    raw = orjson.loads(row["definition"])
    return SecurityProvider(
        org_id=row["org_id"],
        id=row["id"],
        display_name=raw.get("display_name", ""),
        type=raw.get("type", "EXPANDED"),
        referenced_by=tuple(tuple(r) for r in raw.get("referenced_by", [])),  # type: ignore[misc]
        cascading=tuple(raw.get("cascading", [])),
        case_sensitive=bool(raw.get("case_sensitive", False)),
        created_at=raw.get("created_at", 0.0),
    )


def _record(row: sqlite3.Row) -> IdentityRecord:
    return IdentityRecord(
        org_id=row["org_id"],
        key=IdentityKey(row["provider"], row["name_key"]),
        ref=IdentityRef.from_dict(orjson.loads(row["ref"])),
        enabled=bool(row["enabled"]),
        ordering_id=int(row["ordering_key"]),
        updated_at=row["updated_at"],
    )


def _chunks(values: list[IdentityKey]) -> Iterable[list[IdentityKey]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def write_identity_changes(conn: sqlite3.Connection, changes: Iterable[IdentityChange]) -> None:
    """Apply a pipeline round's identity changes (inside the round's transaction)."""
    orgs = set()
    for change in changes:
        record = change.record
        orgs.add(record.org_id)
        conn.execute(
            "INSERT INTO identities (org_id, provider, name_key, ref, enabled, ordering_key,"
            " updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(org_id, provider, name_key) DO"
            " UPDATE SET ref=excluded.ref, enabled=excluded.enabled,"
            " ordering_key=excluded.ordering_key, updated_at=excluded.updated_at",
            (
                record.org_id,
                record.key.provider,
                record.key.name,
                orjson.dumps(record.ref.to_dict()),
                int(record.enabled),
                ordering_key(record.ordering_id),
                record.updated_at,
            ),
        )
        for kind, edges in change.edges.items():
            conn.execute(
                "DELETE FROM identity_edges WHERE org_id = ? AND owner_provider = ?"
                " AND owner_name = ? AND kind = ?",
                (record.org_id, record.key.provider, record.key.name, kind.value),
            )
            conn.executemany(
                "INSERT INTO identity_edges (org_id, kind, owner_provider, owner_name,"
                " parent_provider, parent_name, child_provider, child_name)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (record.org_id, kind.value, record.key.provider, record.key.name,
                     parent.provider, parent.name, child.provider, child.name)
                    for parent, child in edges
                ],
            )  # fmt: skip
    for org_id in orgs:
        conn.execute(
            "INSERT INTO identity_versions (org_id, version) VALUES (?, 1)"
            " ON CONFLICT(org_id) DO UPDATE SET version = version + 1",
            (org_id,),
        )


class SqliteIdentityGraph(EdgeReads):
    """One organization's graph, read in batches (one query per chunk of keys).

    Keys are matched with ``(a, b) IN (SELECT column1, column2 FROM (VALUES ...))``: SQLite
    (3.40) uses the index for that form, while ``(a, b) IN (VALUES ...)`` scans the whole
    organization (measured: about 600 times slower on a million relationships).
    """

    def __init__(self, db: SqliteDatabase, org_id: str) -> None:
        self._db = db
        self._org = org_id

    def select(self, keys: Collection[IdentityKey], sql: str) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        wanted = list(keys)

        def select(conn: sqlite3.Connection) -> None:
            for chunk in _chunks(wanted):
                marks = ",".join("(?,?)" for _ in chunk)
                params: list[str] = [self._org]
                for key in chunk:
                    params.extend((key.provider, key.name))
                keys_sql = f"SELECT column1, column2 FROM (VALUES {marks})"  # noqa: S608 - placeholders only
                rows.extend(conn.execute(sql.format(keys=keys_sql), params).fetchall())

        self._db.read(select)
        return rows

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        rows = self.select(
            keys,
            "SELECT provider, name_key, enabled FROM identities WHERE org_id = ?"
            " AND (provider, name_key) IN ({keys})",
        )
        return {IdentityKey(r["provider"], r["name_key"]): bool(r["enabled"]) for r in rows}

    def _related(
        self, keys: Collection[IdentityKey], near: str, far: str, kinds: tuple[str, ...]
    ) -> dict[IdentityKey, set[IdentityKey]]:
        """For each key on the ``near`` side of edges of ``kinds``, the keys on the far side."""
        rows = self.select(
            keys,
            f"SELECT {near}_provider AS np, {near}_name AS nn, {far}_provider AS fp,"  # noqa: S608
            f" {far}_name AS fn FROM identity_edges WHERE org_id = ? AND kind {kinds_sql(kinds)}"
            f" AND ({near}_provider, {near}_name) IN ({{keys}})",
        )
        out: dict[IdentityKey, set[IdentityKey]] = {}
        for r in rows:
            out.setdefault(_key(r["np"], r["nn"]), set()).add(_key(r["fp"], r["fn"]))
        return out

    def neighbours(
        self, keys: Collection[IdentityKey]
    ) -> tuple[
        dict[IdentityKey, set[IdentityKey]],
        dict[IdentityKey, set[IdentityKey]],
        dict[IdentityKey, bool],
    ]:
        """Aliases (both directions), parents and the neighbours' states: one statement."""
        aliases: dict[IdentityKey, set[IdentityKey]] = {}
        parents: dict[IdentityKey, set[IdentityKey]] = {}
        states: dict[IdentityKey, bool] = {}
        wanted = list(keys)

        def select(conn: sqlite3.Connection) -> None:
            for chunk in _chunks(wanted):
                marks = ",".join("(?,?)" for _ in chunk)
                pairs: list[str] = []
                for key in chunk:
                    pairs.extend((key.provider, key.name))
                keys_sql = f"SELECT column1, column2 FROM (VALUES {marks})"  # noqa: S608
                sql = " UNION ALL ".join(
                    f"SELECT '{tag}' AS k, e.{near}_provider AS np, e.{near}_name AS nn,"  # noqa: S608
                    f" e.{far}_provider AS fp, e.{far}_name AS fn, i.enabled AS en"
                    " FROM identity_edges e LEFT JOIN identities i ON i.org_id = e.org_id"
                    f" AND i.provider = e.{far}_provider AND i.name_key = e.{far}_name"
                    f" WHERE e.org_id = ? AND (e.{near}_provider, e.{near}_name) IN ({keys_sql})"
                    f" AND e.kind {kinds}"
                    for tag, near, far, kinds in _NEIGHBOUR_PARTS
                )
                params = [p for _ in _NEIGHBOUR_PARTS for p in (self._org, *pairs)]
                for tag, np_, nn, fp, fn, enabled in conn.execute(sql, params):
                    far_key = _key(fp, fn)
                    target = parents if tag == "p" else aliases
                    target.setdefault(_key(np_, nn), set()).add(far_key)
                    if enabled is not None:
                        states[far_key] = bool(enabled)

        self._db.read(select)
        return aliases, parents, states


class SqliteIdentities:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # -- providers ----------------------------------------------------------------------

    def save_provider(self, provider: SecurityProvider) -> None:
        definition = orjson.dumps(
            {
                "display_name": provider.display_name,
                "type": provider.type,
                "referenced_by": [list(r) for r in provider.referenced_by],
                "cascading": list(provider.cascading),
                "case_sensitive": provider.case_sensitive,
                "created_at": provider.created_at,
            }
        )
        self._db.write(
            lambda c: c.execute(
                "INSERT INTO providers (org_id, id, key, definition) VALUES (?,?,?,?)"
                " ON CONFLICT(org_id, key) DO UPDATE SET definition = excluded.definition",
                (provider.org_id, provider.id, provider.key, definition),
            )
        )

    def get_provider(self, org_id: str, provider_id: str) -> SecurityProvider | None:
        if provider_id.casefold() == EMAIL_PROVIDER_ID.casefold():
            return SecurityProvider(org_id, EMAIL_PROVIDER_ID, EMAIL_PROVIDER_ID, "EMAIL")
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM providers WHERE org_id = ? AND key = ?",
                (org_id, provider_id.casefold()),
            ).fetchone()
        )
        return _provider(row) if row else None

    def list_providers(self, org_id: str) -> list[SecurityProvider]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM providers WHERE org_id = ? ORDER BY key", (org_id,)
            ).fetchall()
        )
        email = SecurityProvider(org_id, EMAIL_PROVIDER_ID, EMAIL_PROVIDER_ID, "EMAIL")
        return [email, *(_provider(r) for r in rows)]

    def delete_provider(self, org_id: str, provider_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            key = provider_id.casefold()
            cur = conn.execute("DELETE FROM providers WHERE org_id = ? AND key = ?", (org_id, key))
            if cur.rowcount:
                conn.execute(
                    "DELETE FROM identities WHERE org_id = ? AND provider = ?", (org_id, key)
                )
                conn.execute(
                    "DELETE FROM identity_edges WHERE org_id = ? AND owner_provider = ?",
                    (org_id, key),
                )
                conn.execute(
                    "INSERT INTO identity_versions (org_id, version) VALUES (?, 1)"
                    " ON CONFLICT(org_id) DO UPDATE SET version = version + 1",
                    (org_id,),
                )
            return cur.rowcount == 1

        return self._db.write(delete)

    # -- identities ---------------------------------------------------------------------

    def get_identities(
        self, org_id: str, keys: Collection[IdentityKey]
    ) -> dict[IdentityKey, IdentityRecord]:
        rows = SqliteIdentityGraph(self._db, org_id).select(
            keys,
            "SELECT * FROM identities WHERE org_id = ? AND (provider, name_key) IN ({keys})",
        )
        return {IdentityKey(r["provider"], r["name_key"]): _record(r) for r in rows}

    def list_identities(
        self,
        org_id: str,
        provider_id: str | Collection[str],
        page: int,
        per_page: int,
        only: IdentityFilter = ALL_IDENTITIES,
    ) -> tuple[list[IdentityRecord], int]:
        where, args = identity_listing(org_id, provider_id, only, _DIALECT)

        def select(conn: sqlite3.Connection) -> tuple[list[IdentityRecord], int]:
            count = f"SELECT count(*) FROM identities WHERE {where}"  # noqa: S608
            total = conn.execute(count, args).fetchone()
            query = f"SELECT * FROM identities WHERE {where}"  # noqa: S608
            rows = conn.execute(
                query + " ORDER BY provider, name_key LIMIT ? OFFSET ?",
                (*args, per_page, page * per_page),
            ).fetchall()
            return [_record(r) for r in rows], int(total[0])

        return self._db.read(select)

    def older_than(self, org_id: str, provider_id: str, ordering_id: int) -> list[IdentityRecord]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM identities WHERE org_id = ? AND provider = ? AND enabled = 1"
                " AND ordering_key < ? AND ordering_key > ?",
                (org_id, provider_id.casefold(), ordering_key(ordering_id), ordering_key(0)),
            ).fetchall()
        )
        return [_record(r) for r in rows]

    def graph(self, org_id: str) -> SqliteIdentityGraph:
        return SqliteIdentityGraph(self._db, org_id)

    def waiting_items(self, org_id: str, key: IdentityKey) -> list[tuple[str, str]]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT source_id, document_id FROM waiting_items WHERE org_id = ?"
                " AND provider = ? AND name_key = ?",
                (org_id, key.provider, key.name),
            ).fetchall()
        )
        return [(r["source_id"], r["document_id"]) for r in rows]

    def version(self, org_id: str) -> int:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT version FROM identity_versions WHERE org_id = ?", (org_id,)
            ).fetchone()
        )
        return int(row[0]) if row else 0
