"""Batches of items through file containers, and delete-older-than with its guard."""

from __future__ import annotations

import time
import zlib
from typing import Any

import pytest

from tests.api.conftest import Api, b64

pytestmark = pytest.mark.asyncio


def item(n: int | str, text: str = "", **extra: Any) -> dict[str, Any]:
    return {"documentId": f"https://x.test/{n}", "data": text or f"body of item {n}", **extra}


async def _run(api: Api, source: str, body: dict[str, Any] | bytes, **params: Any) -> dict:
    r = await api.batch(source, body, **params)
    assert r.status_code == 202, r.text
    receipt = r.json()
    assert receipt["batchId"] == r.headers["x-openpush-batch-id"] == receipt["requestId"]
    api.drain()
    return await api.batch_status(source, receipt["batchId"])


async def test_a_batch_adds_and_deletes_and_reports_each_outcome(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x.test/old", {"data": "old"})
    api.drain()
    status = await _run(
        api,
        source,
        {
            "addOrUpdate": [item(1, "alpha"), item(2, "beta"), item(3, "gamma")],
            "delete": [{"documentId": "https://x.test/old", "deleteChildren": False}],
        },
    )
    assert status["state"] == "COMPLETED"
    assert status["total"] == status["processed"] == 4
    assert status["counts"] == {"COMPLETED": 4}
    outcomes = {(i["documentId"], i["operation"], i["result"]) for i in status["items"]}
    assert ("https://x.test/2", "ADD", "COMPLETED") in outcomes
    assert ("https://x.test/old", "DELETE", "COMPLETED") in outcomes
    assert await api.search_as_view_all() == {f"https://x.test/{n}" for n in (1, 2, 3)}
    assert await api.search_as_view_all(q="beta") == {"https://x.test/2"}


async def test_keys_are_case_insensitive_and_either_array_is_optional(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    status = await _run(
        api,
        source,
        {
            "AddOrUpdate": [
                {"DocumentId": "https://x.test/a", "Data": "upper", "FileExtension": ".txt"}
            ]
        },
    )
    assert status["counts"] == {"COMPLETED": 1}
    status = await _run(api, source, {"Delete": [{"DocumentId": "https://x.test/a"}]})
    assert status["counts"] == {"COMPLETED": 1}
    assert await api.search_as_view_all() == set()
    status = await _run(api, source, {})
    assert status["state"] == "COMPLETED" and status["total"] == 0


async def test_a_bad_item_fails_only_itself(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    status = await _run(
        api,
        source,
        {
            "addOrUpdate": [
                item(1),
                {"documentId": "no-scheme", "data": "x"},
                item(2, data="twice", compressedBinaryData=b64(b"x")) | {"data": "y"},
                {"data": "no document id"},
                "not an object",
                item(3, compressedBinaryData="%%%not base64%%%", compressionType="ZLIB")
                | {"data": None},
                item(4),
            ],
            "delete": [{"deleteChildren": True}],
        },
    )
    assert status["counts"]["COMPLETED"] == 2
    assert status["counts"]["REJECTED"] == 6
    rejected = [i for i in status["items"] if i["result"] == "REJECTED"]
    reasons = " | ".join(i["reason"] for i in rejected)
    assert "addOrUpdate[1]" in reasons and "scheme" in reasons
    assert "delete[0]" in reasons
    assert await api.search_as_view_all() == {"https://x.test/1", "https://x.test/4"}
    only = await api.batch_status(source, status["batchId"], result="REJECTED")
    assert {i["result"] for i in only["items"]} == {"REJECTED"}
    assert len(only["items"]) == 6


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"addOrUpdate": [{"documentId": "https://x.test/1", "data": "a"}', b"[1,2]",
     b'{"addOrUpdate": {"documentId": "https://x.test/1"}}', b""],
)  # fmt: skip
async def test_a_malformed_file_is_accepted_then_fails_with_a_logged_reason(
    api: Api, content: bytes
) -> None:
    source = await api.create_source(visibility="SHARED")
    created = await api.container(content)
    r = await api.http.put(
        api.docs(source) + "/batch", params={"fileId": created["fileId"]}, headers=api.auth()
    )
    assert r.status_code == 202
    api.drain()
    status = await api.batch_status(source, r.json()["batchId"])
    assert status["state"] == "FAILED"
    assert status["error"]
    assert await api.search_as_view_all() == set()
    logs = await api.logs()
    failed = [e for e in logs if e["operation"] == "BATCH_FILE" and e["result"] == "ERROR"]
    assert failed and failed[0]["meta"]["reason"]


async def test_batch_items_share_the_batch_ordering_id_unless_they_carry_their_own(
    api: Api,
) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x.test/1", {"data": "newer single push"}, orderingId=500)
    api.drain()
    status = await _run(
        api,
        source,
        {"addOrUpdate": [item(1, "from batch"), item(2, orderingId=700), item(3)]},
        orderingId=400,
    )
    assert status["orderingId"] == "400"
    by_id = {i["documentId"]: i for i in status["items"]}
    assert by_id["https://x.test/1"]["result"] == "SKIPPED"
    assert by_id["https://x.test/2"]["orderingId"] == "700"
    assert by_id["https://x.test/3"]["orderingId"] == "400"
    assert await api.search_as_view_all(q="newer") == {"https://x.test/1"}
    # a later batch with a higher orderingId wins; one with a lower one is skipped
    await _run(api, source, {"addOrUpdate": [item(1, "batch wins")]}, orderingId=600)
    assert await api.search_as_view_all(q="wins") == {"https://x.test/1"}
    status = await _run(
        api, source, {"delete": [{"documentId": "https://x.test/2"}]}, orderingId=650
    )
    assert status["counts"] == {"SKIPPED": 1}


async def test_an_entry_ordering_id_beyond_64_bits_is_read_as_in_single_pushes(
    api: Api,
) -> None:
    source = await api.create_source(visibility="SHARED")
    big = 10**29 + 7  # 30 digits: the Crawling Module's orderingIds go beyond 64 bits
    body = (
        b'{"addOrUpdate": [{"documentId": "https://x.test/big", "data": "huge ordering",'
        b' "orderingId": %d}, {"documentId": "https://x.test/small",'
        b' "data": "plain entry"}]}' % big
    )
    status = await _run(api, source, body, orderingId=400)
    assert status["state"] == "COMPLETED", status
    assert status["counts"] == {"COMPLETED": 2}
    by_id = {i["documentId"]: i for i in status["items"]}
    assert by_id["https://x.test/big"]["orderingId"] == str(big)
    assert by_id["https://x.test/small"]["orderingId"] == "400"
    assert await api.search_as_view_all(q="huge") == {"https://x.test/big"}
    # older than what the item holds now: skipped, even with 64-bit orderingIds
    status = await _run(api, source, {"addOrUpdate": [item("big", orderingId=2**63 - 1)]})
    assert status["counts"] == {"SKIPPED": 1}


async def test_within_a_batch_adds_apply_before_deletes_and_the_last_duplicate_wins(
    api: Api,
) -> None:
    source = await api.create_source(visibility="SHARED")
    status = await _run(
        api,
        source,
        {
            "delete": [{"documentId": "https://x.test/1"}],
            "addOrUpdate": [item(1, "first"), item(2, "first"), item(2, "second")],
        },
    )
    assert status["counts"] == {"COMPLETED": 4}
    assert await api.search_as_view_all() == {"https://x.test/2"}
    assert await api.search_as_view_all(q="second") == {"https://x.test/2"}


async def test_compressed_binary_data_file_id_takes_content_from_a_container(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    single = await api.container(zlib.compress(b"quartz from a container"))
    r = await api.push(
        source,
        "https://x.test/single",
        {"compressedBinaryDataFileId": single["fileId"], "fileExtension": ".txt"},
        compressionType="ZLIB",
    )
    assert r.status_code == 202
    in_batch = await api.container(b"<html><title>T</title><body>feldspar</body></html>")
    status = await _run(
        api,
        source,
        {
            "addOrUpdate": [
                {
                    "documentId": "https://x.test/batch",
                    "compressedBinaryDataFileId": in_batch["fileId"],
                    "compressionType": "UNCOMPRESSED",
                    "fileExtension": ".html",
                },
                {"documentId": "https://x.test/missing", "compressedBinaryDataFileId": "nope"},
            ]
        },
    )
    assert await api.search_as_view_all(q="quartz") == {"https://x.test/single"}
    assert await api.search_as_view_all(q="feldspar") == {"https://x.test/batch"}
    assert status["counts"] == {"COMPLETED": 1, "REJECTED": 1}
    for used in (single, in_batch):
        assert api.runtime.blobs.size("acme", used["fileId"]) is None


async def test_a_single_push_naming_a_missing_container_is_refused(api: Api) -> None:
    source = await api.create_source()
    r = await api.push(source, "https://x.test/1", {"compressedBinaryDataFileId": "nope"})
    assert r.status_code == 404
    assert r.json()["errorCode"] == "FILE_NOT_FOUND"
    empty = await api.container()
    r = await api.push(source, "https://x.test/1", {"compressedBinaryDataFileId": empty["fileId"]})
    assert r.status_code == 404
    assert "nothing was uploaded" in r.json()["message"]


async def test_batch_call_errors(api: Api) -> None:
    source = await api.create_source()
    r = await api.http.put(api.docs(source) + "/batch", headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (412, "MISSING_PARAMETER")
    r = await api.http.put(
        api.docs(source) + "/batch", params={"fileId": "unknown"}, headers=api.auth()
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "FILE_NOT_FOUND")
    r = await api.http.put(
        api.docs("nope") + "/batch", params={"fileId": "unknown"}, headers=api.auth()
    )
    assert (r.status_code, r.json()["errorCode"]) == (412, "SOURCE_DOES_NOT_EXIST")
    r = await api.http.get(api.docs(source) + "/batches/unknown", headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (404, "BATCH_NOT_FOUND")


async def test_another_organization_can_neither_use_a_container_nor_read_a_batch(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    status = await _run(api, source, {"addOrUpdate": [item(1)]})
    other = api.add_key("admin", "globex-admin", org="globex")
    r = await api.http.post(
        "/rest/organizations/globex/sources",
        headers=api.auth(other),
        json={"name": "theirs", "sourceType": "PUSH"},
    )
    theirs = r.json()["id"]
    mine = await api.container(b'{"addOrUpdate": []}')
    r = await api.http.put(
        f"/push/v1/organizations/globex/sources/{theirs}/documents/batch",
        params={"fileId": mine["fileId"]},
        headers=api.auth(other),
    )
    assert (r.status_code, r.json()["errorCode"]) == (404, "FILE_NOT_FOUND")
    r = await api.http.get(
        f"/push/v1/organizations/globex/sources/{theirs}/documents/batches/{status['batchId']}",
        headers=api.auth(other),
    )
    assert r.status_code == 404
    r = await api.http.get(
        api.docs(source) + f"/batches/{status['batchId']}", headers=api.auth(other)
    )
    assert r.status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"worker_batch_size": 3}])
async def test_a_large_batch_is_applied_in_chunks_and_completes(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    status = await _run(api, source, {"addOrUpdate": [item(n) for n in range(20)]})
    assert status["processed"] == 20
    assert status["counts"] == {"COMPLETED": 20}
    result = await api.search(view_all=True, numberOfResults=100)
    assert result["totalCount"] == 20


# -- delete older than ------------------------------------------------------------------


async def test_delete_older_than_deletes_exactly_the_strictly_older_items(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    for n, ordering in ((1, 100), (2, 200), (3, 300)):
        await api.push(source, f"https://x.test/{n}", {"data": "x"}, orderingId=ordering)
    api.drain()
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": 200, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 202
    api.drain()
    assert await api.search_as_view_all() == {"https://x.test/2", "https://x.test/3"}
    # the low-water mark: a later push below 200 is rejected with a reason
    await api.push(source, "https://x.test/4", {"data": "late"}, orderingId=150)
    api.drain()
    state = await api.status(source, "https://x.test/4")
    assert state["state"] == "rejected"
    assert "delete-older-than" in state["lastReason"]


async def test_delete_older_than_waits_for_its_queue_delay(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x.test/1", {"data": "x"}, orderingId=100)
    api.drain()
    r = await api.http.delete(
        api.docs(source) + "/olderthan", params={"orderingId": 200}, headers=api.auth()
    )
    assert r.status_code == 202
    api.drain()
    assert await api.search_as_view_all() == {"https://x.test/1"}  # default delay: 15 minutes
    assert api.runtime.store.queue.depth() == 1


async def test_the_guard_refuses_a_threshold_far_in_the_future_unless_forced(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    now_ms = int(time.time() * 1000)
    hour_ahead = now_ms + 3_600_000
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": hour_ahead, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 412
    assert r.json()["errorCode"] == "INVALID_PARAMETER"
    assert "force=true" in r.json()["message"]
    assert api.runtime.store.queue.depth() == 0
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": now_ms + 1000, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 202  # within the margin
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": hour_ahead, "queueDelay": 0, "force": "true"},
        headers=api.auth(),
    )
    assert r.status_code == 202


async def test_the_guard_follows_a_connector_clock_beyond_epoch_milliseconds(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    ticks = 638_000_000_000_000_000  # .NET ticks, as Coveo for Sitecore sends
    await api.push(source, "https://x.test/1", {"data": "x"}, orderingId=ticks)
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": ticks, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 202
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": ticks * 10, "queueDelay": 0},
        headers=api.auth(),
    )
    assert r.status_code == 412
