"""Sources, fields and the Logs API as Coveo's clients call them."""

from __future__ import annotations

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
