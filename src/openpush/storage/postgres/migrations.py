"""Versioned schema migrations: ``migrations/NNNN_name.sql``, recorded in ``schema_migrations``.

``upgrade`` applies the migrations a database lacks, each in its own transaction with its
row in ``schema_migrations``; an advisory lock keeps two upgrades from racing. A migration
is never edited once released: its checksum is recorded, and a database whose recorded
checksum differs is refused. ``check`` is what opening a store runs: it refuses a database
that lacks migrations (run ``openpush db upgrade``) or has some this openpush does not know.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from openpush.errors import StorageError
from openpush.storage.postgres.database import Connection, connect, redact, translate_errors

__all__ = ["MIGRATIONS", "Migration", "SchemaStatus", "check", "status", "upgrade"]

# pg_advisory_xact_lock key for upgrades ("opmigrat")
_UPGRADE_LOCK = 0x6F706D6967726174
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    applied: dict[int, str]  # version -> name
    pending: list[Migration]
    unknown: list[int]  # applied here, unknown to this openpush (a newer release ran)
    altered: list[int]  # applied with another checksum than this openpush's file

    @property
    def current(self) -> int:
        return max(self.applied, default=0)

    @property
    def ok(self) -> bool:
        return not (self.pending or self.unknown or self.altered)


def _load() -> tuple[Migration, ...]:
    folder = resources.files("openpush.storage.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StorageError(f"migration versions must run 1, 2, 3… without gaps: {versions}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = _load()

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def _read_status(conn: Connection, migrations: tuple[Migration, ...]) -> SchemaStatus:
    exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
    rows = []
    if exists and exists["t"] is not None:
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    known = {m.version: m for m in migrations}
    applied = {r["version"]: r["name"] for r in rows}
    return SchemaStatus(
        applied=dict(sorted(applied.items())),
        pending=[m for m in migrations if m.version not in applied],
        unknown=sorted(v for v in applied if v not in known),
        altered=sorted(
            r["version"]
            for r in rows
            if r["version"] in known and known[r["version"]].checksum != r["checksum"]
        ),
    )


def status(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> SchemaStatus:
    with connect(url) as conn, translate_errors():
        return _read_status(conn, migrations)


def upgrade(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """Apply the migrations the database lacks; returns those applied (none: up to date)."""
    applied: list[Migration] = []
    with connect(url) as conn, translate_errors():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
            conn.execute(_CREATE_TABLE)
            state = _read_status(conn, migrations)
        _refuse_foreign(url, state)
        for migration in state.pending:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_UPGRADE_LOCK,))
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone()
                if done:  # another upgrade applied it while this one waited
                    continue
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s,%s,%s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied.append(migration)
    return applied


def check(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> SchemaStatus:
    """Refuse to run on a database whose schema is not exactly this openpush's."""
    state = status(url, migrations)
    _refuse_foreign(url, state)
    if state.pending:
        latest = migrations[-1].version if migrations else 0
        raise StorageError(
            f"the PostgreSQL database {redact(url)} is at schema version {state.current}, "
            f"this openpush needs version {latest}: run `openpush db upgrade` "
            "(with OPENPUSH_DATABASE or --database set to this database) first"
        )
    return state


def _refuse_foreign(url: str, state: SchemaStatus) -> None:
    if state.unknown:
        raise StorageError(
            f"the PostgreSQL database {redact(url)} has schema migrations {state.unknown} "
            "that this openpush does not know: it was upgraded by a newer release"
        )
    if state.altered:
        raise StorageError(
            f"schema migrations {state.altered} of {redact(url)} were applied from files that "
            "differ from this openpush's: released migrations must never be edited"
        )
