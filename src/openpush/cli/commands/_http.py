"""What the read/admin commands (``logs``, ``search``, ``sources``, ``keys``) share.

One small HTTP client bound to ``--url``/``--org``/``--api-key``, errors turned into
``Error: …`` with exit code 2 (as ``push`` and ``explain`` do), and the two output helpers:
a console that does not wrap when piped, and ``--json`` printing.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import click
import httpx
import orjson
from rich.console import Console
from rich.text import Text

from openpush.cli.client import http_error_detail

__all__ = ["CommandError", "ServerApi", "cells", "echo_json", "make_console", "when"]


class CommandError(click.ClickException):
    """A connection or HTTP error: printed as ``Error: …``, exit code 2."""

    exit_code = 2


class ServerApi:
    """Calls to one openpush server as one organization, with one credential."""

    def __init__(self, url: str, org: str, api_key: str) -> None:
        self.base = url.rstrip("/")
        self.org = org
        self.key = api_key
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))

    def __enter__(self) -> ServerApi:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def org_path(self, suffix: str = "") -> str:
        return f"/rest/organizations/{quote(self.org, safe='')}{suffix}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        credential: str | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        """The decoded JSON answer (None for an empty body); any other status raises."""
        headers = {"Authorization": f"Bearer {credential or self.key}"}
        kept = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            response = self._http.request(
                method, self.base + path, params=kept, json=json, headers=headers
            )
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot reach the server at {self.base}: {exc}") from exc
        if response.status_code not in expect:
            raise CommandError(http_error_detail(response))
        return response.json() if response.content else None


def make_console() -> Console:
    """Rich output; wide and unwrapped when not a terminal, so pipes and tests get whole rows."""
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def cells(*values: Any) -> list[Text]:
    """Table cells as plain text: names and reasons are data, never rich markup."""
    return [Text("" if value is None else str(value)) for value in values]


def when(value: Any) -> str:
    """``2024-01-31 10:00:00`` (UTC) from an ISO date-time or epoch milliseconds."""
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
