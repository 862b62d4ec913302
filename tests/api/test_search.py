"""Search through the real pipeline and index: trimming, totals, paging, privileges."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ORG, Api, allow

USERS = ("alice", "bob", "carol", "dave")


def ident(name: str) -> dict[str, str]:
    kind = "Group" if name[0].isupper() else "User"
    return {"identity": name if kind == "Group" else f"{name}@corp.com", "identityType": kind}


def pset(
    allowed: tuple[str, ...] = (), denied: tuple[str, ...] = (), anonymous: bool = False
) -> dict[str, Any]:
    return {
        "allowAnonymous": anonymous,
        "allowedPermissions": [ident(n) for n in allowed],
        "deniedPermissions": [ident(n) for n in denied],
    }


def level(*sets: dict[str, Any]) -> dict[str, Any]:
    return {"name": "level", "permissionSets": list(sets)}


# push-api.md §6.5. Group membership is not expanded by the foundation, so each user's
# search token carries the expanded identity set the reference lists for them.
EXPANDED = {
    "alice": ("alice", "Eng", "Mgmt", "Everyone"),
    "bob": ("bob", "Eng", "Mgmt"),
    "carol": ("carol", "Mgmt"),
    "dave": ("dave",),
    "anon": (),
}
WORKED_EXAMPLES = [
    (1, [pset(("Eng",))], {"alice", "bob"}),
    (2, [pset(("Mgmt",), ("bob",))], {"alice", "carol"}),
    (3, [pset(("Mgmt",)), pset(("Eng",))], {"alice", "bob"}),
    (4, [pset(anonymous=True)], {"alice", "bob", "carol", "dave", "anon"}),
    (5, [pset(anonymous=True), pset(("Eng",))], {"alice", "bob"}),
    (6, [pset(anonymous=True, denied=("bob",))], {"alice", "carol", "dave", "anon"}),
    (7, [level(pset((), ("Eng",))), level(pset(("Mgmt",)))], {"carol"}),
    (8, [level(pset(("carol",))), level(pset((), ("Mgmt",)))], {"carol"}),
    (9, [level(pset(("Everyone",))), level(pset(("dave",)))], {"alice", "dave"}),
]


async def token_for(api: Api, user: str) -> str | None:
    names = EXPANDED[user]
    if not names:
        return None
    r = await api.http.post(
        "/rest/search/v2/token",
        headers=api.auth(),
        json={
            "userIds": [
                {
                    "name": f"{n}@corp.com" if n[0].islower() else n,
                    "provider": "Email Security Provider",
                    "type": "User" if n[0].islower() else "Group",
                }
                for n in names
            ]
        },
    )
    assert r.status_code == 200
    return str(r.json()["token"])


async def test_worked_examples_of_the_reference(api: Api) -> None:
    source = await api.create_source()
    for row, model, _ in WORKED_EXAMPLES:
        r = await api.push(source, f"https://x/{row}", {"data": "common", "permissions": model})
        assert r.status_code == 202, r.text
    api.drain()
    anonymous_key = api.add_key("search", "anon-search-key")
    for user in EXPANDED:
        token = await token_for(api, user) or anonymous_key
        result = await api.search(token, q="common", numberOfResults=100)
        seen = {int(r["uri"].rsplit("/", 1)[1]) for r in result["results"]}
        expected = {row for row, _, visible in WORKED_EXAMPLES if user in visible}
        assert seen == expected, user
        assert result["totalCount"] == len(expected)


async def test_two_users_see_different_items(api: Api) -> None:
    source = await api.create_source()
    await api.push(source, "https://x/a", {"data": "plan", "permissions": allow("a@x.com")})
    await api.push(source, "https://x/b", {"data": "plan", "permissions": allow("b@x.com")})
    await api.push(source, "https://x/pub", {"data": "plan", "permissions": allow(anonymous=True)})
    api.drain()
    assert await api.search_as("a@x.com", q="plan") == {"https://x/a", "https://x/pub"}
    assert await api.search_as("b@x.com", q="plan") == {"https://x/b", "https://x/pub"}
    assert await api.search_as("A@X.COM", q="plan") == {"https://x/a", "https://x/pub"}


async def test_totals_and_paging_count_only_visible_items(api: Api) -> None:
    source = await api.create_source()
    for i in range(30):
        owner = "a@x.com" if i % 3 == 0 else "b@x.com"
        await api.push(
            source,
            f"https://x/{i:02d}",
            {"data": "report", "date": i * 1000, "permissions": allow(owner)},
        )
    api.drain()
    token = await api.token("a@x.com")
    pages = []
    for first in (0, 4, 8):
        result = await api.search(
            token, q="report", firstResult=first, numberOfResults=4, sortCriteria="date ascending"
        )
        assert result["totalCount"] == 10
        pages.append([r["uri"] for r in result["results"]])
    flat = [uri for page in pages for uri in page]
    assert flat == [f"https://x/{i:02d}" for i in range(0, 30, 3)]


async def test_denied_identity_wins_over_allowed(api: Api) -> None:
    source = await api.create_source()
    await api.push(
        source, "https://x/1", {"data": "memo", "permissions": allow("a@x.com", deny=("a@x.com",))}
    )
    api.drain()
    assert await api.search_as("a@x.com", q="memo") == set()


async def test_secured_item_without_permissions_is_visible_to_no_user(api: Api) -> None:
    source = await api.create_source()
    await api.push(source, "https://x/1", {"data": "secret"})
    api.drain()
    assert (await api.status(source, "https://x/1"))["lastResult"] == "WARNING"
    assert await api.search_as("a@x.com", q="secret") == set()
    assert await api.search_as_view_all(q="secret") == {"https://x/1"}


async def test_shared_source_is_visible_to_everyone_and_private_to_no_user(api: Api) -> None:
    shared = await api.create_source("shared", visibility="SHARED")
    private = await api.create_source("private", visibility="PRIVATE")
    await api.push(shared, "https://s/1", {"data": "news", "permissions": allow("z@x.com")})
    await api.push(private, "https://p/1", {"data": "news", "permissions": allow("a@x.com")})
    api.drain()
    assert await api.search_as("a@x.com", q="news") == {"https://s/1"}
    assert await api.search_as_view_all(q="news") == {"https://s/1", "https://p/1"}


async def test_a_key_without_view_all_privilege_cannot_view_all(api: Api) -> None:
    key = api.add_key("search", "plain-search")
    r = await api.http.post(
        "/rest/search/v2", params={"viewAllContent": "true"}, headers=api.auth(key), json={}
    )
    assert r.status_code == 403
    assert r.json()["errorCode"] == "ACCESS_DENIED"


async def test_search_never_crosses_organizations(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "confidential"})
    api.drain()
    other = api.add_key("admin", "globex-admin", org="globex")
    r = await api.http.post(
        "/rest/search/v2",
        params={"viewAllContent": "true"},
        headers=api.auth(other),
        json={"q": "confidential"},
    )
    assert r.status_code == 200
    assert r.json()["totalCount"] == 0
    r = await api.http.post(
        "/rest/search/v2",
        params={"organizationId": ORG},
        headers=api.auth(other),
        json={"q": "confidential"},
    )
    assert r.status_code == 404


async def test_token_filter_is_anded_into_every_query(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "alpha", "author": "Ann"})
    await api.push(source, "https://x/2", {"data": "alpha", "author": "Bob"})
    api.drain()
    r = await api.http.post(
        "/rest/search/v2/token",
        headers=api.auth(),
        json={"userIds": [{"name": "u@x.com"}], "filter": "@author==Ann"},
    )
    token = r.json()["token"]
    result = await api.search(token, q="alpha")
    assert [x["uri"] for x in result["results"]] == ["https://x/1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quick", {"1", "2"}),
        ('"quick fox"', {"1"}),
        ("quick AND dog", {"2"}),
        ("fox OR cat", {"1", "3"}),
        ("quick NOT fox", {"2"}),
        ("quick -dog", {"1"}),
        ("(fox OR dog) cat", set()),
    ],
)
async def test_query_syntax(api: Api, query: str, expected: set[str]) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "the quick fox"})
    await api.push(source, "https://x/2", {"data": "a quick brown dog"})
    await api.push(source, "https://x/3", {"data": "a lazy cat"})
    api.drain()
    uris = await api.search_as_view_all(q=query)
    assert {u.rsplit("/", 1)[1] for u in uris} == expected


async def test_query_syntax_error_is_a_400_with_position(api: Api) -> None:
    r = await api.http.post(
        "/rest/search/v2",
        params={"viewAllContent": "true"},
        headers=api.auth(),
        json={"q": "(unbalanced"},
    )
    assert r.status_code == 400
    assert "position" in r.json()["message"] or "(" in r.json()["message"]


async def test_fields_to_include_and_result_shape(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"title": "Doc", "data": "body text", "author": "Ann"})
    api.drain()
    result = await api.search(view_all=True, q="body", fieldsToInclude=["author", "@title"])
    hit = result["results"][0]
    assert hit["raw"] == {"author": "Ann", "title": "Doc"}
    for key in ("title", "uri", "clickUri", "excerpt", "uniqueId", "printableUri"):
        assert hit[key]
    assert "body" in hit["excerpt"]
    assert hit["excerptHighlights"] == [{"offset": 0, "length": 4}]


async def test_facet_search_counts_the_values_the_user_may_see(api: Api) -> None:
    """``POST /rest/search/v2/facet`` as Headless's facet search box sends it."""
    r = await api.http.post(
        f"/rest/organizations/{api.org}/indexes/fields/batch/create",
        headers=api.auth(),
        json=[{"name": "team", "type": "STRING", "facet": True},
              {"name": "region", "type": "STRING", "facet": True}],
    )  # fmt: skip
    assert r.status_code == 204, r.text
    source = await api.create_source("facets", "SECURED")
    rows = [  # team, region, who may see it
        ("Alpha", "east", "ann@x.test"), ("Alpha", "west", "ann@x.test"),
        ("Alpine", "east", "ann@x.test"), ("Beta", "east", "ann@x.test"),
        ("Secret", "east", "ben@x.test"), ("Alpaca", "west", "ben@x.test"),
    ]  # fmt: skip
    for n, (team, region, user) in enumerate(rows):
        body = {"data": "facetword", "team": team, "region": region,
                "permissions": [{"allowedPermissions": [{"identity": user,
                                                         "identityType": "User"}]}]}  # fmt: skip
        assert (await api.push(source, f"https://f.test/{n}", body)).status_code == 202
    api.drain()
    token = await api.token("ann@x.test")
    context = {"q": "facetword", "facets": [
        {"facetId": "team", "field": "team", "type": "specific",
         "currentValues": [{"value": "Beta", "state": "selected"}]},
    ]}  # fmt: skip

    async def facet_search(credential: str | None = token, **body: Any) -> dict[str, Any]:
        r = await api.http.post(
            "/rest/search/v2/facet", headers=api.auth(credential),
            json={"field": "team", "searchContext": context, **body},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        return dict(r.json())

    found = await facet_search(query="*alp*")
    # ann's items only (Alpaca is ben's), her own selection of Beta does not narrow the values
    assert found == {"values": [
        {"displayValue": "Alpha", "rawValue": "Alpha", "count": 2},
        {"displayValue": "Alpine", "rawValue": "Alpine", "count": 1},
    ], "moreValuesAvailable": False}  # fmt: skip
    found = await facet_search(query="*", numberOfValues=1, ignoreValues=["Alpha"])
    # Alpine and Beta, one item each, tie: one of them, and more to come
    assert len(found["values"]) == 1 and found["values"][0]["rawValue"] in {"Alpine", "Beta"}
    assert found["moreValuesAvailable"] is True
    assert all(v["rawValue"] not in ("Secret", "Alpaca") for v in
               (await facet_search(query="*", numberOfValues=50))["values"])  # fmt: skip
    # another facet's selection applies: only ann's western items
    west = {"facetId": "region", "field": "region", "type": "specific",
            "currentValues": [{"value": "west", "state": "selected"}]}  # fmt: skip
    context["facets"].append(west)
    found = await facet_search(query="*")
    assert found["values"] == [{"displayValue": "Alpha", "rawValue": "Alpha", "count": 1}]
    # the admin key without viewAllContent sees no secured item; a bad query type is refused
    assert (await facet_search(credential=None, query="*"))["values"] == []
    r = await api.http.post("/rest/search/v2/facet", headers=api.auth(token), json={"query": "*"})
    assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER")
