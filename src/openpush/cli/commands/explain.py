"""``openpush explain DOCUMENT_ID --user USER [--source SRC]``: may this user see it, and why.

A client of ``GET /rest/organizations/{org}/sources/{src}/documents/access`` (openpush's own
endpoint, see ``openpush.api.routes.access``): it prints the verdict search would reach for the
user, the reason, the deciding level and set, the permission identities that matched, and how
the user holds each of them (the chain of memberships, granted identities and aliases from the
identity they log in with). ``--json`` prints the server's answer as it is.

Without ``--source`` the command asks every source of the organization and explains the one
that holds the item indexed (several such sources: it asks for ``--source``).

Exit codes, like ``grep``: 0 when the user sees the item, 1 when they do not, 2 for usage,
connection and HTTP errors (an unknown document among them).
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import click
import httpx
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from openpush.cli.client import http_error_detail, server_options

__all__ = ["explain"]

EMAIL_PROVIDER = "Email Security Provider"


class ExplainError(click.ClickException):
    """A connection or HTTP error: printed as ``Error: …``, exit code 2."""

    exit_code = 2


def fetch_access(
    url: str, org: str, api_key: str, source: str, document_id: str, user: str, provider: str
) -> dict[str, Any]:
    endpoint = (
        f"{url.rstrip('/')}/rest/organizations/{quote(org, safe='')}"
        f"/sources/{quote(source, safe='')}/documents/access"
    )
    params = {"documentId": document_id, "user": user, "provider": provider}
    try:
        response = httpx.get(
            endpoint,
            params=params,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(60.0, connect=10.0),
        )
    except httpx.HTTPError as exc:
        raise ExplainError(f"cannot reach the server at {url}: {exc}") from exc
    if response.status_code != 200:
        raise ExplainError(http_error_detail(response))
    answer: dict[str, Any] = response.json()
    return answer


def find_access(
    url: str, org: str, api_key: str, document_id: str, user: str, provider: str
) -> dict[str, Any]:
    """The explanation from the one source that holds ``document_id`` indexed."""
    base = url.rstrip("/")
    auth = {"Authorization": f"Bearer {api_key}"}
    try:
        listed = httpx.get(
            f"{base}/rest/organizations/{quote(org, safe='')}/sources", headers=auth, timeout=60
        )
    except httpx.HTTPError as exc:
        raise ExplainError(f"cannot reach the server at {url}: {exc}") from exc
    if listed.status_code != 200:
        raise ExplainError(http_error_detail(listed))
    found: list[dict[str, Any]] = []
    for model in listed.json():
        try:
            found.append(fetch_access(url, org, api_key, model["id"], document_id, user, provider))
        except ExplainError as exc:
            if "DOCUMENT_NOT_FOUND" not in exc.message:
                raise
    if not found:
        raise ExplainError(f"no source holds {document_id!r} indexed")
    if len(found) > 1:
        names = ", ".join(answer["sourceId"] for answer in found)
        raise ExplainError(
            f"{document_id!r} is indexed in several sources ({names}): give --source"
        )
    return found[0]


def _label(ref: dict[str, Any] | None) -> str:
    if not ref:
        return "anonymous"
    return f"{ref.get('name')} ({ref.get('provider')})"


def _path(entry: dict[str, Any]) -> str:
    """``alice -member-of-> Eng -member-of-> Mgmt``; a start identity is ``(you)``."""
    via = entry.get("via") or []
    if not via:
        everybody = entry.get("name") == "*@*" and entry.get("provider") == EMAIL_PROVIDER
        return "(everybody)" if everybody else "(held directly)"
    parts = [str(via[0]["from"]["name"])]
    for step in via:
        parts.append(f"-{step['kind']}-> {step.get('to', entry)['name']}")
    return " ".join(parts)


def _cells(*values: Any) -> list[Text]:
    """Table cells as plain text: identity names are data, never rich markup."""
    return [Text(str(value)) for value in values]


def print_verdict(console: Console, answer: dict[str, Any]) -> None:
    visible = bool(answer.get("visible"))
    verdict = Text(
        "VISIBLE" if visible else "NOT VISIBLE", style="bold green" if visible else "bold red"
    )
    console.print(Text.assemble(verdict, f"  {answer['documentId']}"))
    plain = {"markup": False, "highlight": False}
    console.print(f"user:    {_label(answer.get('user'))}", **plain)
    console.print(f"source:  {answer['sourceId']} ({answer['sourceVisibility']})", **plain)
    console.print(f"reason:  {answer['reason']}", **plain)
    if answer.get("decidingLevel") is not None:
        deciding = f"level {answer['decidingLevel']}"
        if answer.get("decidingSet") is not None:
            deciding += f", set {answer['decidingSet']}"
        console.print(f"decided: {deciding}")
    held = {
        (str(e["name"]).casefold(), str(e["provider"]).casefold()): e
        for e in answer.get("identities") or []
    }
    matched = answer.get("matchedIdentities") or []
    if matched:
        table = Table(title="Matched permission identities", title_justify="left")
        table.add_column("identity")
        table.add_column("provider")
        table.add_column("effect")
        table.add_column("held through")
        for entry in matched:
            if entry.get("anonymous"):
                table.add_row("allowAnonymous", "", "allowed", "(everybody)")
                continue
            key = (str(entry["name"]).casefold(), str(entry["provider"]).casefold())
            through = _path(held[key]) if key in held else ""
            effect = "allowed" if entry.get("allowed") else "denied"
            table.add_row(*_cells(entry["name"], entry["provider"], effect, through))
        console.print(table)
    identities = answer.get("identities") or []
    table = Table(title=f"Identities the user holds ({len(identities)})", title_justify="left")
    table.add_column("identity")
    table.add_column("provider")
    table.add_column("held through")
    for entry in identities:
        table.add_row(*_cells(entry["name"], entry["provider"], _path(entry)))
    console.print(table)
    if answer.get("depthCapped"):
        console.print("[yellow]The expansion stopped at its depth limit: it may be incomplete.[/]")


@click.command()
@click.argument("document_id")
@click.option(
    "--source",
    "-s",
    default=None,
    help="Id of the source holding the item [default: the one source that holds it].",
)
@click.option("--user", "-u", required=True, help="Name of the user's identity.")
@click.option(
    "--provider",
    "-p",
    default=EMAIL_PROVIDER,
    show_default=True,
    help="Security provider of the user's identity.",
)
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
def explain(
    document_id: str,
    source: str | None,
    user: str,
    provider: str,
    url: str,
    org: str,
    api_key: str,
    as_json: bool,
) -> None:
    """Explain whether USER may see DOCUMENT_ID, and why.

    Prints the verdict search reaches for the user, the reason, the deciding permission level
    and set, the matched identities and how the user holds them. Exits 0 when the user sees
    the item, 1 when not, 2 on errors.
    """
    if source is None:
        answer = find_access(url, org, api_key, document_id, user, provider)
    else:
        answer = fetch_access(url, org, api_key, source, document_id, user, provider)
    if as_json:
        click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    else:
        print_verdict(Console(width=None if sys.stdout.isatty() else 200), answer)
    sys.exit(0 if answer.get("visible") else 1)
