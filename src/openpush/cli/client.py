"""What the CLI commands that talk to a running server share: its options and error text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
import httpx

__all__ = ["http_error_detail", "server_options"]

F = TypeVar("F", bound=Callable[..., object])


def server_options(command: F) -> F:
    """``--url``, ``--org`` and ``--api-key`` (also from ``OPENPUSH_URL/ORG/API_KEY``)."""
    for option in reversed(
        (
            click.option(
                "--url",
                envvar="OPENPUSH_URL",
                default="http://127.0.0.1:8000",
                show_default=True,
                help="Base URL of the openpush server [env OPENPUSH_URL].",
            ),
            click.option(
                "--org",
                envvar="OPENPUSH_ORG",
                required=True,
                help="Organization [env OPENPUSH_ORG].",
            ),
            click.option(
                "--api-key",
                envvar="OPENPUSH_API_KEY",
                required=True,
                help="API key [env OPENPUSH_API_KEY].",
            ),
        )
    ):
        command = option(command)
    return command


def http_error_detail(response: httpx.Response) -> str:
    """``HTTP status CODE: message`` with the server's own message when it sent one."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("message"):
        detail = f"{payload.get('errorCode') or response.reason_phrase}: {payload['message']}"
    else:
        detail = response.text.strip()[:300] or response.reason_phrase
    return f"HTTP {response.status_code} {detail}"
