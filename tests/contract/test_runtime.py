"""The whole service on each state store: pushes, batches and identities through the API.

The API suite (``tests/api``) runs on SQLite, and on PostgreSQL with
``OPENPUSH_TEST_STATE=postgres``; these few flows run on both every time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openpush.api.app import create_app
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from tests.api.conftest import Api, allow, make_settings
from tests.api.worked_example import EXAMPLES, P, worked_example_graph
from tests.pgserver import fresh_database


@pytest.fixture
async def api(backend: str, tmp_path: Path) -> AsyncIterator[Api]:
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(fresh_database()) if backend == "postgres" else ""
        runtime = Runtime.open(make_settings(tmp_path, database=database))
        stack.callback(runtime.close)
        runtime.worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
            yield Api(http=http, runtime=runtime)


async def test_items_are_pushed_applied_in_order_and_deleted(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    for version in ("one", "two", "three"):
        r = await api.push(source, "https://x/1", {"title": version, "data": f"text {version}"})
        assert r.status_code == 202, r.text
    assert (await api.status(source, "https://x/1"))["state"] == "accepted"
    api.drain()
    status = await api.status(source, "https://x/1")
    assert (status["state"], status["lastResult"]) == ("indexed", "COMPLETED")
    assert await api.search_as(q="three") == {"https://x/1"}
    assert await api.search_as(q="two") == set()
    await api.delete(source, "https://x/1")
    api.drain()
    assert (await api.status(source, "https://x/1"))["state"] == "deleted"
    assert [e["result"] for e in await api.logs()] == ["COMPLETED"] * 4


async def test_a_batch_file_is_applied_with_its_outcomes(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    items = [{"documentId": f"https://x/{n}", "title": f"t{n}", "data": "batch"} for n in range(5)]
    items.append({"documentId": "no-scheme", "data": "x"})
    r = await api.batch(source, {"addOrUpdate": items, "delete": [{"documentId": "https://x/0"}]})
    assert r.status_code == 202, r.text
    api.drain()
    status = await api.batch_status(source, r.json()["batchId"])
    assert status["state"] == "COMPLETED"
    assert len(await api.search_as(q="batch")) == 4


async def test_pushed_identities_decide_who_sees_what(api: Api) -> None:
    await worked_example_graph(api)
    for user in ("alice", "dave"):
        token = await api.token(user, provider=P)
        found = {r["uri"] for r in (await api.search(token, numberOfResults=100))["results"]}
        expected = {n for n, (_, who) in EXAMPLES.items() if user in who}
        assert {int(uri.rsplit("/", 1)[1]) for uri in found} == expected, user
    source = await api.create_source("emails")
    body = {"data": "pineapple", "permissions": allow("erin@x.com")}
    await api.push(source, "https://x/p", body)
    api.drain()
    assert await api.search_as("erin@x.com", q="pineapple") == {"https://x/p"}
    assert await api.search_as("frank@x.com", q="pineapple") == set()
