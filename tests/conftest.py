from __future__ import annotations

import os

import pytest

from tests.pgserver import API_STATES


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's OPENPUSH_* settings."""
    for name in list(os.environ):
        if name.startswith("OPENPUSH_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module", params=API_STATES)
def backend(request: pytest.FixtureRequest) -> str:
    """The state store (and index) an API test runs on: ``sqlite`` or ``postgres``.

    Both by default; ``OPENPUSH_TEST_STATE`` picks one (see ``tests.pgserver``).
    """
    return str(request.param)
