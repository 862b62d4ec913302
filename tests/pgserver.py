"""A PostgreSQL server for tests: one fresh database per test, dropped after it.

``OPENPUSH_TEST_POSTGRES_URL`` names a server and a database to administer it from (default
``postgresql://postgres@127.0.0.1:5432/postgres``; the role must be allowed to create
databases). When no server answers, PostgreSQL tests are skipped with the reason, except
in CI (``CI`` or ``OPENPUSH_TEST_REQUIRE_POSTGRES=1`` set), where they fail: there the
PostgreSQL backend must be tested, not silently left out.

The API tests (``tests/api``, the trimming property test and the stateful ordering test)
run on both backends: SQLite with the embedded index, and PostgreSQL with its index (the
parameters of the ``backend`` fixture in ``tests/conftest.py``). ``OPENPUSH_TEST_STATE``
set to ``sqlite`` or ``postgres`` runs them on that one only.

The variables are read when this module is imported: the autouse fixture that scrubs
``OPENPUSH_*`` from the environment runs later.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

ADMIN_URL = os.environ.get(
    "OPENPUSH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("OPENPUSH_TEST_REQUIRE_POSTGRES") == "1"
_STATE = os.environ.get("OPENPUSH_TEST_STATE", "")
#: The backends the API tests run on.
API_STATES = (_STATE,) if _STATE in ("sqlite", "postgres") else ("sqlite", "postgres")


@functools.cache
def unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server at OPENPUSH_TEST_POSTGRES_URL={ADMIN_URL}: {exc}"


def require_postgres() -> None:
    reason = unavailable()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def database_for(backend: str, stack: contextlib.ExitStack) -> str:
    """The ``database`` setting of a runtime on ``backend``: "" for SQLite, else a fresh one."""
    return stack.enter_context(fresh_database()) if backend == "postgres" else ""


@contextlib.contextmanager
def fresh_database(*, migrate: bool = True) -> Iterator[str]:
    """The URL of a new, empty database (migrated unless ``migrate=False``), dropped after."""
    require_postgres()
    name = f"openpush_test_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()
    try:
        if migrate:
            from openpush.storage.postgres import migrations

            migrations.upgrade(url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
