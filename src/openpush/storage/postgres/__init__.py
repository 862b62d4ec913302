"""The PostgreSQL state store (``pip install 'openpush[postgres]'``): several API and worker
processes on one database. Schema migrations live in ``migrations/`` and are applied by
``openpush db upgrade``."""

from __future__ import annotations

from openpush.storage.postgres.store import PostgresStateStore

__all__ = ["PostgresStateStore"]
