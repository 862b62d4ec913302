"""API keys: the secret shown once, exact privileges, no escalation, instant revocation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, ORG, Api
from tests.api.privileged import key_with

KEYS = f"/rest/organizations/{ORG}/apikeys"
SOURCE_EDIT = {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "*"}
SOURCE_VIEW = {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "VIEW", "targetId": "*"}
KEYS_EDIT = {"owner": "PLATFORM", "targetDomain": "API_KEY", "type": "EDIT", "targetId": "*"}
ADMIN = {"owner": "PLATFORM", "targetDomain": "ORGANIZATION", "type": "EDIT", "targetId": "*"}


async def create_key(
    api: Api, *privileges: dict[str, str], key: str | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "displayName": "crawler",
        "description": "pushes the wiki",
        "enabled": True,
        "privileges": list(privileges),
        **extra,
    }
    return await api.http.post(KEYS, headers=api.auth(key), json=body)


async def created(api: Api, *privileges: dict[str, str], key: str | None = None) -> dict:
    r = await create_key(api, *privileges, key=key)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def push_status(api: Api, key: str, source: str) -> int:
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        headers=api.auth(key),
        json={"data": "d"},
    )
    return r.status_code


async def test_the_secret_is_shown_once_and_never_again(api: Api) -> None:
    model = await created(api, SOURCE_EDIT)
    secret = model["value"]
    assert secret.startswith("xx")
    assert model["displayName"] == "crawler"
    assert model["description"] == "pushes the wiki"
    assert (model["enabled"], model["status"]) == (True, "ENABLED")
    assert model["privileges"] == [SOURCE_EDIT]
    assert model["organizationId"] == ORG
    assert model["createdBy"] == api.runtime.store.catalog.list_api_keys(ORG)[0].id
    listed = await api.http.get(KEYS, headers=api.auth())
    got = await api.http.get(f"{KEYS}/{model['id']}", headers=api.auth())
    for response in (listed, got):
        assert response.status_code == 200, response.text
        assert secret not in response.text
        assert "value" not in response.text
    assert model["id"] in {k["id"] for k in listed.json()}
    assert got.json()["privileges"] == [SOURCE_EDIT]
    # only a hash is stored
    stored = api.runtime.store.catalog.get_api_key(ORG, model["id"])
    assert stored is not None
    assert secret not in repr(stored)


async def test_a_new_key_works_with_exactly_its_privileges(api: Api) -> None:
    source = await api.create_source()
    secret = (await created(api, SOURCE_EDIT))["value"]
    assert await push_status(api, secret, source) == 202
    r = await api.http.post(
        f"/rest/organizations/{ORG}/indexes/fields/batch/create",
        headers=api.auth(secret),
        json=[{"name": "price", "type": "DOUBLE"}],
    )
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")
    r = await api.http.get(KEYS, headers=api.auth(secret))
    assert r.status_code == 403
    r = await api.http.post(
        "/rest/search/v2/token",
        headers=api.auth(secret),
        json={"userIds": [{"name": "a@example.com"}]},
    )
    assert r.status_code == 403
    r = await api.http.post(
        "/rest/privilege/evaluate",
        headers=api.auth(secret),
        json={"organizationId": ORG, "requestedPrivilege": SOURCE_EDIT},
    )
    assert r.json()["approved"] is True


async def test_a_key_cannot_grant_what_it_does_not_hold(api: Api) -> None:
    manager = key_with(api.runtime, "key-manager", "PLATFORM/API_KEY/EDIT", "PLATFORM/SOURCE/VIEW")
    allowed = await create_key(api, SOURCE_VIEW, key=manager)
    assert allowed.status_code == 201, allowed.text
    for wanted in (SOURCE_EDIT, ADMIN, {**SOURCE_VIEW, "type": "EDIT", "targetId": "s1"}):
        r = await create_key(api, SOURCE_VIEW, wanted, key=manager)
        assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED"), wanted
    # nor widen a key it manages
    key_id = allowed.json()["id"]
    r = await api.http.put(
        f"{KEYS}/{key_id}", headers=api.auth(manager), json={"privileges": [SOURCE_EDIT]}
    )
    assert r.status_code == 403
    got = (await api.http.get(f"{KEYS}/{key_id}", headers=api.auth())).json()
    assert got["privileges"] == [SOURCE_VIEW]
    # nor manage a key holding more than it does
    admin_id = api.runtime.store.catalog.list_api_keys(ORG)[0].id
    for method, suffix in (("PUT", "/disable"), ("DELETE", ""), ("PUT", "")):
        r = await api.http.request(
            method, f"{KEYS}/{admin_id}{suffix}", headers=api.auth(manager), json={}
        )
        assert r.status_code == 403, (method, suffix, r.text)
    assert await push_status(api, ADMIN_KEY, await api.create_source()) == 202


async def test_managing_keys_needs_the_api_key_privileges(api: Api) -> None:
    viewer = key_with(api.runtime, "key-viewer", "PLATFORM/API_KEY/VIEW")
    assert (await api.http.get(KEYS, headers=api.auth(viewer))).status_code == 200
    r = await create_key(api, key=viewer)
    assert r.status_code == 403
    token = await api.token("alice@example.com")
    assert (await api.http.get(KEYS, headers=api.auth(token))).status_code == 403


async def test_disable_then_activate_then_delete(api: Api) -> None:
    source = await api.create_source()
    model = await created(api, SOURCE_EDIT)
    key_id, secret = model["id"], model["value"]
    assert await push_status(api, secret, source) == 202

    r = await api.http.put(f"{KEYS}/{key_id}/disable", headers=api.auth())
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["status"]) == (False, "DISABLED")
    assert r.json()["disabledDate"] > 0
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1"},
        headers=api.auth(secret),
        json={"data": "d"},
    )
    assert (r.status_code, r.json()["errorCode"]) == (401, "INVALID_TOKEN")

    r = await api.http.put(f"{KEYS}/{key_id}/activate", headers=api.auth())
    assert (r.status_code, r.json()["enabled"], r.json()["disabledDate"]) == (200, True, None)
    assert await push_status(api, secret, source) == 202

    # the full-model update (platform-client's update) can disable it too
    r = await api.http.put(f"{KEYS}/{key_id}", headers=api.auth(), json={**model, "enabled": False})
    assert r.status_code == 200, r.text
    assert await push_status(api, secret, source) == 401

    r = await api.http.delete(f"{KEYS}/{key_id}", headers=api.auth())
    assert r.status_code == 204
    assert await push_status(api, secret, source) == 401
    r = await api.http.get(f"{KEYS}/{key_id}", headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (404, "NOT_FOUND")
    r = await api.http.delete(f"{KEYS}/{key_id}", headers=api.auth())
    assert r.status_code == 404


async def test_a_key_created_disabled_is_refused_at_once(api: Api) -> None:
    r = await create_key(api, SOURCE_EDIT, enabled=False)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "DISABLED"
    assert await push_status(api, r.json()["value"], await api.create_source()) == 401


async def test_update_changes_name_description_and_privileges(api: Api) -> None:
    model = await created(api, SOURCE_EDIT)
    r = await api.http.put(
        f"{KEYS}/{model['id']}",
        headers=api.auth(),
        json={"displayName": "renamed", "description": "", "privileges": [SOURCE_VIEW]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["displayName"], r.json()["description"]) == ("renamed", "")
    assert "value" not in r.json()
    assert await push_status(api, model["value"], await api.create_source()) == 403


async def test_keys_of_another_organization_are_not_found(api: Api) -> None:
    other = key_with(api.runtime, "globex-admin", "PLATFORM/ORGANIZATION/EDIT", org="globex")
    theirs = await api.http.get("/rest/organizations/globex/apikeys", headers=api.auth(other))
    their_id = theirs.json()[0]["id"]
    for org in ("globex", "nosuchorg"):
        r = await api.http.get(f"/rest/organizations/{org}/apikeys", headers=api.auth())
        assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    for method, suffix in (("GET", ""), ("PUT", "/disable"), ("DELETE", "")):
        r = await api.http.request(method, f"{KEYS}/{their_id}{suffix}", headers=api.auth())
        assert r.status_code == 404, (method, suffix)
        r = await api.http.request(
            method, f"/rest/organizations/globex/apikeys/{their_id}{suffix}", headers=api.auth()
        )
        assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    assert their_id not in (await api.http.get(KEYS, headers=api.auth())).text
    r = await api.http.get("/rest/organizations/globex/apikeys", headers=api.auth(other))
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"displayName": ""}, "MISSING_PARAMETER"),
        ({"displayName": 5}, "INVALID_PARAMETER"),
        ({"privileges": "all"}, "INVALID_PARAMETER"),
        ({"privileges": [{"owner": "PLATFORM"}]}, "INVALID_PARAMETER"),
        ({"enabled": "yes"}, "INVALID_PARAMETER"),
        ({"allowedIps": ["10.0.0.0/8"]}, "INVALID_PARAMETER"),
        ({"deniedIps": ["10.0.0.1"]}, "INVALID_PARAMETER"),
        ({"lifetimeDuration": "P14D"}, "INVALID_PARAMETER"),
        ({"additionalConfiguration": {"search": {}}}, "INVALID_PARAMETER"),
    ],
)
async def test_invalid_or_unenforceable_keys_are_refused(
    api: Api, extra: dict[str, Any], code: str
) -> None:
    r = await create_key(api, SOURCE_VIEW, **extra)
    assert (r.status_code, r.json()["errorCode"]) == (412, code), r.text
    assert len(api.runtime.store.catalog.list_api_keys(ORG)) == 1


async def test_the_cli_impersonation_key_shape_is_accepted(api: Api) -> None:
    """The Coveo CLI creates keys whose privileges have no ``type``."""
    r = await api.http.post(
        KEYS,
        headers=api.auth(),
        json={
            "displayName": "cli-demo",
            "description": "Generated by the Coveo CLI",
            "enabled": True,
            "privileges": [{"targetDomain": "IMPERSONATE", "targetId": "*", "owner": "SEARCH_API"}],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["privileges"] == [
        {"owner": "SEARCH_API", "targetDomain": "IMPERSONATE", "type": "ENABLE", "targetId": "*"}
    ]


async def test_a_key_may_manage_keys_it_created(api: Api) -> None:
    manager = (await created(api, KEYS_EDIT, SOURCE_EDIT))["value"]
    child = await created(api, SOURCE_VIEW, key=manager)
    assert child["createdBy"] != api.runtime.store.catalog.list_api_keys(ORG)[0].id
    r = await api.http.delete(f"{KEYS}/{child['id']}", headers=api.auth(manager))
    assert r.status_code == 204
