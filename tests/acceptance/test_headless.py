"""Coveo Headless (``@coveo/headless``), unmodified, searching a real openpush.

``js/headless_search.mjs`` builds a search engine whose search calls go to the server
(Headless's ``proxyBaseUrl``), with a search token for one user; a search box submits a
query, a result list and a facet on ``author`` read the response. The test checks that each
user gets exactly the items their permissions allow, with totals and facet counts of those
items only, and that the facet's search box finds values among those items only.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import OpenpushServer, run_node

ITEMS = {  # document → (author, who may see it; None: everybody)
    "https://headless.example.com/plan": ("Alice", {"alice@example.com"}),
    "https://headless.example.com/budget": ("Alice", {"alice@example.com", "bob@example.com"}),
    "https://headless.example.com/memo": ("Bob", {"bob@example.com"}),
    "https://headless.example.com/welcome": ("Carol", None),
}


def permissions(who: set[str] | None) -> list[dict]:
    if who is None:
        return [{"allowAnonymous": True}]
    return [{"allowedPermissions": [{"identity": u, "identityType": "User"} for u in sorted(who)]}]


def headless(server: OpenpushServer, user: str, query: str) -> dict:
    token = server.search_token(user)
    out = run_node(server, ["node", "headless_search.mjs", server.base_url, server.org, token,
                            query, "al"])  # fmt: skip
    return dict(json.loads(out))


def test_headless_search_page_sees_what_each_user_may_see(
    node_client: Path, openpush: OpenpushServer
) -> None:
    source = openpush.create_source("headless")
    for uri, (author, who) in ITEMS.items():
        body = {"title": uri.rsplit("/", 1)[1], "data": "headlessword report",
                "author": author, "permissions": permissions(who)}  # fmt: skip
        openpush.put_document(source, uri, body)
    openpush.wait_for_all(source, ITEMS, "indexed")
    field = openpush.http.post(
        openpush.url(f"/rest/organizations/{openpush.org}/indexes/fields/batch/create"),
        json=[{"name": "author", "type": "STRING", "facet": True}],
    )
    assert field.status_code in (204, 412), field.text  # 412: a system field already

    for user in ("alice@example.com", "bob@example.com", "zoe@example.com"):
        visible = {uri for uri, (_, who) in ITEMS.items() if who is None or user in who}
        found = headless(openpush, user, "headlessword")
        assert found["error"] is None, found
        assert (found["total"], set(found["uris"])) == (len(visible), visible), (user, found)
        authors = [ITEMS[uri][0] for uri in visible]
        expected = sorted((a, authors.count(a)) for a in set(authors))
        assert sorted(map(tuple, found["facet"])) == expected, (user, found)
        assert sorted(found["authors"]) == sorted(authors), (user, found)
        # the facet's search box, typing "al": the authors matching *al* among these items
        assert sorted(map(tuple, found["facetSearch"])) == [
            (a, n) for a, n in expected if "al" in a.lower()
        ], (user, found)
