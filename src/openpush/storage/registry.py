"""Backends by URL scheme: built-ins register here exactly as extensions would.

``open_state_store(settings.database, settings)`` with:

- an empty URL: SQLite in ``<data_dir>/state.db`` (the embedded default);
- ``sqlite:///path/state.db``: SQLite in that file;
- ``postgresql://user@host:5432/db`` (or ``postgres://``): PostgreSQL, any libpq URL. The
  database must have been migrated with ``openpush db upgrade``.

A scheme whose backend needs an optional extra raises
:class:`~openpush.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from openpush.errors import InvalidParameterError, MissingDependencyError
from openpush.settings import Settings
from openpush.storage.base import StateStore

__all__ = ["STATE_STORES", "open_state_store", "register_state_store"]

StateStoreFactory = Callable[[str, Settings], StateStore]

STATE_STORES: dict[str, StateStoreFactory] = {}


def register_state_store(scheme: str, factory: StateStoreFactory) -> None:
    STATE_STORES[scheme] = factory


def _sqlite(url: str, settings: Settings) -> StateStore:
    from openpush.storage.sqlite import SqliteStateStore

    path = urlparse(url).path if url.startswith("sqlite:") else ""
    target = Path(path) if path else settings.data_dir / "state.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStateStore(target, synchronous=settings.sqlite_synchronous)


def _postgres(url: str, settings: Settings) -> StateStore:
    try:
        from openpush.storage.postgres import PostgresStateStore
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in {"psycopg", "psycopg_pool"}:
            raise
        raise MissingDependencyError("psycopg", "postgres") from exc
    return PostgresStateStore(url, lease_seconds=settings.queue_lease_seconds)


register_state_store("sqlite", _sqlite)
register_state_store("postgresql", _postgres)
register_state_store("postgres", _postgres)


def open_state_store(url: str, settings: Settings) -> StateStore:
    scheme = urlparse(url).scheme or "sqlite"
    factory = STATE_STORES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(STATE_STORES))
        raise InvalidParameterError(f"unknown state store {scheme!r}; known: {known}")
    return factory(url, settings)
