"""Request rates and daily item quotas (push-api.md §9.1, §9.2): ``429`` with ``Retry-After``.

Off unless the ``throttling`` setting is on (the embedded, single-user default has no limits).
When on:

* every authenticated Push API request (``/push/v1/organizations/{org}/…``) takes one token
  from its organization's bucket and one from its API key's bucket (token buckets: ``*_rate``
  tokens a second, at most ``*_burst`` saved up; a rate of 0 means no limit). A request that
  finds either bucket empty takes nothing and is answered ``429 TOO_MANY_REQUESTS`` with
  ``Retry-After`` = the whole seconds until both buckets hold a token again (at least 1).
  Unauthenticated requests and requests for another organization are not counted: their
  route refuses them (401/404), so a stranger cannot drain an organization's bucket.
* ``daily_item_quota`` > 0 caps the items an organization may push per UTC day. A single
  push counts 1 when it is accepted; a documents batch, stream update, stream merge or stream
  close counts the ``addOrUpdate``, ``partialUpdate`` and ``merge`` entries of its files when
  it is accepted (the files are scanned then); deletes are not counted. A request that would
  go over the quota is refused whole with ``429 TOO_MANY_DOCUMENTS_DAILY`` and ``Retry-After``
  = the seconds until the next UTC midnight.

The counters live behind :class:`~openpush.ratelimit.RateLimiter` (:func:`limiter_for`): in
the process for the embedded default (one API process; they restart empty), in PostgreSQL when
the state store is there, so that every API process draws from the same buckets and counts
against the same daily quota. The PostgreSQL limiter does a round trip per request, so its
calls run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Request

from openpush.api.auth import authenticate
from openpush.domain.transfers import BatchKind
from openpush.errors import DailyQuotaExceededError, TooManyRequestsError
from openpush.pipeline.batches import file_depth
from openpush.pipeline.batchfile import MalformedBatchFileError, scan
from openpush.ratelimit import Bucket, MemoryRateLimiter, RateLimiter

if TYPE_CHECKING:
    from openpush.runtime import Runtime
    from openpush.settings import Settings

__all__ = [
    "Throttle",
    "charge_batch",
    "charge_items",
    "limiter_for",
    "throttle_request",
]

_PUSH_PREFIX = "/push/v1/organizations/"
_COUNTED_SECTIONS = frozenset({"addOrUpdate", "partialUpdate", "merge"})


@dataclass
class Throttle:
    """The rate and quota policy of one app: settings (per organization) over a limiter."""

    settings: Settings
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    clock: Callable[[], float] = time.time

    def check(self, org_id: str, key_id: str | None) -> None:
        """Take a token for one request of ``key_id`` in ``org_id`` or raise 429."""
        limits = self.settings.for_org(org_id)
        wanted = [(f"org:{org_id}", limits.org_requests_per_second, limits.org_request_burst)]
        if key_id is not None:
            wanted.append(
                (f"key:{key_id}", limits.key_requests_per_second, limits.key_request_burst)
            )
        buckets = [Bucket(key, rate, max(1.0, burst)) for key, rate, burst in wanted if rate > 0]
        wait = self.limiter.acquire(buckets, self.clock()) if buckets else 0.0
        if wait > 0:
            raise TooManyRequestsError(
                f"too many requests for organization {org_id!r} or this API key; retry later",
                retry_after=math.ceil(wait),
            )

    def reserve(self, org_id: str, count: int) -> None:
        """Count ``count`` items pushed today or raise 429 TOO_MANY_DOCUMENTS_DAILY."""
        quota = self.settings.for_org(org_id).daily_item_quota
        if quota <= 0 or count <= 0:
            return
        now = datetime.fromtimestamp(self.clock(), UTC)
        day = now.date().isoformat()
        if not self.limiter.reserve_items(org_id, day, count, quota):
            used = self.limiter.items_used(org_id, day)
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            raise DailyQuotaExceededError(
                f"organization {org_id!r} pushed {used} of its {quota} items for {day} (UTC);"
                f" this request holds {count} more",
                retry_after=math.ceil((midnight - now).total_seconds()),
            )

    def counts_items(self, org_id: str) -> bool:
        return self.settings.for_org(org_id).daily_item_quota > 0

    async def acheck(self, org_id: str, key_id: str | None) -> None:
        """:meth:`check`, off the event loop when the limiter does I/O."""
        await self._off_loop(self.check, org_id, key_id)

    async def areserve(self, org_id: str, count: int) -> None:
        """:meth:`reserve`, off the event loop when the limiter does I/O."""
        await self._off_loop(self.reserve, org_id, count)

    async def _off_loop(self, call: Callable[..., None], *args: Any) -> None:
        if isinstance(self.limiter, MemoryRateLimiter):
            call(*args)  # dictionaries behind a lock: not worth a thread hop
        else:
            await asyncio.to_thread(call, *args)


def limiter_for(runtime: Runtime) -> RateLimiter:
    """The state store's shared limiter if it has one (PostgreSQL), else an in-process one."""
    shared: RateLimiter | None = getattr(runtime.store, "rate_limiter", None)
    return shared if shared is not None else MemoryRateLimiter()


def throttle_of(request: Request) -> Throttle | None:
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    return throttle


async def throttle_request(request: Request) -> None:
    """App-wide dependency: the rate limits of authenticated Push API requests."""
    throttle = throttle_of(request)
    if throttle is None or not request.url.path.startswith(_PUSH_PREFIX):
        return
    org_id = request.path_params.get("organizationId")
    caller = authenticate(request)
    if org_id is None or caller.org_id != org_id:
        return  # the route answers 404 ORGANIZATION_NOT_FOUND
    await throttle.acheck(org_id, caller.key.id if caller.key is not None else None)


async def charge_items(request: Request, org_id: str, count: int) -> None:
    """Count a single push against the daily item quota (no-op when there is none)."""
    throttle = throttle_of(request)
    if throttle is not None:
        await throttle.areserve(org_id, count)


async def charge_batch(
    request: Request, runtime: Runtime, org_id: str, kind: BatchKind, file_ids: Sequence[str]
) -> None:
    """Count the items of a container batch against the daily quota, scanning its files."""
    throttle = throttle_of(request)
    if throttle is None or kind is BatchKind.IDENTITIES or not throttle.counts_items(org_id):
        return
    count = await asyncio.to_thread(_count_items, runtime, org_id, kind, file_ids)
    await throttle.areserve(org_id, count)


def _count_items(runtime: Runtime, org_id: str, kind: BatchKind, file_ids: Sequence[str]) -> int:
    """The entries a batch adds or updates; an unreadable file counts 0 (the batch logs it)."""
    depth = file_depth(runtime.settings.for_org(org_id))
    total = 0
    for file_id in file_ids:
        if runtime.blobs.size(org_id, file_id) is None:
            continue
        try:
            with runtime.blobs.open(org_id, file_id) as stream:
                found = scan(stream, kind.sections, max_depth=depth)
        except MalformedBatchFileError:
            continue
        total += sum(n for section, n in found.counts.items() if section in _COUNTED_SECTIONS)
    return total
