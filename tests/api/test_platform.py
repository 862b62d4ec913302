"""Sources, fields and the Logs API as Coveo's clients call them."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ORG, Api


async def test_source_create_get_list_delete(api: Api) -> None:
    ids = [await api.create_source(f"s{i}", visibility="SHARED") for i in range(3)]
    assert all(i.startswith(f"{ORG}-") for i in ids)
    model = (
        await api.http.get(f"/rest/organizations/{ORG}/sources/{ids[0]}", headers=api.auth())
    ).json()
    assert (model["name"], model["sourceType"], model["sourceVisibility"]) == (
        "s0",
        "PUSH",
        "SHARED",
    )
    assert model["information"]["numberOfDocuments"] == 0
    page = (
        await api.http.get(
            f"/rest/organizations/{ORG}/sources/pages",
            params={"page": 1, "perPage": 2},
            headers=api.auth(),
        )
    ).json()
    assert (page["totalEntries"], page["totalPages"], len(page["items"])) == (3, 2, 1)
    r = await api.http.delete(f"/rest/organizations/{ORG}/sources/{ids[0]}", headers=api.auth())
    assert r.status_code == 204
    r = await api.http.get(f"/rest/organizations/{ORG}/sources/{ids[0]}", headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (412, "SOURCE_DOES_NOT_EXIST")


async def test_duplicate_source_name_is_a_conflict(api: Api) -> None:
    await api.create_source("same")
    r = await api.http.post(
        f"/rest/organizations/{ORG}/sources",
        headers=api.auth(),
        json={"name": "same", "sourceType": "PUSH"},
    )
    assert r.status_code == 409


async def test_source_update_renames_and_guards_what_items_depend_on(api: Api) -> None:
    """PUT of the model GET gives (as the platform client's source.update sends it)."""
    url = f"/rest/organizations/{ORG}/sources"
    source = await api.create_source("draft")
    await api.create_source("taken")
    model = (await api.http.get(f"{url}/{source}", headers=api.auth())).json()
    r = await api.http.put(
        f"{url}/{source}", headers=api.auth(),
        json={**model, "name": "final", "sourceVisibility": "SHARED"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["sourceVisibility"]) == ("final", "SHARED")
    got = (await api.http.get(f"{url}/{source}", headers=api.auth())).json()
    assert (got["name"], got["sourceVisibility"]) == ("final", "SHARED")

    # a shared source's item is visible to anybody; with an item, visibility is fixed
    await api.push(source, "https://x/1", {"data": "visible"})
    api.drain()
    assert await api.search_as("zoe@example.com") == {"https://x/1"}
    r = await api.http.put(
        f"{url}/{source}", headers=api.auth(), json={"sourceVisibility": "SECURED"}
    )
    assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER"), r.text
    assert await api.search_as("zoe@example.com") == {"https://x/1"}
    # renaming still works, to a free name only
    r = await api.http.put(f"{url}/{source}", headers=api.auth(), json={"name": "renamed"})
    assert (r.status_code, r.json()["name"]) == (200, "renamed")
    r = await api.http.put(f"{url}/{source}", headers=api.auth(), json={"name": "taken"})
    assert r.status_code == 409, r.text
    for body in ({"name": ""}, {"sourceType": "CATALOG"}, {"sourceVisibility": "PUBLICISH"}):
        r = await api.http.put(f"{url}/{source}", headers=api.auth(), json=body)
        assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER"), body
    r = await api.http.put(f"{url}/nope", headers=api.auth(), json={"name": "x"})
    assert (r.status_code, r.json()["errorCode"]) == (412, "SOURCE_DOES_NOT_EXIST")
    assert (await api.http.get(f"{url}/{source}", headers=api.auth())).json()["name"] == "renamed"


async def test_number_of_documents_counts_indexed_items(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    for i in range(4):
        await api.push(source, f"https://x/{i}", {"data": "d"})
    await api.delete(source, "https://x/0")
    api.drain()
    model = (
        await api.http.get(f"/rest/organizations/{ORG}/sources/{source}", headers=api.auth())
    ).json()
    assert model["information"]["numberOfDocuments"] == 3


async def test_deleted_source_items_leave_search(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "gone"})
    api.drain()
    await api.http.delete(f"/rest/organizations/{ORG}/sources/{source}", headers=api.auth())
    api.drain()
    assert await api.search_as_view_all(q="gone") == set()


async def test_fields_list_pages_like_the_js_client_expects(api: Api) -> None:
    base = f"/rest/organizations/{ORG}/indexes"
    first = (
        await api.http.get(
            f"{base}/page/fields", params={"page": 0, "perPage": 1000}, headers=api.auth()
        )
    ).json()
    names = {f["name"]: f for f in first["items"]}
    assert names["permanentid"]["type"] == "STRING"
    assert {"title", "author", "date", "filetype", "size", "source", "uri"} <= set(names)
    r = await api.http.post(
        f"{base}/fields/batch/create",
        headers=api.auth(),
        json=[
            {"name": "price", "type": "DOUBLE"},
            {"name": "tags", "type": "STRING", "multiValueFacet": True},
        ],
    )
    assert r.status_code == 204
    got = (await api.http.get(f"{base}/fields/price", headers=api.auth())).json()
    assert (got["type"], got["facet"], got["sort"]) == ("DOUBLE", True, True)
    after = (
        await api.http.get(f"{base}/page/fields", params={"perPage": 1000}, headers=api.auth())
    ).json()
    assert after["totalEntries"] == first["totalEntries"] + 2
    r = await api.http.delete(f"{base}/fields/price", headers=api.auth())
    assert r.status_code == 204
    r = await api.http.get(f"{base}/fields/price", headers=api.auth())
    assert r.status_code == 404


async def test_fields_search_batch_update_and_batch_delete(api: Api) -> None:
    """The platform client's field.search, updateFields and deleteFields."""
    base = f"/rest/organizations/{ORG}/indexes/fields"
    created = [
        {"name": "color", "type": "STRING", "facet": True},
        {"name": "colorcode", "type": "STRING", "facet": False, "sort": True},
        {"name": "weight", "type": "LONG"},
        {"name": "fit", "type": "STRING"},
    ]
    r = await api.http.post(f"{base}/batch/create", headers=api.auth(), json=created)
    assert r.status_code == 204, r.text

    async def search(body: dict[str, Any]) -> tuple[list[str], int]:
        r = await api.http.post(f"{base}/search", headers=api.auth(), json=body)
        assert r.status_code == 200, r.text
        return [f["name"] for f in r.json()["items"]], r.json()["totalEntries"]

    assert await search({"filters": {"name": "COLOR", "origin": "USER"}}) == (
        ["color", "colorcode"], 2,
    )  # fmt: skip
    assert await search({"filters": {"name": "col", "facet": "TRUE_ONLY"}}) == (
        ["collection", "color"], 2,
    )  # fmt: skip
    assert await search({"filters": {"type": "long", "origin": "USER"}}) == (["weight"], 1)
    assert await search({"filters": {"origin": "USER"}, "order": "DESC", "perPage": 2}) == (
        ["weight", "fit"], 4,
    )  # fmt: skip
    system, total = await search({"filters": {"origin": "SYSTEM"}, "perPage": 1000})
    assert total == len(system) > 0 and "color" not in system and "permanentid" in system
    for body in ({"filters": {"facet": "SOMETIMES"}}, {"order": "UP"}, {"sortBy": "type"}):
        r = await api.http.post(f"{base}/search", headers=api.auth(), json=body)
        assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER"), body

    update = [{"name": "fit", "type": "STRING", "facet": True, "description": "How it fits"}]
    r = await api.http.put(f"{base}/batch/update", headers=api.auth(), json=update)
    assert r.status_code == 204, r.text
    r = await api.http.get(f"{base}/fit", headers=api.auth())
    assert (r.json()["facet"], r.json()["description"]) == (True, "How it fits")
    r = await api.http.put(f"{base}/batch/update", headers=api.auth(),
                           json=[*update, {"name": "nosuchfield", "type": "STRING"}])  # fmt: skip
    assert r.status_code == 404, r.text

    # nothing is deleted unless every named field can be
    for params in ({"fields": "color,nosuchfield"}, {"fields": ["color", "permanentid"]}, {}):
        r = await api.http.delete(f"{base}/batch/delete", headers=api.auth(), params=params)
        assert r.status_code in (404, 412), (params, r.text)
    assert (await search({"filters": {"origin": "USER"}}))[1] == 4
    r = await api.http.delete(
        f"{base}/batch/delete", headers=api.auth(), params={"fields": ["color", "fit"]}
    )
    assert r.status_code == 204, r.text
    assert await search({"filters": {"origin": "USER"}}) == (["colorcode", "weight"], 2)


async def test_invalid_fields_are_refused(api: Api) -> None:
    base = f"/rest/organizations/{ORG}/indexes/fields/batch/create"
    for bad in (
        [{"name": "Bad-Name", "type": "STRING"}],
        [{"name": "x", "type": "BLOB"}],
        [{"name": "title", "type": "STRING"}],
    ):
        r = await api.http.post(base, headers=api.auth(), json=bad)
        assert r.status_code == 412, bad
        assert r.json()["errorCode"] == "INVALID_PARAMETER"


async def test_multi_value_metadata_in_a_multi_value_field(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.http.post(
        f"/rest/organizations/{ORG}/indexes/fields/batch/create",
        headers=api.auth(),
        json=[{"name": "tags", "type": "STRING", "multiValueFacet": True}],
    )
    await api.push(source, "https://x/1", {"data": "d", "tags": ["red", "green"]})
    await api.push(source, "https://x/2", {"data": "d", "tags": "blue;green"})
    api.drain()
    assert await api.search_as_view_all(aq="@tags==green") == {"https://x/1", "https://x/2"}
    assert await api.search_as_view_all(aq="@tags==red") == {"https://x/1"}


async def test_logs_filter_by_result_operation_and_document(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "ok"}, orderingId=10)
    await api.push(source, "https://x/1", {"data": "stale"}, orderingId=5)
    await api.push(source, "https://x/2", {"data": "ok", "unknownmeta": 1})
    await api.delete(source, "https://x/3")
    api.drain()
    everything = await api.logs()
    assert len(everything) == 4
    entry = next(e for e in everything if e["result"] == "SKIPPED")
    assert entry["id"] == "https://x/1"
    assert entry["meta"]["orderingId"] == "5"
    assert "newer operation" in entry["meta"]["reason"]
    assert {e["id"] for e in await api.logs(results=["WARNING"])} == {"https://x/2"}
    assert {e["id"] for e in await api.logs(operations=["DELETE"])} == {"https://x/3"}
    r = await api.http.post(
        f"/logs/v1/organizations/{ORG}",
        headers=api.auth(),
        json={},
        params={"documentId": "x/1", "documentIdMatching": "PARTIAL"},
    )
    assert {e["id"] for e in r.json()["documentLogEntries"]} == {"https://x/1"}
    r = await api.http.post(
        f"/logs/v1/organizations/{ORG}", headers=api.auth(), json={"sourcesIds": ["nope"]}
    )
    assert r.json()["documentLogEntries"] == []


async def test_logs_time_window(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "d"})
    api.drain()
    r = await api.http.post(
        f"/logs/v1/organizations/{ORG}",
        headers=api.auth(),
        json={},
        params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
    )
    assert r.status_code == 200
    assert r.json()["documentLogEntries"] == []
    r = await api.http.post(
        f"/logs/v1/organizations/{ORG}",
        headers=api.auth(),
        json={},
        params={"from": "yesterday-ish"},
    )
    assert r.status_code == 412


async def source_models(api: Api, source: str) -> list[dict]:
    """The source's model as each of the three source endpoints returns it."""
    base = f"/rest/organizations/{ORG}/sources"
    one = await api.http.get(f"{base}/{source}", headers=api.auth())
    whole = await api.http.get(base, headers=api.auth())
    paged = await api.http.get(f"{base}/pages", headers=api.auth(), params={"perPage": 1000})
    for r in (one, whole, paged):
        assert r.status_code == 200, r.text
    assert paged.json()["sourceModels"] == paged.json()["items"]
    return [
        one.json(),
        next(m for m in whole.json() if m["id"] == source),
        next(m for m in paged.json()["sourceModels"] if m["id"] == source),
    ]


async def information(api: Api, source: str) -> dict:
    models = await source_models(api, source)
    infos = [m["information"] for m in models]
    assert infos[0] == infos[1] == infos[2]
    return dict(infos[0])


async def test_source_information_counts_live_items(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    other = await api.create_source("other", visibility="SHARED")
    info = await information(api, source)
    assert info["numberOfDocuments"] == 0
    assert info["sourceStatus"]["numberOfDocuments"] == 0
    for i in range(3):
        assert (await api.push(source, f"https://x/{i}", {"data": "d"})).status_code == 202
    await api.push(other, "https://y/1", {"data": "d"})
    assert (await information(api, source))["numberOfDocuments"] == 0  # accepted, not indexed
    api.drain()
    assert (await information(api, source))["numberOfDocuments"] == 3
    assert (await information(api, other))["numberOfDocuments"] == 1
    await api.delete(source, "https://x/0")
    await api.push(source, "https://x/bad", {"data": "d", "compressedBinaryData": "!!"})
    api.drain()
    info = await information(api, source)
    assert (info["numberOfDocuments"], info["sourceStatus"]["numberOfDocuments"]) == (2, 2)


async def test_source_status_follows_the_status_calls(api: Api) -> None:
    source = await api.create_source()
    url = f"/push/v1/organizations/{ORG}/sources/{source}/status"
    info = await information(api, source)
    assert info["sourceStatus"]["type"] == "PUSH_READY"
    assert info["lastOperation"] is None
    assert "currentOperation" not in info

    r = await api.http.post(url, params={"statusType": "REBUILD"}, headers=api.auth())
    assert r.status_code == 201
    info = await information(api, source)
    assert info["sourceStatus"]["type"] == "REFRESHING"
    assert info["sourceStatus"]["refreshType"] == "REBUILD"
    assert info["currentOperation"] == {"operationType": "REBUILD"}
    assert info["lastOperation"] is None

    await api.http.post(url, params={"statusType": "INCREMENTAL"}, headers=api.auth())
    info = await information(api, source)
    assert info["sourceStatus"]["refreshType"] == "INCREMENTAL_REFRESH"
    assert info["lastOperation"]["operationType"] == "REBUILD"
    assert info["lastOperation"]["result"] == "SUCCESS"

    await api.http.post(url, params={"statusType": "IDLE"}, headers=api.auth())
    info = await information(api, source)
    assert info["sourceStatus"]["type"] == "IDLE"
    assert info["sourceStatus"]["refreshType"] is None
    assert "currentOperation" not in info
    last = info["lastOperation"]
    assert last["operationType"] == "INCREMENTAL_REFRESH"
    assert last["timestamp"] >= last["startedDate"] > 0
    assert info["sourceStatus"]["timestamp"] == last["timestamp"]


async def test_source_lists_filter_by_host_type(api: Api) -> None:
    await api.create_source("a")
    await api.create_source("b", sourceType="CATALOG")
    base = f"/rest/organizations/{ORG}/sources"
    for params, expected in (
        ({}, 2),
        ({"filterHostType": "PUSH"}, 2),
        ({"filterHostType": "CLOUD"}, 0),
        ({"filterHostType": "crawling_module"}, 0),
    ):
        whole = (await api.http.get(base, params=params, headers=api.auth())).json()
        paged = (await api.http.get(f"{base}/pages", params=params, headers=api.auth())).json()
        assert len(whole) == paged["totalEntries"] == len(paged["sourceModels"]) == expected
    r = await api.http.get(base, params={"filterHostType": "FTP"}, headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER")


async def test_organization_model_and_list(api: Api) -> None:
    r = await api.http.get(f"/rest/organizations/{ORG}", headers=api.auth())
    assert r.status_code == 200, r.text
    org = r.json()
    assert (org["id"], org["displayName"], org["readOnly"]) == (ORG, ORG, False)
    assert isinstance(org["createdDate"], int)
    assert {"type", "owner", "publicContentOnly", "configuration"} <= set(org)
    assert org["organizationStatusModel"]["paused"] is False
    listed = await api.http.get("/rest/organizations", headers=api.auth())
    assert listed.status_code == 200
    assert listed.json() == [org]
    api.add_key("admin", "globex-key", org="globex")
    r = await api.http.get("/rest/organizations/globex", headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (404, "ORGANIZATION_NOT_FOUND")
    r = await api.http.get("/rest/organizations", headers=api.auth("globex-key"))
    assert [o["id"] for o in r.json()] == ["globex"]
