"""The web console: ``GET /console`` and its static assets under ``/console/static``.

The console is a static page and vanilla JavaScript modules (``openpush/console/static``): no
build step, nothing loaded from elsewhere. It holds no server-side state and has no private
API: the browser calls the public APIs openpush serves (``/oauth/check_token``, sources,
logs, search, search tokens, explain-access, the security cache) with the API key entered at
login as its Bearer credential. The key is kept in ``sessionStorage``: it lives as long as
the tab, is never sent in a cookie (so no request can carry it without the page's script
doing so: no CSRF), and never reaches the server other than as the ``Authorization`` header.

The page and its assets are public (they hold no data) and served with a strict Content
Security Policy: scripts, styles and requests only from this origin, no inline script, no
framing. The scripts only ever insert API data as text (``textContent``), never as HTML.
"""

from __future__ import annotations

import os
from os import PathLike

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from openpush.console import STATIC_DIR

__all__ = ["SECURITY_HEADERS", "install", "router"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def console_page() -> Response:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


class _ConsoleFiles(StaticFiles):
    """Static files with the console's security headers."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-cache"})
        return response


def install(app: FastAPI) -> None:
    """Serve the console page and its assets from ``app``."""
    app.include_router(router)
    app.mount("/console/static", _ConsoleFiles(directory=STATIC_DIR), name="console-static")
