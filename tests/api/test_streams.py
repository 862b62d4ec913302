"""The Stream API: open/chunk/close loads, update with partial updates, merge, delete older."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio


def product(n: int, **fields: Any) -> dict[str, Any]:
    return {"documentId": f"product://{n}", "data": f"product {n}", **fields}


class Streams:
    def __init__(self, api: Api, source: str) -> None:
        self.api = api
        self.base = f"/push/v1/organizations/{api.org}/sources/{source}/stream"

    async def post(self, path: str, **params: Any) -> Any:
        return await self.api.http.post(self.base + path, headers=self.api.auth(), params=params)

    async def upload(self, target: dict[str, Any], body: dict[str, Any]) -> None:
        r = await self.api.http.put(
            target["uploadUri"], content=orjson.dumps(body), headers=target["requiredHeaders"]
        )
        assert r.status_code == 200

    async def load(self, *chunks: list[dict[str, Any]], first_unused: bool = False) -> dict:
        opened = await self.post("/open")
        assert opened.status_code == 201, opened.text
        stream = opened.json()
        assert set(stream) == {"streamId", "uploadUri", "fileId", "requiredHeaders"}
        targets = [] if first_unused else [stream]
        while len(targets) < len(chunks):
            chunk = await self.post(f"/{stream['streamId']}/chunk")
            assert chunk.status_code == 200, chunk.text
            assert set(chunk.json()) == {"uploadUri", "fileId", "requiredHeaders"}
            targets.append(chunk.json())
        for target, items in zip(targets, chunks, strict=True):
            await self.upload(target, {"addOrUpdate": items})
        closed = await self.post(f"/{stream['streamId']}/close")
        assert closed.status_code == 200, closed.text
        receipt = closed.json()
        assert receipt["orderingId"].isdigit() and receipt["requestId"]
        self.api.drain()
        return dict(receipt)

    async def file_call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        created = await self.api.container(orjson.dumps(body))
        return await self.api.http.request(
            method, self.base + path, params={"fileId": created["fileId"]}, headers=self.api.auth()
        )


async def stream_source(api: Api, catalog: bool = False) -> tuple[str, Streams]:
    extra = {"sourceType": "CATALOG"} if catalog else {"streamEnabled": True}
    r = await api.http.post(
        f"/rest/organizations/{api.org}/sources",
        headers=api.auth(),
        json={"name": "catalog" if catalog else "stream", "sourceVisibility": "SHARED", **extra},
    )
    assert r.status_code == 201, r.text
    source = str(r.json()["id"])
    return source, Streams(api, source)


async def test_stream_close_applies_all_chunks_and_deletes_what_was_not_streamed(api: Api) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1), product(2), product(3)])
    assert await api.search_as_view_all() == {f"product://{n}" for n in (1, 2, 3)}
    receipt = await streams.load([product(2)], [product(4), product(5)], first_unused=True)
    assert await api.search_as_view_all() == {f"product://{n}" for n in (2, 4, 5)}
    status = await api.batch_status(source, receipt["requestId"])
    assert status["state"] == "COMPLETED"
    deleted = {i["documentId"] for i in status["items"] if i["operation"] == "DELETE"}
    assert deleted == {"product://1", "product://3"}


async def test_an_empty_stream_deletes_everything_unless_the_source_is_a_catalog(
    api: Api,
) -> None:
    _, streams = await stream_source(api)
    await streams.load([product(1), product(2)])
    await streams.load([])
    assert await api.search_as_view_all() == set()

    catalog, catalog_streams = await stream_source(api, catalog=True)
    await catalog_streams.load([product(7), product(8)])
    receipt = await catalog_streams.load([])
    assert await api.search_as_view_all() == {"product://7", "product://8"}
    status = await api.batch_status(catalog, receipt["requestId"])
    warnings = [i for i in status["items"] if i["result"] == "WARNING"]
    assert warnings and "safety rule" in warnings[0]["reason"]


async def test_a_stream_with_a_malformed_chunk_deletes_nothing(api: Api) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1), product(2)])
    opened = (await streams.post("/open")).json()
    r = await api.http.put(opened["uploadUri"], content=b'{"addOrUpdate": [', headers={})
    assert r.status_code == 200
    closed = await streams.post(f"/{opened['streamId']}/close")
    api.drain()
    assert await api.search_as_view_all() == {"product://1", "product://2"}
    status = await api.batch_status(source, closed.json()["requestId"])
    assert status["state"] == "FAILED"


async def test_stream_lifecycle_errors(api: Api) -> None:
    plain = await api.create_source()
    r = await api.http.post(
        f"/push/v1/organizations/{api.org}/sources/{plain}/stream/open", headers=api.auth()
    )
    assert (r.status_code, r.json()["errorCode"]) == (412, "INVALID_PARAMETER")
    _, streams = await stream_source(api)
    r = await streams.post("/nope/close")
    assert (r.status_code, r.json()["errorCode"]) == (404, "STREAM_NOT_FOUND")
    r = await streams.post("/nope/chunk")
    assert r.status_code == 404
    opened = (await streams.post("/open")).json()
    assert (await streams.post(f"/{opened['streamId']}/close")).status_code == 200
    again = await streams.post(f"/{opened['streamId']}/close")
    assert (again.status_code, again.json()["errorCode"]) == (404, "STREAM_NOT_FOUND")
    assert (await streams.post(f"/{opened['streamId']}/chunk")).status_code == 404


async def test_data_collection_paths_reach_the_same_stream(api: Api) -> None:
    source, _ = await stream_source(api)
    base = f"/push/v1/organizations/{api.org}/data-collections/{source}/stream"
    opened = await api.http.post(base + "/open", headers=api.auth())
    assert opened.status_code == 201
    closed = await api.http.post(base + f"/{opened.json()['streamId']}/close", headers=api.auth())
    assert closed.status_code == 200


async def test_update_replaces_items_fully_and_deletes(api: Api) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1, color="red", size="L"), product(2)])
    r = await streams.file_call(
        "PUT",
        "/update",
        {"addOrUpdate": [product(1, color="blue")], "delete": [{"documentId": "product://2"}]},
    )
    assert r.status_code == 202
    assert set(r.json()) >= {"orderingId", "requestId"}
    api.drain()
    assert await api.search_as_view_all() == {"product://1"}
    state = await api.status(source, "product://1")
    assert state["state"] == "indexed"
    record = api.runtime.store.items.get_items(api.org, source, ["product://1"])["product://1"]
    assert record.record is not None
    assert record.record["item"]["metadata"] == {"color": "blue"}


@pytest.mark.parametrize(
    ("operator", "field", "value", "before", "after"),
    [
        ("fieldValueReplace", "color", "green", "red", "green"),
        ("FIELDVALUEREPLACE", "color", None, "red", None),
        ("arrayAppend", "tags", ["c"], ["a", "b"], ["a", "b", "c"]),
        ("ARRAY_REMOVE", "tags", ["a"], ["a", "b"], ["b"]),
        ("dictionaryPut", "prices", {"eu": 3}, {"us": 2}, {"us": 2, "eu": 3}),
        ("dictionaryremove", "prices", "us", {"us": 2, "eu": 3}, {"eu": 3}),
    ],
)
async def test_partial_updates_on_each_operator(
    api: Api, operator: str, field: str, value: Any, before: Any, after: Any
) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1, **{field: before}), product(2)])
    r = await streams.file_call(
        "PUT",
        "/update",
        {
            "partialUpdate": [
                {"documentId": "product://1", "operator": operator, "field": field, "value": value}
            ]
        },
    )
    assert r.status_code == 202
    api.drain()
    record = api.runtime.store.items.get_items(api.org, source, ["product://1"])["product://1"]
    assert record.record is not None
    assert record.record["item"]["metadata"].get(field) == after
    assert await api.search_as_view_all(q="product") == {"product://1", "product://2"}


async def test_partial_update_of_an_unknown_item_or_with_a_bad_operator_is_logged(
    api: Api,
) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1)])
    r = await streams.file_call(
        "PUT",
        "/update",
        {
            "partialUpdate": [
                {"documentId": "product://404", "operator": "fieldValueReplace",
                 "field": "color", "value": "x"},
                {"documentId": "product://1", "operator": "explode", "field": "color", "value": 1},
            ]
        },
    )  # fmt: skip
    api.drain()
    status = await api.batch_status(source, r.json()["requestId"])
    results = {
        i["documentId"]: (i["result"], i["reason"]) for i in status["items"] if i["documentId"]
    }
    assert results["product://404"][0] == "ERROR"
    assert "does not exist" in results["product://404"][1]
    assert results["product://1"][0] == "REJECTED"
    assert "fieldValueReplace" in results["product://1"][1]


async def test_a_partial_update_searches_the_new_value(api: Api) -> None:
    _, streams = await stream_source(api)
    await api.http.post(
        f"/rest/organizations/{api.org}/indexes/fields/batch/create",
        headers=api.auth(),
        json=[{"name": "color", "type": "STRING", "facet": True}],
    )
    await streams.load([product(1, color="red")])
    assert await api.search_as_view_all(aq="@color==red") == {"product://1"}
    await streams.file_call(
        "PUT",
        "/update",
        {"partialUpdate": [{"documentId": "product://1", "operator": "fieldValueReplace",
                            "field": "color", "value": "green"}]},
    )  # fmt: skip
    api.drain()
    assert await api.search_as_view_all(aq="@color==red") == set()
    assert await api.search_as_view_all(aq="@color==green") == {"product://1"}


async def test_merge_creates_missing_items_and_keeps_unsent_fields(api: Api) -> None:
    source, streams = await stream_source(api)
    await streams.load([product(1, color="red", size="L")])
    r = await streams.file_call(
        "PUT",
        "/merge",
        {"addOrUpdate": [{"documentId": "product://1", "color": "blue"}],
         "merge": [product(9, color="white")]},
    )  # fmt: skip
    assert r.status_code == 202
    api.drain()
    items = api.runtime.store.items.get_items(api.org, source, ["product://1", "product://9"])
    one = items["product://1"].record
    assert one is not None
    assert one["item"]["metadata"] == {"color": "blue", "size": "L"}
    assert one["item"]["data"] == "product 1"
    assert await api.search_as_view_all() == {"product://1", "product://9"}


async def test_stream_delete_older_than_a_timestamp(api: Api) -> None:
    _, streams = await stream_source(api)
    await streams.load([product(1)])
    time.sleep(0.01)
    cut = int(time.time() * 1000)
    time.sleep(0.01)
    await streams.file_call("PUT", "/update", {"addOrUpdate": [product(2)]})
    api.drain()
    r = await streams.post(f"/deleteolderthan/{cut}", queueDelay=0)
    assert r.status_code == 201
    assert r.json()["orderingId"] == str(cut)
    api.drain()
    assert await api.search_as_view_all() == {"product://2"}
    far = cut + 10 * 365 * 24 * 3_600_000
    r = await streams.post(f"/deleteolderthan/{far}", queueDelay=0)
    assert r.status_code == 412
