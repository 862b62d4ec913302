"""Validation without side effects: items, batch files, identities and identity batch files.

Every test checks both the findings and that nothing changed: no queued operation, no log
entry, no item or identity state, nothing in the index, and the container still usable by a
real push, whose outcomes then match what the validation predicted.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import httpx
import orjson
import pytest

from openpush.security.evaluate import identity_key
from tests.api.conftest import Api, allow, b64
from tests.api.test_errors import assert_error
from tests.api.worked_example import P, ident, provider_and_source, pset, put, usr

pytestmark = pytest.mark.asyncio

BOMB = zlib.compress(bytes(64 * 1024 * 1024), 9)  # 64 MB of zeros in about 64 KB


async def validate(
    api: Api, source: str, body: dict[str, Any] | bytes | None = None, **params: Any
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body) if body is not None else b""
    return await api.http.post(
        api.docs(source) + "/validate",
        params=params,
        content=content,
        headers={**api.auth(), "Content-Type": "application/json"},
    )


async def findings(api: Api, source: str, body: Any = None, **params: Any) -> dict[str, Any]:
    r = await validate(api, source, body, **params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def assert_nothing_changed(api: Api, source: str, *document_ids: str) -> None:
    assert api.runtime.store.queue.depth() == 0
    assert await api.logs() == []
    for document_id in document_ids:
        assert (await api.status(source, document_id))["state"] == "unknown", document_id
    assert await api.search_as_view_all() == set()


# -- single items -----------------------------------------------------------------------------


async def test_a_good_item_completes_and_nothing_changes(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    report = await findings(api, source, {"data": "hello"}, documentId="https://x/1")
    assert report["valid"] is True
    assert report["counts"] == {"COMPLETED": 1} and report["total"] == 1
    (item,) = report["items"]
    assert item == {
        "documentId": "https://x/1",
        "operation": "ADD",
        "result": "COMPLETED",
        "reasons": ["indexed"],
    }
    await assert_nothing_changed(api, source, "https://x/1")


async def test_warnings_are_those_the_pipeline_would_log(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    report = await findings(api, source, {"data": "x", "nofield": "y"}, documentId="https://x/1")
    assert report["valid"] is True
    (item,) = report["items"]
    assert item["result"] == "WARNING"
    assert "no matching field" in item["reasons"][0] and "nofield" in item["reasons"][0]
    await assert_nothing_changed(api, source, "https://x/1")


@pytest.mark.parametrize(
    "settings_overrides", [{"org_limits": json.dumps({"acme": {"max_item_content_bytes": 100}})}]
)
@pytest.mark.parametrize(
    ("body", "params", "status", "code"),
    [
        ({"data": "a", "compressedBinaryData": "eJw="}, {}, 400, "INVALID_JSON"),
        ({"data": "x" * 101}, {}, 413, "REQUEST_ENTITY_TOO_LARGE"),
        ({"data": "x"}, {"compressionType": "RAR"}, 412, "INVALID_PARAMETER"),
        ({"data": "x"}, {"orderingId": "-3"}, 412, "INVALID_PARAMETER"),
        ({"compressedBinaryDataFileId": "no-such-file"}, {}, 404, "FILE_NOT_FOUND"),
        (b'{"title": ', {}, 400, "INVALID_JSON"),
    ],
)
async def test_what_the_push_call_refuses_is_rejected_with_its_status(
    api: Api, body: Any, params: dict[str, str], status: int, code: str
) -> None:
    source = await api.create_source()
    report = await findings(api, source, body, documentId="https://x/1", **params)
    assert report["valid"] is False
    (item,) = report["items"]
    assert (item["result"], item["httpStatus"], item["errorCode"]) == ("REJECTED", status, code)
    # the push call itself answers exactly that
    push = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/1", **params},
        content=body if isinstance(body, bytes) else orjson.dumps(body),
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert_error(push, status, code)
    await assert_nothing_changed(api, source, "https://x/1")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"max_permissions_per_item": 2, "max_decompressed_bytes": 1024 * 1024}],
)
async def test_what_the_pipeline_rejects_is_rejected_without_a_status(api: Api) -> None:
    source = await api.create_source()
    for body, words in [
        ({"permissions": allow("a", "b", "c")}, "3 permissions; the limit is 2"),
        ({"compressedBinaryData": b64(BOMB), "compressionType": "ZLIB"}, "exceeds 1048576"),
        ({"compressedBinaryData": "!!!"}, "base64"),
        ({"data": "x", "compressionType": "GZIP", "compressedBinaryData": b64(b"nope")}, None),
    ]:
        report = await findings(api, source, body, documentId="https://x/1")
        (item,) = report["items"]
        if words is None:  # two carriers: refused by the call
            assert item["httpStatus"] == 400
            continue
        assert report["valid"] is False
        assert item["result"] == "REJECTED" and "httpStatus" not in item, item
        assert words in item["reasons"][0]
    await assert_nothing_changed(api, source, "https://x/1")


async def test_unknown_identities_warn_as_in_the_pipeline(api: Api) -> None:
    source = await provider_and_source(api)
    await put(api, "permissions", {"identity": ident("alice")})
    api.drain()
    logs_before = await api.logs()
    body = {"data": "a", "permissions": [pset((usr("alice"), usr("ghost")))]}
    report = await findings(api, source, body, documentId="https://x/1")
    (item,) = report["items"]
    assert item["result"] == "WARNING" and report["valid"] is True
    assert f"{P}/ghost" in item["reasons"][0] and "match nobody" in item["reasons"][0]
    assert await api.logs() == logs_before
    assert (await api.status(source, "https://x/1"))["state"] == "unknown"


async def test_ordering_rules_apply(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    assert (await api.push(source, "https://x/1", {"data": "v1"}, orderingId="100")).status_code
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        params={"orderingId": "50", "queueDelay": "0"},
        headers=api.auth(),
    )
    assert r.status_code == 202
    api.drain()
    logs_before = await api.logs()
    older = await findings(api, source, {"data": "v0"}, documentId="https://x/1", orderingId="70")
    assert older["items"][0]["result"] == "SKIPPED" and older["valid"] is True
    below = await findings(api, source, {"data": "v0"}, documentId="https://x/2", orderingId="10")
    assert below["items"][0]["result"] == "REJECTED" and below["valid"] is False
    assert "delete-older-than" in below["items"][0]["reasons"][0]
    assert await api.logs() == logs_before
    assert (await api.status(source, "https://x/2"))["state"] == "unknown"


async def test_an_item_by_reference_leaves_its_container_usable(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    created = await api.container(b"content by reference")
    body = {"compressedBinaryDataFileId": created["fileId"], "compressionType": "UNCOMPRESSED"}
    report = await findings(api, source, body, documentId="https://x/ref")
    assert report["items"][0]["operation"] == "ADD_BY_REFERENCE"
    assert report["items"][0]["result"] == "COMPLETED", report
    await assert_nothing_changed(api, source, "https://x/ref")
    assert (await api.push(source, "https://x/ref", body)).status_code == 202
    api.drain()
    assert (await api.status(source, "https://x/ref"))["state"] == "indexed"
    assert await api.search_as_view_all(q="reference") == {"https://x/ref"}


# -- batch files ------------------------------------------------------------------------------

MIXED = {
    "addOrUpdate": [
        {"documentId": "https://x/good", "data": "good"},
        {"documentId": "https://x/warn", "data": "warn", "nofield": 1},
        {"documentId": "https://x/two", "data": "a", "compressedBinaryData": "eJw="},
        {"documentId": "https://x/bomb", "compressedBinaryData": b64(BOMB)},
        {"data": "no id"},
    ],
    "delete": [{"documentId": "https://x/gone"}],
}


@pytest.mark.parametrize("settings_overrides", [{"max_decompressed_bytes": 1024 * 1024}])
async def test_a_mixed_batch_file_predicts_the_real_batch(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    created = await api.container(orjson.dumps(MIXED))
    report = await findings(api, source, fileId=created["fileId"])
    assert report["valid"] is False and report["errors"] == []
    assert report["total"] == 6
    expected = {"COMPLETED": 2, "WARNING": 1, "REJECTED": 3}
    assert report["counts"] == expected
    by_index = {(i["section"], i["index"]): i for i in report["items"]}
    assert by_index[("addOrUpdate", 0)]["result"] == "COMPLETED"
    assert by_index[("addOrUpdate", 1)]["result"] == "WARNING"
    two = by_index[("addOrUpdate", 2)]
    assert (two["documentId"], two["result"]) == ("https://x/two", "REJECTED")
    assert two["reasons"][0].startswith("addOrUpdate[2]: ")
    assert "exceeds" in by_index[("addOrUpdate", 3)]["reasons"][0]
    assert by_index[("addOrUpdate", 4)]["documentId"] is None
    gone = by_index[("delete", 0)]
    assert (gone["operation"], gone["result"]) == ("DELETE", "COMPLETED")
    await assert_nothing_changed(api, source, "https://x/good", "https://x/warn", "https://x/gone")
    # the container was not consumed: the real batch uses it, with the predicted outcomes
    r = await api.http.put(
        api.docs(source) + "/batch", params={"fileId": created["fileId"]}, headers=api.auth()
    )
    assert r.status_code == 202, r.text
    api.drain()
    status = await api.batch_status(source, r.json()["batchId"])
    assert status["counts"] == expected
    assert await api.search_as_view_all() == {"https://x/good", "https://x/warn"}


async def test_a_good_batch_file_is_valid(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    body = {"AddOrUpdate": [{"DocumentId": f"https://x/{n}", "Data": "x"} for n in range(5)]}
    created = await api.container(orjson.dumps(body))
    report = await findings(api, source, fileId=created["fileId"], limit="2")
    assert report["valid"] is True
    assert (report["total"], report["counts"]) == (5, {"COMPLETED": 5})
    assert report["truncated"] is True and len(report["items"]) == 2
    await assert_nothing_changed(api, source, "https://x/0")


async def test_a_malformed_batch_file_is_a_file_error(api: Api) -> None:
    source = await api.create_source()
    created = await api.container(b'{"addOrUpdate": [{"documentId": "https://x/1"}')
    report = await findings(api, source, fileId=created["fileId"])
    assert report["valid"] is False and report["total"] == 0
    assert "malformed batch file" in report["errors"][0]
    created = await api.container(b'{"addOrUpdate": [], "other": 1}')
    report = await findings(api, source, fileId=created["fileId"])
    assert report["valid"] is True and report["warnings"] == ["ignored keys other"]
    await assert_nothing_changed(api, source)


async def test_call_errors_are_answered_as_errors(api: Api) -> None:
    source = await api.create_source()
    assert_error(await validate(api, source, fileId="no-such-file"), 404, "FILE_NOT_FOUND")
    assert_error(await validate(api, source, {"data": "x"}), 412, "MISSING_PARAMETER")
    created = await api.container(b"{}")
    both = await validate(api, source, {}, documentId="https://x/1", fileId=created["fileId"])
    assert_error(both, 412, "INVALID_PARAMETER")
    assert_error(await validate(api, source, fileId=created["fileId"], limit="0"), 412,
                 "INVALID_PARAMETER")  # fmt: skip
    assert_error(await validate(api, "acme-nosuch", {}, documentId="https://x/1"), 412,
                 "SOURCE_DOES_NOT_EXIST")  # fmt: skip
    search_key = api.add_key("search", "search-only")
    r = await api.http.post(
        api.docs(source) + "/validate",
        params={"documentId": "https://x/1"},
        json={"data": "x"},
        headers=api.auth(search_key),
    )
    assert_error(r, 403, "ACCESS_DENIED")


# -- identities -------------------------------------------------------------------------------


def identity_validate_url(api: Api) -> str:
    return f"/push/v1/organizations/{api.org}/providers/{P}/permissions/validate"


async def identity_findings(api: Api, body: Any = None, **params: Any) -> dict[str, Any]:
    r = await api.http.post(
        identity_validate_url(api), params=params, headers=api.auth(),
        content=orjson.dumps(body) if body is not None else b"",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return dict(r.json())


def known(api: Api, *names: str) -> set[str]:
    keys = [identity_key(P, name) for name in names]
    return {k.name for k in api.runtime.store.identities.get_identities(api.org, keys)}


@pytest.mark.parametrize(
    "settings_overrides", [{"org_limits": json.dumps({"acme": {"max_identity_bytes": 64}})}]
)
async def test_identities_validate_without_changing_anything(api: Api) -> None:
    await provider_and_source(api)
    body = {"identity": ident("Eng", "GROUP"), "members": [ident("alice"), ident("bob")]}
    report = await identity_findings(api, body)
    assert report["valid"] is True
    (item,) = report["items"]
    assert (item["identity"], item["result"]) == ("Eng", "COMPLETED")
    assert item["operation"] == "UPDATE_IDENTITY"  # as the log names it
    big = await identity_findings(api, {"identity": ident("n" * 70)})
    (item,) = big["items"]
    assert (item["result"], item["httpStatus"], item["errorCode"]) == (
        "REJECTED", 412, "INVALID_PARAMETER",
    )  # fmt: skip
    bad = await identity_findings(api, {"members": []})
    assert bad["items"][0]["httpStatus"] == 400
    assert api.runtime.store.queue.depth() == 0
    assert await api.logs() == []
    assert known(api, "Eng", "alice", "bob") == set()


async def test_an_identity_batch_file_predicts_the_real_batch(api: Api) -> None:
    await provider_and_source(api)
    body = {
        "members": [
            {"identity": ident("Eng", "GROUP"), "members": [ident("alice"), ident("bob")]},
            {"members": []},
        ],
        "mappings": [{"identity": ident("alice"),
                      "mappings": [{"name": "alice@corp.com", "type": "USER"}]}],
        "deleted": [ident("erin")],
    }  # fmt: skip
    created = await api.container(orjson.dumps(body))
    report = await identity_findings(api, fileId=created["fileId"])
    expected = {"COMPLETED": 3, "REJECTED": 1}
    assert report["counts"] == expected and report["valid"] is False
    names = [(i["section"], i["index"], i["identity"], i["result"]) for i in report["items"]]
    assert names == [
        ("members", 0, "Eng", "COMPLETED"),
        ("members", 1, None, "REJECTED"),
        ("mappings", 0, "alice", "COMPLETED"),
        ("deleted", 0, "erin", "COMPLETED"),
    ]
    assert api.runtime.store.queue.depth() == 0
    assert await api.logs() == []
    assert known(api, "Eng", "alice", "erin") == set()
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
    assert status.json()["counts"] == expected
    assert known(api, "Eng", "alice") == {"eng", "alice"}
