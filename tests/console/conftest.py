"""Console fixtures: a real ``openpush serve`` process and headless Debian Chromium.

The browser is ``/usr/bin/chromium`` (``OPENPUSH_TEST_CHROMIUM`` overrides the path) driven by
Playwright's Python package, which needs no browser download. Each test gets a fresh
profile directory, hence an empty ``sessionStorage``. Without the browser or Playwright the
browser tests skip with the reason, except in CI (``CI`` or
``OPENPUSH_TEST_REQUIRE_BROWSER=1``, which ``.ci/run`` sets), where they fail.

A test fails if the page raised a JavaScript error, logged a console error or got a 5xx
answer, whatever it asserted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import OpenpushServer, running_server

CHROMIUM = Path(os.environ.get("OPENPUSH_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = bool(os.environ.get("CI")) or os.environ.get("OPENPUSH_TEST_REQUIRE_BROWSER") == "1"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start servers and browsers are acceptance tests."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.acceptance)


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}); pip install -e '.[test]'"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium (as .ci/run does)"
    return None


def playwright_api() -> Any:
    """``playwright.sync_api`` for the test modules; skips them (fails in CI) without it."""
    try:
        import playwright.sync_api as api
    except ImportError as exc:
        reason = f"playwright is not installed ({exc}); pip install -e '.[test]'"
        if REQUIRED:
            pytest.fail(f"the browser tests must run in CI: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return api


@dataclass
class Browser:
    """One page of a fresh Chromium profile, and the errors it reported."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def login(self, server: OpenpushServer, key: str | None = None) -> None:
        from playwright.sync_api import expect

        self.page.goto(server.url("/console"))
        self.page.get_by_test_id("api-key").fill(key or server.key)
        self.page.get_by_test_id("login").click()
        expect(self.page.get_by_test_id("whoami")).to_contain_text(f"organization {server.org}")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    reason = unavailable()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"the browser tests must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        opened = Browser(page)
        page.on("pageerror", lambda error: opened.errors.append(f"JavaScript error: {error}"))
        page.on("console", lambda message: _console(opened, message))
        page.on("response", lambda response: _response(opened, response))
        try:
            yield opened
        finally:
            context.close()
    assert not opened.errors, opened.errors


def _console(opened: Browser, message: Any) -> None:
    # "Failed to load resource" is the browser noting an HTTP error status: the tests provoke
    # 4xx answers on purpose (a wrong key, a disabled one); 5xx answers are caught below
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        opened.errors.append(f"console error: {message.text}")


def _response(opened: Browser, response: Any) -> None:
    if response.status >= 500:
        opened.errors.append(f"{response.status} from {response.request.method} {response.url}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenpushServer]:
    """One openpush server shared by the tests of a module."""
    with running_server(tmp_path_factory.mktemp("console")) as running:
        yield running
