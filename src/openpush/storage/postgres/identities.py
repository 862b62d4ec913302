"""Security providers, identities and their relationships in PostgreSQL.

Graph reads pass their keys as two arrays (providers, names) joined through ``unnest``: one
statement per call whatever the number of keys, with no statement text growing with it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson
from psycopg.rows import tuple_row

from openpush.domain.identities import EMAIL_PROVIDER_ID, IdentityRef, SecurityProvider
from openpush.security.evaluate import IdentityKey
from openpush.storage.base import (
    ALL_IDENTITIES,
    IdentityChange,
    IdentityFilter,
    IdentityRecord,
)
from openpush.storage.edges import Dialect, EdgeReads, identity_listing, kinds_sql
from openpush.storage.postgres.database import Connection, PostgresDatabase, nul_free

__all__ = ["PostgresIdentities", "PostgresIdentityGraph", "bump_version", "write_identity_changes"]

Row = dict[str, Any]

_KEYS_SQL = "unnest(%(providers)s::text[], %(names)s::text[]) AS k(provider, name)"
# (tag, near side, far side, kinds) of the parts neighbours() unites
_NEIGHBOUR_PARTS = (
    ("p", "child", "parent", "('member', 'granted')"),
    ("a", "child", "parent", "('alias')"),
    ("a", "parent", "child", "('alias')"),
)
_NEIGHBOURS_SQL = f"WITH k AS (SELECT * FROM {_KEYS_SQL}) " + " UNION ALL ".join(  # noqa: S608
    f"SELECT '{tag}', e.{near}_provider, e.{near}_name, e.{far}_provider, e.{far}_name,"  # noqa: S608
    f" i.enabled FROM k JOIN identity_edges e ON e.org_id = %(org)s"
    f" AND e.{near}_provider = k.provider AND e.{near}_name = k.name AND e.kind IN {kinds}"
    " LEFT JOIN identities i ON i.org_id = e.org_id"
    f" AND i.provider = e.{far}_provider AND i.name_key = e.{far}_name"
    for tag, near, far, kinds in _NEIGHBOUR_PARTS
)

# Shared key objects: an expansion turns thousands of rows into keys (see the SQLite store).
_KEYS: dict[tuple[str, str], IdentityKey] = {}
_KEYS_MAX = 200_000


_DIALECT = Dialect("%s", "(ref::jsonb ->> 'type')", "lower")


def _key(provider: str, name: str) -> IdentityKey:
    key = _KEYS.get((provider, name))
    if key is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        key = _KEYS[(provider, name)] = IdentityKey(provider, name)
    return key


def _params(org_id: str, keys: Iterable[IdentityKey]) -> dict[str, Any]:
    unique = list(dict.fromkeys(keys))
    return {
        "org": org_id,
        "providers": [k.provider for k in unique],
        "names": [nul_free(k.name) for k in unique],
    }


def _provider(row: Row) -> SecurityProvider:
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


def _record(row: Row) -> IdentityRecord:
    return IdentityRecord(
        org_id=row["org_id"],
        key=IdentityKey(row["provider"], row["name_key"]),
        ref=IdentityRef.from_dict(orjson.loads(row["ref"])),
        enabled=row["enabled"],
        ordering_id=int(row["ordering_id"]),
        updated_at=row["updated_at"],
    )


def bump_version(conn: Connection, org_id: str) -> None:
    conn.execute(
        "INSERT INTO identity_versions (org_id, version) VALUES (%s, 1) ON CONFLICT (org_id)"
        " DO UPDATE SET version = identity_versions.version + 1",
        (org_id,),
    )


def write_identity_changes(conn: Connection, changes: Iterable[IdentityChange]) -> None:
    """Apply a pipeline round's identity changes and bump their organizations' versions.

    The round's final state is written with one statement per kind of row: the last change
    of an identity wins, and the edges of a kind are those of the last change naming it
    (what applying the changes one by one would leave).
    """
    records: dict[tuple[str, str, str], tuple[object, ...]] = {}
    owned: dict[tuple[str, str, str, str], list[tuple[str, ...]]] = {}
    for change in changes:
        record = change.record
        owner = (record.org_id, record.key.provider, nul_free(record.key.name))
        records[owner] = (
            *owner,
            orjson.dumps(record.ref.to_dict()).decode(),
            record.enabled,
            record.ordering_id,
            record.updated_at,
        )
        for kind, edges in change.edges.items():
            owned[(*owner, kind.value)] = [
                (owner[0], kind.value, owner[1], owner[2],
                 parent.provider, nul_free(parent.name), child.provider, nul_free(child.name))
                for parent, child in edges
            ]  # fmt: skip
    if not records:
        return
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO identities (org_id, provider, name_key, ref, enabled, ordering_id,"
        " updated_at) VALUES (%s,%s,%s,%s,%s,%s::numeric,%s)"
        " ON CONFLICT (org_id, provider, name_key) DO UPDATE SET ref = excluded.ref,"
        " enabled = excluded.enabled, ordering_id = excluded.ordering_id,"
        " updated_at = excluded.updated_at",
        [records[key] for key in sorted(records)],
    )
    if owned:
        cur.executemany(
            "DELETE FROM identity_edges WHERE org_id = %s AND owner_provider = %s"
            " AND owner_name = %s AND kind = %s",
            sorted(owned),
        )
        edges = [edge for key in sorted(owned) for edge in owned[key]]
        if edges:
            cur.executemany(
                "INSERT INTO identity_edges (org_id, kind, owner_provider, owner_name,"
                " parent_provider, parent_name, child_provider, child_name)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                edges,
            )
    for org_id in sorted({key[0] for key in records}):
        bump_version(conn, org_id)


class PostgresIdentityGraph(EdgeReads):
    """One organization's graph (the ``IdentityGraph`` the expander reads)."""

    def __init__(self, db: PostgresDatabase, org_id: str) -> None:
        self._db = db
        self._org = org_id

    def _rows(self, sql: str, keys: Collection[IdentityKey]) -> list[tuple[Any, ...]]:
        if not keys:
            return []
        params = _params(self._org, keys)
        return self._db.read(
            lambda c: c.cursor(row_factory=tuple_row).execute(sql, params).fetchall()
        )

    def states(self, keys: Collection[IdentityKey]) -> Mapping[IdentityKey, bool]:
        rows = self._rows(
            f"SELECT i.provider, i.name_key, i.enabled FROM {_KEYS_SQL} JOIN identities i"  # noqa: S608
            " ON i.org_id = %(org)s AND i.provider = k.provider AND i.name_key = k.name",
            keys,
        )
        return {_key(p, n): enabled for p, n, enabled in rows}

    def _related(
        self, keys: Collection[IdentityKey], near: str, far: str, kinds: tuple[str, ...]
    ) -> dict[IdentityKey, set[IdentityKey]]:
        """For each key on the ``near`` side of edges of ``kinds``, the keys on the far side."""
        rows = self._rows(
            f"SELECT e.{near}_provider, e.{near}_name, e.{far}_provider, e.{far}_name"  # noqa: S608
            f" FROM {_KEYS_SQL} JOIN identity_edges e ON e.org_id = %(org)s"
            f" AND e.{near}_provider = k.provider AND e.{near}_name = k.name"
            f" AND e.kind {kinds_sql(kinds)}",
            keys,
        )
        out: dict[IdentityKey, set[IdentityKey]] = {}
        for np_, nn, fp, fn in rows:
            out.setdefault(_key(np_, nn), set()).add(_key(fp, fn))
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
        for tag, np_, nn, fp, fn, enabled in self._rows(_NEIGHBOURS_SQL, keys):
            far_key = _key(fp, fn)
            target = parents if tag == "p" else aliases
            target.setdefault(_key(np_, nn), set()).add(far_key)
            if enabled is not None:
                states[far_key] = enabled
        return aliases, parents, states


class PostgresIdentities:
    def __init__(self, db: PostgresDatabase) -> None:
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
        ).decode()
        self._db.write(
            lambda c: c.execute(
                "INSERT INTO providers (org_id, id, key, definition) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (org_id, key) DO UPDATE SET definition = excluded.definition",
                (provider.org_id, provider.id, provider.key, definition),
            )
        )

    def get_provider(self, org_id: str, provider_id: str) -> SecurityProvider | None:
        if provider_id.casefold() == EMAIL_PROVIDER_ID.casefold():
            return SecurityProvider(org_id, EMAIL_PROVIDER_ID, EMAIL_PROVIDER_ID, "EMAIL")
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM providers WHERE org_id = %s AND key = %s",
                (org_id, provider_id.casefold()),
            ).fetchone()
        )
        return _provider(row) if row else None

    def list_providers(self, org_id: str) -> list[SecurityProvider]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM providers WHERE org_id = %s ORDER BY key", (org_id,)
            ).fetchall()
        )
        email = SecurityProvider(org_id, EMAIL_PROVIDER_ID, EMAIL_PROVIDER_ID, "EMAIL")
        return [email, *(_provider(r) for r in rows)]

    def delete_provider(self, org_id: str, provider_id: str) -> bool:
        key = provider_id.casefold()

        def delete(conn: Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM providers WHERE org_id = %s AND key = %s", (org_id, key)
            )
            if cur.rowcount:
                conn.execute(
                    "DELETE FROM identities WHERE org_id = %s AND provider = %s", (org_id, key)
                )
                conn.execute(
                    "DELETE FROM identity_edges WHERE org_id = %s AND owner_provider = %s",
                    (org_id, key),
                )
                bump_version(conn, org_id)
            return cur.rowcount == 1

        return self._db.write(delete)

    # -- identities ---------------------------------------------------------------------

    def get_identities(
        self, org_id: str, keys: Collection[IdentityKey]
    ) -> dict[IdentityKey, IdentityRecord]:
        if not keys:
            return {}
        params = _params(org_id, keys)
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT i.* FROM {_KEYS_SQL} JOIN identities i ON i.org_id = %(org)s"  # noqa: S608
                " AND i.provider = k.provider AND i.name_key = k.name",
                params,
            ).fetchall()
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

        def select(conn: Connection) -> tuple[list[IdentityRecord], int]:
            count = f"SELECT count(*) AS n FROM identities WHERE {where}"  # noqa: S608
            total = conn.execute(count, args).fetchone()
            query = f"SELECT * FROM identities WHERE {where}"  # noqa: S608
            rows = conn.execute(
                query + " ORDER BY provider, name_key LIMIT %s OFFSET %s",
                (*args, per_page, page * per_page),
            ).fetchall()
            return [_record(r) for r in rows], int(total["n"]) if total else 0

        return self._db.read(select)

    def older_than(self, org_id: str, provider_id: str, ordering_id: int) -> list[IdentityRecord]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM identities WHERE org_id = %s AND provider = %s AND enabled"
                " AND ordering_id < %s::numeric AND ordering_id > 0",
                (org_id, provider_id.casefold(), ordering_id),
            ).fetchall()
        )
        return [_record(r) for r in rows]

    def graph(self, org_id: str) -> PostgresIdentityGraph:
        return PostgresIdentityGraph(self._db, org_id)

    def waiting_items(self, org_id: str, key: IdentityKey) -> list[tuple[str, str]]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT source_id, document_id FROM waiting_items WHERE org_id = %s"
                " AND provider = %s AND name_key = %s",
                (org_id, key.provider, nul_free(key.name)),
            ).fetchall()
        )
        return [(r["source_id"], r["document_id"]) for r in rows]

    def version(self, org_id: str) -> int:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT version FROM identity_versions WHERE org_id = %s", (org_id,)
            ).fetchone()
        )
        return int(row["version"]) if row else 0
