"""Every limit of push-api.md §9.1 refused through the HTTP API, per organization.

Each refusal is checked for its status and Coveo's ``{"errorCode", "message"}`` body; limits
the pipeline applies (permissions, decompression) are checked on the item's status. Codec bombs
in all five compression types are refused with memory bounded by the caps, not by the bomb.
"""

from __future__ import annotations

import base64
import json
import lzma
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from openpush.domain.items import CompressionType
from tests.api.conftest import Api, allow, b64
from tests.api.test_errors import assert_error
from tests.api.worked_example import P, ident, provider_and_source, put

pytestmark = pytest.mark.asyncio

MB = 1024 * 1024
OTHER_ORG = "globex"


def acme(**limits: Any) -> dict[str, Any]:
    """Settings overrides giving organization ``acme`` (only) its own limits."""
    return {"org_limits": json.dumps({"acme": limits})}


async def other_org(api: Api) -> tuple[Api, str]:
    """An admin client of a second organization, which keeps the default limits, and a source."""
    key = api.add_key("admin", "globex-admin", org=OTHER_ORG)
    other = Api(http=api.http, runtime=api.runtime, key=key, org=OTHER_ORG)
    return other, await other.create_source("other")


async def drained_status(api: Api, source: str, document_id: str) -> dict[str, Any]:
    api.drain()
    return await api.status(source, document_id)


# -- request and content sizes ---------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [acme(max_request_bytes=4096)])
async def test_request_body_over_the_org_limit_is_413_and_other_orgs_keep_the_default(
    api: Api,
) -> None:
    source = await api.create_source()
    body = {"data": "x" * 5000}
    r = await api.push(source, "https://x/1", body)
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert api.runtime.store.queue.depth() == 0
    other, other_source = await other_org(api)
    assert (await other.push(other_source, "https://x/1", body)).status_code == 202


@pytest.mark.parametrize("settings_overrides", [acme(max_item_content_bytes=1000)])
async def test_data_over_the_content_limit_is_413(api: Api) -> None:
    source = await api.create_source()
    assert (await api.push(source, "https://x/ok", {"data": "x" * 1000})).status_code == 202
    r = await api.push(source, "https://x/big", {"data": "x" * 1001})
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert "data is 1001 bytes" in r.json()["message"]
    # the limit is in UTF-8 bytes, not characters
    r = await api.push(source, "https://x/utf8", {"data": "é" * 501})
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")


@pytest.mark.parametrize("settings_overrides", [acme(max_item_content_bytes=1000)])
async def test_compressed_binary_data_over_the_content_limit_is_413(api: Api) -> None:
    source = await api.create_source()
    fits = {"compressedBinaryData": b64(bytes(1000)), "compressionType": "UNCOMPRESSED"}
    assert (await api.push(source, "https://x/ok", fits)).status_code == 202
    wrapped = base64.encodebytes(bytes(1000)).decode()  # line breaks do not count
    r = await api.push(source, "https://x/ok2", {"compressedBinaryData": wrapped,
                                                 "compressionType": "UNCOMPRESSED"})  # fmt: skip
    assert r.status_code == 202, r.text
    big = {"compressedBinaryData": b64(bytes(1001)), "compressionType": "UNCOMPRESSED"}
    r = await api.push(source, "https://x/big", big)
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
    assert "compressedBinaryData decodes to 1001 bytes" in r.json()["message"]


@pytest.mark.parametrize("settings_overrides", [acme(max_item_content_bytes=1000)])
async def test_content_over_the_limit_in_a_batch_rejects_that_item_only(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    r = await api.batch(
        source,
        {"addOrUpdate": [{"documentId": "https://x/big", "data": "x" * 1001},
                         {"documentId": "https://x/ok", "data": "x" * 10}]},
    )  # fmt: skip
    assert r.status_code == 202
    api.drain()
    status = await api.batch_status(source, r.json()["batchId"])
    assert status["counts"] == {"COMPLETED": 1, "REJECTED": 1}
    big = await api.status(source, "https://x/big")
    assert big["state"] == "rejected" and "the limit is 1000" in big["lastReason"]


@pytest.mark.parametrize(
    "settings_overrides", [acme(max_metadata_value_bytes=100, max_dictionary_pairs=3)]
)
async def test_metadata_values_over_their_limits_are_413(api: Api) -> None:
    source = await api.create_source()
    fits = {"title": "t" * 100, "tags": ["a" * 50, "b" * 50], "prices": {"a": 1, "b": 2, "c": 3}}
    assert (await api.push(source, "https://x/ok", fits)).status_code == 202
    for body, words in [
        ({"title": "t" * 101}, "metadata 'title' is 101 bytes"),
        ({"tags": ["a" * 60, "b" * 60]}, "metadata 'tags' is 120 bytes"),
        ({"prices": {"a": 1, "b": 2, "c": 3, "d": 4}}, "4 key/value pairs"),
        ({"notes": "ü" * 51}, "metadata 'notes' is 102 bytes"),
    ]:
        r = await api.push(source, "https://x/big", body)
        assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
        assert words in r.json()["message"]
    assert api.runtime.store.queue.depth() == 1


# -- JSON nesting ----------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


async def test_item_bodies_nested_deeper_than_the_default_limit_are_400(api: Api) -> None:
    source = await api.create_source()
    r = await api.push(source, "https://x/deep", {"permissions": nested(40)})
    assert_error(r, 400, "INVALID_JSON")
    assert "deeper than 32" in r.json()["message"]
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x/very-deep"},
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert_error(r, 400, "INVALID_JSON")
    assert api.runtime.store.queue.depth() == 0


@pytest.mark.parametrize("settings_overrides", [acme(max_json_depth=6)])
async def test_the_depth_limit_is_per_organization(api: Api) -> None:
    source = await api.create_source()
    complete_model = [{"permissionSets": [{"allowedPermissions": [{"identity": "a"}]}]}]  # 7
    r = await api.push(source, "https://x/1", {"data": "x", "permissions": complete_model})
    assert_error(r, 400, "INVALID_JSON")
    other, other_source = await other_org(api)
    ok = await other.push(other_source, "https://x/1", {"data": "x", "permissions": complete_model})
    assert ok.status_code == 202


@pytest.mark.parametrize("settings_overrides", [acme(max_json_depth=6)])
async def test_a_batch_file_nested_too_deep_fails_before_any_entry_is_applied(api: Api) -> None:
    source = await api.create_source()
    deep = [{"documentId": "https://x/deep", "permissions": nested(8)}]
    body = {"addOrUpdate": [{"documentId": "https://x/ok", "data": "x"}, *deep]}
    r = await api.batch(source, body)
    assert r.status_code == 202
    api.drain()
    status = await api.batch_status(source, r.json()["batchId"])
    assert status["state"] == "FAILED"
    assert "nest deeper than 8 levels" in status["error"]
    assert (await api.status(source, "https://x/ok"))["state"] == "unknown"


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [acme(max_permissions_per_item=3)])
async def test_too_many_permissions_is_accepted_then_rejected(api: Api) -> None:
    source = await api.create_source()
    assert (
        await api.push(source, "https://x/ok", {"permissions": allow("a", "b", "c")})
    ).status_code == 202
    r = await api.push(source, "https://x/big", {"permissions": allow("a", "b", deny=("c", "d"))})
    assert r.status_code == 202  # as on Coveo: 202, then the item is rejected
    status = await drained_status(api, source, "https://x/big")
    assert status["state"] == "rejected"
    assert "4 permissions; the limit is 3" in status["lastReason"]
    assert (await api.status(source, "https://x/ok"))["state"] == "indexed"


# -- identities -------------------------------------------------------------------------------


def identity_url(api: Api, path: str = "permissions") -> str:
    return f"/push/v1/organizations/{api.org}/providers/{P}/{path}"


@pytest.mark.parametrize(
    "settings_overrides", [acme(max_identity_bytes=64, max_identity_relationships=3)]
)
async def test_identity_limits_are_412_invalid_parameter(api: Api) -> None:
    await provider_and_source(api)
    await put(api, "permissions", {"identity": ident("ok"), "members": [ident("a")] * 3})
    big_info = {**ident("alice"), "additionalInfo": {"employee": "e" * 60}}
    for path, method, body, words in [
        ("permissions", "PUT", {"identity": ident("n" * 61)}, "the limit is 64"),
        ("permissions", "PUT", {"identity": big_info}, "the limit is 64"),
        ("permissions", "PUT", {"identity": ident("g", "GROUP"),
                                "members": [ident("m" * 61)]}, "the limit is 64"),
        ("permissions", "PUT", {"identity": ident("g", "GROUP"),
                                "members": [ident("a")] * 2, "wellKnowns": [ident("b")] * 2},
         "declares 4 members"),
        ("mappings", "PUT", {"identity": ident("alice"),
                             "mappings": [{"name": "x@corp.com", "type": "USER"}] * 4},
         "declares 4"),
        ("permissions", "DELETE", {"identity": ident("n" * 61)}, "the limit is 64"),
    ]:  # fmt: skip
        r = await api.http.request(method, identity_url(api, path), headers=api.auth(), json=body)
        assert_error(r, 412, "INVALID_PARAMETER")
        assert words in r.json()["message"], (path, body)
    assert api.runtime.store.queue.depth() == 1


@pytest.mark.parametrize("settings_overrides", [acme(max_identity_bytes=64)])
async def test_identity_limits_reject_entries_of_an_identity_batch(api: Api) -> None:
    await provider_and_source(api)
    body = {
        "members": [{"identity": ident("ok")}, {"identity": ident("n" * 61)}],
        "deleted": [ident("d" * 70)],
    }
    created = await api.container(orjson.dumps(body))
    r = await api.http.put(
        identity_url(api, "permissions/batch"),
        params={"fileId": created["fileId"]},
        headers=api.auth(),
    )
    assert r.status_code == 202
    api.drain()
    status = await api.http.get(
        identity_url(api, f"permissions/batches/{r.json()['batchId']}"), headers=api.auth()
    )
    assert status.json()["counts"] == {"COMPLETED": 1, "REJECTED": 2}


async def test_identity_bodies_nested_too_deep_are_400(api: Api) -> None:
    await provider_and_source(api)
    body = {"identity": {**ident("alice"), "additionalInfo": {"k": nested(40)}}}
    r = await api.http.put(identity_url(api), headers=api.auth(), json=body)
    assert_error(r, 400, "INVALID_JSON")


# -- file containers --------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [acme(file_container_max_bytes=1000)])
async def test_container_uploads_over_the_org_limit_are_413(api: Api) -> None:
    created = await api.container()
    headers = created["requiredHeaders"]
    r = await api.http.put(created["uploadUri"], content=bytes(1001), headers=headers)
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")

    async def chunked():  # no Content-Length: refused while streaming
        for _ in range(3):
            yield bytes(400)

    r = await api.http.put(created["uploadUri"], content=chunked(), headers=headers)
    assert_error(r, 413, "REQUEST_ENTITY_TOO_LARGE")
    r = await api.http.put(created["uploadUri"], content=bytes(1000), headers=headers)
    assert r.status_code == 200
    other, _ = await other_org(api)
    theirs = await other.container()
    r = await api.http.put(theirs["uploadUri"], content=bytes(5000), headers=headers)
    assert r.status_code == 200


# -- codec bombs ------------------------------------------------------------------------------

BOMB_MB = 200


def _stream(compressor: Any, megabytes: int = BOMB_MB) -> bytes:
    block = bytes(MB)
    parts = [compressor.compress(block) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bombs() -> dict[CompressionType, bytes]:
    """200 MB of zeros in every codec (built without holding 200 MB); 24 MB as is."""
    return {
        CompressionType.ZLIB: _stream(zlib.compressobj(9)),
        CompressionType.DEFLATE: _stream(zlib.compressobj(9, zlib.DEFLATED, -15)),
        CompressionType.GZIP: _stream(zlib.compressobj(9, zlib.DEFLATED, 31)),
        CompressionType.LZMA: _stream(lzma.LZMACompressor(preset=1)),
        CompressionType.UNCOMPRESSED: bytes(24 * MB),
    }


def peak_while(action: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


CAPS = [
    {"max_decompressed_bytes": 4 * MB, "max_decompression_ratio": 100_000.0},
    {"max_decompressed_bytes": 16 * MB, "max_decompression_ratio": 20.0},
]


@pytest.mark.parametrize("kind", list(CompressionType))
@pytest.mark.parametrize("settings_overrides", [acme(**caps) for caps in CAPS])
async def test_a_codec_bomb_in_a_file_container_is_rejected_in_bounded_memory(
    api: Api, bombs: dict[CompressionType, bytes], kind: CompressionType
) -> None:
    source = await api.create_source()
    created = await api.container(bombs[kind])
    body = {"compressedBinaryDataFileId": created["fileId"], "compressionType": kind.value}
    assert (await api.push(source, "https://x/bomb", body)).status_code == 202
    peak = peak_while(api.drain)
    status = await api.status(source, "https://x/bomb")
    assert status["state"] == "rejected", status
    assert "exceeds" in status["lastReason"] or "the limit is" in status["lastReason"]
    assert peak < 24 * MB, f"{kind}: peak {peak / MB:.1f} MB for a {BOMB_MB} MB bomb"


@pytest.mark.parametrize("kind", list(CompressionType))
@pytest.mark.parametrize("settings_overrides", [acme(max_decompressed_bytes=MB)])
async def test_a_codec_bomb_inline_is_rejected_in_bounded_memory(
    api: Api, bombs: dict[CompressionType, bytes], kind: CompressionType
) -> None:
    source = await api.create_source()
    packed = bombs[kind] if kind is not CompressionType.UNCOMPRESSED else bytes(2 * MB)
    body = {"compressedBinaryData": b64(packed), "compressionType": kind.value}
    assert (await api.push(source, "https://x/bomb", body)).status_code == 202
    peak = peak_while(api.drain)
    status = await api.status(source, "https://x/bomb")
    assert status["state"] == "rejected", status
    assert f"exceeds {MB} bytes" in status["lastReason"]
    # reading the queued operation back (orjson) takes up to ~8x the body: memory follows the
    # size of what was pushed, never the size the content would decompress to
    bound = 24 * MB + 16 * len(body["compressedBinaryData"])
    assert peak < bound, f"{kind}: peak {peak / MB:.1f} MB"


async def test_the_bombs_are_small_and_decompress_to_200_mb(
    bombs: dict[CompressionType, bytes],
) -> None:
    for kind, bomb in bombs.items():
        if kind is not CompressionType.UNCOMPRESSED:
            assert len(bomb) < MB, kind
    # 8 KB of the gzip bomb already decompress to megabytes
    assert len(zlib.decompressobj(31).decompress(bombs[CompressionType.GZIP][:8192])) > 4 * MB


# -- Content-Type -----------------------------------------------------------------------------


WRONG_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data",
]


@pytest.mark.parametrize("content_type", WRONG_TYPES)
async def test_a_wrong_content_type_on_json_endpoints_is_415(api: Api, content_type: str) -> None:
    source = await api.create_source()
    await provider_and_source(api)
    headers = {**api.auth(), "Content-Type": content_type}
    identity = orjson.dumps({"identity": ident("alice")})
    for method, url, params, content in [
        ("PUT", api.docs(source), {"documentId": "https://x/1"}, b'{"data": "x"}'),
        ("POST", api.docs(source) + "/validate", {"documentId": "https://x/1"}, b'{"data": "x"}'),
        ("PUT", identity_url(api), {}, identity),
        ("PUT", identity_url(api, "mappings"), {}, identity),
        ("DELETE", identity_url(api), {}, identity),
    ]:
        r = await api.http.request(method, url, params=params, content=content, headers=headers)
        if url.endswith("/validate"):  # the validation reports what the push would answer
            assert r.json()["items"][0]["httpStatus"] == 415, r.text
            assert r.json()["items"][0]["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"
        else:
            assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert api.runtime.store.queue.depth() == 0


async def test_content_types_the_clients_send_are_accepted(api: Api) -> None:
    source = await api.create_source()
    for n, content_type in enumerate(
        ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
         "text/json", "application/vnd.api+json", None]
    ):  # fmt: skip
        headers = (
            api.auth() if content_type is None else {**api.auth(), "Content-Type": content_type}
        )
        r = await api.http.put(
            api.docs(source), params={"documentId": f"https://x/{n}"}, content=b'{"data": "x"}',
            headers=headers,
        )  # fmt: skip
        assert r.status_code == 202, (content_type, r.text)
    # the Python client: POST /files and PUT …/batch with application/json and no body, and
    # the upload with the container's requiredHeaders (application/octet-stream)
    json_headers = {**api.auth(), "Content-Type": "application/json", "Accept": "application/json"}
    r = await api.http.post(f"/push/v1/organizations/{api.org}/files", headers=json_headers)
    assert r.status_code == 201
    created = r.json()
    assert created["requiredHeaders"]["Content-Type"] == "application/octet-stream"
    up = await api.http.put(
        created["uploadUri"], content=orjson.dumps({"addOrUpdate": []}),
        headers=created["requiredHeaders"],
    )  # fmt: skip
    assert up.status_code == 200
    r = await api.http.put(
        api.docs(source) + "/batch", params={"fileId": created["fileId"]}, headers=json_headers
    )
    assert r.status_code == 202, r.text
