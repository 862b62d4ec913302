"""``/health``, ``/ready`` and ``/metrics``, in process: what each check and counter reports.

The Prometheus counters are process-wide, so every assertion compares a value before and
after the action under test rather than an absolute number.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from openpush.runtime import Runtime
from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio

DOCS_ROUTE = "/push/v1/organizations/{organizationId}/sources/{sourceId}/documents"


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, keyed by name and sorted labels."""
    r = await api.http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_health_is_unauthenticated_and_ok(api: Api) -> None:
    r = await api.http.get("/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


async def test_ready_reports_each_check(api: Api) -> None:
    r = await api.http.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "checks": {
            "stateStore": {"ok": True},
            "index": {"ok": True},
            "worker": {"ok": True, "enabled": False},  # these tests drain the queue by hand
        },
    }


async def test_ready_fails_when_the_state_store_fails(
    api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise OSError("disk gone: /secret/path")

    monkeypatch.setattr(runtime.store.catalog, "get_meta", broken)
    r = await api.http.get("/ready")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["stateStore"] == {
        "ok": False,
        "error": "the state store check failed (OSError)",
    }
    assert body["checks"]["index"] == {"ok": True}
    assert "/secret/path" not in r.text  # the cause goes to the log, not to the caller


async def test_ready_fails_when_the_index_fails(
    api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise ValueError("index directory unreadable")

    monkeypatch.setattr(runtime.index, "search", broken)
    r = await api.http.get("/ready")
    assert r.status_code == 503, r.text
    assert r.json()["checks"]["index"]["ok"] is False
    assert r.json()["checks"]["stateStore"] == {"ok": True}


async def test_ready_follows_the_worker_thread(api: Api, runtime: Runtime) -> None:
    runtime.settings = runtime.settings.replace(worker=True)  # this process should run one
    assert runtime.worker is not None
    r = await api.http.get("/ready")
    assert r.status_code == 503, r.text
    assert r.json()["checks"]["worker"] == {
        "ok": False,
        "enabled": True,
        "error": "the indexing worker is not running",
    }
    assert value(await scrape(api), "openpush_worker_running") == 0
    runtime.worker.start()
    try:
        r = await api.http.get("/ready")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["worker"] == {"ok": True, "enabled": True}
        assert value(await scrape(api), "openpush_worker_running") == 1
    finally:
        runtime.worker.stop()
    assert (await api.http.get("/ready")).status_code == 503


async def test_metrics_count_outcomes_latency_and_queue_depth(api: Api) -> None:
    source = await api.create_source(visibility="SHARED")  # items without permissions: no WARNING
    before = await scrape(api)
    assert value(before, "openpush_queue_depth") == 0
    assert ("openpush_worker_running", ()) not in before  # no worker in this process
    r = await api.push(source, "https://m.test/1", {"data": "one"})
    assert r.status_code == 202, r.text
    r = await api.push(source, "https://m.test/2", {"data": "two"}, orderingId=100)
    assert r.status_code == 202, r.text
    r = await api.push(source, "https://m.test/2", {"data": "older"}, orderingId=50)
    assert r.status_code == 202, r.text
    queued = await scrape(api)
    assert value(queued, "openpush_queue_depth") == 3
    assert value(queued, "openpush_operations_total", operation="ADD", result="COMPLETED") == (
        value(before, "openpush_operations_total", operation="ADD", result="COMPLETED")
    )  # nothing is counted before it is applied

    api.drain()
    after = await scrape(api)
    assert value(after, "openpush_queue_depth") == 0

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("openpush_operations_total", operation="ADD", result="COMPLETED") == 2
    assert delta("openpush_operations_total", operation="ADD", result="SKIPPED") == 1
    assert delta("openpush_pipeline_latency_seconds_count", kind="ADD") == 3
    assert delta("openpush_pipeline_latency_seconds_sum", kind="ADD") > 0
    assert delta("openpush_pipeline_latency_seconds_bucket", kind="ADD", le="+Inf") == 3


async def test_http_requests_are_counted_by_route_template(api: Api) -> None:
    source = await api.create_source()
    before = await scrape(api)
    for number in range(3):
        r = await api.push(source, f"https://h.test/{number}", {"data": "x"})
        assert r.status_code == 202
    r = await api.push(source, "no-scheme", {"data": "x"})
    assert r.status_code == 412
    assert (await api.http.get("/no/such/route")).status_code == 404
    r = await api.http.get("/metrics")
    after = await scrape(api)
    labels = {"method": "PUT", "route": DOCS_ROUTE}
    assert (
        value(after, "openpush_http_requests_total", **labels, status="202")
        - value(before, "openpush_http_requests_total", **labels, status="202")
        == 3
    )
    assert (
        value(after, "openpush_http_requests_total", **labels, status="412")
        - value(before, "openpush_http_requests_total", **labels, status="412")
        == 1
    )
    count = "openpush_http_request_duration_seconds_count"
    assert (
        value(after, count, **labels, status="202") - value(before, count, **labels, status="202")
        == 3
    )
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert value(after, "openpush_http_requests_total", **unmatched) > value(
        before, "openpush_http_requests_total", **unmatched
    )
    assert source not in r.text and "h.test" not in r.text  # ids never become labels
