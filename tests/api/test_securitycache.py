"""The security cache read API (push-api.md §7.8) over the §6.5 Eng/Mgmt identity graph."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio

P = "PushProvider"
EMAIL = "Email Security Provider"


def ident(name: str, kind: str = "USER") -> dict[str, Any]:
    return {"name": name, "type": kind}


async def put(api: Api, path: str, body: dict, method: str = "PUT", **params: Any) -> None:
    r = await api.http.request(
        method,
        f"/push/v1/organizations/{api.org}/providers/{P}/{path}",
        headers=api.auth(),
        json=body,
        params=params,
    )
    assert r.status_code == 202, r.text


async def graph(api: Api) -> None:
    """Eng = {alice, bob}; Mgmt = {carol, Eng}; alice is granted Everyone; dave alone."""
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securityproviders",
        headers=api.auth(),
        json={"id": P, "type": "EXPANDED", "cascadingSecurityProviders": {EMAIL: {"id": EMAIL}}},
    )
    assert r.status_code == 201, r.text
    await put(api, "permissions", {"identity": ident("Eng", "GROUP"),
                                   "members": [ident("alice"), ident("bob")]})  # fmt: skip
    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP"),
                                   "members": [ident("carol"), ident("Eng", "GROUP")]})  # fmt: skip
    await put(api, "permissions", {"identity": {**ident("alice"), "additionalInfo": {"id": "7"}},
                                   "wellKnowns": [ident("Everyone", "GROUP")]})  # fmt: skip
    await put(api, "permissions", {"identity": ident("dave")})
    api.drain()


def cache(api: Api, suffix: str) -> str:
    return f"/rest/organizations/{api.org}/securitycache{suffix}"


async def entities(api: Api, provider: str = P, **params: Any) -> dict[str, Any]:
    r = await api.http.get(cache(api, f"/entities/{provider}"), headers=api.auth(), params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def related(
    api: Api, direction: str, name: str, recursive: bool = False, **params: Any
) -> dict[str, Any]:
    r = await api.http.post(
        cache(api, f"/entities/{P}/members/{direction}"),
        headers=api.auth(),
        params={"recursive": str(recursive).lower(), **params},
        json={"name": name, "type": "Unknown"},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


async def test_entities_list_with_states_and_paging(api: Api) -> None:
    await graph(api)
    page = await entities(api)
    assert names(page) == ["alice", "bob", "carol", "dave", "Eng", "Everyone", "Mgmt"]
    assert (page["totalEntries"], page["totalPages"]) == (7, 1)
    by_name = {item["name"]: item for item in page["items"]}
    alice = by_name["alice"]
    assert alice["provider"] == P
    assert alice["type"] == "User"
    assert alice["state"] == "UP_TO_DATE"
    assert alice["infos"] == [{"key": "id", "value": "7"}]
    assert isinstance(alice["orderingID"], int) and alice["orderingID"] > 0
    assert isinstance(alice["lastUpdateDate"], int) and alice["lastUpdateDate"] > 1e12
    assert by_name["Eng"]["type"] == "Group"
    assert by_name["Everyone"]["orderingID"] == 0  # created by the reference, not pushed

    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP")}, method="DELETE")
    api.drain()
    states = {item["name"]: item["state"] for item in (await entities(api))["items"]}
    assert states["Mgmt"] == "DISABLED"
    assert {s for n, s in states.items() if n != "Mgmt"} == {"UP_TO_DATE"}

    first = await entities(api, page=0, perPage=3)
    assert names(first) == ["alice", "bob", "carol"]
    assert (first["totalEntries"], first["totalPages"]) == (7, 3)
    last = await entities(api, page=2, pageSize=3)
    assert names(last) == ["Mgmt"]
    assert (await entities(api, EMAIL))["items"] == []


async def test_parents_direct_and_recursive(api: Api) -> None:
    await graph(api)
    assert sorted(names(await related(api, "parents", "alice"))) == ["Eng", "Everyone"]
    assert sorted(names(await related(api, "parents", "ALICE", True))) == [
        "Eng",
        "Everyone",
        "Mgmt",
    ]
    assert names(await related(api, "parents", "carol")) == ["Mgmt"]
    assert names(await related(api, "parents", "Mgmt", True)) == []
    assert names(await related(api, "parents", "dave", True)) == []
    paged = await related(api, "parents", "bob", True, page=1, pageSize=1)
    assert (names(paged), paged["totalEntries"], paged["totalPages"]) == (["Mgmt"], 2, 2)


async def test_children_direct_and_recursive(api: Api) -> None:
    await graph(api)
    assert names(await related(api, "children", "Mgmt")) == ["carol", "Eng"]  # by name
    assert set(names(await related(api, "children", "Mgmt", True))) == {
        "alice",
        "bob",
        "carol",
        "Eng",
    }
    assert names(await related(api, "children", "Everyone")) == ["alice"]  # granted to alice
    assert names(await related(api, "children", "alice", True)) == []
    item = (await related(api, "children", "Eng"))["items"][0]
    assert set(item) >= {"name", "provider", "type", "state", "orderingID", "infos"}


async def test_a_disabled_member_is_listed_with_its_state(api: Api) -> None:
    await graph(api)
    await put(api, "permissions", {"identity": ident("Eng", "GROUP")}, method="DELETE")
    api.drain()
    page = await related(api, "children", "Mgmt")
    assert {i["name"]: i["state"] for i in page["items"]} == {
        "carol": "UP_TO_DATE",
        "Eng": "DISABLED",
    }


async def test_recursive_walks_are_cycle_safe(api: Api) -> None:
    await graph(api)
    # Eng now also contains Mgmt, which contains Eng
    members = [ident("alice"), ident("Mgmt", "GROUP")]
    await put(api, "permissions", {"identity": ident("Eng", "GROUP"), "members": members})
    api.drain()
    assert sorted(names(await related(api, "parents", "alice", True))) == [
        "Eng",
        "Everyone",
        "Mgmt",
    ]
    # the start identity is not its own descendant, even through the cycle
    assert set(names(await related(api, "children", "Eng", True))) == {"alice", "carol", "Mgmt"}


async def test_errors_privileges_and_organizations(api: Api) -> None:
    await graph(api)
    r = await api.http.post(
        cache(api, f"/entities/{P}/members/parents"), headers=api.auth(), json={"name": "nobody"}
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_IDENTITY_NOT_FOUND")
    r = await api.http.post(
        cache(api, f"/entities/{P}/members/parents"), headers=api.auth(), json={"type": "User"}
    )
    assert r.status_code == 400
    r = await api.http.post(
        cache(api, f"/entities/{P}/members/parents"),
        headers=api.auth(),
        json={"name": "alice", "type": "Robot"},
    )
    assert r.status_code == 400
    r = await api.http.get(cache(api, "/entities/nope"), headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")
    search_only = api.add_key("search", "s")
    r = await api.http.get(cache(api, f"/entities/{P}"), headers=api.auth(search_only))
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")
    r = await api.http.get(cache(api, "/status"), headers=api.auth(search_only))
    assert r.status_code == 403
    viewer = api.add_key("identities", "i")
    r = await api.http.post(
        cache(api, f"/entities/{P}/members/children"),
        headers=api.auth(viewer),
        json={"name": "Eng"},
    )
    assert r.status_code == 200, r.text
    other = api.add_key("admin", "other-admin", org="globex")
    r = await api.http.get(cache(api, f"/entities/{P}"), headers=api.auth(other))
    assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    r = await api.http.get(
        f"/rest/organizations/globex/securitycache/entities/{P}", headers=api.auth(other)
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")


async def test_status(api: Api) -> None:
    await graph(api)
    r = await api.http.get(cache(api, "/status"), headers=api.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "IDLE"
    assert body["statistics"]["totalNumberOfEntities"] == 7
    assert body["statistics"]["numberOfProviders"] == 2


async def test_members_listing_filters_by_state_and_update_date(api: Api) -> None:
    await graph(api)
    everyone = await api.http.get(
        cache(api, f"/entities/{P}/members"), headers=api.auth(), params={"usePageModel": "true"}
    )
    assert everyone.status_code == 200, everyone.text
    assert everyone.json() == await entities(api)  # the same listing under both paths

    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP")}, method="DELETE")
    api.drain()
    disabled = await entities(api, states="DISABLED")
    assert (names(disabled), disabled["totalEntries"]) == (["Mgmt"], 1)
    up = await entities(api, states="UP_TO_DATE", perPage=2)
    assert (names(up), up["totalEntries"], up["totalPages"]) == (["alice", "bob"], 6, 3)
    both = await api.http.get(
        cache(api, f"/entities/{P}/members"),
        headers=api.auth(),
        params=[("states", "DISABLED"), ("states", "up_to_date")],
    )
    assert both.json()["totalEntries"] == 7
    assert (await entities(api, states="UP_TO_DATE,DISABLED"))["totalEntries"] == 7
    assert (await entities(api, states="IN_ERROR"))["items"] == []

    stamps = {item["name"]: item["lastUpdateDate"] for item in (await entities(api))["items"]}
    since = stamps["Mgmt"]  # the last change
    assert names(await entities(api, **{"from": str(since)})) == ["Mgmt"]
    iso = datetime.fromtimestamp(since / 1000, UTC).isoformat()
    assert names(await entities(api, **{"from": iso})) == ["Mgmt"]
    earlier = await entities(api, to=str(since - 1))
    assert "Mgmt" not in names(earlier) and "alice" in names(earlier)

    for params in ({"states": "SLEEPING"}, {"from": "yesterday"}):
        r = await api.http.get(cache(api, f"/entities/{P}"), headers=api.auth(), params=params)
        assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER"), params


async def test_one_entity(api: Api) -> None:
    await graph(api)
    r = await api.http.post(
        cache(api, f"/entities/{P}/entity"), headers=api.auth(), json={"name": "ALICE"}
    )
    assert r.status_code == 200, r.text
    alice = r.json()
    assert (alice["name"], alice["type"], alice["state"]) == ("alice", "User", "UP_TO_DATE")
    assert (alice["provider"], alice["lastUpdateResult"]) == (P, "SUCCESS")
    assert alice["infos"] == [{"key": "id", "value": "7"}]
    assert alice == {i["name"]: i for i in (await entities(api))["items"]}["alice"]

    await put(api, "permissions", {"identity": ident("Eng", "GROUP")}, method="DELETE")
    api.drain()
    r = await api.http.post(
        cache(api, f"/entities/{P}/entity"),
        headers=api.auth(),
        json={"name": "eng", "provider": P, "type": "Group"},
    )
    assert (r.json()["name"], r.json()["state"]) == ("Eng", "DISABLED")
    r = await api.http.post(
        cache(api, f"/entities/{P}/entity"), headers=api.auth(), json={"name": "zed"}
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_IDENTITY_NOT_FOUND")


async def test_refresh_calls_are_accepted_and_checked(api: Api) -> None:
    await graph(api)
    for path, body in (
        ("/refresh", None),
        (f"/{P}/refresh", None),
        (f"/{P}/refresh/cancel", None),
        ("/refresh/entity", {"name": "alice", "provider": P, "type": "User"}),
    ):
        r = await api.http.post(cache(api, path), headers=api.auth(), json=body)
        assert (r.status_code, r.content) == (204, b""), (path, r.text)
    assert names(await entities(api))[:2] == ["alice", "bob"]  # nothing changed

    r = await api.http.post(cache(api, "/nope/refresh"), headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")
    r = await api.http.post(cache(api, "/refresh/entity"), headers=api.auth(), json={"name": "a"})
    assert r.status_code == 400
    search_only = api.add_key("search", "s")
    r = await api.http.post(cache(api, f"/{P}/refresh"), headers=api.auth(search_only))
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")


async def test_provider_refresh_cancel_and_schedules_as_the_platform_client_calls_them(
    api: Api,
) -> None:
    """``securityCache.cancelRefresh``, ``getSchedules`` and ``listSchedules``: no refresh
    ever runs, so there is nothing to cancel and no schedule; the provider and the caller's
    privileges are still checked."""
    await graph(api)
    providers = f"/rest/organizations/{api.org}/securityproviders"
    r = await api.http.post(f"{providers}/{P}/refresh/cancel", headers=api.auth())
    assert (r.status_code, r.content) == (204, b""), r.text
    r = await api.http.get(f"{providers}/{P}/schedules", headers=api.auth())
    assert (r.status_code, r.json()) == (200, [])
    r = await api.http.get(cache(api, "/schedules"), headers=api.auth())
    assert (r.status_code, r.json()) == (200, [])
    for method, path in (("POST", "/nope/refresh/cancel"), ("GET", "/nope/schedules")):
        r = await api.http.request(method, providers + path, headers=api.auth())
        assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")
    search_only = api.add_key("search", "s")
    r = await api.http.post(f"{providers}/{P}/refresh/cancel", headers=api.auth(search_only))
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")


async def test_status_counts_states(api: Api) -> None:
    await graph(api)
    await put(api, "permissions", {"identity": ident("dave")}, method="DELETE")
    api.drain()
    r = await api.http.get(cache(api, "/status"), headers=api.auth())
    counts = r.json()["statistics"]["numberOfEntitiesByState"]
    assert (counts["UP_TO_DATE"], counts["DISABLED"], counts["IN_ERROR"]) == (6, 1, 0)


async def find(api: Api, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    r = await api.http.post(
        cache(api, "/entities/list"), headers=api.auth(), json=body, params=params
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_find_identities_by_provider_type_and_name(api: Api) -> None:
    await graph(api)
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securityproviders",
        headers=api.auth(),
        json={"id": "Crm", "type": "EXPANDED"},
    )
    assert r.status_code == 201, r.text
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/Crm/permissions",
        headers=api.auth(),
        json={"identity": ident("Malice")},
    )
    assert r.status_code == 202, r.text
    await put(api, "permissions", {"identity": ident("Eng_Ops", "GROUP")})
    api.drain()
    r = await api.http.get(cache(api, "/entities/list/is_supported"), headers=api.auth())
    assert (r.status_code, r.json()) == (200, True)

    groups = await find(api, {"providerIds": [P], "identityTypes": ["GROUP"]})
    assert names(groups) == ["Eng", "Eng_Ops", "Everyone", "Mgmt"]
    assert names(await find(api, {"providerIds": [P], "filterTerm": "eNG"})) == ["Eng", "Eng_Ops"]
    # LIKE wildcards in the term are literal
    assert names(await find(api, {"providerIds": [P], "filterTerm": "eng_"})) == ["Eng_Ops"]
    assert names(await find(api, {"filterTerm": "%"})) == []
    anywhere = await find(api, {"filterTerm": "LIC", "filteringMode": "SUBSTRING"})
    assert [(i["name"], i["provider"]) for i in anywhere["items"]] == [
        ("Malice", "Crm"),  # every provider when none is named, by provider
        ("alice", P),
    ]
    users = await find(api, {"providerIds": [P], "identityTypes": ["User", "virtual_group"],
                             "filterTerm": None}, perPage=2, page=1)  # fmt: skip
    assert (names(users), users["totalEntries"], users["totalPages"]) == (["carol", "dave"], 4, 2)

    for body in (
        {"providerIds": "PushProvider"},
        {"identityTypes": ["ROBOT"]},
        {"filteringMode": "REGEX"},
        {"filterTerm": 7},
    ):
        r = await api.http.post(cache(api, "/entities/list"), headers=api.auth(), json=body)
        assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_JSON"), body
    r = await api.http.post(
        cache(api, "/entities/list"), headers=api.auth(), json={"providerIds": ["nope"]}
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")
    search_only = api.add_key("search", "s")
    r = await api.http.post(cache(api, "/entities/list"), headers=api.auth(search_only), json={})
    assert r.status_code == 403
