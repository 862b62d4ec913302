"""A pool of PostgreSQL connections, and the one place driver errors are translated.

Every read and write is a function ``fn(conn) -> T`` run inside one transaction on a pooled
connection: committed when ``fn`` returns, rolled back when it raises. Unlike the SQLite
store there is no writer thread: PostgreSQL serializes conflicting writes with row locks,
so the store takes them explicitly where a read decides a write (``SELECT … FOR UPDATE``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from openpush.errors import OpenpushError, StorageBusyError, StorageError

__all__ = ["Connection", "PostgresDatabase", "nul_free", "redact", "translate_errors"]

T = TypeVar("T")
Connection = psycopg.Connection[dict[str, Any]]

# Errors a retry can cure: lock contention, a deadlock victim, a serialization failure.
_BUSY = (
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
    pg_errors.SerializationFailure,
    pg_errors.QueryCanceled,
)


_NUL = {0: "\ufffd"}


def nul_free(value: str) -> str:
    """``value`` storable as PostgreSQL text, which cannot hold NUL: NUL becomes U+FFFD.

    Applied to the free text the pipeline writes (documentIds and identity names read from
    batch files, reasons quoting pushed values) so one such value cannot fail a whole round.
    """
    return value.translate(_NUL) if "\x00" in value else value


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into openpush storage errors; callers never see psycopg."""
    try:
        yield
    except OpenpushError:
        raise
    except _BUSY as exc:
        raise StorageBusyError(f"the state store is busy: {exc}") from exc
    except PoolTimeout as exc:
        raise StorageBusyError(f"no PostgreSQL connection free in time: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"state store error: {exc}") from exc


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparsable database URL>"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in info.items() if v is not None})


def connect(url: str, *, timeout: int = 10) -> Connection:
    """One connection outside the pool (migrations, the schema check); errors translated."""
    with translate_errors():
        return psycopg.connect(url, connect_timeout=timeout, row_factory=dict_row)


class PostgresDatabase:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            kwargs={"row_factory": dict_row},
            min_size=min_size,
            max_size=max_size,
            open=False,
            name="openpush",
            # hand out only live connections (failovers, proxies closing idle ones)
            check=getattr(ConnectionPool, "check_connection", None),
        )
        with translate_errors():
            self._pool.open(wait=True, timeout=30)

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a transaction of its own; commit when it returns."""
        with translate_errors(), self._pool.connection() as conn:
            return fn(conn)

    # Reads and writes differ only in name: they say what a caller means.
    read = run
    write = run

    async def arun(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.to_thread(self.run, fn)

    aread = arun
    awrite = arun

    def close(self) -> None:
        self._pool.close()
