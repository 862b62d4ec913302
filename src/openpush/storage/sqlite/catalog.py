"""Organizations, API keys, sources, activities and fields in SQLite."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable

import orjson

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.domain.operations import ordering_key
from openpush.domain.organizations import ApiKey, Organization
from openpush.domain.sources import (
    ActivityType,
    Source,
    SourceActivity,
)
from openpush.errors import ConflictError
from openpush.storage.rows import (
    activity_from_row,
    api_key_from_row,
    privileges_json,
    source_from_row,
    source_update_values,
)
from openpush.storage.sqlite.database import SqliteDatabase

__all__ = ["SqliteCatalog"]


def _source(row: sqlite3.Row) -> Source:
    low = row["low_water_key"]
    return source_from_row(row, int(low) if low else 0)


def field_to_dict(definition: FieldDefinition) -> dict[str, object]:
    return dataclasses.asdict(definition)


def field_from_dict(raw: dict[str, object]) -> FieldDefinition:
    known = {f.name for f in dataclasses.fields(FieldDefinition)}
    values = {k: v for k, v in raw.items() if k in known}
    values["type"] = FieldType(str(values["type"]))
    return FieldDefinition(**values)  # type: ignore[arg-type]


# Columns added to ``api_keys`` after the first release: (name, declaration). schema.sql
# declares them for new files; ``_add_api_key_columns`` adds them to older ones.
_API_KEY_COLUMNS = (
    ("description", "TEXT NOT NULL DEFAULT ''"),
    ("created_by", "TEXT NOT NULL DEFAULT ''"),
    ("disabled_at", "REAL"),
)


def _add_api_key_columns(conn: sqlite3.Connection) -> None:
    present = {row["name"] for row in conn.execute("PRAGMA table_info(api_keys)")}
    for name, declaration in _API_KEY_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE api_keys ADD COLUMN {name} {declaration}")


class SqliteCatalog:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.write(_add_api_key_columns)

    # -- organizations and keys ---------------------------------------------------------

    def create_organization(self, org: Organization) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO organizations (id, display_name, created_at) VALUES (?,?,?)",
                (org.id, org.display_name, org.created_at),
            )
            return cur.rowcount == 1

        return self._db.write(insert)

    def get_organization(self, org_id: str) -> Organization | None:
        row = self._db.read(
            lambda c: c.execute("SELECT * FROM organizations WHERE id = ?", (org_id,)).fetchone()
        )
        return Organization(row["id"], row["display_name"], row["created_at"]) if row else None

    def save_api_key(self, key: ApiKey, key_hash: str) -> None:
        """Insert ``key``, or update everything of it but its id, organization and secret."""
        privileges = privileges_json(key)
        self._db.write(
            lambda c: c.execute(
                "INSERT INTO api_keys (id, org_id, key_hash, display_name, privileges, enabled,"
                " created_at, description, created_by, disabled_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET display_name=excluded.display_name,"
                " privileges=excluded.privileges, enabled=excluded.enabled,"
                " description=excluded.description, disabled_at=excluded.disabled_at",
                (
                    key.id,
                    key.org_id,
                    key_hash,
                    key.display_name,
                    privileges,
                    int(key.enabled),
                    key.created_at,
                    key.description,
                    key.created_by,
                    key.disabled_at,
                ),
            )
        )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = self._db.read(
            lambda c: c.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
        )
        return api_key_from_row(row) if row else None

    def get_api_key(self, org_id: str, key_id: str) -> ApiKey | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM api_keys WHERE org_id = ? AND id = ?", (org_id, key_id)
            ).fetchone()
        )
        return api_key_from_row(row) if row else None

    def update_api_key(self, key: ApiKey) -> bool:
        """Update an existing key's name, description, privileges and state (never its secret)."""
        privileges = privileges_json(key)
        return self._db.write(
            lambda c: (
                c.execute(
                    "UPDATE api_keys SET display_name = ?, description = ?, privileges = ?,"
                    " enabled = ?, disabled_at = ? WHERE org_id = ? AND id = ?",
                    (
                        key.display_name,
                        key.description,
                        privileges,
                        int(key.enabled),
                        key.disabled_at,
                        key.org_id,
                        key.id,
                    ),
                ).rowcount
                == 1
            )
        )

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id", (org_id,)
            ).fetchall()
        )
        return [api_key_from_row(r) for r in rows]

    def delete_api_key(self, org_id: str, key_id: str) -> bool:
        return self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM api_keys WHERE org_id = ? AND id = ?", (org_id, key_id)
                ).rowcount
                == 1
            )
        )

    # -- sources ------------------------------------------------------------------------

    def create_source(self, source: Source) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO sources (org_id, id, name, source_type, visibility, push_enabled,"
                    " stream_enabled, providers, low_water_key, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        source.org_id,
                        source.id,
                        source.name,
                        source.source_type.value,
                        source.visibility.value,
                        int(source.push_enabled),
                        int(source.stream_enabled),
                        orjson.dumps(list(source.security_providers)).decode(),
                        "",
                        source.created_at,
                        source.updated_at,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"a source named {source.name!r} already exists") from exc

        self._db.write(insert)

    def get_source(self, org_id: str, source_id: str) -> Source | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM sources WHERE org_id = ? AND id = ?", (org_id, source_id)
            ).fetchone()
        )
        return _source(row) if row else None

    def list_sources(self, org_id: str) -> list[Source]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM sources WHERE org_id = ? ORDER BY created_at, id", (org_id,)
            ).fetchall()
        )
        return [_source(r) for r in rows]

    def update_source(self, source: Source) -> None:
        def update(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "UPDATE sources SET name = ?, visibility = ?, providers = ?, updated_at = ?"
                    " WHERE org_id = ? AND id = ?",
                    source_update_values(source),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(f"a source named {source.name!r} already exists") from exc

        self._db.write(update)

    def delete_source(self, org_id: str, source_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM sources WHERE org_id = ? AND id = ?", (org_id, source_id)
            )
            conn.execute(
                "DELETE FROM source_activities WHERE org_id = ? AND source_id = ?",
                (org_id, source_id),
            )
            return cur.rowcount == 1

        return self._db.write(delete)

    def add_source_provider(self, org_id: str, source_id: str, provider_id: str) -> None:
        """Reference ``provider_id`` from the source (the first one is its default)."""

        def add(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT providers FROM sources WHERE org_id = ? AND id = ?", (org_id, source_id)
            ).fetchone()
            if row is None:
                return
            providers = orjson.loads(row["providers"])
            if provider_id not in providers:
                providers.append(provider_id)
                conn.execute(
                    "UPDATE sources SET providers = ?, updated_at = ? WHERE org_id = ? AND id = ?",
                    (orjson.dumps(providers).decode(), time.time(), org_id, source_id),
                )

        self._db.write(add)

    def set_low_water(
        self, conn: sqlite3.Connection, org_id: str, source_id: str, ordering_id: int
    ) -> None:
        conn.execute(
            "UPDATE sources SET low_water_key = max(low_water_key, ?), updated_at = ?"
            " WHERE org_id = ? AND id = ?",
            (ordering_key(ordering_id), time.time(), org_id, source_id),
        )

    # -- activities ---------------------------------------------------------------------

    def record_activity(self, org_id: str, source_id: str, activity: ActivityType) -> None:
        now = time.time()

        def record(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE source_activities SET ended_at = ? WHERE org_id = ? AND source_id = ?"
                " AND ended_at IS NULL",
                (now, org_id, source_id),
            )
            if activity is not ActivityType.IDLE:
                conn.execute(
                    "INSERT INTO source_activities (org_id, source_id, activity, started_at)"
                    " VALUES (?,?,?,?)",
                    (org_id, source_id, activity.value, now),
                )

        self._db.write(record)

    def activities(self, org_id: str, source_id: str, limit: int = 20) -> list[SourceActivity]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM source_activities WHERE org_id = ? AND source_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (org_id, source_id, limit),
            ).fetchall()
        )
        return [activity_from_row(r) for r in rows]

    # -- fields -------------------------------------------------------------------------

    def list_fields(self, org_id: str) -> list[FieldDefinition]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT definition FROM fields WHERE org_id = ? ORDER BY name", (org_id,)
            ).fetchall()
        )
        return [field_from_dict(orjson.loads(r["definition"])) for r in rows]

    def save_fields(self, org_id: str, fields: Iterable[FieldDefinition]) -> None:
        rows = [(org_id, f.name, orjson.dumps(field_to_dict(f)).decode()) for f in fields]
        self._db.write(
            lambda c: c.executemany(
                "INSERT INTO fields (org_id, name, definition) VALUES (?,?,?)"
                " ON CONFLICT(org_id, name) DO UPDATE SET definition = excluded.definition",
                rows,
            )
        )

    def delete_field(self, org_id: str, name: str) -> bool:
        return self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM fields WHERE org_id = ? AND name = ?", (org_id, name)
                ).rowcount
                == 1
            )
        )

    # -- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        )
        return row["value"] if row else None

    def set_meta_default(self, key: str, value: str) -> str:
        def upsert(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

        return self._db.write(upsert)
