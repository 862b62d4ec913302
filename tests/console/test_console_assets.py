"""The console's page and assets, in process: served locally, with a strict policy, and
scripts that never insert API data as HTML."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openpush.api.app import create_app
from openpush.console import STATIC_DIR
from openpush.runtime import Runtime
from tests.api.conftest import make_settings

SCRIPTS = sorted((STATIC_DIR / "js").glob("*.js"))


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime.open(make_settings(tmp_path))
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://openpush.test") as c:
            yield c
    finally:
        runtime.close()


async def test_the_page_is_public_and_locked_down(http: httpx.AsyncClient) -> None:
    r = await http.get("/console")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy  # no 'unsafe-inline', no other origin
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert (await http.get("/console/", follow_redirects=True)).status_code == 200


async def test_every_asset_is_local_and_served(http: httpx.AsyncClient) -> None:
    page = (await http.get("/console")).text
    assert "<script>" not in page and " style=" not in page  # nothing inline
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assets = [ref for ref in references if not ref.startswith("data:")]
    assert assets, page
    for ref in assets:
        assert ref.startswith("/console/static/"), ref
        r = await http.get(ref)
        assert r.status_code == 200, ref
        assert r.headers["x-content-type-options"] == "nosniff"
    for script in SCRIPTS:
        text = script.read_text()
        for target in re.findall(r'^import .* from "([^"]+)";$', text, re.MULTILINE):
            assert target.startswith("./"), (script.name, target)  # no URL, no CDN
            assert (script.parent / target).is_file(), (script.name, target)
        r = await http.get(f"/console/static/js/{script.name}")
        assert r.status_code == 200
        assert "javascript" in r.headers["content-type"]
    assert (await http.get("/console/static/../../api/app.py")).status_code == 404
    assert (await http.get("/console/static/nothing.js")).status_code == 404


def test_scripts_insert_api_data_as_text_only() -> None:
    assert len(SCRIPTS) >= 6
    for script in SCRIPTS:
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (script.name, sink)
        assert "http://" not in text and "https://" not in text, script.name


def test_the_key_lives_in_session_storage_only() -> None:
    text = "\n".join(script.read_text() for script in SCRIPTS)
    assert "sessionStorage.setItem" in text
    assert "localStorage" not in text
    assert "document.cookie" not in text
