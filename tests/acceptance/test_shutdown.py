"""Graceful shutdown: SIGTERM to a real ``openpush serve`` in the middle of a batch.

The server must stop accepting connections, stop the batch at a chunk boundary, exit 0
within a bounded time, and, once started again, finish the batch with every item applied
(and logged) exactly once. In process: repeated worker stops inside one batch lose nothing.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from pathlib import Path

import httpx
import pytest
import requests

from openpush.api.app import create_app
from openpush.pipeline.worker import Worker
from openpush.runtime import Runtime
from openpush.storage.base import LogQuery
from tests.acceptance.conftest import running_server
from tests.acceptance.test_batches import (
    adds_per_document,
    batch_status,
    upload_batch,
    wait_batch,
    write_batch,
)
from tests.api.conftest import ORG, Api, make_settings

pytestmark = pytest.mark.acceptance

COUNT = 4_000
CHUNK = 200
EXIT_WITHIN = 15.0  # seconds from SIGTERM to exit: one chunk and the closes, with room


def test_sigterm_mid_batch_exits_0_and_the_batch_resumes_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    count = write_batch(path, count=COUNT)
    with running_server(tmp_path / "server") as server:
        server.env["OPENPUSH_BATCH_CHUNK_SIZE"] = str(CHUNK)
        server.restart()
        source_id = server.create_source("graceful", "SHARED")
        batch_id = upload_batch(server, source_id, path)
        deadline = time.monotonic() + 60
        while batch_status(server, source_id, batch_id, perPage=1)["processed"] < 3 * CHUNK:
            assert time.monotonic() < deadline, "the batch never started"
            time.sleep(0.01)

        process = server.process
        assert process is not None
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        refused_at = None
        while process.poll() is None and time.monotonic() - signalled < EXIT_WITHIN + 5:
            try:
                answer = requests.get(server.url("/health"), timeout=1)
            except requests.ConnectionError:
                refused_at = refused_at or time.monotonic()
            else:
                # served before uvicorn noticed the signal; never once it stopped accepting
                assert refused_at is None, "a request was served after the server stopped"
                assert answer.status_code in {200, 503}, answer.status_code
            time.sleep(0.02)
        exited_after = time.monotonic() - signalled
        code = process.wait(5)
        server.process = None
        stderr = server.stderr()
        assert code == 0, f"exit code {code}; stderr:\n{stderr[-3000:]}"
        assert exited_after < EXIT_WITHIN, f"took {exited_after:.1f}s to exit"
        assert "Traceback" not in stderr, stderr[-3000:]
        # the worker stopped at a chunk boundary rather than finishing the batch first
        assert f"stopped in the middle of batch {batch_id}" in stderr, stderr[-3000:]

        server.start()
        status = wait_batch(server, source_id, batch_id, timeout=120)
        assert status["state"] == "COMPLETED", status
        assert status["processed"] == count
        assert status["counts"] == {"COMPLETED": count}
        assert server.search_all(number_of_results=0)["totalCount"] == count
        adds = adds_per_document(server, source_id, batch_id)
        assert len(adds) == count
        assert set(adds.values()) == {1}, "an item was logged as added twice"

        # a stop with nothing in flight is just as clean
        process = server.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(EXIT_WITHIN) == 0
        server.process = None


def test_repeated_graceful_stops_in_one_batch_lose_nothing(tmp_path: Path) -> None:
    """Six stops in the middle of one batch: a graceful stop is not a failed attempt (five
    failed attempts drop an operation), so the batch still completes, each entry once."""
    runtime = Runtime.open(make_settings(tmp_path, batch_chunk_size=25))
    try:
        count = 1500
        source, batch_id = asyncio.run(_submit_batch(runtime, count))
        transfers = runtime.store.transfers
        progress = 0
        for _ in range(6):
            worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
            worker.start()
            deadline = time.monotonic() + 30
            while transfers.get_batch(ORG, source, batch_id).processed <= progress + 25:
                assert time.monotonic() < deadline, "the batch made no progress"
                time.sleep(0.002)
            assert worker.stop(), "the worker did not stop at a chunk boundary"
            batch = transfers.get_batch(ORG, source, batch_id)
            assert batch.state.value == "PROCESSING", "stopped too late to test anything"
            assert batch.processed % 25 == 0 and batch.processed > progress
            progress = batch.processed
            del worker  # its index writer holds tantivy's lock until it is freed
            gc.collect()
        worker = Worker(runtime.store, runtime.index, runtime.settings, blobs=runtime.blobs)
        worker.drain()
        worker.stop()
        batch = transfers.get_batch(ORG, source, batch_id)
        assert batch.state.value == "COMPLETED", batch
        assert batch.processed == count and batch.counts == {"COMPLETED": count}
        adds: list[str] = []
        for page in range(100):
            logged, more = runtime.store.logs.query(
                ORG, LogQuery(0, time.time() + 1, request_id=batch_id, page=page, per_page=1000)
            )
            adds += [e.document_id for e in logged if e.operation == "ADD"]
            if not more:
                break
        assert sorted(adds) == sorted(f"https://x.test/{n}" for n in range(count))
    finally:
        runtime.close()


async def _submit_batch(runtime: Runtime, count: int) -> tuple[str, str]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as http:
        api = Api(http=http, runtime=runtime)
        source = await api.create_source("stops", "SHARED")
        entries = [{"documentId": f"https://x.test/{n}", "data": f"n{n}"} for n in range(count)]
        r = await api.batch(source, {"addOrUpdate": entries})
        assert r.status_code == 202, r.text
        return source, str(r.json()["batchId"])
