"""``openpush keys list|create|disable|enable``: the organization's API keys.

A client of ``/rest/organizations/{org}/apikeys``. ``create NAME`` grants privileges given as
``--privilege OWNER/DOMAIN/TYPE[/TARGET]`` (``PLATFORM/SOURCE/EDIT/<source id>``,
``SEARCH_API/EXECUTE_QUERY/ENABLE``) or ``--preset`` (``admin``, ``push``, ``identities``,
``search``, ``logs``), repeatable and combined; it prints the new key's secret, which the
server shows this once only. The server's rules apply: a key grants only privileges it holds
and manages only keys whose privileges it holds (``403``). ``--json`` prints the server's key
models (the secret included, for ``create``). Exit codes: 0, 2 for usage, connection and HTTP
errors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click
from rich.table import Table
from rich.text import Text

from openpush.cli.client import server_options
from openpush.cli.commands._http import ServerApi, cells, echo_json, make_console, when
from openpush.domain.organizations import PRESETS

__all__ = ["keys", "parse_privilege"]


def parse_privilege(text: str) -> dict[str, str]:
    """``OWNER/DOMAIN/TYPE[/TARGET]`` as the API's privilege model (target ``*`` by default)."""
    parts = text.strip().split("/", 3)
    if len(parts) < 3 or not all(parts):
        raise click.BadParameter(f"{text!r}: expected OWNER/DOMAIN/TYPE[/TARGET]")
    owner, domain, kind = (p.upper() for p in parts[:3])
    target = parts[3] if len(parts) == 4 else "*"
    return {"owner": owner, "targetDomain": domain, "type": kind, "targetId": target}


def _privilege_text(privilege: dict[str, Any]) -> str:
    text = f"{privilege.get('owner')}/{privilege.get('targetDomain')}/{privilege.get('type')}"
    target = privilege.get("targetId")
    return text if target in (None, "*") else f"{text}/{target}"


def _key_path(api: ServerApi, key_id: str, suffix: str = "") -> str:
    return api.org_path(f"/apikeys/{quote(key_id, safe='')}{suffix}")


def _print_keys(models: list[dict[str, Any]]) -> None:
    table = Table("Id", "Name", "Status", "Privileges", "Created (UTC)", "Created by")
    for model in models:
        status = Text(str(model.get("status") or ""))
        status.stylize("green" if model.get("enabled") else "red")
        privileges = ", ".join(_privilege_text(p) for p in model.get("privileges") or [])
        created = when(model.get("createdDate"))
        row = cells(model.get("id"), model.get("displayName"), None, privileges, created)
        row[2] = status
        table.add_row(*row, *cells(model.get("createdBy")))
    console = make_console()
    console.print(table)
    console.print(f"{len(models)} {'key' if len(models) == 1 else 'keys'}")


@click.group()
def keys() -> None:
    """List, create, disable and enable the organization's API keys."""


@keys.command("list")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the key models as JSON.")
def list_keys(url: str, org: str, api_key: str, as_json: bool) -> None:
    """List the API keys (never their secrets)."""
    with ServerApi(url, org, api_key) as api:
        models: list[dict[str, Any]] = api.call("GET", api.org_path("/apikeys"))
    if as_json:
        echo_json(models)
    else:
        _print_keys(models)


@keys.command("create")
@click.argument("name")
@click.option(
    "--privilege",
    "privileges",
    multiple=True,
    metavar="OWNER/DOMAIN/TYPE[/TARGET]",
    help="A privilege to grant (repeatable).",
)
@click.option(
    "--preset",
    "presets",
    multiple=True,
    type=click.Choice(sorted(PRESETS)),
    help="A set of privileges to grant (repeatable).",
)
@click.option("--description", default=None, help="A description of the key.")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the new key's model as JSON.")
def create_key(
    name: str,
    privileges: tuple[str, ...],
    presets: tuple[str, ...],
    description: str | None,
    url: str,
    org: str,
    api_key: str,
    as_json: bool,
) -> None:
    """Create an API key named NAME; its secret is printed this once only."""
    granted = [parse_privilege(p) for p in privileges]
    granted += [p.to_dict() for preset in presets for p in PRESETS[preset]]
    if not granted:
        raise click.UsageError("grant at least one --privilege or --preset")
    body: dict[str, Any] = {"displayName": name, "privileges": granted}
    if description:
        body["description"] = description
    with ServerApi(url, org, api_key) as api:
        model = api.call("POST", api.org_path("/apikeys"), json=body, expect=(201,))
    if as_json:
        echo_json(model)
        return
    _print_keys([model])
    console = make_console()
    console.print(Text.assemble("secret: ", (str(model.get("value")), "bold")))
    console.print("Store it now: the server keeps only its hash and never shows it again.")


def _switch(url: str, org: str, api_key: str, key_id: str, action: str, as_json: bool) -> None:
    with ServerApi(url, org, api_key) as api:
        model = api.call("PUT", _key_path(api, key_id, f"/{action}"))
    if as_json:
        echo_json(model)
    else:
        _print_keys([model])


@keys.command("disable")
@click.argument("key_id")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the key's model as JSON.")
def disable_key(key_id: str, url: str, org: str, api_key: str, as_json: bool) -> None:
    """Disable the key KEY_ID: refused from its very next request."""
    _switch(url, org, api_key, key_id, "disable", as_json)


@keys.command("enable")
@click.argument("key_id")
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the key's model as JSON.")
def enable_key(key_id: str, url: str, org: str, api_key: str, as_json: bool) -> None:
    """Enable the key KEY_ID again."""
    _switch(url, org, api_key, key_id, "activate", as_json)
