"""The rate limiter contract, in the process and in PostgreSQL.

``limiters(n)`` gives n limiters over the same counters: for PostgreSQL, n stores on one
database, as n API processes are; in the process there is only ever one limiter, so the
"memory" case hands out the same object n times.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from openpush.ratelimit import Bucket, MemoryRateLimiter, RateLimiter
from tests.pgserver import fresh_database

Limiters = Callable[[int], list[RateLimiter]]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def limiters(request: pytest.FixtureRequest) -> Iterator[Limiters]:
    if request.param == "memory":
        shared = MemoryRateLimiter()
        yield lambda n: [shared] * n
        return
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_database())

        def make(n: int) -> list[RateLimiter]:
            from openpush.storage.postgres import PostgresStateStore

            stores = [PostgresStateStore(url, pool_size=4) for _ in range(n)]
            for store in stores:
                stack.callback(store.close)
            return [store.rate_limiter for store in stores]

        yield make


def test_token_buckets_refill_and_cap_at_their_burst(limiters: Limiters) -> None:
    (limiter,) = limiters(1)
    bucket = Bucket("k", rate=2.0, burst=3)
    assert [limiter.acquire([bucket], 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire([bucket], 0.0) == pytest.approx(0.5)
    assert limiter.acquire([bucket], 0.5) == 0.0
    assert [limiter.acquire([bucket], 100.0) for _ in range(4)][-1] == pytest.approx(0.5)


def test_a_request_takes_from_every_bucket_or_from_none(limiters: Limiters) -> None:
    (limiter,) = limiters(1)
    roomy, tight = Bucket("org", 1.0, 10), Bucket("key", 1.0, 1)
    assert limiter.acquire([roomy, tight], 0.0) == 0.0
    for _ in range(5):
        assert limiter.acquire([roomy, tight], 0.0) == pytest.approx(1.0)
    # the refused requests took nothing from the organization's bucket
    assert [limiter.acquire([roomy], 0.0) for _ in range(9)] == [0.0] * 9
    assert limiter.acquire([roomy], 0.0) > 0


def test_daily_counters_refuse_what_would_pass_the_quota(limiters: Limiters) -> None:
    (limiter,) = limiters(1)
    assert limiter.reserve_items("a", "2024-05-01", 3, 5)
    assert not limiter.reserve_items("a", "2024-05-01", 3, 5)
    assert limiter.reserve_items("a", "2024-05-01", 2, 5)
    assert not limiter.reserve_items("c", "2024-05-01", 6, 5)  # more than the quota at once
    assert limiter.items_used("c", "2024-05-01") == 0
    assert limiter.reserve_items("b", "2024-05-01", 5, 5)
    assert limiter.reserve_items("a", "2024-05-02", 5, 5)
    assert limiter.items_used("a", "2024-05-01") == 0  # yesterday's counters are dropped
    assert limiter.items_used("a", "2024-05-02") == 5


def test_processes_draw_from_the_same_buckets_and_quota(limiters: Limiters) -> None:
    first, second = limiters(2)
    bucket = Bucket("org:acme", rate=1.0, burst=4)
    assert [first.acquire([bucket], 10.0) for _ in range(3)] == [0.0] * 3
    assert second.acquire([bucket], 10.0) == 0.0
    assert second.acquire([bucket], 10.0) == pytest.approx(1.0)  # the 4 tokens are spent
    assert first.acquire([bucket], 11.0) == 0.0  # one refilled, for either process
    assert first.reserve_items("acme", "2024-05-01", 7, 10)
    assert not second.reserve_items("acme", "2024-05-01", 4, 10)
    assert second.items_used("acme", "2024-05-01") == 7


def test_concurrent_requests_never_take_more_than_the_burst(limiters: Limiters) -> None:
    processes = limiters(3)
    bucket = Bucket("key:k1", rate=0.001, burst=40)
    granted = 0
    lock = threading.Lock()

    def request(n: int) -> None:
        nonlocal granted
        if processes[n % 3].acquire([bucket], 100.0) == 0.0:
            with lock:
                granted += 1

    def reserve(n: int) -> bool:
        return processes[n % 3].reserve_items("acme", "2024-05-01", 3, 100)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(request, range(120)))
        reserved = sum(pool.map(reserve, range(60)))
    assert granted == 40
    assert reserved == 33  # 33 x 3 = 99 items, a 34th would pass 100
    assert processes[0].items_used("acme", "2024-05-01") == 99
