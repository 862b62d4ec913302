"""In-process API tests: the real app over an ASGI transport, the worker drained by hand."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from openpush.api.app import create_app
from openpush.domain.organizations import PRESETS, ApiKey, Organization, hash_api_key
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from openpush.settings import Settings
from tests.pgserver import database_for

ORG = "acme"
ADMIN_KEY = "admin-key"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base = Settings(
        data_dir=tmp_path,
        bootstrap_org=ORG,
        bootstrap_api_key=ADMIN_KEY,
        worker=False,
        sqlite_synchronous="NORMAL",
        index_writer_heap_mb=32,
    )
    return base.replace(**overrides)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def runtime(tmp_path: Path, settings_overrides: dict[str, Any], backend: str) -> Iterator[Runtime]:
    """The runtime on SQLite, or on a fresh PostgreSQL database (see ``tests.pgserver``)."""
    with contextlib.ExitStack() as stack:
        if "database" not in settings_overrides:
            settings_overrides = {**settings_overrides, "database": database_for(backend, stack)}
        rt = Runtime.open(make_settings(tmp_path, **settings_overrides))
        stack.callback(rt.close)
        rt.worker = Worker(rt.store, rt.index, rt.settings, blobs=rt.blobs)
        yield rt


@dataclass
class Api:
    """A client bound to the app, with the calls most tests make."""

    http: httpx.AsyncClient
    runtime: Runtime
    key: str = ADMIN_KEY
    org: str = ORG

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def create_source(
        self, name: str = "docs", visibility: str = "SECURED", **extra: Any
    ) -> str:
        r = await self.http.post(
            f"/rest/organizations/{self.org}/sources",
            headers=self.auth(),
            json={"name": name, "sourceType": "PUSH", "sourceVisibility": visibility, **extra},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def docs(self, source: str) -> str:
        return f"/push/v1/organizations/{self.org}/sources/{source}/documents"

    async def push(
        self, source: str, document_id: str, body: dict[str, Any], **params: Any
    ) -> httpx.Response:
        return await self.http.put(
            self.docs(source),
            params={"documentId": document_id, **params},
            headers=self.auth(),
            json=body,
        )

    async def delete(self, source: str, document_id: str, **params: Any) -> httpx.Response:
        return await self.http.delete(
            self.docs(source), headers=self.auth(), params={"documentId": document_id, **params}
        )

    async def container(self, content: bytes | None = None) -> dict[str, Any]:
        """Create a file container and, when ``content`` is given, upload it."""
        r = await self.http.post(f"/push/v1/organizations/{self.org}/files", headers=self.auth())
        assert r.status_code == 201, r.text
        created = dict(r.json())
        if content is not None:
            up = await self.http.put(
                created["uploadUri"], content=content, headers=created["requiredHeaders"]
            )
            assert up.status_code == 200, up.text
        return created

    async def batch(
        self, source: str, body: dict[str, Any] | bytes, **params: Any
    ) -> httpx.Response:
        """Upload ``body`` to a fresh container and send the batch call."""
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        created = await self.container(content)
        return await self.http.put(
            self.docs(source) + "/batch",
            params={"fileId": created["fileId"], **params},
            headers=self.auth(),
        )

    async def batch_status(self, source: str, batch_id: str, **params: Any) -> dict[str, Any]:
        r = await self.http.get(
            self.docs(source) + f"/batches/{batch_id}",
            headers=self.auth(),
            params={"perPage": 1000, **params},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def drain(self) -> None:
        assert self.runtime.worker is not None
        self.runtime.worker.drain()

    async def status(self, source: str, document_id: str) -> dict[str, Any]:
        r = await self.http.get(
            self.docs(source) + "/status", headers=self.auth(), params={"documentId": document_id}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def token(self, *names: str, provider: str = "Email Security Provider") -> str:
        r = await self.http.post(
            "/rest/search/v2/token",
            headers=self.auth(),
            json={"userIds": [{"name": n, "provider": provider, "type": "User"} for n in names]},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    async def search(
        self, credential: str | None = None, *, view_all: bool = False, **body: Any
    ) -> dict[str, Any]:
        params = {"viewAllContent": "true"} if view_all else {}
        r = await self.http.post(
            "/rest/search/v2", params=params, headers=self.auth(credential), json=body
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def search_as(self, *names: str, **body: Any) -> set[str]:
        token = await self.token(*names) if names else None
        if token is None:
            result = await self.search(**body)
        else:
            result = await self.search(token, **body)
        return {r["uri"] for r in result["results"]}

    async def search_as_view_all(self, **body: Any) -> set[str]:
        result = await self.search(view_all=True, numberOfResults=1000, **body)
        return {r["uri"] for r in result["results"]}

    async def logs(self, **body: Any) -> list[dict[str, Any]]:
        r = await self.http.post(
            f"/logs/v1/organizations/{self.org}",
            headers=self.auth(),
            json=body,
            params={"perPage": 1000},
        )
        assert r.status_code == 200, r.text
        return list(r.json()["documentLogEntries"])

    def add_key(self, preset: str, secret: str, org: str | None = None) -> str:
        catalog = self.runtime.store.catalog
        org_id = org or self.org
        catalog.create_organization(Organization(org_id, org_id))
        catalog.save_api_key(
            ApiKey(
                id=f"k-{secret}", org_id=org_id, display_name=preset, privileges=PRESETS[preset]
            ),
            hash_api_key(secret),
        )
        return secret


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[Api]:
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
        yield Api(http=http, runtime=runtime)


def allow(*users: str, anonymous: bool = False, deny: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A one-set permission model (the simplified form)."""
    return [
        {
            "allowAnonymous": anonymous,
            "allowedPermissions": [{"identity": u, "identityType": "User"} for u in users],
            "deniedPermissions": [{"identity": u, "identityType": "User"} for u in deny],
        }
    ]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
