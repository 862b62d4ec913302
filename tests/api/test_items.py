"""Items through the real API and pipeline: content, replacement, ordering, deletes."""

from __future__ import annotations

import gzip
import lzma
import zlib

import pytest

from tests.api.conftest import ORG, Api, allow, b64

PUBLIC = allow(anonymous=True)


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


async def raw_of(api: Api, uri: str) -> dict:
    result = await api.search(view_all=True, aq=f'@uri=="{uri}"')
    assert result["totalCount"] == 1, result
    return result["results"][0]["raw"]


async def test_push_is_accepted_then_indexed_and_searchable(api: Api) -> None:
    source = await api.create_source()
    r = await api.push(
        source, "https://x/1", {"title": "Hello", "data": "zebra crossing", "permissions": PUBLIC}
    )
    assert r.status_code == 202
    assert (await api.status(source, "https://x/1"))["state"] == "accepted"
    api.drain()
    status = await api.status(source, "https://x/1")
    assert status["state"] == "indexed"
    assert status["lastResult"] == "COMPLETED"
    assert status["orderingId"] == str(r.json()["orderingId"])
    assert await api.search_as(q="zebra") == {"https://x/1"}


async def test_second_push_replaces_the_whole_item(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"title": "v1", "author": "Alice", "data": "first"})
    await api.push(source, "https://x/1", {"title": "v2", "data": "second"})
    api.drain()
    raw = await raw_of(api, "https://x/1")
    assert raw["title"] == "v2"
    assert "author" not in raw
    assert await api.search_as(q="first") == set()
    assert await api.search_as(q="second") == {"https://x/1"}


@pytest.mark.parametrize(
    ("kind", "pack"),
    [
        ("ZLIB", zlib.compress),
        ("DEFLATE", _deflate),
        ("GZIP", gzip.compress),
        ("LZMA", lzma.compress),
        ("UNCOMPRESSED", lambda data: data),
    ],
)
async def test_every_compression_type_yields_the_same_text(api: Api, kind: str, pack) -> None:
    source = await api.create_source(visibility="SHARED")
    content = b"the quick brown fox jumps over the lazy dog"
    in_body = {"compressedBinaryData": b64(pack(content)), "compressionType": kind}
    await api.push(source, "https://x/body", in_body)
    await api.push(
        source,
        "https://x/query",
        {"compressedBinaryData": b64(pack(content))},
        compressionType=kind,
    )
    api.drain()
    assert await api.search_as(q='"lazy dog"') == {"https://x/body", "https://x/query"}


async def test_corrupt_content_is_rejected_in_the_log(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(
        source,
        "https://x/bad",
        {"compressedBinaryData": b64(b"not zlib at all"), "compressionType": "ZLIB"},
    )
    api.drain()
    status = await api.status(source, "https://x/bad")
    assert status["state"] == "rejected"
    assert status["lastResult"] == "REJECTED"
    assert "zlib" in status["lastReason"].lower() or "decompress" in status["lastReason"].lower()


async def test_html_title_is_extracted_and_title_falls_back_to_uri(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    html = b"<html><head><title>Release notes</title></head><body><p>All fixed</p></body></html>"
    await api.push(
        source,
        "https://x/page",
        {"compressedBinaryData": b64(zlib.compress(html)), "fileExtension": ".html"},
    )
    await api.push(source, "https://x/untitled", {"data": "nothing here"})
    api.drain()
    result = await api.search(view_all=True, q="fixed")
    assert [r["title"] for r in result["results"]] == ["Release notes"]
    assert result["results"][0]["raw"]["filetype"] == "html"
    assert (await raw_of(api, "https://x/untitled"))["title"] == "https://x/untitled"


async def test_unconverted_extension_is_indexed_by_metadata_with_a_warning(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(
        source,
        "https://x/file.pdf",
        {
            "title": "Annual plan",
            "compressedBinaryData": b64(b"%PDF-1.4"),
            "compressionType": "UNCOMPRESSED",
            "fileExtension": ".pdf",
        },
    )
    api.drain()
    status = await api.status(source, "https://x/file.pdf")
    assert (status["state"], status["lastResult"]) == ("indexed", "WARNING")
    assert ".pdf" in status["lastReason"]
    assert await api.search_as(q="annual") == {"https://x/file.pdf"}


async def test_metadata_without_a_field_is_kept_out_of_the_index_with_a_warning(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"data": "x", "author": "Ann", "colour": "blue"})
    api.drain()
    status = await api.status(source, "https://x/1")
    assert status["lastResult"] == "WARNING"
    assert "colour" in status["lastReason"]
    raw = await raw_of(api, "https://x/1")
    assert raw["author"] == "Ann"
    assert "colour" not in raw


async def test_metadata_matching_a_created_field_is_typed_and_queryable(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    r = await api.http.post(
        f"/rest/organizations/{ORG}/indexes/fields/batch/create",
        headers=api.auth(),
        json=[
            {"name": "pages", "type": "LONG"},
            {"name": "colour", "type": "STRING", "facet": True},
        ],
    )
    assert r.status_code == 204, r.text
    await api.push(source, "https://x/1", {"data": "x", "pages": "12", "colour": "Blue"})
    await api.push(source, "https://x/2", {"data": "y", "pages": 40, "colour": "red"})
    api.drain()
    assert (await api.status(source, "https://x/1"))["lastResult"] == "COMPLETED"
    assert (await raw_of(api, "https://x/1"))["pages"] == 12
    assert await api.search_as_view_all(aq="@pages>20") == {"https://x/2"}
    assert await api.search_as_view_all(aq="@colour==blue") == {"https://x/1"}


async def test_older_ordering_id_never_overrides_a_newer_one(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"title": "new"}, orderingId=20)
    await api.push(source, "https://x/1", {"title": "old"}, orderingId=10)
    await api.delete(source, "https://x/1", orderingId=15)
    api.drain()
    assert (await raw_of(api, "https://x/1"))["title"] == "new"
    results = {e["result"] for e in await api.logs() if e["id"] == "https://x/1"}
    assert results == {"COMPLETED", "SKIPPED"}


async def test_arrival_order_does_not_matter_across_rounds(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"title": "new"}, orderingId=20)
    api.drain()
    await api.push(source, "https://x/1", {"title": "old"}, orderingId=10)
    api.drain()
    assert (await raw_of(api, "https://x/1"))["title"] == "new"
    status = await api.status(source, "https://x/1")
    assert (status["state"], status["orderingId"]) == ("indexed", "20")


async def test_ordering_ids_beyond_64_bits_are_compared_as_numbers(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    big = 19457712023373612345
    await api.push(source, "https://x/1", {"title": "bigger"}, orderingId=big + 1)
    await api.push(source, "https://x/1", {"title": "big"}, orderingId=big)
    await api.push(source, "https://x/1", {"title": "small"}, orderingId=9)
    api.drain()
    assert (await raw_of(api, "https://x/1"))["title"] == "bigger"
    assert (await api.status(source, "https://x/1"))["orderingId"] == str(big + 1)


async def test_equal_ordering_ids_apply_in_arrival_order(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/1", {"title": "first"}, orderingId=5)
    await api.push(source, "https://x/1", {"title": "second"}, orderingId=5)
    api.drain()
    assert (await raw_of(api, "https://x/1"))["title"] == "second"


async def test_delete_children_removes_by_uri_prefix(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    for uri in (
        "file://folder",
        "file://folder/a.txt",
        "file://folder/sub/b.txt",
        "file://folder2/c.txt",
        "file://other/d.txt",
    ):
        await api.push(source, uri, {"data": "shared words"})
    api.drain()
    await api.delete(source, "file://folder", deleteChildren="true")
    api.drain()
    assert await api.search_as_view_all(q="shared") == {
        "file://folder2/c.txt",
        "file://other/d.txt",
    }
    assert (await api.status(source, "file://folder/sub/b.txt"))["state"] == "deleted"


async def test_delete_without_children_removes_only_the_item(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "file://folder", {"data": "words"})
    await api.push(source, "file://folder/a.txt", {"data": "words"})
    api.drain()
    r = await api.delete(source, "file://folder", deleteChildren="false")
    assert r.status_code == 202
    api.drain()
    assert await api.search_as_view_all(q="words") == {"file://folder/a.txt"}


async def test_delete_older_than_and_its_low_water_mark(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")
    await api.push(source, "https://x/old", {"data": "w"}, orderingId=100)
    await api.push(source, "https://x/new", {"data": "w"}, orderingId=200)
    api.drain()
    r = await api.http.delete(
        api.docs(source) + "/olderthan",
        headers=api.auth(),
        params={"orderingId": 200, "queueDelay": 0},
    )
    assert r.status_code == 202
    api.drain()
    assert await api.search_as_view_all(q="w") == {"https://x/new"}
    await api.push(source, "https://x/late", {"data": "w"}, orderingId=150)
    api.drain()
    status = await api.status(source, "https://x/late")
    assert status["lastResult"] == "REJECTED"
    assert "delete-older-than" in status["lastReason"]
    assert await api.search_as_view_all(q="w") == {"https://x/new"}


async def test_source_status_records_activities(api: Api) -> None:
    source = await api.create_source()
    url = f"/push/v1/organizations/{ORG}/sources/{source}/status"
    r = await api.http.post(url, params={"statusType": "rebuild"}, headers=api.auth())
    assert r.status_code == 201
    assert r.json()["statusType"] == "REBUILD"
    model = (
        await api.http.get(f"/rest/organizations/{ORG}/sources/{source}", headers=api.auth())
    ).json()
    assert model["information"]["sourceStatus"]["type"] == "REFRESHING"
    assert model["information"]["sourceStatus"]["activity"] == "REBUILD"
    await api.http.post(url, params={"statusType": "IDLE"}, headers=api.auth())
    model = (
        await api.http.get(f"/rest/organizations/{ORG}/sources/{source}", headers=api.auth())
    ).json()
    assert model["information"]["sourceStatus"]["type"] == "IDLE"
    assert api.runtime.store.queue.depth() == 0
