"""The embedded state store: one SQLite file under the data directory."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from openpush.storage.sqlite.catalog import SqliteCatalog
from openpush.storage.sqlite.database import SqliteDatabase
from openpush.storage.sqlite.identities import SqliteIdentities
from openpush.storage.sqlite.queue import SqliteItemStore, SqliteLogStore, SqliteQueue
from openpush.storage.sqlite.transfers import SqliteTransfers

__all__ = ["SqliteStateStore"]


class SqliteStateStore:
    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        schema = resources.files("openpush.storage.sqlite").joinpath("sql/schema.sql").read_text()
        self.db = SqliteDatabase(path, synchronous=synchronous, schema=schema)
        self.catalog = SqliteCatalog(self.db)
        self.queue = SqliteQueue(self.db, self.catalog)
        self.items = SqliteItemStore(self.db)
        self.logs = SqliteLogStore(self.db)
        self.transfers = SqliteTransfers(self.db)
        self.identities = SqliteIdentities(self.db)

    def close(self) -> None:
        self.db.close()
