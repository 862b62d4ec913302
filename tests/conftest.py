from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's OPENPUSH_* settings."""
    for name in list(os.environ):
        if name.startswith("OPENPUSH_"):
            monkeypatch.delenv(name, raising=False)
