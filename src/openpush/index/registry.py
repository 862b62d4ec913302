"""Which search index a process opens, from the ``index`` setting.

- empty (automatic): the PostgreSQL index when ``database`` is a ``postgresql://`` or
  ``postgres://`` URL, the embedded tantivy index otherwise;
- ``tantivy``: the embedded index in ``<data_dir>/index``. One process writes it, so with a
  PostgreSQL state store this suits one host (one worker, API processes beside it);
- ``postgres``: the ``index_documents`` table of the state store's PostgreSQL database,
  shared by every API and worker process. It needs a PostgreSQL ``database``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from openpush.errors import InvalidParameterError, MissingDependencyError
from openpush.index.base import SearchIndex
from openpush.settings import Settings
from openpush.storage.base import StateStore

__all__ = ["INDEXES", "index_kind", "open_search_index"]

log = logging.getLogger("openpush")

INDEXES = ("tantivy", "postgres")
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


def index_kind(settings: Settings) -> str:
    """``tantivy`` or ``postgres``: the index ``settings`` ask for (see the module doc)."""
    wanted = settings.index.strip().lower()
    on_postgres = urlparse(settings.database).scheme in _POSTGRES_SCHEMES
    if not wanted:
        return "postgres" if on_postgres else "tantivy"
    if wanted not in INDEXES:
        raise InvalidParameterError(
            f"unknown index {settings.index!r}; expected tantivy, postgres or empty (automatic)"
        )
    if wanted == "postgres" and not on_postgres:
        raise InvalidParameterError(
            "index=postgres keeps the search index in the PostgreSQL state store: set the "
            "database setting (OPENPUSH_DATABASE) to a postgresql:// URL, or use index=tantivy"
        )
    return wanted


def open_search_index(settings: Settings, store: StateStore) -> SearchIndex:
    """The index ``settings`` ask for; the PostgreSQL one shares the store's pool."""
    kind = index_kind(settings)
    if kind == "tantivy":
        from openpush.index.tantivy.engine import TantivyIndex

        return TantivyIndex(
            settings.data_dir / "index",
            writer_heap_mb=settings.index_writer_heap_mb,
            candidate_limit=settings.trim_candidates,
        )
    try:
        from openpush.index.postgres import PostgresIndex
        from openpush.storage.postgres.database import PostgresDatabase
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in {"psycopg", "psycopg_pool"}:
            raise
        raise MissingDependencyError("psycopg", "postgres") from exc
    _warn_about_a_local_index(settings)
    db = getattr(store, "db", None)
    if isinstance(db, PostgresDatabase):
        return PostgresIndex(db)
    return PostgresIndex.connect(settings.database)


def _warn_about_a_local_index(settings: Settings) -> None:
    """An embedded index left in the data directory is not what this process searches."""
    local = settings.data_dir / "index"
    if not settings.index and local.is_dir() and any(local.iterdir()):
        log.warning(
            "searching the PostgreSQL index; the embedded index in %s is not used (set "
            "index=tantivy to keep using it, or push the content again to fill this one)",
            local,
        )
