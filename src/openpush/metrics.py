"""Process metrics in the Prometheus text format: HTTP traffic, pipeline outcomes, latency.

What is counted, and where:

- ``openpush_http_requests_total{method, route, status}`` and
  ``openpush_http_request_duration_seconds{method, route, status}``: every HTTP request, by
  *route template* (``/push/v1/organizations/{organizationId}/sources/{sourceId}/documents``,
  never the concrete path, so ids never become labels); a path no route matches is counted
  as ``<unmatched>``. Recorded by :class:`HttpMetricsMiddleware`.
- ``openpush_operations_total{operation, result}``: the outcomes the pipeline committed (one
  per log entry: ``ADD``/``COMPLETED``, ``DELETE``/``SKIPPED``...), counted once the round's
  state transaction is durable (``record_outcomes``, called by the worker).
- ``openpush_pipeline_latency_seconds{kind}``: from the moment an operation was accepted
  (queued, before the 202) to the moment its outcome was durable (``record_applied``).
- ``openpush_queue_depth`` (operations accepted and not yet applied) and
  ``openpush_worker_running``: read from the runtime at scrape time (``render``).

The counters are process-wide, as Prometheus counters are: they count what *this* process
did since it started. The worker runs in a thread of the process it counts into, so with
``serve --no-worker`` plus separate ``openpush worker`` processes the API process reports
its queue depth and HTTP traffic, and each worker reports its pipeline counters on its own
port (``openpush worker --metrics-port``, served by :func:`serve_metrics`). No label names
an organization, a source or a document: ``/metrics`` can be scraped without credentials and
tells nothing about any tenant's data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from openpush.domain.operations import LogEntry, QueuedOperation

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "HttpMetricsMiddleware",
    "read_queue_depth",
    "record_applied",
    "record_outcomes",
    "render",
    "serve_metrics",
]

# The classic text format, which every Prometheus version reads; all names here are in its
# legacy character set, so generate_latest's output is exactly that format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "<unmatched>"

log = logging.getLogger("openpush.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "openpush_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "openpush_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is complete).",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
OPERATIONS = Counter(
    "openpush_operations",
    "Outcomes the indexing pipeline committed (one per log entry), by operation and result.",
    ["operation", "result"],
    registry=REGISTRY,
)
PIPELINE_LATENCY = Histogram(
    "openpush_pipeline_latency_seconds",
    "From an operation's acceptance (before the 202) to its durable outcome, by kind.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
    registry=REGISTRY,
)


def record_outcomes(entries: Iterable[LogEntry]) -> None:
    """Count committed outcomes; the worker calls it once per durable round."""
    for entry in entries:
        OPERATIONS.labels(entry.operation, entry.result.value).inc()


def record_applied(operations: Iterable[QueuedOperation], now: float | None = None) -> None:
    """Observe accepted→applied latency of operations whose outcomes are durable."""
    moment = time.time() if now is None else now
    for operation in operations:
        PIPELINE_LATENCY.labels(operation.kind.value).observe(
            max(moment - operation.enqueued_at, 0.0)
        )


def read_queue_depth(queue: Any) -> int | None:
    """The durable queue's length, or None (logged) when the state store cannot be read."""
    try:
        return int(queue.depth())
    except Exception:  # the scrape still reports what the process counted
        log.warning("metrics: cannot read the queue depth", exc_info=True)
        return None


def render(queue_depth: int | None, worker_running: bool | None) -> bytes:
    """The exposition: the process counters, then the gauges read at scrape time.

    ``None`` leaves a gauge out (the state store could not be read; no worker expected).
    """
    scrape = CollectorRegistry(auto_describe=True)
    if queue_depth is not None:
        Gauge(
            "openpush_queue_depth",
            "Operations accepted and not yet applied (the durable queue's length).",
            registry=scrape,
        ).set(queue_depth)
    if worker_running is not None:
        Gauge(
            "openpush_worker_running",
            "1 when this process's indexing worker thread is alive.",
            registry=scrape,
        ).set(1 if worker_running else 0)
    return generate_latest(REGISTRY) + generate_latest(scrape)


def serve_metrics(
    host: str, port: int, exposition: Callable[[], bytes], healthy: Callable[[], bool]
) -> ThreadingHTTPServer:
    """``GET /metrics`` and ``GET /health`` of a process without an HTTP API (a worker).

    ``/health`` answers 200 while ``healthy()`` holds, 503 otherwise. The server runs in a
    daemon thread; ``shutdown()`` stops it. Port 0 picks a free one (``server_address``).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/metrics":
                self._answer(200, exposition(), CONTENT_TYPE)
            elif path == "/health":
                ok = healthy()
                body = b'{"status":"ok"}' if ok else b'{"status":"unavailable"}'
                self._answer(200 if ok else 503, body, "application/json")
            else:
                self._answer(404, b'{"status":"not found"}', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="openpush-metrics", daemon=True).start()
    return server


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (set by the router on a match).

    A mounted app (the console's static files) leaves no ``route`` but its mount point in
    ``root_path``: it counts as ``<mount point>/{path}``.
    """
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return str(path)
    mounted = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    if mounted and scope.get("endpoint") is not None:
        return f"{mounted}/{{path}}"
    return UNMATCHED


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts and times each HTTP request by route template and status.

    The duration runs until the last body chunk is sent; a request that fails before
    answering counts as status 500 (the error middleware outside answers it that way).
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            labels = (scope["method"], route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)
