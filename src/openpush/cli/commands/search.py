"""``openpush search QUERY --as USER``: what a user finds, through the real Search API.

With ``--as USER`` (and ``--provider``, the Email Security Provider by default) the command
mints a search token for that identity (``POST /rest/search/v2/token``, which needs
``SEARCH_API/IMPERSONATE_SEARCH_API``) and searches with it: the results and the total are
exactly what that user's search page would get, security trimming included. ``--view-all``
searches as the key with ``viewAllContent=true`` instead (``SEARCH_API/VIEW_ALL_CONTENT``).

Exit codes, like ``grep``: 0 when something matched, 1 when nothing did, 2 for usage,
connection and HTTP errors. ``--json`` prints the Search API's answer as it is.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from openpush.cli.client import server_options
from openpush.cli.commands._http import ServerApi, cells, echo_json, make_console

__all__ = ["search"]

EMAIL_PROVIDER = "Email Security Provider"


def mint_token(api: ServerApi, user: str, provider: str) -> str:
    body = {"userIds": [{"name": user, "provider": provider, "type": "User"}]}
    answer = api.call("POST", "/rest/search/v2/token", json=body)
    return str(answer["token"])


def run_search(
    api: ServerApi, query: str, *, token: str | None, view_all: bool, first: int, count: int
) -> dict[str, Any]:
    params = {"organizationId": api.org, "viewAllContent": "true" if view_all else None}
    body = {"q": query, "firstResult": first, "numberOfResults": count}
    answer: dict[str, Any] = api.call(
        "POST", "/rest/search/v2", params=params, json=body, credential=token
    )
    return answer


def _source_id(result: dict[str, Any]) -> str:
    unique = str(result.get("uniqueId") or "")
    return unique.split("$", 1)[0] if "$" in unique else ""


@click.command()
@click.argument("query", required=False, default="")
@click.option("--as", "as_user", metavar="USER", default=None, help="Search as this user.")
@click.option(
    "--provider",
    "-p",
    default=EMAIL_PROVIDER,
    show_default=True,
    help="Security provider of the --as identity.",
)
@click.option("--view-all", is_flag=True, help="Search as the key, seeing all content.")
@click.option(
    "--limit", "-n", type=click.IntRange(1, 1000), default=10, show_default=True, help="Results."
)
@click.option("--first", type=click.IntRange(0), default=0, help="Skip this many results.")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the Search API's answer as JSON.")
def search(
    query: str,
    as_user: str | None,
    provider: str,
    view_all: bool,
    limit: int,
    first: int,
    url: str,
    org: str,
    api_key: str,
    as_json: bool,
) -> None:
    """Search the index as USER (security-trimmed), or as the key with --view-all.

    QUERY is Coveo's query syntax (free text, "phrases", @field==value...); empty matches
    everything. Prints the results and the total; exits 0 when something matched, 1 when not.
    """
    if bool(as_user) == view_all:
        raise click.UsageError("give exactly one of --as USER or --view-all")
    with ServerApi(url, org, api_key) as api:
        token = mint_token(api, as_user, provider) if as_user else None
        answer = run_search(api, query, token=token, view_all=view_all, first=first, count=limit)
    total = int(answer.get("totalCount") or 0)
    if as_json:
        echo_json(answer)
        sys.exit(0 if total else 1)
    console = make_console()
    who = f"{as_user} ({provider})" if as_user else "the key, viewing all content"
    table = Table("#", "Title", "Document", "Source", title=f"Searching as {who}")
    for number, result in enumerate(answer.get("results") or [], start=first + 1):
        table.add_row(*cells(number, result.get("title"), result.get("uri"), _source_id(result)))
    console.print(table)
    shown = len(answer.get("results") or [])
    console.print(f"{total} results in total ({shown} shown)")
    sys.exit(0 if total else 1)
