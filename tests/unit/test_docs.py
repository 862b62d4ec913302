"""The documentation covers every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

from openpush.cli.main import cli
from openpush.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_has_a_heading_and_its_environment_variable() -> None:
    text = (DOCS / "settings.md").read_text()
    for setting in SETTINGS:
        assert f"## {setting.name}\n" in text, setting.name
        assert f"`{setting.env}`" in text, setting.env


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "design.md").read_text()
    for name in cli.commands:
        assert f"`openpush {name}`" in text, name
