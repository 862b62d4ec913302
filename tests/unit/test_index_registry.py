"""The ``index`` setting: which search index a process opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpush.errors import InvalidParameterError
from openpush.index.registry import index_kind
from openpush.runtime import Runtime
from openpush.settings import Settings, load_settings

PG = "postgresql://u@db.example:5432/openpush"


@pytest.mark.parametrize(
    ("database", "index", "kind"),
    [
        ("", "", "tantivy"),
        ("sqlite:///tmp/state.db", "", "tantivy"),
        (PG, "", "postgres"),
        ("postgres://u@db.example/openpush", "", "postgres"),
        (PG, "tantivy", "tantivy"),  # one host: the embedded index beside a PostgreSQL store
        (PG, "postgres", "postgres"),
        (PG, " Postgres ", "postgres"),
        ("", "tantivy", "tantivy"),
    ],
)
def test_the_index_follows_the_setting_or_the_database(
    database: str, index: str, kind: str
) -> None:
    assert index_kind(Settings(database=database, index=index)) == kind


@pytest.mark.parametrize("database", ["", "sqlite:///tmp/state.db"])
def test_the_postgres_index_needs_a_postgres_database(database: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"index=postgres.*postgresql://"):
        index_kind(Settings(database=database, index="postgres"))


def test_an_unknown_index_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="unknown index 'lucene'"):
        index_kind(Settings(index="lucene"))


def test_the_setting_is_read_from_the_environment() -> None:
    settings = load_settings(environ={"OPENPUSH_INDEX": "tantivy", "OPENPUSH_DATABASE": PG})
    assert index_kind(settings) == "tantivy"


def test_the_runtime_refuses_a_bad_index_before_opening_anything(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError):
        Runtime.open(Settings(data_dir=tmp_path / "data", index="postgres"))
    assert not (tmp_path / "data").exists()
