"""Batches against real server processes: the official Python client's batchUpdateDocuments,
a 256 MB batch under a memory bound, kill -9 in the middle of a batch, and S3 containers."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import requests
from push_api_clientpy import BatchDelete, BatchUpdate, DocumentBuilder

from tests.acceptance.conftest import OpenpushServer, running_server
from tests.acceptance.test_official_client import official_source
from tests.s3server import s3_bucket, s3_server  # noqa: F401

pytestmark = pytest.mark.acceptance

WORDS = [f"w{n:04d}" for n in range(3000)]


def text(rng: random.Random, size: int = 1000) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        word = WORDS[min(int(rng.paretovariate(1.2)) - 1, len(WORDS) - 1)]
        out.append(word)
        length += len(word) + 1
    return " ".join(out)


def item(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "documentId": f"https://corpus.test/doc/{n}",
        "data": text(rng),
        "title": f"Document {n}",
        "author": rng.choice(["ann", "bob", "cid", "dee"]),
        "permissions": [
            {
                "allowAnonymous": False,
                "allowedPermissions": [
                    {"identity": f"user{rng.randrange(5000)}@corpus.test", "identityType": "User"},
                    {"identity": f"group{rng.randrange(300)}", "identityType": "Group"},
                ],
            }
        ],
    }


def write_batch(path: Path, count: int | None = None, min_bytes: int = 0) -> int:
    """Write ``{"addOrUpdate": [...]}`` to ``path`` incrementally; returns the item count."""
    rng = random.Random(7)
    n = 0
    with path.open("wb") as out:
        out.write(b'{"addOrUpdate": [')
        while (count is not None and n < count) or (count is None and out.tell() < min_bytes):
            out.write((b"," if n else b"") + orjson.dumps(item(rng, n)))
            n += 1
        out.write(b"]}")
    return n


def upload_batch(server: OpenpushServer, source_id: str, path: Path) -> str:
    created = server.http.post(server.url(f"/push/v1/organizations/{server.org}/files"))
    assert created.status_code == 201, created.text
    container = created.json()
    with path.open("rb") as body:  # streamed from disk, never read whole
        upload = requests.put(
            container["uploadUri"], data=body, headers=container["requiredHeaders"], timeout=300
        )
    assert upload.status_code == 200, upload.text
    response = server.http.put(
        server.push_url(source_id, "/documents/batch"), params={"fileId": container["fileId"]}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["batchId"])


def batch_status(server: OpenpushServer, source_id: str, batch_id: str, **params: Any) -> dict:
    response = server.http.get(
        server.push_url(source_id, f"/documents/batches/{batch_id}"), params=params
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def adds_per_document(server: OpenpushServer, source_id: str, batch_id: str) -> dict[str, int]:
    """How many times the batch's log lists each documentId as added (every page)."""
    adds: dict[str, int] = {}
    page = 0
    while True:
        listed = batch_status(server, source_id, batch_id, page=page, perPage=1000)
        for entry in listed["items"]:
            if entry["operation"] == "ADD":
                adds[entry["documentId"]] = adds.get(entry["documentId"], 0) + 1
        if not listed["hasMore"]:
            return adds
        page += 1


def wait_batch(server: OpenpushServer, source_id: str, batch_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = batch_status(server, source_id, batch_id, perPage=1)
        if status["state"] in {"COMPLETED", "FAILED"}:
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"batch not done in {timeout}s: {status}\n{server.stderr()[-3000:]}")
        time.sleep(0.1)


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_official_client_batch_update_documents(openpush: OpenpushServer) -> None:
    source, _ = official_source(openpush)
    created = source.create("client-batches", "SHARED")
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    stale = "https://example.com/batch/stale"
    openpush.put_document(source_id, stale, {"data": "to be deleted by the batch"})
    builders = [
        DocumentBuilder(f"https://example.com/batch/{n}", f"Batch item {n}")
        .withData(f"granite sample number {n}")
        .withAuthor("Batcher")
        for n in range(40)
    ]
    response = source.batchUpdateDocuments(
        source_id, BatchUpdate(addOrUpdate=builders, delete=[BatchDelete(stale, False)])
    )
    assert response.status_code == 202, response.text
    status = wait_batch(openpush, source_id, response.json()["batchId"], timeout=30)
    assert status["state"] == "COMPLETED", status
    openpush.wait_for_state(source_id, stale, "deleted")
    assert status["counts"] == {"COMPLETED": 41}
    found = openpush.search_all(q="granite")
    assert found["totalCount"] == 40
    assert {r["title"] for r in found["results"]} >= {"Batch item 0", "Batch item 39"}


class AnonSampler(threading.Thread):
    """The peak of a process's anonymous memory (its own heap, not mapped index files)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kib(pid, "RssAnon")
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_kib(self.pid, "RssAnon"))


def test_a_256_mb_batch_is_processed_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    count = write_batch(path, min_bytes=256 * 1024 * 1024 - 64 * 1024)
    assert 250 * 1024 * 1024 < path.stat().st_size <= 256 * 1024 * 1024
    with running_server(tmp_path / "server") as server:
        source_id = server.create_source("big", "SHARED")
        warm = server.put_document(source_id, "https://corpus.test/warm", {"data": "warm up"})
        assert warm["orderingId"]
        server.wait_for_state(source_id, "https://corpus.test/warm", "indexed")
        idle, idle_anon = rss_kib(server.pid, "VmRSS"), rss_kib(server.pid, "RssAnon")
        sampler = AnonSampler(server.pid)
        sampler.start()
        batch_id = upload_batch(server, source_id, path)
        status = wait_batch(server, source_id, batch_id, timeout=900)
        sampler.done.set()
        sampler.join()
        peak = rss_kib(server.pid, "VmHWM")
        assert status["state"] == "COMPLETED", status
        assert status["counts"] == {"COMPLETED": count}
        assert server.search_all(number_of_results=0)["totalCount"] == count + 1
    anon_growth = (sampler.peak - idle_anon) / 1024
    print(
        f"256 MB batch: {count} items; RSS idle {idle / 1024:.0f} MB, peak {peak / 1024:.0f} MB;"
        f" anonymous memory grew by {anon_growth:.0f} MB at most"
    )
    # The server streams the file: its own memory grows by far less than the file's 256 MB
    # (the index writer's 64 MB budget and two chunks in flight). Peak RSS also counts index
    # segment files mapped while tantivy merges, which vary from run to run.
    assert anon_growth < 180, f"anonymous memory grew by {anon_growth:.0f} MB"
    assert peak / 1024 <= 350, f"peak RSS {peak / 1024:.0f} MB (idle {idle / 1024:.0f} MB)"


def test_kill_9_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "batch.json"
    count = write_batch(path, count=12_000)
    with running_server(tmp_path / "server") as server:
        server.env["OPENPUSH_BATCH_CHUNK_SIZE"] = "500"
        server.restart()
        source_id = server.create_source("crash", "SHARED")
        batch_id = upload_batch(server, source_id, path)
        deadline = time.monotonic() + 60
        while batch_status(server, source_id, batch_id, perPage=1)["processed"] < 1500:
            assert time.monotonic() < deadline, "the batch never started"
            time.sleep(0.01)
        server.kill()
        server.start()
        status = wait_batch(server, source_id, batch_id, timeout=120)
        assert status["state"] == "COMPLETED", status
        assert status["processed"] == count
        assert status["counts"] == {"COMPLETED": count}
        assert server.search_all(number_of_results=0)["totalCount"] == count
        adds = adds_per_document(server, source_id, batch_id)
        assert len(adds) == count
        assert set(adds.values()) == {1}, "an item was logged as added twice"


def test_s3_file_containers_end_to_end(
    tmp_path: Path,
    s3_bucket: tuple[str, str],  # noqa: F811
) -> None:
    endpoint, bucket = s3_bucket
    root = tmp_path / "server"
    root.mkdir()
    server = OpenpushServer(root)
    server.env.update(
        {"OPENPUSH_BLOBS": f"s3://{bucket}/containers", "OPENPUSH_S3_ENDPOINT_URL": endpoint}
    )
    try:
        server.start()
        source, _ = official_source(server)
        source_id = source.create("s3-backed", "SHARED").json()["id"]
        created = server.http.post(server.url(f"/push/v1/organizations/{server.org}/files"))
        assert created.json()["uploadUri"].startswith(endpoint)
        builders = [
            DocumentBuilder(f"https://example.com/s3/{n}", f"S3 item {n}").withData("basalt")
            for n in range(5)
        ]
        response = source.batchUpdateDocuments(source_id, BatchUpdate(builders, []))
        assert response.status_code == 202, response.text
        status = wait_batch(server, source_id, response.json()["batchId"], timeout=30)
        assert status["counts"] == {"COMPLETED": 5}, status
        assert server.search_all(q="basalt")["totalCount"] == 5
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        consumed = f"containers/{server.org}/{status['fileIds'][0]}"
        assert consumed not in keys, "a consumed container must be deleted from the bucket"
    finally:
        server.close()
    assert os.environ.get("AWS_ACCESS_KEY_ID")  # the moto fixture's credentials reached us
