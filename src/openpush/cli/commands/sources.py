"""``openpush sources``: the organization's sources, their status and item counts.

A client of ``GET /rest/organizations/{org}/sources``: each source's name and id, visibility,
status (``PUSH_READY``, ``REFRESHING``, ``IDLE``), the activity it is in, how many items are
indexed (``information.numberOfDocuments``) and its last finished operation. ``--json`` prints
the server's source models as they are. Exit codes: 0, or 2 for connection and HTTP errors.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from openpush.cli.client import server_options
from openpush.cli.commands._http import ServerApi, cells, echo_json, make_console, when

__all__ = ["sources"]


def _last(information: dict[str, Any]) -> str:
    last = information.get("lastOperation")
    if not last:
        return ""
    return f"{last.get('operationType')} {last.get('result') or ''} {when(last.get('timestamp'))}"


@click.command()
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the source models as JSON.")
def sources(url: str, org: str, api_key: str, as_json: bool) -> None:
    """List the sources with their status, activity and number of indexed items."""
    with ServerApi(url, org, api_key) as api:
        models: list[dict[str, Any]] = api.call("GET", api.org_path("/sources"))
    if as_json:
        echo_json(models)
        return
    table = Table(
        "Name", "Id", "Visibility", "Status", "Activity", "Items", "Last operation",
        title=f"Sources of {org}", title_justify="left",
    )  # fmt: skip
    for model in models:
        information = model.get("information") or {}
        status = information.get("sourceStatus") or {}
        activity = (information.get("currentOperation") or {}).get("operationType")
        table.add_row(
            *cells(
                model.get("name"),
                model.get("id"),
                model.get("sourceVisibility"),
                status.get("type"),
                activity or "",
                information.get("numberOfDocuments", 0),
                _last(information),
            )
        )
    console = make_console()
    console.print(table)
    console.print(f"{len(models)} {'source' if len(models) == 1 else 'sources'}")
