"""The PostgreSQL search index (``pip install 'openpush[postgres]'``): one table shared by
every API and worker process; see :mod:`openpush.index.postgres.engine`."""

from __future__ import annotations

from openpush.index.postgres.engine import PostgresIndex, PostgresIndexWriter

__all__ = ["PostgresIndex", "PostgresIndexWriter"]
