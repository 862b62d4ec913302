"""Request rates and daily item quotas: 429 with Retry-After, per organization and per key.

The throttle's clock is a fake that the tests move by hand, so nothing depends on timing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from openpush.api.app import create_app
from openpush.api.throttle import Throttle, limiter_for
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from tests.api.conftest import ORG, Api, make_settings
from tests.api.test_errors import assert_error
from tests.pgserver import database_for, fresh_database

pytestmark = pytest.mark.asyncio

START = datetime(2024, 5, 1, 23, 0, 0, tzinfo=UTC).timestamp()  # one hour before UTC midnight


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limits() -> dict[str, Any]:
    return {}


@contextlib.asynccontextmanager
async def throttled_app(
    root: Path, limits: dict[str, Any], clock: FakeClock, database: str
) -> AsyncIterator[Api]:
    """An app with throttling on, the given limits and the fake clock; on PostgreSQL the
    counters are the database's (shared by API processes), on SQLite the process's."""
    settings = make_settings(root, throttling=True, database=database, **limits)
    runtime = Runtime.open(settings)
    try:
        runtime.worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
        throttle = Throttle(runtime.settings, limiter=limiter_for(runtime), clock=clock)
        transport = httpx.ASGITransport(app=create_app(runtime, throttle=throttle))
        async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
            yield Api(http=http, runtime=runtime)
    finally:
        runtime.close()


@pytest.fixture
async def throttled(
    tmp_path: Path, limits: dict[str, Any], clock: FakeClock, backend: str
) -> AsyncIterator[Api]:
    with contextlib.ExitStack() as stack:
        async with throttled_app(tmp_path, limits, clock, database_for(backend, stack)) as api:
            yield api


async def push(api: Api, source: str, n: int | str, key: str | None = None) -> httpx.Response:
    return await api.http.put(
        api.docs(source),
        params={"documentId": f"https://x/{n}"},
        headers=api.auth(key),
        json={"data": f"item {n}"},
    )


def assert_throttled(response: httpx.Response, code: str, retry_after: int) -> None:
    assert_error(response, 429, code)
    assert response.headers["Retry-After"] == str(retry_after)


# -- off by default ---------------------------------------------------------------------------


async def test_throttling_is_off_by_default(api: Api) -> None:
    source = await api.create_source()
    for n in range(30):
        assert (await push(api, source, n)).status_code == 202
    assert api.runtime.settings.throttling is False


async def test_the_setting_turns_it_on(tmp_path: Path) -> None:
    runtime = Runtime.open(make_settings(tmp_path, throttling=True), worker=False)
    try:
        assert isinstance(create_app(runtime).state.throttle, Throttle)
    finally:
        runtime.close()


# -- per organization and per key -------------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [{"org_requests_per_second": 1.0, "org_request_burst": 2, "key_requests_per_second": 0}],
)
async def test_the_organization_bucket_is_shared_by_its_keys(
    throttled: Api, clock: FakeClock
) -> None:
    api = throttled
    source = await api.create_source()
    other_key = api.add_key("admin", "second-key")
    assert (await push(api, source, 1)).status_code == 202
    assert (await push(api, source, 2, other_key)).status_code == 202
    assert_throttled(await push(api, source, 3), "TOO_MANY_REQUESTS", 1)
    assert_throttled(await push(api, source, 3, other_key), "TOO_MANY_REQUESTS", 1)
    assert api.runtime.store.queue.depth() == 2  # refused requests enqueue nothing
    clock.advance(1.0)
    assert (await push(api, source, 3)).status_code == 202
    assert_throttled(await push(api, source, 4), "TOO_MANY_REQUESTS", 1)


@pytest.mark.postgres
async def test_api_processes_on_one_database_share_the_buckets_and_the_quota(
    clock: FakeClock, tmp_path: Path
) -> None:
    """Two apps on one PostgreSQL database (two API processes) draw from one organization
    bucket and count against one daily quota. (A SQLite data directory has one process.)"""
    limits = {"org_requests_per_second": 1.0, "org_request_burst": 2, "daily_item_quota": 3}
    with fresh_database() as database:
        async with (
            throttled_app(tmp_path / "first", limits, clock, database) as first,
            throttled_app(tmp_path / "second", limits, clock, database) as second,
        ):
            source = await first.create_source()
            assert (await push(first, source, 1)).status_code == 202
            assert (await push(second, source, 2)).status_code == 202
            assert_throttled(await push(second, source, 3), "TOO_MANY_REQUESTS", 1)
            assert_throttled(await push(first, source, 3), "TOO_MANY_REQUESTS", 1)
            clock.advance(1.0)
            assert (await push(second, source, 3)).status_code == 202  # the 3rd item today
            clock.advance(1.0)
            r = await push(first, source, 4)
            assert_throttled(r, "TOO_MANY_DOCUMENTS_DAILY", 3598)
            assert "3 of its 3 items" in r.json()["message"]


@pytest.mark.parametrize(
    "limits",
    [{"key_requests_per_second": 0.25, "key_request_burst": 1, "org_requests_per_second": 0}],
)
async def test_each_key_has_its_own_bucket(throttled: Api, clock: FakeClock) -> None:
    api = throttled
    source = await api.create_source()
    other_key = api.add_key("admin", "second-key")
    assert (await push(api, source, 1)).status_code == 202
    assert_throttled(await push(api, source, 2), "TOO_MANY_REQUESTS", 4)
    assert (await push(api, source, 2, other_key)).status_code == 202  # its own bucket
    clock.advance(2.5)
    assert_throttled(await push(api, source, 3), "TOO_MANY_REQUESTS", 2)  # 1.5 s, rounded up
    clock.advance(1.5)
    assert (await push(api, source, 3)).status_code == 202


@pytest.mark.parametrize(
    "limits",
    [{"org_requests_per_second": 1.0, "org_request_burst": 1, "key_requests_per_second": 0}],
)
async def test_only_push_api_calls_of_the_organization_are_counted(throttled: Api) -> None:
    api = throttled
    source = await api.create_source()
    for _ in range(3):  # bad credentials: refused by the route, no token taken
        r = await push(api, source, 1, "no-such-key")
        assert_error(r, 401, "INVALID_TOKEN")
    stranger = api.add_key("admin", "globex-admin", org="globex")
    assert_error(await push(api, source, 1, stranger), 404, "ORGANIZATION_NOT_FOUND")
    assert (await push(api, source, 1)).status_code == 202
    assert_throttled(await push(api, source, 2), "TOO_MANY_REQUESTS", 1)
    # platform (/rest) calls and the container upload are not Push API calls
    r = await api.http.get(f"/rest/organizations/{api.org}/sources", headers=api.auth())
    assert r.status_code == 200
    assert (await api.http.get("/health")).status_code == 200


@pytest.mark.parametrize(
    "limits",
    [
        {
            "org_limits": json.dumps({ORG: {"org_requests_per_second": 1, "org_request_burst": 1}}),
            "key_requests_per_second": 0,
        }
    ],
)
async def test_rates_are_per_organization(throttled: Api) -> None:
    api = throttled
    source = await api.create_source()
    assert (await push(api, source, 1)).status_code == 202
    assert_throttled(await push(api, source, 2), "TOO_MANY_REQUESTS", 1)
    key = api.add_key("admin", "globex-admin", org="globex")
    other = Api(http=api.http, runtime=api.runtime, key=key, org="globex")
    other_source = await other.create_source("other")
    for n in range(20):  # globex keeps the default rate (100/s, burst 1000)
        assert (await push(other, other_source, n)).status_code == 202


# -- daily item quota -------------------------------------------------------------------------


@pytest.mark.parametrize("limits", [{"daily_item_quota": 3}])
async def test_single_pushes_count_against_the_daily_quota(
    throttled: Api, clock: FakeClock
) -> None:
    api = throttled
    source = await api.create_source()
    for n in range(3):
        assert (await push(api, source, n)).status_code == 202
    r = await push(api, source, 3)
    assert_throttled(r, "TOO_MANY_DOCUMENTS_DAILY", 3600)  # until UTC midnight
    assert "3 of its 3 items for 2024-05-01" in r.json()["message"]
    assert api.runtime.store.queue.depth() == 3
    # deletes are not counted: a connector over its quota can still clean up
    r = await api.http.delete(
        api.docs(source), headers=api.auth(), params={"documentId": "https://x/0"}
    )
    assert r.status_code == 202
    clock.advance(3600)  # a new UTC day
    assert (await push(api, source, 3)).status_code == 202


@pytest.mark.parametrize("limits", [{"daily_item_quota": 5}])
async def test_batches_count_their_added_items_when_accepted(throttled: Api) -> None:
    api = throttled
    source = await api.create_source()
    adds = [{"documentId": f"https://x/{n}", "data": "x"} for n in range(4)]
    deletes = [{"documentId": f"https://x/old/{n}"} for n in range(3)]
    r = await api.batch(source, {"addOrUpdate": adds, "delete": deletes})
    assert r.status_code == 202, r.text
    r = await api.batch(source, {"addOrUpdate": adds[:2]})
    assert_throttled(r, "TOO_MANY_DOCUMENTS_DAILY", 3600)
    assert (await push(api, source, "last")).status_code == 202  # the 5th item
    assert_error(await push(api, source, "over"), 429, "TOO_MANY_DOCUMENTS_DAILY")
    # a malformed file counts nothing (the batch reports it); the refused batch kept its file
    assert (await api.batch(source, b"{not json")).status_code == 202


@pytest.mark.parametrize("limits", [{"daily_item_quota": 3}])
async def test_stream_loads_and_updates_count_too(throttled: Api) -> None:
    api = throttled
    r = await api.http.post(
        f"/rest/organizations/{api.org}/sources",
        headers=api.auth(),
        json={"name": "catalog", "sourceType": "CATALOG", "sourceVisibility": "SHARED"},
    )
    source = r.json()["id"]
    stream = f"/push/v1/organizations/{api.org}/sources/{source}/stream"
    opened = (await api.http.post(stream + "/open", headers=api.auth())).json()
    items = {"addOrUpdate": [{"documentId": f"https://x/{n}", "data": "x"} for n in range(2)]}
    up = await api.http.put(
        opened["uploadUri"], content=orjson.dumps(items), headers=opened["requiredHeaders"]
    )
    assert up.status_code == 200
    closed = await api.http.post(f"{stream}/{opened['streamId']}/close", headers=api.auth())
    assert closed.status_code == 200, closed.text
    created = await api.container(orjson.dumps(items))
    r = await api.http.put(
        stream + "/update", params={"fileId": created["fileId"]}, headers=api.auth()
    )
    assert_error(r, 429, "TOO_MANY_DOCUMENTS_DAILY")
