"""Every refusal has the right status and Coveo's {"errorCode", "message"} body."""

from __future__ import annotations

import pytest

from tests.api.conftest import ORG, Api


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "message"}
    assert body["errorCode"] == code
    assert body["message"]


async def test_missing_credentials_is_401_unauthorized(api: Api) -> None:
    source = await api.create_source()
    r = await api.http.put(api.docs(source), params={"documentId": "https://x/1"}, json={})
    assert_error(r, 401, "UNAUTHORIZED")


async def test_unknown_key_is_401_invalid_token(api: Api) -> None:
    source = await api.create_source()
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        json={},
        headers=api.auth("no-such-key"),
    )
    assert_error(r, 401, "INVALID_TOKEN")


async def test_forged_search_token_is_401(api: Api) -> None:
    r = await api.http.post("/rest/search/v2", headers=api.auth("a.b.c"), json={})
    assert_error(r, 401, "INVALID_TOKEN")


async def test_key_without_push_privilege_is_403(api: Api) -> None:
    source = await api.create_source()
    search_key = api.add_key("search", "search-only")
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        json={},
        headers=api.auth(search_key),
    )
    assert_error(r, 403, "ACCESS_DENIED")


async def test_unknown_organization_is_404(api: Api) -> None:
    r = await api.http.put(
        "/push/v1/organizations/nosuchorg/sources/s/documents",
        params={"documentId": "https://x/1"},
        json={},
        headers=api.auth(),
    )
    assert_error(r, 404, "ORGANIZATION_NOT_FOUND")


async def test_another_existing_organization_looks_like_an_unknown_one(api: Api) -> None:
    other_key = api.add_key("admin", "other-admin", org="globex")
    source = await api.create_source()
    r = await api.http.put(
        api.docs(source), params={"documentId": "https://x/1"}, json={}, headers=api.auth(other_key)
    )
    assert_error(r, 404, "ORGANIZATION_NOT_FOUND")
    r = await api.http.get(
        f"/rest/organizations/{ORG}/sources/{source}", headers=api.auth(other_key)
    )
    assert_error(r, 404, "ORGANIZATION_NOT_FOUND")


async def test_unknown_source_is_412(api: Api) -> None:
    r = await api.push("acme-nosuchsource", "https://x/1", {"data": "x"})
    assert_error(r, 412, "SOURCE_DOES_NOT_EXIST")
    r = await api.http.post(
        f"/push/v1/organizations/{ORG}/sources/acme-nosuch/status",
        params={"statusType": "REBUILD"},
        headers=api.auth(),
    )
    assert_error(r, 412, "SOURCE_DOES_NOT_EXIST")


async def test_missing_document_id_is_412(api: Api) -> None:
    source = await api.create_source()
    r = await api.http.put(api.docs(source), json={"data": "x"}, headers=api.auth())
    assert_error(r, 412, "MISSING_PARAMETER")


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": "a", "Data": "b"}',
        b'{"title": "t", "nested": {"deep": {"x": 1}}}',
        b'{"data": "a", "compressedBinaryData": "eJw="}',
        b'{"title": ',
        b"[1, 2]",
    ],
)
async def test_malformed_item_body_is_400_and_enqueues_nothing(api: Api, body: bytes) -> None:
    source = await api.create_source()
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        content=body,
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert_error(r, 400, "INVALID_JSON")
    assert api.runtime.store.queue.depth() == 0


async def test_wrong_content_type_is_415(api: Api) -> None:
    source = await api.create_source()
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        content=b"data=x",
        headers={**api.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": 4096}])
async def test_body_over_the_request_limit_is_413(api: Api) -> None:
    source = await api.create_source()
    r = await api.push(source, "https://x/1", {"data": "x" * 5000})
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert api.runtime.store.queue.depth() == 0


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "1" * 41])
async def test_invalid_ordering_id_is_412(api: Api, value: str) -> None:
    source = await api.create_source()
    r = await api.push(source, "https://x/1", {"data": "x"}, orderingId=value)
    assert_error(r, 412, "INVALID_PARAMETER")


async def test_invalid_status_type_is_412_and_missing_is_412(api: Api) -> None:
    source = await api.create_source()
    url = f"/push/v1/organizations/{ORG}/sources/{source}/status"
    r = await api.http.post(url, params={"statusType": "RESCAN"}, headers=api.auth())
    assert_error(r, 412, "INVALID_PARAMETER")
    r = await api.http.post(url, headers=api.auth())
    assert_error(r, 412, "MISSING_PARAMETER")


async def test_document_id_without_scheme_is_refused(api: Api) -> None:
    source = await api.create_source()
    r = await api.push(source, "no-scheme", {"data": "x"})
    assert_error(r, 412, "INVALID_PARAMETER")


async def test_unknown_route_has_json_error(api: Api) -> None:
    r = await api.http.get("/push/v1/nothing-here", headers=api.auth())
    assert_error(r, 404, "NOT_FOUND")


async def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert "/push/v1/organizations/{organizationId}/sources/{sourceId}/documents" in spec["paths"]
    assert "/rest/search/v2" in spec["paths"]
    page = await api.http.get("/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
