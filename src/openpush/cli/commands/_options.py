"""Options shared by the commands that open a deployment's storage.

Each option defaults to ``None`` so that the environment (``OPENPUSH_*``) and then the
built-in default apply when it is not given; see :func:`openpush.settings.load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["blobs_option", "data_dir_option", "database_option"]


def data_dir_option(fn: Any) -> Any:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Directory holding all state [env OPENPUSH_DATA_DIR; default ./openpush-data].",
    )(fn)


def database_option(fn: Any) -> Any:
    return click.option(
        "--database",
        default=None,
        metavar="URL",
        help="State store URL, e.g. postgresql://user@host/db "
        "[env OPENPUSH_DATABASE; empty: SQLite in the data directory].",
    )(fn)


def blobs_option(fn: Any) -> Any:
    return click.option(
        "--blobs",
        default=None,
        metavar="URL",
        help="File-container storage, e.g. s3://bucket/prefix "
        "[env OPENPUSH_BLOBS; empty: local files in the data directory].",
    )(fn)
