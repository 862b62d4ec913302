"""File containers through the HTTP API: creation, signed uploads, refusals, clean-up."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio


def _with_query(uri: str, **changes: str) -> str:
    parts = urlparse(uri)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunparse(parts._replace(query=urlencode(query)))


async def test_create_returns_coveo_shape_and_an_absolute_upload_uri(api: Api) -> None:
    r = await api.http.post(f"/push/v1/organizations/{api.org}/files", headers=api.auth())
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"uploadUri", "fileId", "requiredHeaders"}
    assert body["uploadUri"].startswith("http://openpush.test/blobstore/acme/" + body["fileId"])
    assert body["requiredHeaders"] == {
        "Content-Type": "application/octet-stream",
        "x-amz-server-side-encryption": "AES256",
    }


async def test_create_accepts_an_empty_json_body_and_needs_a_push_privilege(api: Api) -> None:
    r = await api.http.post(f"/push/v1/organizations/{api.org}/files", headers=api.auth(), json={})
    assert r.status_code == 201
    search_key = api.add_key("search", "search-only")
    r = await api.http.post(f"/push/v1/organizations/{api.org}/files", headers=api.auth(search_key))
    assert r.status_code == 403
    assert r.json()["errorCode"] == "ACCESS_DENIED"
    r = await api.http.post("/push/v1/organizations/other/files", headers=api.auth())
    assert r.status_code == 404


async def test_upload_stores_the_bytes_without_authorization(api: Api) -> None:
    created = await api.container()
    r = await api.http.put(
        created["uploadUri"], content=b"hello", headers=created["requiredHeaders"]
    )
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["etag"]
    with api.runtime.blobs.open("acme", created["fileId"]) as stream:
        assert stream.read() == b"hello"


@pytest.mark.parametrize(
    "change",
    [
        {"sig": "0" * 64},
        {"exp": str(int(time.time()) + 7200)},
        {"sig": ""},
    ],
)
async def test_forged_upload_urls_are_refused(api: Api, change: dict[str, str]) -> None:
    created = await api.container()
    r = await api.http.put(_with_query(created["uploadUri"], **change), content=b"x")
    assert r.status_code == 403
    assert r.json()["errorCode"] == "ACCESS_DENIED"
    assert api.runtime.blobs.size("acme", created["fileId"]) is None


async def test_a_signature_is_bound_to_its_organization_and_file(api: Api) -> None:
    first, second = await api.container(), await api.container()
    stolen = first["uploadUri"].replace(first["fileId"], second["fileId"])
    assert (await api.http.put(stolen, content=b"x")).status_code == 403
    other_org = first["uploadUri"].replace("/blobstore/acme/", "/blobstore/globex/")
    assert (await api.http.put(other_org, content=b"x")).status_code == 403


@pytest.mark.parametrize("settings_overrides", [{"file_container_ttl_seconds": 0}])
async def test_an_expired_upload_url_is_refused(api: Api) -> None:
    created = await api.container()
    time.sleep(0.01)
    r = await api.http.put(created["uploadUri"], content=b"late")
    assert r.status_code == 403
    assert "expired" in r.json()["message"]


@pytest.mark.parametrize("settings_overrides", [{"file_container_max_bytes": 1000}])
async def test_too_big_uploads_get_413_with_or_without_a_content_length(api: Api) -> None:
    created = await api.container()
    r = await api.http.put(created["uploadUri"], content=b"x" * 1001)
    assert r.status_code == 413

    consumed = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"y" * 300

    r = await api.http.put(created["uploadUri"], content=chunks())
    assert r.status_code == 413
    assert r.json()["errorCode"] == "REQUEST_ENTITY_TOO_LARGE"
    assert api.runtime.blobs.size("acme", created["fileId"]) is None
    # exactly at the limit is fine
    r = await api.http.put(created["uploadUri"], content=b"z" * 1000)
    assert r.status_code == 200


async def test_a_consumed_container_accepts_no_upload_and_no_second_use(api: Api) -> None:
    source = await api.create_source()
    created = await api.container(b'{"addOrUpdate": []}')
    params: dict[str, Any] = {"fileId": created["fileId"]}
    r = await api.http.put(api.docs(source) + "/batch", params=params, headers=api.auth())
    assert r.status_code == 202
    again = await api.http.put(api.docs(source) + "/batch", params=params, headers=api.auth())
    assert again.status_code == 404
    assert again.json()["errorCode"] == "FILE_NOT_FOUND"
    late = await api.http.put(created["uploadUri"], content=b"{}")
    assert late.status_code == 403
    api.drain()
    assert api.runtime.blobs.size("acme", created["fileId"]) is None
    assert api.runtime.store.transfers.get_container("acme", created["fileId"]) is None


@pytest.mark.parametrize("settings_overrides", [{"file_container_ttl_seconds": 0}])
async def test_expired_unused_containers_are_swept(api: Api) -> None:
    created = await api.container()
    assert api.runtime.store.transfers.get_container("acme", created["fileId"]) is not None
    assert api.runtime.worker is not None
    api.runtime.worker.sweep(time.time() + 1)
    assert api.runtime.store.transfers.get_container("acme", created["fileId"]) is None
