"""The scale-out state store: every role in one PostgreSQL database.

Opening checks the schema first (:func:`~openpush.storage.postgres.migrations.check`): a
database that lacks migrations is refused with a message naming ``openpush db upgrade``,
unless ``migrate=True``, which applies them (tests; ``openpush db upgrade`` is the way
in production, run once per release before the new processes start).
"""

from __future__ import annotations

from openpush.storage.postgres import migrations
from openpush.storage.postgres.catalog import PostgresCatalog
from openpush.storage.postgres.database import PostgresDatabase
from openpush.storage.postgres.identities import PostgresIdentities
from openpush.storage.postgres.items import PostgresItemStore, PostgresLogStore
from openpush.storage.postgres.limits import PostgresRateLimiter
from openpush.storage.postgres.queue import PostgresQueue
from openpush.storage.postgres.transfers import PostgresTransfers

__all__ = ["PostgresStateStore"]


class PostgresStateStore:
    def __init__(
        self,
        url: str,
        *,
        migrate: bool = False,
        pool_size: int = 10,
        lease_seconds: float = 60.0,
        heartbeat_seconds: float | None = None,
    ) -> None:
        if migrate:
            migrations.upgrade(url)
        migrations.check(url)
        self.db = PostgresDatabase(url, max_size=pool_size)
        self.catalog = PostgresCatalog(self.db)
        self.queue = PostgresQueue(
            self.db, lease_seconds=lease_seconds, heartbeat_seconds=heartbeat_seconds
        )
        self.items = PostgresItemStore(self.db)
        self.logs = PostgresLogStore(self.db)
        self.transfers = PostgresTransfers(self.db)
        self.identities = PostgresIdentities(self.db)
        # request rates and daily quotas shared by every API process (api/throttle.py)
        self.rate_limiter = PostgresRateLimiter(self.db)

    def close(self) -> None:
        self.queue.close()
        self.db.close()
