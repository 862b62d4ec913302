"""One SQLite file: a single writer thread with group commit, readers on thread-local connections.

Every write is a function ``fn(conn) -> T`` sent to the writer thread. The thread drains
whatever writes are waiting, runs each inside its own SAVEPOINT of one ``BEGIN IMMEDIATE``
transaction and commits once, so a burst of concurrent pushes costs one fsync. A write that
raises is rolled back to its savepoint and its caller gets the exception; the others commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from openpush.errors import StorageBusyError, StorageError

__all__ = ["SqliteDatabase", "translate_errors"]

T = TypeVar("T")

_GROUP_LIMIT = 256
_STOP = object()


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into openpush storage errors; callers never see sqlite3."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StorageBusyError(f"the state store is busy: {exc}") from exc
        raise StorageError(f"state store error: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"state store error: {exc}") from exc


class SqliteDatabase:
    def __init__(self, path: Path, *, synchronous: str = "FULL", schema: str = "") -> None:
        self.path = path
        self._synchronous = synchronous if synchronous in {"FULL", "NORMAL", "OFF"} else "FULL"
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        writer = self._connect()
        with translate_errors():
            if schema:
                writer.executescript(schema)
        self._writer = threading.Thread(
            target=self._run_writer, args=(writer,), name="openpush-sqlite-writer", daemon=True
        )
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    # -- writes -------------------------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer thread inside a transaction; block until committed."""
        return self.submit(fn).result()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue ``fn`` for the writer thread; the future resolves once it is committed."""
        if self._closed:
            raise StorageError("the state store is closed")
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StorageError("the state store is closed")
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return await asyncio.wrap_future(future)

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            group = [job]
            while len(group) < _GROUP_LIMIT:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._jobs.put(_STOP)
                    break
                group.append(more)
            self._run_group(conn, group)
        conn.close()

    def _run_group(self, conn: sqlite3.Connection, group: list[Any]) -> None:
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with translate_errors():
                conn.execute("BEGIN IMMEDIATE")
                for fn, future in group:
                    conn.execute("SAVEPOINT job")
                    try:
                        value = fn(conn)
                    except Exception as exc:  # noqa: BLE001 - handed to the caller
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                        results.append((future, None, _translated(exc)))
                    else:
                        conn.execute("RELEASE job")
                        results.append((future, value, None))
                conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - the whole group failed to commit
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for _fn, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    # -- reads --------------------------------------------------------------------------

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        with translate_errors():
            return fn(conn)

    async def aread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self.read, fn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        self._writer.join(timeout=30)
        with self._readers_lock:
            for conn in self._readers:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._readers.clear()


def _translated(exc: Exception) -> Exception:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StorageBusyError(f"the state store is busy: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return StorageError(f"state store error: {exc}")
    return exc
