"""The rate limiter of a PostgreSQL deployment: buckets and daily counters in the database.

Every API process draws from the same rows, so the organization's and the key's rates and the
daily item quota hold for the deployment, not per process. A request's buckets are locked in
key order (``FOR UPDATE``; two requests of one key wait for each other for the length of a
small transaction) and updated with :func:`openpush.ratelimit.take`, the arithmetic the
in-process limiter uses. Times are the callers' clocks: hosts whose clocks disagree by a
fraction of a second only shift the refill by as much, and a clock behind the last update
refills nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpush.ratelimit import Bucket, take
from openpush.storage.postgres.database import Connection, PostgresDatabase

__all__ = ["PostgresRateLimiter"]


class PostgresRateLimiter:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._swept = ""  # the last day whose older counters this process deleted

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        limited = sorted((b for b in buckets if b.rate > 0), key=lambda b: b.key)
        if not limited:
            return 0.0

        def acquire(conn: Connection) -> float:
            keys = [b.key for b in limited]
            conn.cursor().executemany(
                "INSERT INTO rate_buckets (key, tokens, at) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO NOTHING",
                [(b.key, b.burst, now) for b in limited],
            )
            rows = conn.execute(
                "SELECT key, tokens, at FROM rate_buckets WHERE key = ANY(%s)"
                " ORDER BY key FOR UPDATE",
                (keys,),
            ).fetchall()
            wait, levels = take(limited, {r["key"]: (r["tokens"], r["at"]) for r in rows}, now)
            conn.cursor().executemany(
                "UPDATE rate_buckets SET tokens = %s, at = GREATEST(at, %s) WHERE key = %s",
                [(tokens, now, key) for key, tokens in levels.items()],
            )
            return wait

        return self._db.write(acquire)

    def reserve_items(self, org_id: str, day: str, count: int, quota: int) -> bool:
        if count > quota:
            return False

        def reserve(conn: Connection) -> bool:
            if day != self._swept:
                conn.execute("DELETE FROM daily_items WHERE day < %s", (day,))
            row = conn.execute(
                "INSERT INTO daily_items (org_id, day, used) VALUES (%s, %s, %s)"
                " ON CONFLICT (org_id, day) DO UPDATE SET used = daily_items.used + excluded.used"
                " WHERE daily_items.used + excluded.used <= %s RETURNING used",
                (org_id, day, count, quota),
            ).fetchone()
            return row is not None

        reserved = self._db.write(reserve)
        self._swept = day
        return reserved

    def items_used(self, org_id: str, day: str) -> int:
        row = self._db.read(
            lambda conn: conn.execute(
                "SELECT used FROM daily_items WHERE org_id = %s AND day = %s", (org_id, day)
            ).fetchone()
        )
        return int(row["used"]) if row else 0
