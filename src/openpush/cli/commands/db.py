"""``openpush db``: the state store's schema (``upgrade``, ``status``).

SQLite data directories need neither: their schema is applied when they are opened. A
PostgreSQL database is migrated explicitly, once per release, before new processes start.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlparse

import click

from openpush.cli.commands._options import database_option
from openpush.errors import MissingDependencyError, OpenpushError
from openpush.settings import load_settings

__all__ = ["db"]


def _postgres_url(database: str | None) -> str | None:
    """The PostgreSQL URL to work on, or None for an embedded (SQLite) store."""
    url = load_settings({"database": database}).database
    scheme = urlparse(url).scheme
    if scheme in {"postgresql", "postgres"}:
        return url
    if scheme not in {"", "sqlite"}:
        raise click.UsageError(f"unknown state store {scheme!r} in {url!r}")
    return None


def _migrations() -> Any:
    try:
        from openpush.storage.postgres import migrations
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in {"psycopg", "psycopg_pool"}:
            raise
        raise click.ClickException(str(MissingDependencyError("psycopg", "postgres"))) from exc
    return migrations


@click.group()
def db() -> None:
    """Manage the state store's schema (PostgreSQL migrations)."""


@db.command()
@database_option
def upgrade(database: str | None) -> None:
    """Apply the schema migrations the database lacks (safe to run again)."""
    url = _postgres_url(database)
    if url is None:
        click.echo("SQLite state stores are upgraded when they are opened: nothing to do.")
        return
    migrations = _migrations()
    try:
        applied = migrations.upgrade(url)
        state = migrations.status(url)
    except OpenpushError as exc:
        raise click.ClickException(exc.message) from exc
    for migration in applied:
        click.echo(f"applied {migration.version:04d}_{migration.name}")
    click.echo(f"schema version {state.current} (up to date)")


@db.command()
@database_option
def status(database: str | None) -> None:
    """Show the applied and pending migrations; exit 1 if any is pending."""
    url = _postgres_url(database)
    if url is None:
        click.echo("SQLite state store: its schema is applied when it is opened.")
        return
    migrations = _migrations()
    try:
        state = migrations.status(url)
    except OpenpushError as exc:
        raise click.ClickException(exc.message) from exc
    for version, name in state.applied.items():
        flag = " (differs from this release's file)" if version in state.altered else ""
        click.echo(f"applied  {version:04d}_{name}{flag}")
    for migration in state.pending:
        click.echo(f"pending  {migration.version:04d}_{migration.name}")
    for version in state.unknown:
        click.echo(f"unknown  {version:04d} (applied by a newer openpush)")
    click.echo(f"schema version {state.current}, this openpush needs {len(migrations.MIGRATIONS)}")
    if not state.ok:
        sys.exit(1)
