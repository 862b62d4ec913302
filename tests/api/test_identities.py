"""Providers and identity pushes through the HTTP API, and trimming on expanded identities.

The permission models and expected verdicts are push-api.md §6.5's worked examples, with the
identities pushed to an EXPANDED provider through the Push API and checked through the Search
API with search tokens.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.api.conftest import Api
from tests.api.worked_example import (
    EXAMPLES,
    USERS,
    P,
    ident,
    provider_and_source,
    pset,
    push_groups,
    put,
    usr,
    worked_example_graph,
)

pytestmark = pytest.mark.asyncio


async def visible(api: Api, user: str | None, provider: str = P) -> set[int]:
    if user is None:
        found = await api.search_as()
    else:
        token = await api.token(user, provider=provider)
        result = await api.search(token, numberOfResults=100)
        found = {r["uri"] for r in result["results"]}
    return {int(uri.rsplit("/", 1)[1]) for uri in found}


async def test_the_worked_examples_hold_through_pushed_identities(api: Api) -> None:
    await worked_example_graph(api)
    for user in (*USERS, None):
        expected = {n for n, (_, who) in EXAMPLES.items() if (user or "anon") in who}
        assert await visible(api, user) == expected, user


async def test_an_alias_makes_the_email_user_the_pushed_user(api: Api) -> None:
    await worked_example_graph(api)
    email = "alice@corp.com"
    assert await visible(api, email, "Email Security Provider") == {4, 6}
    await put(api, "mappings", {"identity": ident("alice"),
                                "mappings": [{"name": email, "type": "USER"}]})  # fmt: skip
    api.drain()
    assert await visible(api, email, "Email Security Provider") == {1, 2, 3, 4, 5, 6, 9}


async def test_a_group_push_replaces_its_members_and_changes_reach_search(api: Api) -> None:
    await worked_example_graph(api)
    assert 1 in await visible(api, "bob")
    await put(api, "permissions", {"identity": ident("Eng", "GROUP"), "members": [ident("alice")]})
    api.drain()
    assert 1 not in await visible(api, "bob")
    assert 1 in await visible(api, "alice")


async def test_a_disabled_group_grants_nothing_and_an_older_push_is_skipped(api: Api) -> None:
    await worked_example_graph(api)
    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP")}, method="DELETE")
    api.drain()
    assert await visible(api, "carol") == {4, 6, 8}  # row 2 and 7 came only through Mgmt
    # an older push of the group does not re-enable it
    await put(api, "permissions", {"identity": ident("Mgmt", "GROUP"),
                                   "members": [ident("carol")]}, orderingId=1)  # fmt: skip
    api.drain()
    assert 2 not in await visible(api, "carol")
    logs = await api.logs()
    assert any(e["result"] == "SKIPPED" and e["id"] == "Mgmt" for e in logs)


async def test_disable_accepts_the_bare_identity_and_older_than_disables(api: Api) -> None:
    await worked_example_graph(api)
    await put(api, "permissions", ident("dave"), method="DELETE")
    api.drain()
    assert 9 not in await visible(api, "dave")
    await put(api, "permissions", {"identity": ident("dave")})
    api.drain()
    assert 9 in await visible(api, "dave")
    r = await api.http.delete(
        f"/push/v1/organizations/{api.org}/providers/{P}/permissions/olderthan",
        params={"orderingId": 10**15, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 202
    api.drain()
    # every pushed identity of P is disabled: the groups grant nothing any more. bob, whom only
    # Eng's member list named, is still bob: row 6 denies him, row 4 is public.
    assert await visible(api, "bob") == {4}
    assert await visible(api, "alice") == {4, 6}  # her own push is older: disabled


async def test_older_than_after_a_full_run_keeps_member_only_users_and_granted_identities(
    api: Api,
) -> None:
    """The canonical full run: push the groups with their member lists (users are never pushed
    themselves, ``Everyone`` is only granted), then disable what the run did not push again."""
    await worked_example_graph(api)  # run 1 (orderingIds: the time of each push)
    before = {user: await visible(api, user) for user in USERS}
    run_2 = int(time.time() * 1000) + 1
    time.sleep(0.01)
    await push_groups(api)
    # dave's own push is not repeated: he is the one identity run 2 leaves behind
    await put(api, "permissions/olderthan", {}, method="DELETE", orderingId=run_2, queueDelay=0)
    api.drain()
    entities = await api.http.get(
        f"/rest/organizations/{api.org}/securitycache/entities/{P}",
        params={"perPage": 100}, headers=api.auth(),
    )  # fmt: skip
    states = {e["name"]: e["state"] for e in entities.json()["items"]}
    assert states == {"alice": "UP_TO_DATE", "bob": "UP_TO_DATE", "carol": "UP_TO_DATE",
                      "dave": "DISABLED", "Eng": "UP_TO_DATE", "Everyone": "UP_TO_DATE",
                      "Mgmt": "UP_TO_DATE"}  # fmt: skip
    for user in ("alice", "bob", "carol"):
        assert await visible(api, user) == before[user], user
    # dave is disabled: his own row 9 (level 2 allows dave) is gone, public rows remain
    assert await visible(api, "dave") == {4, 6}


async def test_email_wildcards_match_everyone_or_a_domain(api: Api) -> None:
    source = await api.create_source("wild", "SECURED")
    for n, who in ((1, "*@*"), (2, "*@corp.com")):
        body = {"data": "w", "permissions": [pset((usr(who),))]}
        assert (await api.push(source, f"https://w.test/{n}", body)).status_code == 202
    api.drain()
    assert await api.search_as() == {"https://w.test/1"}
    assert await api.search_as("zoe@corp.com") == {"https://w.test/1", "https://w.test/2"}
    assert await api.search_as("zoe@other.org") == {"https://w.test/1"}


async def test_an_identity_unknown_to_its_provider_matches_nobody(api: Api) -> None:
    source = await provider_and_source(api)
    body = {"data": "ghost", "permissions": [pset((usr("ghost"),))]}
    assert (await api.push(source, "https://g.test/1", body)).status_code == 202
    api.drain()
    assert await visible(api, "ghost") == set()
    await put(api, "permissions", {"identity": ident("ghost")})
    api.drain()
    assert await visible(api, "ghost") == {1}


async def test_provider_crud_and_errors(api: Api) -> None:
    source = await provider_and_source(api)
    base = f"/rest/organizations/{api.org}/securityproviders"
    listed = (await api.http.get(base, headers=api.auth())).json()
    assert {p["id"] for p in listed} == {"Email Security Provider", P}
    one = (await api.http.get(f"{base}/{P}", headers=api.auth())).json()
    assert one["referencedBy"] == [{"id": source, "type": "SOURCE"}]
    model = (await api.http.get(f"/rest/organizations/{api.org}/sources/{source}",
                                headers=api.auth())).json()  # fmt: skip
    assert model["securityProviderReferences"][0] == P
    again = await api.http.post(base, headers=api.auth(), json={"id": P})
    assert again.status_code == 409
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/nope/permissions",
        headers=api.auth(),
        json={"identity": ident("x")},
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "SECURITY_PROVIDER_DOES_NOT_EXIST")
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/{P}/permissions",
        headers=api.auth(),
        json={"members": []},
    )
    assert r.status_code == 400
    assert (await api.http.delete(f"{base}/{P}", headers=api.auth())).status_code == 204
    assert (await api.http.get(f"{base}/{P}", headers=api.auth())).status_code == 404


async def test_identities_in_batch_through_a_file_container(api: Api) -> None:
    source = await provider_and_source(api)
    body = {
        "Members": [
            {"identity": ident("Eng", "GROUP"), "members": [ident("alice"), ident("bob")]},
            {"identity": ident("Mgmt", "GROUP"),
             "members": [ident("carol"), ident("Eng", "GROUP")]},
            {"identity": ident("alice"), "wellKnowns": [ident("Everyone", "GROUP")]},
            {"identity": ident("dave")},
            {"identity": ident("erin")},
            {"members": []},
        ],
        "mappings": [{"identity": ident("alice"),
                      "mappings": {"name": "alice@corp.com", "type": "USER"}}],
        "deleted": [ident("erin"), {"identity": ident("frank")}],
    }  # fmt: skip
    created = await api.container(orjson.dumps(body))
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/{P}/permissions/batch",
        params={"fileId": created["fileId"]},
        headers=api.auth(),
    )
    assert r.status_code == 202, r.text
    api.drain()
    status = await api.http.get(
        f"/push/v1/organizations/{api.org}/providers/{P}/permissions/batches/{r.json()['batchId']}",
        headers=api.auth(),
    )
    assert status.json()["state"] == "COMPLETED"
    assert status.json()["counts"] == {"COMPLETED": 8, "REJECTED": 1}
    for n, (model, _) in EXAMPLES.items():
        await api.push(source, f"https://x.test/{n}", {"data": f"row {n}", "permissions": model})
    api.drain()
    for user in USERS:
        expected = {n for n, (_, who) in EXAMPLES.items() if user in who}
        assert await visible(api, user) == expected, user
    email = await visible(api, "alice@corp.com", "Email Security Provider")
    assert email == {1, 2, 3, 4, 5, 6, 9}
    assert await visible(api, "erin") == {4, 6}  # disabled: like anonymous


async def test_unknown_identities_are_flagged_and_an_unknown_denied_one_hides_the_item(
    api: Api,
) -> None:
    source = await provider_and_source(api)
    await put(api, "permissions", {"identity": ident("alice")})
    api.drain()
    allow_ghost = {"data": "a", "permissions": [pset((usr("alice"), usr("ghost")))]}
    deny_ghost = {"data": "b", "permissions": [pset((usr("alice"),), (usr("ghost"),))]}
    await api.push(source, "https://u.test/allow", allow_ghost)
    await api.push(source, "https://u.test/deny", deny_ghost)
    api.drain()
    allow = await api.status(source, "https://u.test/allow")
    assert allow["lastResult"] == "WARNING"
    assert f"{P}/ghost" in allow["lastReason"] and "match nobody" in allow["lastReason"]
    deny = await api.status(source, "https://u.test/deny")
    assert deny["lastResult"] == "WARNING" and "hidden" in deny["lastReason"]
    token = await api.token("alice", provider=P)
    result = await api.search(token, numberOfResults=10)
    assert {r["uri"] for r in result["results"]} == {"https://u.test/allow"}
    # once the identity is known, the hidden item is applied again and shown
    await put(api, "permissions", {"identity": ident("ghost")})
    api.drain()
    result = await api.search(token, numberOfResults=10)
    assert {r["uri"] for r in result["results"]} == {"https://u.test/allow", "https://u.test/deny"}
    again = await api.status(source, "https://u.test/deny")
    assert (again["state"], again["lastResult"]) == ("indexed", "COMPLETED")


def slow_commits(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every transaction lands 0.2 s late: the worker applies a batch's next chunk while the
    previous chunk is still committing."""
    queue = api.runtime.store.queue
    complete = queue.complete

    def late(commit: Any) -> Any:
        time.sleep(0.2)
        return complete(commit)

    monkeypatch.setattr(queue, "complete", late)


async def entity(api: Api, name: str) -> dict[str, Any]:
    r = await api.http.post(
        f"/rest/organizations/{api.org}/securitycache/entities/{P}/entity",
        headers=api.auth(),
        json={"name": name},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("settings_overrides", [{"batch_chunk_size": 1}])
async def test_a_batch_chunk_sees_the_identities_of_the_chunk_still_committing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await provider_and_source(api)
    slow_commits(api, monkeypatch)
    body = {
        "members": [
            {"identity": {**ident("kim"), "additionalInfo": {"id": "7"}}},
            {"identity": ident("Ops", "GROUP"), "members": [ident("kim")]},
        ],
        "deleted": [ident("Ops", "GROUP")],
    }
    created = await api.container(orjson.dumps(body))
    r = await api.http.put(
        f"/push/v1/organizations/{api.org}/providers/{P}/permissions/batch",
        params={"fileId": created["fileId"], "orderingId": "500"},
        headers=api.auth(),
    )
    assert r.status_code == 202, r.text
    api.drain()
    kim_now = await entity(api, "kim")
    assert (kim_now["state"], kim_now["orderingID"]) == ("UP_TO_DATE", 500)
    assert kim_now["infos"] == [{"key": "id", "value": "7"}]
    assert (await entity(api, "Ops"))["state"] == "DISABLED"
