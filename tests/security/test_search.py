"""Tenant isolation of search: tokens, results, counts and facets stay in one organization.

Both organizations hold a SHARED item and a SECURED one that only their user may see, under
the same user name (``shared@users.test``), in a provider of the same id. Whatever A asks
(its API key, view-all, a token for that user, for B's own user, the legacy paths, GET or
POST, an ``organizationId`` naming B), nothing of B's is returned or counted.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.security.conftest import World
from tests.security.tenants import Tenant, leaked, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHARED_USER = "shared@users.test"


async def _secured_item(world: World, tenant: Tenant, key: str) -> str:
    """A SECURED source holding one item only SHARED_USER and the tenant's user may see."""
    http, auth = world.api.http, {"Authorization": f"Bearer {key}"}
    r = await http.post(
        f"/rest/organizations/{tenant.org}/sources",
        headers=auth,
        json={"name": f"secured-{tenant.marker}", "sourceVisibility": "SECURED"},
    )
    assert r.status_code == 201, r.text
    document = f"https://{tenant.org}.test/secured-{tenant.marker}"
    allowed = [{"identity": name, "identityType": "User"} for name in (SHARED_USER, tenant.user)]
    r = await http.put(
        f"/push/v1/organizations/{tenant.org}/sources/{r.json()['id']}/documents",
        headers=auth,
        params={"documentId": document},
        json={
            "data": f"{tenant.data} classified",
            "author": f"author-{tenant.marker}",
            "permissions": [{"allowedPermissions": allowed}],
        },
    )
    assert r.status_code == 202, r.text
    world.api.drain()
    return document


async def _search(
    world: World, credential: str, *, get: bool = False, path: str = "/rest/search/v2", **body: Any
) -> httpx.Response:
    auth = {"Authorization": f"Bearer {credential}"}
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in body.items()}
    if get:
        return await world.api.http.get(path, headers=auth, params=params)
    view_all = {"viewAllContent": "true"} if body.pop("viewAllContent", False) else {}
    return await world.api.http.post(path, headers=auth, params=view_all, json=body)


async def test_searches_never_see_nor_count_another_orgs_items(world: World) -> None:
    b = world.b
    b_secured = await _secured_item(world, b, b.key)
    world.b_snapshot = await snapshot(world.api, b)
    a = await world.sandbox()
    a_secured = await _secured_item(world, a, world.a_key)
    a_everything = {a.document, f"{a.document}/child", a_secured}
    a_public = {a.document, f"{a.document}/child"}

    credentials = {
        "key": world.a_key,
        "token for the shared name": await world.token(world.a_key, SHARED_USER),
        "token for A's user": await world.token(world.a_key, a.user),
        "token for B's user": await world.token(world.a_key, b.user),
    }
    expected = {
        "key": a_public,
        "token for the shared name": a_everything,
        "token for A's user": a_everything,
        "token for B's user": a_public,
    }
    facets = [{"facetId": "author", "field": "author", "type": "specific"}]
    for name, credential in credentials.items():
        for path in ("/rest/search/v2", "/rest/search"):
            for get in (False, True):
                extra: dict[str, Any] = {} if get else {"facets": facets}
                for q in ("", b.data, "classified"):
                    r = await _search(
                        world, credential, get=get, path=path, q=q, numberOfResults=100, **extra
                    )
                    where = (name, path, "GET" if get else "POST", q)
                    assert r.status_code == 200, (where, r.text)
                    uris = {hit["uri"] for hit in r.json()["results"]}
                    wanted = {u for u in expected[name] if q != b.data}
                    if q == "classified":
                        wanted &= {a_secured}
                    assert uris == wanted, where
                    assert r.json()["totalCount"] == len(wanted), where
                    assert not leaked(r, b, q), (where, r.text[:500])
                    assert b_secured not in r.text

    # view-all counts every item of A's and none of B's
    r = await _search(world, world.a_key, viewAllContent=True, numberOfResults=1000)
    assert r.status_code == 200, r.text
    uris = {hit["uri"] for hit in r.json()["results"]}
    assert not {u for u in uris if b.org in u}
    assert a_everything <= uris
    assert r.json()["totalCount"] == len(uris)
    assert not leaked(r, b, "")

    # naming B's organization answers exactly as naming one that does not exist
    for credential in credentials.values():
        answers = []
        for org in (b.org, "orgnowhere"):
            by_query = await world.api.http.post(
                "/rest/search/v2",
                params={"organizationId": org},
                headers={"Authorization": f"Bearer {credential}"},
                json={},
            )
            by_body = await _search(world, credential, organizationId=org)
            for r in (by_query, by_body):
                assert r.status_code == 404, r.text
                assert r.json()["errorCode"] == "ORGANIZATION_NOT_FOUND"
                answers.append(r.json()["message"].replace(org, "<org>"))
        assert len(set(answers)) == 1, answers
    await world.assert_b_untouched()


async def test_a_token_is_only_ever_for_the_callers_org(world: World) -> None:
    b = world.b
    a = await world.sandbox()
    http = world.api.http
    auth = {"Authorization": f"Bearer {world.a_key}"}
    user = {"name": b.user, "provider": "Email Security Provider", "type": "User"}
    for path in ("/rest/search/v2/token", "/rest/search/token"):
        answers = []
        for org in (b.org, "orgnowhere"):
            by_query = await http.post(
                path, headers=auth, params={"organizationId": org}, json={"userIds": [user]}
            )
            by_body = await http.post(
                path, headers=auth, json={"organizationId": org, "userIds": [user]}
            )
            for r in (by_query, by_body):
                assert r.status_code == 404, r.text
                assert r.json()["errorCode"] == "ORGANIZATION_NOT_FOUND"
                assert not leaked(r, b, str(user))
                answers.append(r.json()["message"].replace(org, "<org>"))
        assert len(set(answers)) == 1, answers
        # a token for B's user name, made by A, belongs to A's organization
        r = await http.post(path, headers=auth, json={"userIds": [user]})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        check = await http.post("/oauth/check_token", params={"token": token})
        assert check.json()["organizationId"] == a.org
        # and reaches nothing of B's, not even B's organization
        r = await http.get(
            f"/rest/organizations/{b.org}", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 404, r.text
    # a search token cannot make tokens, for its own organization or another
    token = await world.token(world.a_key, a.user)
    for org in (a.org, b.org):
        r = await http.post(
            "/rest/search/v2/token",
            headers={"Authorization": f"Bearer {token}"},
            json={"organizationId": org, "userIds": [user]},
        )
        assert r.status_code in {403, 404}, r.text
    await world.assert_b_untouched()


async def test_query_suggest_answers_only_for_the_callers_org(world: World) -> None:
    """No suggestions for anybody; naming another organization is refused, and a missing or
    foreign credential gets nothing."""
    a = await world.sandbox()
    token = await world.token(world.a_key, a.user)
    path = "/rest/search/v2/querySuggest"
    for credential in (world.a_key, token):
        for get in (False, True):
            r = await _search(world, credential, get=get, path=path, q=a.data)
            assert (r.status_code, r.json()["completions"]) == (200, []), r.text
            r = await _search(
                world, credential, get=get, path=path, q=a.data, organizationId=world.b.org
            )
            assert r.status_code == 404 and world.b.marker not in r.text, r.text
    r = await world.api.http.post(path, json={"q": "x"})
    assert r.status_code == 401, r.text


async def test_facet_search_counts_only_the_callers_items(world: World) -> None:
    """The values of B's items (its source's name holds B's marker) never come back, whatever
    A's credential or ``searchContext``; naming B's organization is refused."""
    a = await world.sandbox()
    credentials = [
        world.a_key,
        await world.token(world.a_key, SHARED_USER),
        await world.token(world.a_key, world.b.user),
    ]
    for credential in credentials:
        auth = {"Authorization": f"Bearer {credential}"}
        for context in ({}, {"q": world.b.data}, {"aq": "@source"}):
            r = await world.api.http.post(
                "/rest/search/v2/facet",
                headers=auth,
                json={"field": "source", "query": "*", "searchContext": context},
            )
            assert r.status_code == 200, r.text
            assert world.b.marker not in r.text, r.text
            assert not leaked(r, world.b, ""), r.text
        r = await world.api.http.post(
            "/rest/search/v2/facet",
            headers=auth,
            params={"organizationId": world.b.org},
            json={"field": "source", "query": "*"},
        )
        assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    # A's own source shows up for A's key (view-all is not needed for its shared item)
    r = await world.api.http.post(
        "/rest/search/v2/facet",
        headers={"Authorization": f"Bearer {world.a_key}"},
        params={"viewAllContent": "true"},
        json={"field": "source", "query": "*", "numberOfValues": 100},
    )
    assert r.status_code == 200 and a.marker in r.text, r.text
    await world.assert_b_untouched()
