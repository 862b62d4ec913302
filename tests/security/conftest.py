"""One in-process server per test module holding two organizations, ``orga`` and ``orgb``.

``world`` populates ``orgb`` (the victim) once and takes a snapshot of everything its own
admin key can read; ``orga`` (the attacker) gets an admin key and a fresh set of its own
objects per test (``sandbox``), so a test may consume or delete them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from openpush.api.app import create_app
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from tests.api.conftest import Api, make_settings
from tests.security.tenants import Tenant, create_org, populate, snapshot

ORG_A = "orga"
ORG_B = "orgb"


@dataclass
class World:
    app: Any
    api: Api
    a_key: str
    b: Tenant
    b_snapshot: dict[str, Any]

    shared: Tenant | None = None

    async def sandbox(self, *, fresh: bool = True) -> Tenant:
        """A set of objects in organization A: a new one, or one shared by the read-only tests."""
        if fresh:
            return await populate(self.api, ORG_A, self.a_key)
        if self.shared is None:
            self.shared = await populate(self.api, ORG_A, self.a_key)
        return self.shared

    async def token(self, key: str, *users: str) -> str:
        r = await self.api.http.post(
            "/rest/search/v2/token",
            headers={"Authorization": f"Bearer {key}"},
            json={"userIds": [{"name": u, "provider": "Email Security Provider"} for u in users]},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    async def assert_b_untouched(self) -> None:
        self.api.drain()  # whatever A queued is applied before B is looked at again
        assert await snapshot(self.api, self.b) == self.b_snapshot


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    root: Path = tmp_path_factory.mktemp("tenants")
    runtime = Runtime.open(make_settings(root, bootstrap_org="", bootstrap_api_key=""))
    runtime.worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
    try:
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
            api = Api(http=http, runtime=runtime)
            a_key = create_org(api, ORG_A)
            b = await populate(api, ORG_B, create_org(api, ORG_B))
            yield World(app=app, api=api, a_key=a_key, b=b, b_snapshot=await snapshot(api, b))
    finally:
        runtime.close()
