"""``openpush logs``: what the pipeline did, from the Logs API, once or as a live tail.

A client of ``POST /logs/v1/organizations/{org}``. Filters: ``--source``, ``--document-id``
(exact, or ``--matching PARTIAL|WILDCARD``), ``--operation`` and ``--result`` (each
repeatable), ``--since`` (``30s``, ``10m``, ``2h``, ``7d``, an ISO date-time or epoch ms;
the Logs API's default is 7 days). Entries print oldest first, the most recent ``--limit`` of
them, each with its reason.

``--follow`` keeps polling (every ``--interval`` seconds, 1 by default) and prints each new
entry as it is committed, until interrupted. The Logs API stamps an entry when the pipeline
decides it and stores it when the round commits, so every poll looks back a few seconds
(``OVERLAP``) and drops the entries already printed.

``--json`` prints the Logs API's entries as they are: a JSON array, or with ``--follow`` one
JSON object per line. Exit codes: 0, or 2 for usage, connection and HTTP errors.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from openpush.cli.client import server_options
from openpush.cli.commands._http import ServerApi, cells, echo_json, make_console, when

__all__ = ["logs", "parse_since"]

PAGE = 1000
OVERLAP = 10.0  # seconds each poll looks back
RESULT_STYLES = {
    "COMPLETED": "green",
    "WARNING": "yellow",
    "SKIPPED": "yellow",
    "REJECTED": "red",
    "ERROR": "bold red",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, now: float | None = None) -> float:
    """Epoch seconds from ``10m``-style durations (ago), ISO date-times or epoch ms."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        moment = time.time() if now is None else now
        return moment - float(match.group(1)) * _UNITS[match.group(2).lower()]
    if text.isdigit():
        return int(text) / 1000.0
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a duration (30s, 10m, 2h, 7d), an ISO date-time or epoch ms"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")


class LogQuery:
    """The filters of one ``logs`` invocation, as Logs API parameters and body."""

    def __init__(
        self,
        source: str | None,
        document_id: str | None,
        matching: str,
        operations: tuple[str, ...],
        results: tuple[str, ...],
    ) -> None:
        self.body: dict[str, Any] = {}
        if source:
            self.body["sourcesIds"] = [source]
        if operations:
            self.body["operations"] = [o.upper() for o in operations]
        if results:
            self.body["results"] = [r.upper() for r in results]
        self.params: dict[str, Any] = {}
        if document_id:
            self.params.update(documentId=document_id, documentIdMatching=matching.upper())

    def page(
        self, api: ServerApi, since: float | None, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], bool]:
        params = {**self.params, "page": page, "perPage": per_page}
        if since is not None:
            params["from"] = _iso(since)
        path = f"/logs/v1/organizations/{quote(api.org, safe='')}"
        answer = api.call("POST", path, params=params, json=self.body)
        return list(answer.get("documentLogEntries") or []), bool(answer.get("hasNextPage"))

    def latest(self, api: ServerApi, since: float | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recent entries, oldest first."""
        entries: list[dict[str, Any]] = []
        for number in range(10_000):
            chunk, more = self.page(api, since, number, min(PAGE, limit - len(entries)))
            entries.extend(chunk)
            if not more or len(entries) >= limit:
                break
        return entries[:limit][::-1]


def entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    meta = entry.get("meta") or {}
    return (
        entry.get("datetime"),
        entry.get("sourceId"),
        entry.get("id"),
        entry.get("operation"),
        entry.get("result"),
        entry.get("requestId"),
        meta.get("orderingId"),
    )


def _reason(entry: dict[str, Any]) -> str:
    return str((entry.get("meta") or {}).get("reason") or "")


def print_table(console: Console, entries: list[dict[str, Any]]) -> None:
    table = Table("Time (UTC)", "Source", "Document", "Operation", "Result", "Reason")
    for entry in entries:
        time_, source, document, operation, result, reason = cells(
            when(entry.get("datetime")),
            entry.get("sourceId"),
            entry.get("id"),
            entry.get("operation"),
            entry.get("result"),
            _reason(entry),
        )
        result.stylize(RESULT_STYLES.get(str(entry.get("result")), ""))
        table.add_row(time_, source, document, operation, result, reason)
    console.print(table)
    console.print(f"{len(entries)} {'entry' if len(entries) == 1 else 'entries'}")


def print_line(console: Console, entry: dict[str, Any]) -> None:
    result = str(entry.get("result") or "")
    console.print(
        Text.assemble(
            f"{when(entry.get('datetime'))}  ",
            (f"{result:<9}", RESULT_STYLES.get(result, "")),
            f"  {entry.get('operation')}  {entry.get('id')}  ({entry.get('sourceId')})"
            f"  {_reason(entry)}",
        )
    )


def _stamp(entry: dict[str, Any]) -> float | None:
    stamp = entry.get("datetime")
    if not stamp:
        return None
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def tail(
    api: ServerApi,
    query: LogQuery,
    after: float,
    interval: float,
    seen: set[tuple[Any, ...]],
) -> Iterator[dict[str, Any]]:
    """Entries committed from now on (``after`` and ``seen`` say what was shown), forever."""
    newest = after
    while True:
        time.sleep(interval)
        for entry in query.latest(api, newest - OVERLAP, 100_000):
            key = entry_key(entry)
            if key in seen:
                continue
            seen.add(key)
            newest = max(newest, _stamp(entry) or newest)
            yield entry
        cutoff = _iso(newest - 2 * OVERLAP).replace("+00:00", "Z")  # the entries' spelling
        seen.difference_update([k for k in seen if str(k[0]) < cutoff])


@click.command()
@click.option("--source", "-s", default=None, help="Only this source's entries (its id).")
@click.option("--document-id", "-d", default=None, help="Only this documentId's entries.")
@click.option(
    "--matching",
    type=click.Choice(["EXACT", "PARTIAL", "WILDCARD"], case_sensitive=False),
    default="EXACT",
    show_default=True,
    help="How --document-id matches.",
)
@click.option("--operation", "-o", multiple=True, help="ADD, DELETE, UPDATE... (repeatable).")
@click.option(
    "--result",
    "-r",
    multiple=True,
    help="COMPLETED, WARNING, REJECTED, SKIPPED, ERROR (repeatable).",
)
@click.option("--since", default=None, help="30s, 10m, 2h, 7d, an ISO date-time or epoch ms.")
@click.option(
    "--limit", "-n", type=click.IntRange(1), default=100, show_default=True, help="Entries shown."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries (Ctrl-C stops).")
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls with --follow.",
)
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def logs(
    source: str | None,
    document_id: str | None,
    matching: str,
    operation: tuple[str, ...],
    result: tuple[str, ...],
    since: str | None,
    limit: int,
    follow: bool,
    interval: float,
    url: str,
    org: str,
    api_key: str,
    as_json: bool,
) -> None:
    """Show the indexing log: what happened to each item, and why.

    Prints the most recent entries (oldest first) matching the filters; with --follow, keeps
    printing new ones as the pipeline commits them.
    """
    query = LogQuery(source, document_id, matching, operation, result)
    start = parse_since(since) if since else None
    console = make_console()
    with ServerApi(url, org, api_key) as api:
        entries = query.latest(api, start, limit)
        if not follow:
            if as_json:
                echo_json(entries)
            else:
                print_table(console, entries)
            return
        _follow(console, api, query, entries, start, interval, as_json)


def _follow(
    console: Console,
    api: ServerApi,
    query: LogQuery,
    first: list[dict[str, Any]],
    start: float | None,
    interval: float,
    as_json: bool,
) -> None:
    def show(entry: dict[str, Any]) -> None:
        if as_json:
            click.echo(orjson.dumps(entry).decode())
        else:
            print_line(console, entry)
        sys.stdout.flush()

    for entry in first:
        show(entry)
    stamps = [s for s in (_stamp(e) for e in first) if s is not None]
    after = max(stamps) if stamps else (start if start is not None else time.time())
    try:
        for entry in tail(api, query, after, interval, {entry_key(e) for e in first}):
            show(entry)
    except KeyboardInterrupt:
        return
