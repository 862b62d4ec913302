"""``GET …/sources/{src}/documents/access``: the explain endpoint agrees with search.

The setup is push-api.md §6.5's worked example (tests/api/worked_example.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, allow
from tests.api.worked_example import (
    EMAIL,
    EXAMPLES,
    USERS,
    P,
    ident,
    put,
    uri,
    worked_example_graph,
)

pytestmark = pytest.mark.asyncio


async def searched(api: Api, user: str | None, provider: str = P) -> set[str]:
    if user is None:
        return await api.search_as()
    token = await api.token(user, provider=provider)
    result = await api.search(token, numberOfResults=100)
    return {r["uri"] for r in result["results"]}


async def access_response(
    api: Api, source: str, document_id: str, user: str | None = None, **params: Any
) -> Any:
    query = {"documentId": document_id, **params}
    if user is not None:
        query["user"] = user
    return await api.http.get(
        f"/rest/organizations/{api.org}/sources/{source}/documents/access",
        headers=api.auth(),
        params=query,
    )


async def access(
    api: Api, source: str, n: int | str, user: str | None = None, provider: str | None = P
) -> dict[str, Any]:
    params = {"provider": provider} if provider and user is not None else {}
    document_id = uri(n) if isinstance(n, int) else n
    r = await access_response(api, source, document_id, user, **params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def names(entries: list[dict[str, Any]]) -> set[str]:
    return {e["name"] for e in entries}


async def test_explain_agrees_with_search_for_every_user_and_row(api: Api) -> None:
    source = await worked_example_graph(api)
    for user in (*USERS, None):
        found = await searched(api, user)
        for n, (_, who) in EXAMPLES.items():
            answer = await access(api, source, n, user)
            assert answer["visible"] == (uri(n) in found), (user, n, answer["reason"])
            assert answer["visible"] == ((user or "anon") in who), (user, n)


async def test_row_2_deny_wins_over_the_group_allow(api: Api) -> None:
    source = await worked_example_graph(api)
    bob = await access(api, source, 2, "bob")
    assert bob["visible"] is False
    assert (bob["decidingLevel"], bob["decidingSet"]) == (0, 0)
    assert bob["matchedIdentities"] == [
        {"name": "bob", "provider": P, "allowed": False, "anonymous": False}
    ]
    assert "deny wins" in bob["reason"]
    alice = await access(api, source, 2, "alice")
    assert alice["visible"] is True
    assert (alice["decidingLevel"], alice["decidingSet"]) == (0, 0)
    assert alice["matchedIdentities"] == [
        {"name": "Mgmt", "provider": P, "allowed": True, "anonymous": False}
    ]
    # how alice holds Mgmt: alice -> Eng -> Mgmt
    held = {e["name"]: e for e in alice["identities"]}
    path = [(s["from"]["name"], s["kind"], s["to"]["name"]) for s in held["Mgmt"]["via"]]
    assert path == [("alice", "member-of", "Eng"), ("Eng", "member-of", "Mgmt")]
    assert held["alice"]["via"] == []
    assert alice["identities"][0]["name"] == "alice"  # the start identity comes first
    assert held["Everyone"]["via"][0]["kind"] == "granted"
    assert alice["user"] == {"name": "alice", "provider": P}
    assert alice["sourceVisibility"] == "SECURED"
    assert alice["depthCapped"] is False


async def test_row_7_level_one_denies_the_group_level_two_allows_carol(api: Api) -> None:
    source = await worked_example_graph(api)
    alice = await access(api, source, 7, "alice")
    assert (alice["visible"], alice["decidingLevel"], alice["decidingSet"]) == (False, 0, 0)
    assert names(alice["matchedIdentities"]) == {"Eng"}
    carol = await access(api, source, 7, "carol")
    assert (carol["visible"], carol["decidingLevel"], carol["decidingSet"]) == (True, 1, 0)
    assert carol["matchedIdentities"] == [
        {"name": "Mgmt", "provider": P, "allowed": True, "anonymous": False}
    ]
    dave = await access(api, source, 7, "dave")
    assert dave["visible"] is False
    assert dave["decidingLevel"] is None
    assert dave["matchedIdentities"] == []
    assert dave["reason"] == "not specified in any level"


async def test_row_8_carol_is_decided_at_level_one(api: Api) -> None:
    source = await worked_example_graph(api)
    carol = await access(api, source, 8, "carol")
    assert (carol["visible"], carol["decidingLevel"], carol["decidingSet"]) == (True, 0, 0)
    assert names(carol["matchedIdentities"]) == {"carol"}
    bob = await access(api, source, 8, "bob")
    assert (bob["visible"], bob["decidingLevel"], bob["decidingSet"]) == (False, 1, 0)
    assert bob["matchedIdentities"] == [
        {"name": "Mgmt", "provider": P, "allowed": False, "anonymous": False}
    ]


async def test_row_9_granted_identity_and_second_level(api: Api) -> None:
    source = await worked_example_graph(api)
    alice = await access(api, source, 9, "alice")
    assert (alice["visible"], alice["decidingLevel"], alice["decidingSet"]) == (True, 0, 0)
    assert names(alice["matchedIdentities"]) == {"Everyone"}
    held = {e["name"]: e for e in alice["identities"]}
    assert [(s["from"]["name"], s["kind"]) for s in held["Everyone"]["via"]] == [
        ("alice", "granted")
    ]
    dave = await access(api, source, 9, "dave")
    assert (dave["visible"], dave["decidingLevel"], dave["decidingSet"]) == (True, 1, 0)
    assert names(dave["matchedIdentities"]) == {"dave"}
    bob = await access(api, source, 9, "bob")
    assert (bob["visible"], bob["decidingLevel"]) == (False, None)


async def test_anonymous_and_allow_anonymous(api: Api) -> None:
    source = await worked_example_graph(api)
    anon = await access(api, source, 4)
    assert anon["user"] is None
    assert anon["visible"] is True
    assert anon["matchedIdentities"] == [
        {"name": None, "provider": None, "allowed": True, "anonymous": True}
    ]
    assert [(e["name"], e["provider"]) for e in anon["identities"]] == [("*@*", EMAIL)]


async def test_an_alias_path_is_shown(api: Api) -> None:
    source = await worked_example_graph(api)
    email = "Alice@Corp.com"
    before = await access(api, source, 1, email, provider=EMAIL)
    assert before["visible"] is False
    await put(api, "mappings", {"identity": ident("alice"),
                                "mappings": [{"name": email, "type": "USER"}]})  # fmt: skip
    api.drain()
    answer = await access(api, source, 1, email, provider=EMAIL)
    assert answer["visible"] is True
    assert answer["user"] == {"name": email, "provider": EMAIL}
    held = {e["name"]: e for e in answer["identities"]}
    assert held[email]["via"] == []  # the start identity, spelled as given
    path = [(s["from"]["name"], s["kind"], s["to"]["name"]) for s in held["Eng"]["via"]]
    assert path == [(email, "alias", "alice"), ("alice", "member-of", "Eng")]
    assert held["alice"]["provider"] == P
    assert held["*@corp.com"]["via"][0]["kind"] == "wildcard"
    assert answer["visible"] == (uri(1) in await searched(api, email, EMAIL))


async def test_shared_and_private_sources(api: Api) -> None:
    shared = await api.create_source("shared", "SHARED")
    private = await api.create_source("private", "PRIVATE")
    for source in (shared, private):
        r = await api.push(source, "https://s.test/1", {"data": "x", "permissions": allow("zoe")})
        assert r.status_code == 202, r.text
    api.drain()
    answer = await access(api, shared, "https://s.test/1", "bob", provider=None)
    assert (answer["visible"], answer["sourceVisibility"]) == (True, "SHARED")
    assert "SHARED" in answer["reason"]
    assert answer["decidingLevel"] is None and answer["matchedIdentities"] == []
    assert answer["user"] == {"name": "bob", "provider": EMAIL}
    answer = await access(api, private, "https://s.test/1", "zoe", provider=None)
    assert (answer["visible"], answer["sourceVisibility"]) == (False, "PRIVATE")
    found = await searched(api, "zoe", EMAIL)
    assert "https://s.test/1" in found  # the shared one only
    assert len(found) == 1


async def test_a_secured_item_without_a_model_is_not_visible(api: Api) -> None:
    source = await api.create_source("secured", "SECURED")
    assert (await api.push(source, "https://n.test/1", {"data": "x"})).status_code == 202
    api.drain()
    answer = await access(api, source, "https://n.test/1", "bob", provider=None)
    assert (answer["visible"], answer["reason"]) == (False, "no permission model")


async def test_unknown_and_deleted_documents_are_404(api: Api) -> None:
    source = await worked_example_graph(api)
    r = await access_response(api, source, "https://x.test/nope", "alice")
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")
    assert (await api.delete(source, uri(1))).status_code == 202
    api.drain()
    r = await access_response(api, source, uri(1), "alice")
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")
    # queued but not indexed yet
    assert (await api.push(source, "https://x.test/later", {"data": "x"})).status_code == 202
    r = await access_response(api, source, "https://x.test/later", "alice")
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")


async def test_parameters_privileges_and_organizations(api: Api) -> None:
    source = await worked_example_graph(api)
    base = f"/rest/organizations/{api.org}/sources/{source}/documents/access"
    r = await api.http.get(base, headers=api.auth(), params={"user": "alice"})
    assert (r.status_code, r.json()["errorCode"]) == (412, "MISSING_PARAMETER")
    r = await api.http.get(
        base, headers=api.auth(), params=[("documentId", uri(1)), ("user", "a"), ("user", "b")]
    )
    assert r.status_code == 412
    r = await api.http.get(
        f"/rest/organizations/{api.org}/sources/nope/documents/access",
        headers=api.auth(),
        params={"documentId": uri(1), "user": "alice"},
    )
    assert (r.status_code, r.json()["errorCode"]) == (412, "SOURCE_DOES_NOT_EXIST")
    search_only = api.add_key("search", "s")
    r = await api.http.get(
        base, headers=api.auth(search_only), params={"documentId": uri(1), "user": "alice"}
    )
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")
    viewer = api.add_key("logs", "v")  # PLATFORM/SOURCE/VIEW
    r = await api.http.get(
        base, headers=api.auth(viewer), params={"documentId": uri(1), "user": "alice"}
    )
    assert r.status_code == 200, r.text
    other = api.add_key("admin", "other-admin", org="globex")
    r = await api.http.get(
        base, headers=api.auth(other), params={"documentId": uri(1), "user": "alice"}
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    r = await api.http.get(base, params={"documentId": uri(1), "user": "alice"})
    assert r.status_code == 401
