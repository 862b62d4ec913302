"""``/health``, ``/ready`` and ``/metrics`` of real ``openpush serve`` processes."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

ADDED = ("openpush_operations_total", (("operation", "ADD"), ("result", "COMPLETED")))
LATENCY = ("openpush_pipeline_latency_seconds_count", (("kind", "ADD"),))
DEPTH = ("openpush_queue_depth", ())
WORKER = ("openpush_worker_running", ())


def scrape(server: OpenpushServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(server.url("/metrics"), timeout=10)  # no credentials
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_a_serving_process_is_ready_and_counts_its_pipeline(openpush: OpenpushServer) -> None:
    assert requests.get(openpush.url("/health"), timeout=10).json() == {"status": "ok"}
    ready = requests.get(openpush.url("/ready"), timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["worker"] == {"ok": True, "enabled": True}

    before = scrape(openpush)
    assert before[WORKER] == 1
    assert before.get(ADDED, 0) == 0  # a fresh process
    source = openpush.create_source("metrics", visibility="SHARED")
    docs = [f"https://metrics.test/{n}" for n in range(3)]
    for doc in docs:
        openpush.put_document(source, doc, {"data": "counted"})
    openpush.wait_for_all(source, docs, "indexed")
    deadline = time.monotonic() + 10
    while (after := scrape(openpush)).get(ADDED, 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the counter moves once the round's transaction is durable
    assert after[ADDED] == 3
    assert after[LATENCY] == 3
    assert after[DEPTH] == 0
    route = "/push/v1/organizations/{organizationId}/sources/{sourceId}/documents"
    put = ("openpush_http_requests_total", (("method", "PUT"), ("route", route), ("status", "202")))
    assert after[put] == 3


def test_without_a_worker_the_queue_grows_and_ready_says_so(tmp_path: Path) -> None:
    root = tmp_path / "api-only"
    root.mkdir()
    server = OpenpushServer(root)
    server.env["OPENPUSH_WORKER"] = "false"
    try:
        server.start()
        ready = requests.get(server.url("/ready"), timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["worker"] == {"ok": True, "enabled": False}
        source = server.create_source("queued", visibility="SHARED")
        server.put_document(source, "https://metrics.test/queued", {"data": "waits"})
        samples = scrape(server)
        assert samples[DEPTH] == 1  # accepted, nobody applies it
        assert WORKER not in samples
        assert samples.get(ADDED, 0) == 0
    finally:
        server.close()


def test_an_idle_connection_outlives_a_pause_between_pushes(openpush: OpenpushServer) -> None:
    """A connector keeps one connection for its run; a pause of a few seconds between two
    requests must not make the server close it (the next request would be reset)."""
    connection = http.client.HTTPConnection(openpush.host, openpush.port, timeout=10)
    try:
        connection.request("GET", "/health")
        assert connection.getresponse().read() == b'{"status":"ok"}'
        local = connection.sock.getsockname()
        time.sleep(7)  # longer than uvicorn's 5 s default keep-alive
        connection.request("GET", "/health")  # raises if the server closed the socket
        response = connection.getresponse()
        assert response.status == 200
        assert connection.sock.getsockname() == local  # the same connection, not a new one
    finally:
        connection.close()
