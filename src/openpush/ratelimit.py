"""Where request-rate buckets and daily item counters live (used by ``api/throttle.py``).

A :class:`RateLimiter` answers two questions atomically: may a request take one token from
each of its buckets (all or none), and may an organization count some more items today. The
embedded default keeps the counters in the process (:class:`MemoryRateLimiter`); a PostgreSQL
deployment keeps them in the database (``storage/postgres/limits.py``) so that every API
process draws from the same buckets. Both share the token arithmetic of :func:`take`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Bucket", "MemoryRateLimiter", "RateLimiter", "take"]


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    key: str
    rate: float
    burst: float


class RateLimiter(Protocol):
    """Where buckets and daily counters live; every method is atomic."""

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        """Take one token from every bucket, or from none: 0.0, or the seconds to wait."""
        ...

    def reserve_items(self, org_id: str, day: str, count: int, quota: int) -> bool:
        """Add ``count`` to the organization's ``day`` counter unless it would pass ``quota``."""
        ...

    def items_used(self, org_id: str, day: str) -> int:
        """Items counted for ``org_id`` on ``day`` so far."""
        ...


def take(
    buckets: Sequence[Bucket], stored: Mapping[str, tuple[float, float]], now: float
) -> tuple[float, dict[str, float]]:
    """One request against ``buckets`` whose saved state is ``stored`` (key -> (tokens, at)).

    Returns the seconds to wait (0.0: the request may go) and each bucket's new level: one
    token less when the request goes, the refill only when it must wait. A bucket never seen
    starts full; a clock that went backwards refills nothing.
    """
    levels: dict[str, float] = {}
    wait = 0.0
    for bucket in buckets:
        if bucket.rate <= 0:
            continue  # no limit
        tokens, at = stored.get(bucket.key, (bucket.burst, now))
        tokens = min(bucket.burst, tokens + max(0.0, now - at) * bucket.rate)
        levels[bucket.key] = tokens
        if tokens < 1:
            wait = max(wait, (1 - tokens) / bucket.rate)
    taken = 0 if wait else 1
    return wait, {key: tokens - taken for key, tokens in levels.items()}


@dataclass
class MemoryRateLimiter:
    """The in-process :class:`RateLimiter`: dictionaries behind one lock."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)
    _items: dict[tuple[str, str], int] = field(default_factory=dict)

    def acquire(self, buckets: Sequence[Bucket], now: float) -> float:
        with self._lock:
            wait, levels = take(buckets, self._tokens, now)
            for key, tokens in levels.items():
                self._tokens[key] = (tokens, now)
            return wait

    def reserve_items(self, org_id: str, day: str, count: int, quota: int) -> bool:
        with self._lock:
            used = self._items.get((org_id, day), 0)
            if used + count > quota:
                return False
            for stale in [k for k in self._items if k[1] != day]:
                del self._items[stale]  # yesterday's counters are of no further use
            self._items[(org_id, day)] = used + count
            return True

    def items_used(self, org_id: str, day: str) -> int:
        with self._lock:
            return self._items.get((org_id, day), 0)
