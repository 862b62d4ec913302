"""The HTTP application: ``create_app(runtime)``; no module-level state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from openpush import __version__
from openpush.api.errors import install_error_handlers
from openpush.api.openapi import install_openapi
from openpush.api.responses import JsonResponse
from openpush.api.routes import (
    access,
    apikeys,
    batches,
    console,
    documents,
    fields,
    files,
    health,
    identities,
    items,
    logs,
    oauth,
    platform,
    search,
    securitycache,
    sources,
    streams,
    validate,
)
from openpush.api.throttle import Throttle, limiter_for, throttle_request
from openpush.metrics import HttpMetricsMiddleware
from openpush.runtime import Runtime

__all__ = ["create_app"]

DESCRIPTION = """\
A self-hosted implementation of the Coveo Push API and of the organization side it feeds:
sources, fields, the indexing log and a security-trimmed Search API. Authenticate with
`Authorization: Bearer <API key>`; errors are `{"errorCode": ..., "message": ...}`.
"""


def create_app(
    runtime: Runtime, *, close_runtime: bool = False, throttle: Throttle | None = None
) -> FastAPI:
    """The app over ``runtime``; ``throttle`` replaces the one the settings describe (tests)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_runtime:
            runtime.close()

    app = FastAPI(
        title="openpush",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=JsonResponse,
        lifespan=lifespan,
        dependencies=[Depends(throttle_request)],
    )
    app.state.runtime = runtime
    if throttle is None and runtime.settings.throttling:
        throttle = Throttle(runtime.settings, limiter=limiter_for(runtime))
    app.state.throttle = throttle
    install_error_handlers(app)
    install_openapi(app)
    for module in (
        validate,
        documents,
        batches,
        files,
        sources,
        fields,
        identities,
        logs,
        search,
        access,
        items,
        securitycache,
        platform,
        apikeys,
        oauth,
        health,
    ):
        app.include_router(module.router)
    for prefix in streams.PREFIXES:
        app.include_router(streams.router, prefix=prefix)
    console.install(app)
    app.add_middleware(HttpMetricsMiddleware)
    return app
