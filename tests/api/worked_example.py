"""push-api.md §6.5's worked example, pushed through the API: identities, models, verdicts.

Group ``Eng`` = {alice, bob}; group ``Mgmt`` = {carol, Eng}; alice is granted ``Everyone``;
dave is a user with no group. ``EXAMPLES`` maps each row to its permission model and the users
(``"anon"`` for anonymous) who may see it.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

EMAIL = "Email Security Provider"
P = "PushProvider"
USERS = ("alice", "bob", "carol", "dave")


def ident(name: str, kind: str = "USER") -> dict[str, Any]:
    return {"name": name, "type": kind}


def grp(name: str) -> dict[str, Any]:
    return {"identity": name, "identityType": "Group"}


def usr(name: str) -> dict[str, Any]:
    return {"identity": name, "identityType": "User"}


def pset(
    allow: tuple[dict, ...] = (), deny: tuple[dict, ...] = (), anonymous: bool = False
) -> dict:
    return {
        "allowAnonymous": anonymous,
        "allowedPermissions": list(allow),
        "deniedPermissions": list(deny),
    }


def level(*sets: dict) -> dict:
    return {"permissionSets": list(sets)}


EXAMPLES: dict[int, tuple[list[dict], set[str]]] = {
    1: ([pset((grp("Eng"),))], {"alice", "bob"}),
    2: ([pset((grp("Mgmt"),), (usr("bob"),))], {"alice", "carol"}),
    3: ([pset((grp("Mgmt"),)), pset((grp("Eng"),))], {"alice", "bob"}),
    4: ([pset(anonymous=True)], {"alice", "bob", "carol", "dave", "anon"}),
    5: ([pset(anonymous=True), pset((grp("Eng"),))], {"alice", "bob"}),
    6: ([pset(deny=(usr("bob"),), anonymous=True)], {"alice", "carol", "dave", "anon"}),
    7: ([level(pset(deny=(grp("Eng"),))), level(pset((grp("Mgmt"),)))], {"carol"}),
    8: ([level(pset((usr("carol"),))), level(pset(deny=(grp("Mgmt"),)))], {"carol"}),
    9: ([level(pset((grp("Everyone"),))), level(pset((usr("dave"),)))], {"alice", "dave"}),
}


async def put(api: Api, path: str, body: dict, method: str = "PUT", **params: Any) -> None:
    r = await api.http.request(
        method,
        f"/push/v1/organizations/{api.org}/providers/{P}/{path}",
        headers=api.auth(),
        json=body,
        params=params,
    )
    assert r.status_code == 202, r.text


async def provider_and_source(api: Api) -> str:
    source = await api.create_source("secured", "SECURED")
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securityproviders",
        headers=api.auth(),
        json={
            "id": P,
            "displayName": "Push provider",
            "type": "EXPANDED",
            "referencedBy": [{"id": source, "type": "SOURCE"}],
            "cascadingSecurityProviders": {
                "Email Security Provider": {"id": "Email Security Provider", "type": "EMAIL"}
            },
        },
    )
    assert r.status_code == 201, r.text
    return source


async def push_groups(api: Api) -> None:
    """The groups with their member lists, and alice's granted ``Everyone``: the users are
    never pushed themselves, only named."""
    await put(api, "permissions", {"identity": ident("Eng", "GROUP"),
                                   "members": [ident("alice"), ident("bob")]})  # fmt: skip
    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP"),
                                   "members": [ident("carol"), ident("Eng", "GROUP")]})  # fmt: skip
    await put(api, "permissions", {"identity": ident("alice"),
                                   "wellKnowns": [ident("Everyone", "GROUP")]})  # fmt: skip


async def worked_example_graph(api: Api) -> str:
    source = await provider_and_source(api)
    await push_groups(api)
    await put(api, "permissions", {"identity": ident("dave")})
    for n, (model, _) in EXAMPLES.items():
        r = await api.push(
            source, f"https://x.test/{n}", {"data": f"row {n}", "permissions": model}
        )
        assert r.status_code == 202, r.text
    api.drain()
    return source


def uri(n: int) -> str:
    return f"https://x.test/{n}"
