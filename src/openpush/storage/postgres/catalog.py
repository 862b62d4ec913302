"""Organizations, API keys, sources, activities, fields and meta in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from psycopg import errors as pg_errors

from openpush.domain.fields import FieldDefinition
from openpush.domain.organizations import ApiKey, Organization
from openpush.domain.sources import (
    ActivityType,
    Source,
    SourceActivity,
)
from openpush.errors import ConflictError
from openpush.storage.postgres.database import Connection, PostgresDatabase
from openpush.storage.rows import (
    activity_from_row,
    api_key_from_row,
    privileges_json,
    source_from_row,
    source_update_values,
)
from openpush.storage.sqlite.catalog import field_from_dict, field_to_dict

__all__ = ["PostgresCatalog", "set_low_water"]

Row = dict[str, Any]


def _source(row: Row) -> Source:
    return source_from_row(row, int(row["low_water"]))


def set_low_water(conn: Connection, org_id: str, source_id: str, ordering_id: int) -> None:
    """Raise a source's delete-older-than low-water mark (inside the pipeline's commit)."""
    conn.execute(
        "UPDATE sources SET low_water = greatest(low_water, %s::numeric), updated_at = %s"
        " WHERE org_id = %s AND id = %s",
        (ordering_id, time.time(), org_id, source_id),
    )


class PostgresCatalog:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    # -- organizations and keys ---------------------------------------------------------

    def create_organization(self, org: Organization) -> bool:
        count: int = self._db.write(
            lambda c: (
                c.execute(
                    "INSERT INTO organizations (id, display_name, created_at) VALUES (%s,%s,%s)"
                    " ON CONFLICT (id) DO NOTHING",
                    (org.id, org.display_name, org.created_at),
                ).rowcount
            )
        )
        return count == 1

    def get_organization(self, org_id: str) -> Organization | None:
        row = self._db.read(
            lambda c: c.execute("SELECT * FROM organizations WHERE id = %s", (org_id,)).fetchone()
        )
        return Organization(row["id"], row["display_name"], row["created_at"]) if row else None

    def save_api_key(self, key: ApiKey, key_hash: str) -> None:
        """Insert ``key``, or update everything of it but its id, organization and secret."""
        self._db.write(
            lambda c: c.execute(
                "INSERT INTO api_keys (id, org_id, key_hash, display_name, privileges, enabled,"
                " created_at, description, created_by, disabled_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,"
                " privileges = excluded.privileges, enabled = excluded.enabled,"
                " description = excluded.description, disabled_at = excluded.disabled_at",
                (
                    key.id,
                    key.org_id,
                    key_hash,
                    key.display_name,
                    privileges_json(key),
                    key.enabled,
                    key.created_at,
                    key.description,
                    key.created_by,
                    key.disabled_at,
                ),
            )
        )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM api_keys WHERE key_hash = %s", (key_hash,)
            ).fetchone()
        )
        return api_key_from_row(row) if row else None

    def get_api_key(self, org_id: str, key_id: str) -> ApiKey | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM api_keys WHERE org_id = %s AND id = %s", (org_id, key_id)
            ).fetchone()
        )
        return api_key_from_row(row) if row else None

    def update_api_key(self, key: ApiKey) -> bool:
        """Update an existing key's name, description, privileges and state (never its secret)."""
        count: int = self._db.write(
            lambda c: (
                c.execute(
                    "UPDATE api_keys SET display_name = %s, description = %s, privileges = %s,"
                    " enabled = %s, disabled_at = %s WHERE org_id = %s AND id = %s",
                    (
                        key.display_name,
                        key.description,
                        privileges_json(key),
                        key.enabled,
                        key.disabled_at,
                        key.org_id,
                        key.id,
                    ),
                ).rowcount
            )
        )
        return count == 1

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM api_keys WHERE org_id = %s ORDER BY created_at, id", (org_id,)
            ).fetchall()
        )
        return [api_key_from_row(r) for r in rows]

    def delete_api_key(self, org_id: str, key_id: str) -> bool:
        count: int = self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM api_keys WHERE org_id = %s AND id = %s", (org_id, key_id)
                ).rowcount
            )
        )
        return count == 1

    # -- sources ------------------------------------------------------------------------

    def create_source(self, source: Source) -> None:
        def insert(conn: Connection) -> None:
            try:
                with conn.transaction():  # a savepoint: the conflict is ours to report
                    conn.execute(
                        "INSERT INTO sources (org_id, id, name, source_type, visibility,"
                        " push_enabled, stream_enabled, providers, created_at, updated_at)"
                        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                        (
                            source.org_id,
                            source.id,
                            source.name,
                            source.source_type.value,
                            source.visibility.value,
                            source.push_enabled,
                            source.stream_enabled,
                            orjson.dumps(list(source.security_providers)).decode(),
                            source.created_at,
                            source.updated_at,
                        ),
                    )
            except pg_errors.UniqueViolation as exc:
                raise ConflictError(f"a source named {source.name!r} already exists") from exc

        self._db.write(insert)

    def get_source(self, org_id: str, source_id: str) -> Source | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM sources WHERE org_id = %s AND id = %s", (org_id, source_id)
            ).fetchone()
        )
        return _source(row) if row else None

    def list_sources(self, org_id: str) -> list[Source]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM sources WHERE org_id = %s ORDER BY created_at, id", (org_id,)
            ).fetchall()
        )
        return [_source(r) for r in rows]

    def update_source(self, source: Source) -> None:
        def update(conn: Connection) -> None:
            try:
                with conn.transaction():  # a savepoint: the conflict is ours to report
                    conn.execute(
                        "UPDATE sources SET name = %s, visibility = %s, providers = %s,"
                        " updated_at = %s WHERE org_id = %s AND id = %s",
                        source_update_values(source),
                    )
            except pg_errors.UniqueViolation as exc:
                raise ConflictError(f"a source named {source.name!r} already exists") from exc

        self._db.write(update)

    def delete_source(self, org_id: str, source_id: str) -> bool:
        def delete(conn: Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM sources WHERE org_id = %s AND id = %s", (org_id, source_id)
            )
            conn.execute(
                "DELETE FROM source_activities WHERE org_id = %s AND source_id = %s",
                (org_id, source_id),
            )
            return cur.rowcount == 1

        return self._db.write(delete)

    def add_source_provider(self, org_id: str, source_id: str, provider_id: str) -> None:
        """Reference ``provider_id`` from the source (the first one is its default)."""

        def add(conn: Connection) -> None:
            row = conn.execute(
                "SELECT providers FROM sources WHERE org_id = %s AND id = %s FOR UPDATE",
                (org_id, source_id),
            ).fetchone()
            if row is None:
                return
            providers = orjson.loads(row["providers"])
            if provider_id not in providers:
                providers.append(provider_id)
                conn.execute(
                    "UPDATE sources SET providers = %s, updated_at = %s"
                    " WHERE org_id = %s AND id = %s",
                    (orjson.dumps(providers).decode(), time.time(), org_id, source_id),
                )

        self._db.write(add)

    # -- activities ---------------------------------------------------------------------

    def record_activity(self, org_id: str, source_id: str, activity: ActivityType) -> None:
        now = time.time()

        def record(conn: Connection) -> None:
            # the source's row lock orders concurrent status calls
            conn.execute(
                "SELECT 1 FROM sources WHERE org_id = %s AND id = %s FOR UPDATE",
                (org_id, source_id),
            )
            conn.execute(
                "UPDATE source_activities SET ended_at = %s WHERE org_id = %s"
                " AND source_id = %s AND ended_at IS NULL",
                (now, org_id, source_id),
            )
            if activity is not ActivityType.IDLE:
                conn.execute(
                    "INSERT INTO source_activities (org_id, source_id, activity, started_at)"
                    " VALUES (%s,%s,%s,%s)",
                    (org_id, source_id, activity.value, now),
                )

        self._db.write(record)

    def activities(self, org_id: str, source_id: str, limit: int = 20) -> list[SourceActivity]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT * FROM source_activities WHERE org_id = %s AND source_id = %s"
                " ORDER BY id DESC LIMIT %s",
                (org_id, source_id, limit),
            ).fetchall()
        )
        return [activity_from_row(r) for r in rows]

    # -- fields -------------------------------------------------------------------------

    def list_fields(self, org_id: str) -> list[FieldDefinition]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT definition FROM fields WHERE org_id = %s ORDER BY name", (org_id,)
            ).fetchall()
        )
        return [field_from_dict(orjson.loads(r["definition"])) for r in rows]

    def save_fields(self, org_id: str, fields: Iterable[FieldDefinition]) -> None:
        rows = sorted((org_id, f.name, orjson.dumps(field_to_dict(f)).decode()) for f in fields)
        if not rows:
            return
        self._db.write(
            lambda c: c.cursor().executemany(
                "INSERT INTO fields (org_id, name, definition) VALUES (%s,%s,%s)"
                " ON CONFLICT (org_id, name) DO UPDATE SET definition = excluded.definition",
                rows,
            )
        )

    def delete_field(self, org_id: str, name: str) -> bool:
        count: int = self._db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM fields WHERE org_id = %s AND name = %s", (org_id, name)
                ).rowcount
            )
        )
        return count == 1

    # -- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        )
        return row["value"] if row else None

    def set_meta_default(self, key: str, value: str) -> str:
        def upsert(conn: Connection) -> str:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
            assert row is not None
            return str(row["value"])

        return self._db.write(upsert)
