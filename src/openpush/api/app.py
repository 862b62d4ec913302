"""The HTTP application: ``create_app(runtime)``; no module-level state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openpush import __version__
from openpush.api.errors import install_error_handlers
from openpush.api.responses import JsonResponse
from openpush.api.routes import (
    access,
    batches,
    documents,
    fields,
    files,
    identities,
    logs,
    search,
    securitycache,
    sources,
    streams,
)
from openpush.runtime import Runtime

__all__ = ["create_app"]

DESCRIPTION = """\
A self-hosted implementation of the Coveo Push API and of the organization side it feeds:
sources, fields, the indexing log and a security-trimmed Search API. Authenticate with
`Authorization: Bearer <API key>`; errors are `{"errorCode": ..., "message": ...}`.
"""


def create_app(runtime: Runtime, *, close_runtime: bool = False) -> FastAPI:
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
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for module in (
        documents,
        batches,
        files,
        sources,
        fields,
        identities,
        logs,
        search,
        access,
        securitycache,
    ):
        app.include_router(module.router)
    for prefix in streams.PREFIXES:
        app.include_router(streams.router, prefix=prefix)

    @app.get("/health", tags=["Operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
