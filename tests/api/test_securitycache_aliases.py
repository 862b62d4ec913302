"""``POST …/securitycache/entities/{p}/members/aliases``: an identity's aliases, both ways."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_securitycache import EMAIL, P, ident, put

pytestmark = pytest.mark.asyncio

Q = "OtherProvider"


async def provider(api: Api, provider_id: str) -> None:
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securityproviders",
        headers=api.auth(),
        json={
            "id": provider_id,
            "type": "EXPANDED",
            "cascadingSecurityProviders": {EMAIL: {"id": EMAIL}},
        },
    )
    assert r.status_code == 201, r.text


async def aliases(
    api: Api, provider_id: str, name: str, recursive: bool = False, **extra: Any
) -> Any:
    return await api.http.post(
        f"/rest/organizations/{api.org}/securitycache/entities/{provider_id}/members/aliases",
        headers=api.auth(extra.pop("key", None)),
        params={"recursive": str(recursive).lower()},
        json={"name": name, **extra},
    )


def pairs(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["provider"], item["name"]) for item in answer["items"]]


async def test_aliases_in_both_directions_and_transitively(api: Api) -> None:
    await provider(api, P)
    await provider(api, Q)
    await put(api, "permissions", {"identity": ident("alice")})
    await put(api, "permissions", {"identity": ident("Eng", "GROUP"), "members": [ident("alice")]})
    # alice (P) is alice@corp.test (email); alice@corp.test is also a-smith in Q
    mapping = {"identity": ident("alice"), "mappings": [{"name": "alice@corp.test"}]}
    await put(api, "mappings", mapping)
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/{Q}/mappings",
        headers=api.auth(),
        json={"identity": ident("a-smith"), "mappings": [{"name": "alice@corp.test"}]},
    )
    assert r.status_code == 202, r.text
    api.drain()

    r = await aliases(api, P, "alice")
    assert r.status_code == 200, r.text
    assert pairs(r.json()) == [(EMAIL, "alice@corp.test")]  # not Eng: a parent is no alias
    assert r.json()["totalEntries"] == 1
    # the other direction: from the email identity back to both names that map to it
    r = await aliases(api, EMAIL, "alice@corp.test")
    assert r.status_code == 200, r.text
    assert sorted(pairs(r.json())) == sorted([(P, "alice"), (Q, "a-smith")])
    # transitively, alice reaches a-smith through the shared email identity
    r = await aliases(api, P, "alice", recursive=True)
    assert sorted(pairs(r.json())) == sorted([(EMAIL, "alice@corp.test"), (Q, "a-smith")])
    r = await aliases(api, P, "Eng")
    assert (r.status_code, r.json()["items"]) == (200, [])
    r = await aliases(api, P, "nobody")
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_IDENTITY_NOT_FOUND")
    api.add_key("search", "search-only")
    r = await aliases(api, P, "alice", key="search-only")
    assert r.status_code == 403, r.text
