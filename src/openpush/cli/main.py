"""The ``openpush`` command: a thin root; each command group lives in ``cli/commands``."""

from __future__ import annotations

import click

from openpush import __version__
from openpush.cli.commands import db, explain, keys, logs, push, search, serve, sources

__all__ = ["cli", "main"]


@click.group()
@click.version_option(__version__, prog_name="openpush")
def cli() -> None:
    """openpush: a self-hosted, Coveo-compatible Push API with a permission-aware index."""


cli.add_command(serve.serve)
cli.add_command(serve.worker)
cli.add_command(push.push)
cli.add_command(explain.explain)
cli.add_command(db.db)
cli.add_command(logs.logs)
cli.add_command(search.search)
cli.add_command(sources.sources)
cli.add_command(keys.keys)


def main() -> None:
    cli()
