"""Operations endpoints: liveness, readiness and Prometheus metrics. No credentials needed.

- ``GET /health``: the process is alive and serving HTTP; always ``200 {"status": "ok"}``.
- ``GET /ready``: the process can do its work: the state store answers a read, the search
  index answers a query and, when this process runs the indexing worker (``serve`` without
  ``--no-worker``), the worker thread is alive and not stopping. ``200 {"status": "ready",
  "checks": {...}}``, or ``503 {"status": "unavailable", ...}`` naming the failed check (the
  cause's detail goes to the server log, not to the unauthenticated caller).
- ``GET /metrics``: the Prometheus text exposition of :mod:`openpush.metrics`.

All three are unauthenticated, like the probes and scrapers that call them; none of them
carries tenant data (see :mod:`openpush.metrics`). Put ``/metrics`` behind the reverse proxy's
access rules if the traffic volumes themselves are sensitive.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from openpush import metrics
from openpush.api.auth import runtime_of
from openpush.api.responses import JsonResponse
from openpush.index.base import IndexSearch
from openpush.runtime import Runtime
from openpush.search.query import MatchAll

__all__ = ["router", "worker_running"]

log = logging.getLogger("openpush.health")

router = APIRouter(tags=["Operations"])

_READY_ANSWERS: dict[int | str, dict[str, Any]] = {
    503: {"description": "A check failed: the body names it"},
}
_METRICS_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def worker_running(runtime: Runtime) -> bool | None:
    """Whether this process's worker thread is alive; None when it runs no worker."""
    if not runtime.settings.worker:
        return None
    return runtime.worker is not None and runtime.worker.running


def _check_store(runtime: Runtime) -> None:
    runtime.store.catalog.get_meta("acl_encoding")


def _check_index(runtime: Runtime) -> None:
    # an organization id no organization can have: the query is answered, and matches nothing
    runtime.index.search(IndexSearch(org_id="\x1fready", query=MatchAll(), visibility=None))


def _check(name: str, probe: Any, runtime: Runtime) -> dict[str, Any]:
    try:
        probe(runtime)
    except Exception as exc:  # any failure means "not ready", whatever its type
        log.warning("readiness check %s failed", name, exc_info=True)
        return {"ok": False, "error": f"the {name} check failed ({type(exc).__name__})"}
    return {"ok": True}


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: state store, index and worker", responses=_READY_ANSWERS)
async def ready(request: Request) -> JsonResponse:
    runtime = runtime_of(request)
    checks = {
        "stateStore": _check("state store", _check_store, runtime),
        "index": _check("index", _check_index, runtime),
    }
    running = worker_running(runtime)
    if running is None:
        checks["worker"] = {"ok": True, "enabled": False}
    elif running:
        checks["worker"] = {"ok": True, "enabled": True}
    else:
        checks["worker"] = {
            "ok": False,
            "enabled": True,
            "error": "the indexing worker is not running",
        }
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", responses=_METRICS_ANSWER)
async def prometheus_metrics(request: Request) -> Response:
    runtime = runtime_of(request)
    depth = metrics.read_queue_depth(runtime.store.queue)
    body = metrics.render(depth, worker_running(runtime))
    return Response(body, media_type=metrics.CONTENT_TYPE)
