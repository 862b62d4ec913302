"""The ``openpush`` command: a thin root; each command group lives in ``cli/commands``."""

from __future__ import annotations

import click

from openpush import __version__
from openpush.cli.commands import explain, push, serve

__all__ = ["cli", "main"]


@click.group()
@click.version_option(__version__, prog_name="openpush")
def cli() -> None:
    """openpush: a self-hosted, Coveo-compatible Push API with a permission-aware index."""


cli.add_command(serve.serve)
cli.add_command(serve.worker)
cli.add_command(push.push)
cli.add_command(explain.explain)


def main() -> None:
    cli()
