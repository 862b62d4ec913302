"""PostgreSQL schema migrations, the refusal of unmigrated databases, ``openpush db``, the URL."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from openpush.cli.main import cli
from openpush.errors import MissingDependencyError, StorageError
from openpush.settings import Settings
from openpush.storage.registry import open_state_store
from tests.pgserver import fresh_database

pytestmark = pytest.mark.postgres

# The schema the migrations build (a new migration updates this on purpose). "?" marks a
# nullable column.
EXPECTED_TABLES = """
acl_shapes|org_id text, shape text
api_keys|id text, org_id text, key_hash text, display_name text, privileges text, enabled boolean, created_at double precision, description text, created_by text, disabled_at double precision?
batches|id text, org_id text, source_id text, kind text, file_ids text, ordering_id numeric, state text, total integer, processed integer, file_index integer, entry_index integer, counts text, error text, stream_id text, created_at double precision, finished_at double precision?
containers|org_id text, file_id text, created_at double precision, expires_at double precision, state text, holder text
daily_items|org_id text, day text, used bigint
fields|org_id text, name text, definition text
identities|org_id text, provider text, name_key text, ref text, enabled boolean, ordering_id numeric, updated_at double precision
identity_edges|org_id text, kind text, owner_provider text, owner_name text, parent_provider text, parent_name text, child_provider text, child_name text
identity_versions|org_id text, version bigint
index_documents|uid text, org_id text, source_id text, document_id text, title text, body text, date_ms bigint, acl ARRAY, fields jsonb, lowered jsonb, words tsvector, raw bytea
items|org_id text, source_id text, document_id text, ordering_id numeric, state text, record bytea?, last_result text, last_reason text, updated_at double precision
logs|id bigint, guid text, org_id text, source_id text, document_id text, operation text, result text, task text, reason text, ordering_id numeric, request_id text, created_at double precision, meta text
meta|key text, value text
operations|seq bigint, org_id text, source_id text, kind text, scope text, document_id text?, ordering_id numeric, payload bytea, request_id text, enqueued_at double precision, available_at double precision, claimed_by text?, lease_until double precision?, attempts integer
organizations|id text, display_name text, created_at double precision
providers|org_id text, id text, key text, definition text
rate_buckets|key text, tokens double precision, at double precision
schema_migrations|version integer, name text, checksum text, applied_at timestamp with time zone
source_activities|id bigint, org_id text, source_id text, activity text, started_at double precision, ended_at double precision?
sources|org_id text, id text, name text, source_type text, visibility text, push_enabled boolean, stream_enabled boolean, providers text, low_water numeric, created_at double precision, updated_at double precision
streams|id text, org_id text, source_id text, ordering_id numeric, file_ids text, state text, created_at double precision, closed_at double precision?
waiting_items|org_id text, provider text, name_key text, source_id text, document_id text
"""  # noqa: E501

EXPECTED_INDEXES = [
    "acl_shapes_pkey",
    "api_keys_key_hash_key",
    "api_keys_org",
    "api_keys_pkey",
    "batches_pkey",
    "batches_source",
    "containers_expiry",
    "containers_holder",
    "containers_pkey",
    "daily_items_pkey",
    "fields_pkey",
    "identities_ordering",
    "identities_pkey",
    "identity_edges_child",
    "identity_edges_owner",
    "identity_edges_parent",
    "identity_versions_pkey",
    "index_documents_acl",
    "index_documents_date",
    "index_documents_fields",
    "index_documents_lowered",
    "index_documents_pkey",
    "index_documents_source",
    "index_documents_words",
    "items_ordering",
    "items_pkey",
    "logs_document",
    "logs_pkey",
    "logs_request",
    "logs_time",
    "meta_pkey",
    "operations_claimed",
    "operations_document",
    "operations_pkey",
    "organizations_pkey",
    "providers_pkey",
    "rate_buckets_pkey",
    "schema_migrations_pkey",
    "source_activities_pkey",
    "source_activities_source",
    "sources_name",
    "sources_pkey",
    "streams_open",
    "streams_pkey",
    "waiting_items_pkey",
]

# SQLite columns PostgreSQL names or models differently: ordering keys (zero-padded text
# there) are NUMERIC ordering ids here, and the queue's claim flag is a lease.
RENAMED = {"ordering_key": "ordering_id", "low_water_key": "low_water", "claimed": "claimed_by"}
POSTGRES_ONLY = {("operations", "scope"), ("operations", "lease_until")}
# Tables of PostgreSQL's own: the migrations' record, the search index (the embedded
# default keeps its index in tantivy, outside SQLite) and the shared rate limits (the
# embedded default keeps them in its one API process).
POSTGRES_ONLY_TABLES = {"schema_migrations", "index_documents", "rate_buckets", "daily_items"}


@pytest.fixture
def empty() -> Iterator[str]:
    with fresh_database(migrate=False) as url:
        yield url


def tables(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, string_agg(column_name || ' ' || data_type"
            " || CASE WHEN is_nullable = 'YES' THEN '?' ELSE '' END, ', '"
            " ORDER BY ordinal_position) FROM information_schema.columns"
            " WHERE table_schema = current_schema() GROUP BY table_name"
        ).fetchall()
    return dict(rows)


def indexes(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_migrations_build_the_expected_schema_once(empty: str) -> None:
    from openpush.storage.postgres import migrations

    assert [m.name for m in migrations.upgrade(empty)] == ["initial", "search_index", "rate_limits"]
    expected = dict(line.split("|") for line in EXPECTED_TABLES.strip().splitlines())
    assert tables(empty) == expected
    assert indexes(empty) == sorted(EXPECTED_INDEXES)
    assert migrations.upgrade(empty) == []  # again: nothing to do, nothing changes
    assert tables(empty) == expected
    state = migrations.status(empty)
    assert (state.current, state.ok, state.pending) == (3, True, [])


def test_the_schema_has_every_table_and_column_of_the_sqlite_one(
    empty: str, tmp_path: Path
) -> None:
    from openpush.storage.postgres import migrations
    from openpush.storage.sqlite import SqliteStateStore

    migrations.upgrade(empty)
    SqliteStateStore(tmp_path / "state.db").close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_columns = {
            (table, RENAMED.get(row[1], row[1]))
            for table in names
            if table != "sqlite_sequence"
            for row in conn.execute(f"PRAGMA table_info({table})")
        }
    postgres_columns = {
        (table, column.split()[0])
        for table, columns in tables(empty).items()
        if table not in POSTGRES_ONLY_TABLES
        for column in columns.split(", ")
    }
    assert postgres_columns - POSTGRES_ONLY == sqlite_columns


def test_a_store_refuses_an_unmigrated_database(empty: str) -> None:
    from openpush.storage.postgres import PostgresStateStore

    with pytest.raises(StorageError, match=r"schema version 0.*openpush db upgrade"):
        PostgresStateStore(empty)
    PostgresStateStore(empty, migrate=True).close()
    PostgresStateStore(empty).close()


def test_a_database_upgraded_by_a_newer_release_is_refused(empty: str) -> None:
    import psycopg

    from openpush.storage.postgres import PostgresStateStore, migrations

    migrations.upgrade(empty)
    with psycopg.connect(empty) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
    with pytest.raises(StorageError, match=r"\[99\].*newer release"):
        PostgresStateStore(empty)
    with pytest.raises(StorageError, match="newer release"):
        migrations.upgrade(empty)


def test_an_edited_migration_is_refused(empty: str) -> None:
    from openpush.storage.postgres import migrations

    migrations.upgrade(empty)
    edited = migrations.Migration(1, "initial", migrations.MIGRATIONS[0].sql + "\n-- edited")
    with pytest.raises(StorageError, match="must never be edited"):
        migrations.check(empty, (edited, *migrations.MIGRATIONS[1:]))


def test_a_later_migration_is_applied_after_the_first(empty: str) -> None:
    from openpush.storage.postgres import migrations

    later = migrations.Migration(4, "extra", "CREATE TABLE extra (id integer PRIMARY KEY);")
    assert [m.version for m in migrations.upgrade(empty)] == [1, 2, 3]
    with pytest.raises(StorageError, match="is at schema version 3, this openpush needs version 4"):
        migrations.check(empty, (*migrations.MIGRATIONS, later))
    assert [m.version for m in migrations.upgrade(empty, (*migrations.MIGRATIONS, later))] == [4]
    assert "extra" in tables(empty)


def test_db_status_and_upgrade_commands(empty: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "status", "--database", empty])
    assert result.exit_code == 1, result.output
    assert "pending  0001_initial" in result.output
    result = runner.invoke(cli, ["db", "upgrade"], env={"OPENPUSH_DATABASE": empty})
    assert result.exit_code == 0, result.output
    assert "applied 0001_initial" in result.output
    result = runner.invoke(cli, ["db", "status", "--database", empty])
    assert result.exit_code == 0, result.output
    assert "applied  0001_initial" in result.output


def test_db_commands_on_sqlite_and_unknown_urls() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert (result.exit_code, "nothing to do" in result.output) == (0, True)
    result = runner.invoke(cli, ["db", "status", "--database", "mysql://x"])
    assert result.exit_code == 2
    assert "unknown state store 'mysql'" in result.output


def test_db_upgrade_reports_an_unreachable_server() -> None:
    result = CliRunner().invoke(
        cli, ["db", "upgrade", "--database", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    assert "state store error" in result.output


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_open_a_postgres_store(scheme: str, tmp_path: Path) -> None:
    with fresh_database() as url:
        store: Any = open_state_store(
            url.replace("postgresql", scheme, 1), Settings(data_dir=tmp_path)
        )
        try:
            assert type(store).__name__ == "PostgresStateStore"
        finally:
            store.close()


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith(("openpush.storage.postgres", "psycopg")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # type: ignore[arg-type]
    with pytest.raises(MissingDependencyError, match=r"openpush\[postgres\]"):
        open_state_store("postgresql://localhost/x", Settings())


def test_the_runtime_opens_the_database_setting(tmp_path: Path) -> None:
    from openpush.runtime import Runtime

    with fresh_database(migrate=False) as url:
        settings = Settings(data_dir=tmp_path, database=url, worker=False)
        with pytest.raises(StorageError, match="openpush db upgrade"):
            Runtime.open(settings)
        CliRunner().invoke(cli, ["db", "upgrade", "--database", url])
        runtime = Runtime.open(settings.replace(bootstrap_org="acme"))
        try:
            assert runtime.store.catalog.get_organization("acme") is not None
            assert not (tmp_path / "state.db").exists()
        finally:
            runtime.close()
