"""The Coveo CLI (``@coveo/cli``), unmodified, against a real openpush.

The CLI builds Coveo's hosts itself; ``js/redirect.js``, loaded through ``NODE_OPTIONS``,
sends its calls to the server (docs/clients.md). With the admin API key as its access token
it logs in (``auth:token``: ``/rest/organizations``, ``/oauth/check_token``), creates a
SECURED Push source (``source:push:new``: privilege evaluation, source creation), pushes a
folder of JSON files (``source:push:add``: source status, field listing and creation, a file
container and a batch), lists the sources (``source:list``) and deletes an item
(``source:push:delete``). The test then checks through openpush's API that the fields exist
with the types the CLI chose and that each user finds what the permissions allow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.conftest import JS, OpenpushServer, run_node

DOCS = [
    {
        "documentId": "https://cli.example.com/roadmap",
        "title": "Roadmap",
        "data": "cliwords roadmap for alice",
        "author": "Alice",
        "views": 12,
        "permissions": [
            {
                "allowAnonymous": False,
                "allowedPermissions": [
                    {
                        "identity": "alice@example.com",
                        "identityType": "User",
                        "securityProvider": "Email Security Provider",
                    }
                ],
            }
        ],
    },
    {
        "documentId": "https://cli.example.com/welcome",
        "title": "Welcome",
        "data": "cliwords welcome everybody",
        "author": "Bob",
        "views": 7,
        "permissions": [{"allowAnonymous": True}],
    },
]
SINGLE = {  # a file holding one document instead of an array
    "documentId": "https://cli.example.com/faq",
    "title": "FAQ",
    "data": "cliwords questions",
    "author": "Carol",
    "views": 3,
    "permissions": [{"allowAnonymous": True}],
}


def coveo(server: OpenpushServer, home: Path, *args: str, stdin: str = "") -> str:
    """Run ``coveo ARGS`` with its configuration under ``home``; its output on success."""
    return run_node(server, [str(JS / "node_modules" / ".bin" / "coveo"), *args], home=home,
                    stdin=stdin)  # fmt: skip


def found_by(server: OpenpushServer, user: str) -> set[str]:
    return {r["uri"].rsplit("/", 1)[1] for r in server.search_as(user, "cliwords")["results"]}


def test_the_cli_logs_in_creates_a_source_pushes_files_and_deletes(
    node_client: Path, openpush: OpenpushServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    out = coveo(openpush, home, "auth:token", "--stdin", stdin=openpush.key + "\n")
    assert f"Organization: {openpush.org}" in out, out

    out = coveo(openpush, home, "source:push:new", "cli-docs", "-v", "SECURED")
    match = re.search(r"Id: (\S+)", out)
    assert match, out
    source = match.group(1)

    files = tmp_path / "files"
    files.mkdir()
    (files / "docs.json").write_text(json.dumps(DOCS))
    (files / "faq.json").write_text(json.dumps(SINGLE))
    out = coveo(openpush, home, "source:push:add", source, "-f", str(files))
    assert "3/3 documents successfully sent" in out, out
    uris = [d["documentId"] for d in (*DOCS, SINGLE)]
    openpush.wait_for_all(source, uris, "indexed")

    fields = openpush.http.get(
        openpush.url(f"/rest/organizations/{openpush.org}/indexes/page/fields"),
        params={"perPage": 1000},
    )
    assert fields.status_code == 200, fields.text
    types = {f["name"]: f["type"] for f in fields.json()["items"]}
    assert types["author"] == "STRING" and types["views"] == "LONG", types
    assert found_by(openpush, "alice@example.com") == {"roadmap", "welcome", "faq"}
    assert found_by(openpush, "bob@example.com") == {"welcome", "faq"}
    views = openpush.search_all("cliwords @views>5")
    assert {r["uri"] for r in views["results"]} == {uris[0], uris[1]}, views

    listing = coveo(openpush, home, "source:list")
    row = next((line for line in listing.splitlines() if source in line), "")
    assert "cli-docs" in row and "IDLE" in row and re.search(r"\b3\b", row), listing

    coveo(openpush, home, "source:push:delete", source, "-x", uris[1])
    openpush.wait_for_state(source, uris[1], "deleted")
    assert found_by(openpush, "alice@example.com") == {"roadmap", "faq"}


@pytest.mark.parametrize("url", ["https://example.org/", "http://10.1.2.3:8080/x"])
def test_redirect_refuses_requests_beyond_this_machine(node_client: Path, url: str) -> None:
    """The hook the CLI runs under lets nothing leave the machine (the CLI's analytics)."""
    script = (
        "fetch(process.argv[1]).then(() => process.exit(3),"
        " (e) => { console.log(e.message); process.exit(0); })"
    )
    done = subprocess.run(
        ["node", "--require", str(JS / "redirect.js"), "-e", script, url],
        env={**os.environ, "OPENPUSH_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "no network beyond this machine" in done.stdout, done
