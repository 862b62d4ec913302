"""The blob stores behind file containers: one contract for both, then each one's own rules.

The S3 store runs against moto's server over real HTTP, and its uploads are real ``PUT``s to
the presigned URL with exactly the required headers, as a connector sends them. moto accepts
presigned PUTs without checking their signature, signed headers or expiry, so what S3 itself
would enforce is checked here on the URL we sign, not on moto's answers.
"""

from __future__ import annotations

import asyncio
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from openpush.blobs.base import BlobStore
from openpush.blobs.local import LocalBlobStore
from openpush.blobs.registry import open_blob_store
from openpush.blobs.s3 import S3BlobStore
from openpush.errors import (
    AccessDeniedError,
    FileContainerNotFoundError,
    InvalidParameterError,
    MissingDependencyError,
    PayloadTooLargeError,
)
from openpush.settings import Settings
from tests.s3server import DUMMY_AWS_ENV, STRAY_AWS_ENV, s3_bucket, s3_server  # noqa: F401

SECRET = b"test-secret-for-upload-urls"
MIB = 1024 * 1024
REQUIRED_HEADERS = {
    "Content-Type": "application/octet-stream",
    "x-amz-server-side-encryption": "AES256",
}
BAD_IDS = ["", ".", "..", "../x", "a/b", "a\\b", "/abs", ".hidden", "x" * 129, "a b", "é", "a\x00"]


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def signed_parts(uri: str) -> tuple[str, str, str | None, str | None]:
    """``(org_id, file_id, exp, sig)`` of a local upload URL, as the upload route reads them."""
    parts = urlsplit(uri)
    _, blobstore, org_id, file_id = parts.path.split("/")
    assert blobstore == "blobstore"
    query = parse_qs(parts.query)
    return unquote(org_id), unquote(file_id), query["exp"][0], query["sig"][0]


def upload(store: BlobStore, org_id: str, file_id: str, data: bytes) -> None:
    """Upload as a client would: through the URL ``upload_target`` hands out."""
    target = store.upload_target(
        org_id, file_id, base_url="http://openpush.test", expires_at=time.time() + 600
    )
    assert target.required_headers == REQUIRED_HEADERS
    if isinstance(store, LocalBlobStore):
        org, file, exp, sig = signed_parts(target.upload_uri)
        store.verify(org, file, exp, sig, now=time.time())
        assert asyncio.run(store.write(org, file, stream([data[:3], data[3:]]))) == len(data)
    else:
        response = requests.put(
            target.upload_uri, data=data, headers=target.required_headers, timeout=30
        )
        assert response.status_code == 200, response.text


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    blobs: BlobStore
    if request.param == "local":
        blobs = LocalBlobStore(tmp_path / "files", SECRET, max_bytes=16 * MIB)
    else:
        endpoint, bucket = request.getfixturevalue("s3_bucket")
        blobs = S3BlobStore(
            bucket,
            "openpush/files",
            endpoint_url=endpoint,
            region="us-east-1",
            spool_dir=tmp_path / "spool",
        )
    yield blobs
    blobs.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "files", SECRET, max_bytes=16 * MIB)


@pytest.fixture
def s3(s3_bucket: tuple[str, str], tmp_path: Path) -> Iterator[S3BlobStore]:  # noqa: F811
    endpoint, bucket = s3_bucket
    blobs = S3BlobStore(
        bucket, "/pre/fix/", endpoint_url=endpoint, region="us-east-1", spool_dir=tmp_path
    )
    yield blobs
    blobs.close()


# -- the contract of every blob store --------------------------------------------------------


def test_upload_then_size_and_open_round_trip(store: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    upload(store, "orga", "file-1", data)
    assert store.size("orga", "file-1") == len(data)
    with store.open("orga", "file-1") as handle:
        assert handle.read() == data
        handle.seek(10)
        assert handle.read(3) == data[10:13]


def test_empty_upload_is_an_upload(store: BlobStore) -> None:
    upload(store, "orga", "empty", b"")
    assert store.size("orga", "empty") == 0
    with store.open("orga", "empty") as handle:
        assert handle.read() == b""


def test_upload_again_replaces_the_bytes(store: BlobStore) -> None:
    upload(store, "orga", "f", b"first version")
    upload(store, "orga", "f", b"second")
    assert store.size("orga", "f") == 6
    with store.open("orga", "f") as handle:
        assert handle.read() == b"second"


def test_absent_container(store: BlobStore) -> None:
    assert store.size("orga", "never-uploaded") is None
    with pytest.raises(FileContainerNotFoundError), store.open("orga", "never-uploaded"):
        pass


def test_delete_is_idempotent(store: BlobStore) -> None:
    upload(store, "orga", "f", b"bytes")
    store.delete("orga", "f")
    assert store.size("orga", "f") is None
    with pytest.raises(FileContainerNotFoundError), store.open("orga", "f"):
        pass
    store.delete("orga", "f")
    store.delete("orga", "never-uploaded")
    store.delete("unknown-org", "never-uploaded")


def test_iter_stored_lists_what_is_stored(store: BlobStore) -> None:
    assert list(store.iter_stored()) == []
    upload(store, "orga", "f1", b"1")
    upload(store, "orga", "f2.json", b"2")
    upload(store, "orgb", "f1", b"3")
    upload(store, "orgb", "gone", b"4")
    store.delete("orgb", "gone")
    stored = list(store.iter_stored())
    assert sorted((org, file) for org, file, _ in stored) == [
        ("orga", "f1"),
        ("orga", "f2.json"),
        ("orgb", "f1"),
    ]
    for _, _, modified in stored:
        assert abs(modified - time.time()) < 120


def test_organizations_are_isolated(store: BlobStore) -> None:
    upload(store, "orga", "shared-id", b"A's bytes")
    assert store.size("orgb", "shared-id") is None
    with pytest.raises(FileContainerNotFoundError), store.open("orgb", "shared-id"):
        pass
    upload(store, "orgb", "shared-id", b"B's")
    with store.open("orga", "shared-id") as a, store.open("orgb", "shared-id") as b:
        assert (a.read(), b.read()) == (b"A's bytes", b"B's")
    store.delete("orgb", "shared-id")
    assert store.size("orga", "shared-id") == len(b"A's bytes")


def test_malformed_ids_are_refused(store: BlobStore) -> None:
    """Ids that are not plain names never reach a path or a key (no traversal, no escape)."""
    upload(store, "orga", "f", b"kept")
    ids = [(bad, "f") for bad in BAD_IDS] + [("orga", bad) for bad in BAD_IDS]
    for org_id, file_id in ids:
        with pytest.raises(FileContainerNotFoundError):
            store.upload_target(org_id, file_id, base_url="http://x", expires_at=time.time() + 60)
        with pytest.raises(FileContainerNotFoundError):
            store.size(org_id, file_id)
        with pytest.raises(FileContainerNotFoundError), store.open(org_id, file_id):
            pass
        with pytest.raises(FileContainerNotFoundError):
            store.delete(org_id, file_id)
    assert [(o, f) for o, f, _ in store.iter_stored()] == [("orga", "f")]


# -- the local store: signed URLs --------------------------------------------------------------


def test_local_upload_uri_shape(local: LocalBlobStore) -> None:
    target = local.upload_target("orga", "f-1", base_url="http://h:8000/", expires_at=1234.9)
    assert target.upload_uri.startswith("http://h:8000/blobstore/orga/f-1?exp=1234&sig=")
    assert target.required_headers == REQUIRED_HEADERS


def test_local_signature_round_trip(local: LocalBlobStore) -> None:
    target = local.upload_target("orga", "f", base_url="http://h", expires_at=time.time() + 60)
    org, file, exp, sig = signed_parts(target.upload_uri)
    local.verify(org, file, exp, sig, now=time.time())
    local.verify(org, file, exp, sig.upper(), now=time.time())
    assert exp is not None
    local.verify(org, file, exp, sig, now=float(exp))  # valid up to and including exp


def test_local_signature_depends_on_the_secret(tmp_path: Path, local: LocalBlobStore) -> None:
    other = LocalBlobStore(tmp_path / "files", b"another secret", max_bytes=MIB)
    target = other.upload_target("orga", "f", base_url="http://h", expires_at=time.time() + 60)
    org, file, exp, sig = signed_parts(target.upload_uri)
    with pytest.raises(AccessDeniedError, match="does not match"):
        local.verify(org, file, exp, sig, now=time.time())


def _tamper(sig: str) -> str:
    return ("0" if sig[0] != "0" else "1") + sig[1:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o, f, e, s: (o, f, e, _tamper(s)), "does not match"),
        (lambda o, f, e, s: ("orgb", f, e, s), "does not match"),
        (lambda o, f, e, s: (o, "other-file", e, s), "does not match"),
        (lambda o, f, e, s: (o, f, str(int(e) + 3600), s), "does not match"),
        (lambda o, f, e, s: (o, f, None, s), "not signed"),
        (lambda o, f, e, s: (o, f, e, None), "not signed"),
        (lambda o, f, e, s: (o, f, "", ""), "not signed"),
        (lambda o, f, e, s: (o, f, "soon", s), "malformed expiry"),
        (lambda o, f, e, s: (o, f, f"-{e}", s), "malformed expiry"),
        (lambda o, f, e, s: (o, f, f"{e}.5", s), "malformed expiry"),
        (lambda o, f, e, s: (o, f, e, s[:-1]), "malformed signature"),
        (lambda o, f, e, s: (o, f, e, "é" * 64), "malformed signature"),
        (lambda o, f, e, s: (o, f, e, "z" * 64), "malformed signature"),
    ],
    ids=[
        "forged-sig",
        "wrong-org",
        "wrong-file",
        "tampered-exp",
        "no-exp",
        "no-sig",
        "empty",
        "word-exp",
        "negative-exp",
        "fractional-exp",
        "short-sig",
        "non-ascii-sig",
        "non-hex-sig",
    ],
)
def test_local_verify_refuses(local: LocalBlobStore, change, message: str) -> None:
    target = local.upload_target("orga", "f", base_url="http://h", expires_at=time.time() + 60)
    org, file, exp, sig = change(*signed_parts(target.upload_uri))
    with pytest.raises(AccessDeniedError, match=message):
        local.verify(org, file, exp, sig, now=time.time())


def test_local_verify_refuses_expired_urls(local: LocalBlobStore) -> None:
    expires_at = time.time() + 60
    target = local.upload_target("orga", "f", base_url="http://h", expires_at=expires_at)
    org, file, exp, sig = signed_parts(target.upload_uri)
    with pytest.raises(AccessDeniedError, match="expired"):
        local.verify(org, file, exp, sig, now=expires_at + 1)


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_local_malformed_ids_never_touch_the_disk(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "deep" / "files"
    blobs = LocalBlobStore(root, SECRET, max_bytes=MIB)
    for org_id, file_id in ((bad, "f"), ("orga", bad)):
        with pytest.raises(FileContainerNotFoundError):
            blobs.verify(org_id, file_id, "9999999999", "0" * 64, now=0)
        with pytest.raises(FileContainerNotFoundError):
            await blobs.write(org_id, file_id, stream([b"escaped"]))
    assert list(tmp_path.iterdir()) == []


# -- the local store: writing ----------------------------------------------------------------


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_local_write_stops_at_the_limit_without_buffering(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, SECRET, max_bytes=16 * MIB)
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(64):
            consumed += 1
            yield bytes(MIB)

    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError, match=str(16 * MIB)):
            await blobs.write("orga", "big", body())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert consumed == 17  # 16 chunks fit exactly; the 17th is one byte too many
    assert peak < 8 * MIB
    assert _leftovers(tmp_path) == []
    assert blobs.size("orga", "big") is None


async def test_local_write_up_to_the_limit_is_accepted(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, SECRET, max_bytes=10)
    assert await blobs.write("orga", "f", stream([b"12345", b"67890"])) == 10
    with pytest.raises(PayloadTooLargeError):
        await blobs.write("orga", "g", stream([b"12345", b"678901"]))
    assert _leftovers(tmp_path) == ["orga/f"]


async def test_local_refused_upload_keeps_the_previous_bytes(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, SECRET, max_bytes=10)
    await blobs.write("orga", "f", stream([b"original"]))
    with pytest.raises(PayloadTooLargeError):
        await blobs.write("orga", "f", stream([b"far too long for the limit"]))
    with blobs.open("orga", "f") as handle:
        assert handle.read() == b"original"
    assert _leftovers(tmp_path) == ["orga/f"]


async def test_local_broken_upload_leaves_no_temp_file(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, SECRET, max_bytes=MIB)

    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.write("orga", "f", body())
    assert _leftovers(tmp_path) == []
    assert blobs.size("orga", "f") is None


async def test_local_files_are_private(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path, SECRET, max_bytes=MIB)
    await blobs.write("orga", "f", stream([b"secret"]))
    assert (tmp_path / "orga" / "f").stat().st_mode & 0o077 == 0


async def test_local_iter_stored_skips_uploads_in_progress(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "files", SECRET, max_bytes=MIB)
    await blobs.write("orga", "done", stream([b"x"]))
    (tmp_path / "files" / "orga" / ".partial.0123abcd.part").write_bytes(b"half")
    (tmp_path / "files" / "orga" / "subdir").mkdir()
    (tmp_path / "files" / "stray-file").write_bytes(b"not an org")
    (tmp_path / "files" / ".hidden-org").mkdir()
    (tmp_path / "files" / ".hidden-org" / "f").write_bytes(b"not ours")
    assert [(o, f) for o, f, _ in blobs.iter_stored()] == [("orga", "done")]
    mtime = (tmp_path / "files" / "orga" / "done").stat().st_mtime
    assert next(iter(blobs.iter_stored()))[2] == mtime


def test_local_iter_stored_without_root(tmp_path: Path) -> None:
    assert list(LocalBlobStore(tmp_path / "nothing", SECRET, max_bytes=1).iter_stored()) == []


def test_local_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        LocalBlobStore(tmp_path, b"", max_bytes=1)


# -- the S3 store ----------------------------------------------------------------------------


def _objects(blobs: S3BlobStore) -> dict[str, dict]:
    listing = blobs._client.list_objects_v2(Bucket=blobs.bucket)
    return {obj["Key"]: obj for obj in listing.get("Contents", [])}


def test_s3_keys_live_under_the_prefix(s3: S3BlobStore, s3_bucket: tuple[str, str]) -> None:  # noqa: F811
    upload(s3, "orga", "f", b"bytes")
    assert list(_objects(s3)) == ["pre/fix/orga/f"]
    endpoint, bucket = s3_bucket
    bare = S3BlobStore(bucket, endpoint_url=endpoint, region="us-east-1")
    try:
        upload(bare, "orga", "g", b"bytes")
        assert sorted(_objects(bare)) == ["orga/g", "pre/fix/orga/f"]
        assert [(o, f) for o, f, _ in bare.iter_stored()] == [("orga", "g")]
    finally:
        bare.close()


def test_s3_presigned_put_signs_the_required_headers(s3: S3BlobStore) -> None:
    target = s3.upload_target("orga", "f", base_url="http://ignored", expires_at=time.time() + 900)
    parts = urlsplit(target.upload_uri)
    assert not target.upload_uri.startswith("http://ignored")
    assert parts.path.endswith(f"/{s3.bucket}/pre/fix/orga/f")  # path-style addressing
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    signed = set(query["X-Amz-SignedHeaders"][0].split(";"))
    assert {"content-type", "x-amz-server-side-encryption"} <= signed
    assert 890 <= int(query["X-Amz-Expires"][0]) <= 900
    response = requests.put(
        target.upload_uri, data=b"payload", headers=target.required_headers, timeout=30
    )
    assert response.status_code == 200
    head = s3._client.head_object(Bucket=s3.bucket, Key="pre/fix/orga/f")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/octet-stream"


def test_s3_expiry_in_the_past_still_signs_a_minimal_url(s3: S3BlobStore) -> None:
    target = s3.upload_target("orga", "f", base_url="", expires_at=time.time() - 100)
    assert parse_qs(urlsplit(target.upload_uri).query)["X-Amz-Expires"] == ["1"]


def test_s3_iter_stored_skips_foreign_objects(s3: S3BlobStore) -> None:
    upload(s3, "orga", "f", b"mine")
    for key in ("pre/fix/loose", "pre/fix/a/b/c", "pre/fix/orga/.hidden", "elsewhere/orga/g"):
        s3._client.put_object(Bucket=s3.bucket, Key=key, Body=b"not a container")
    assert [(o, f) for o, f, _ in s3.iter_stored()] == [("orga", "f")]


def test_s3_open_spools_to_a_temporary_file(s3: S3BlobStore, tmp_path: Path) -> None:
    data = bytes(3 * MIB)
    upload(s3, "orga", "f", data)
    with s3.open("orga", "f") as handle:
        assert handle.tell() == 0
        assert handle.read() == data
    assert handle.closed
    assert list(tmp_path.iterdir()) == []


def test_s3_without_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependencyError, match=r"openpush\[s3\]"):
        S3BlobStore("bucket")


# -- choosing a store --------------------------------------------------------------------------


def test_registry_defaults_to_local_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, file_container_max_bytes=1234)
    blobs = open_blob_store(settings, SECRET)
    assert isinstance(blobs, LocalBlobStore)
    assert (blobs.root, blobs.max_bytes) == (tmp_path / "files", 1234)


def test_registry_file_url(tmp_path: Path) -> None:
    blobs = open_blob_store(Settings(data_dir=tmp_path, blobs="file:///x"), SECRET)
    assert isinstance(blobs, LocalBlobStore)
    assert blobs.root == Path("/x")


def test_registry_s3_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STRAY_AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path, blobs="s3://b/p", s3_endpoint_url="http://s3.test")
    blobs = open_blob_store(settings, SECRET)
    try:
        assert isinstance(blobs, S3BlobStore)
        assert (blobs.bucket, blobs.prefix, blobs.spool_dir) == ("b", "p", tmp_path / "tmp")
        target = blobs.upload_target("o", "f", base_url="", expires_at=time.time() + 60)
        assert target.upload_uri.startswith("http://s3.test/b/p/o/f?")
    finally:
        blobs.close()
    nested = open_blob_store(settings.replace(blobs="s3://b/deep/prefix/"), SECRET)
    assert isinstance(nested, S3BlobStore)
    assert nested.prefix == "deep/prefix"
    nested.close()


@pytest.mark.parametrize("url", ["ftp://x", "s3://", "file://remote-host/x", "postgres://db"])
def test_registry_rejects_unknown_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidParameterError) as refused:
        open_blob_store(Settings(data_dir=tmp_path, blobs=url), SECRET)
    if url == "ftp://x":
        assert "s3://bucket/prefix" in refused.value.message
        assert "file:" in refused.value.message
