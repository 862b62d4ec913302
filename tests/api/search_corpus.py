"""One app per test module, driven synchronously, for search tests over a fixed corpus.

The API fixture of ``conftest.py`` is per test; search tests only read, so one app and one
index per module is enough. ``CorpusApi`` drives the app in-process over httpx's ASGI
transport, like the ``api`` fixture, on an event loop of its own so tests can stay sync.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openpush.api.app import create_app
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from tests.api.conftest import ADMIN_KEY, ORG, make_settings
from tests.pgserver import database_for

FIELDS = [
    {"name": "category", "type": "STRING", "facet": True, "sort": True},
    {"name": "tags", "type": "STRING", "facet": True, "multiValueFacet": True},
    {"name": "note", "type": "STRING"},
    {"name": "views", "type": "LONG"},
    {"name": "big", "type": "LONG_64"},
    {"name": "price", "type": "DOUBLE"},
    {"name": "published", "type": "DATE"},
    {"name": "scores", "type": "LONG"},
]


class CorpusApi:
    """The app as the admin key (by default) sees it, through blocking calls."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://openpush.test")
        self.runtime = runtime

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()

    def auth(self, key: str = ADMIN_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def create_fields(self, fields: list[dict[str, Any]]) -> None:
        r = self.request(
            "POST",
            f"/rest/organizations/{ORG}/indexes/fields/batch/create",
            headers=self.auth(),
            json=fields,
        )
        assert r.status_code == 204, r.text

    def create_source(self, name: str, visibility: str) -> str:
        r = self.request(
            "POST",
            f"/rest/organizations/{ORG}/sources",
            headers=self.auth(),
            json={"name": name, "sourceType": "PUSH", "sourceVisibility": visibility},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def push(self, source: str, document_id: str, body: dict[str, Any]) -> None:
        r = self.request(
            "PUT",
            f"/push/v1/organizations/{ORG}/sources/{source}/documents",
            params={"documentId": document_id},
            headers=self.auth(),
            json=body,
        )
        assert r.status_code == 202, r.text

    def drain(self) -> None:
        assert self.runtime.worker is not None
        self.runtime.worker.drain()

    def token(self, *names: str, search_filter: str = "") -> str:
        body: dict[str, Any] = {"userIds": [{"name": n, "type": "User"} for n in names]}
        if search_filter:
            body["filter"] = search_filter
        r = self.request("POST", "/rest/search/v2/token", headers=self.auth(), json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def raw_search(
        self, credential: str = ADMIN_KEY, *, view_all: bool = True, **body: Any
    ) -> httpx.Response:
        params = {"viewAllContent": "true"} if view_all else {}
        return self.request(
            "POST", "/rest/search/v2", params=params, headers=self.auth(credential), json=body
        )

    def search(
        self, credential: str = ADMIN_KEY, *, view_all: bool = True, **body: Any
    ) -> dict[str, Any]:
        r = self.raw_search(credential, view_all=view_all, **body)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture(scope="module")
def corpus_runtime(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Runtime]:
    """The module's runtime: on SQLite, or on a fresh PostgreSQL database like ``runtime``."""
    path: Path = tmp_path_factory.mktemp("corpus")
    with contextlib.ExitStack() as stack:
        runtime = Runtime.open(make_settings(path, database=database_for(backend, stack)))
        stack.callback(runtime.close)
        runtime.worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
        yield runtime


@pytest.fixture(scope="module")
def corpus_client(corpus_runtime: Runtime) -> Iterator[CorpusApi]:
    client = CorpusApi(create_app(corpus_runtime), corpus_runtime)
    yield client
    client.close()
