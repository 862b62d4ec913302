"""``openpush explain``: the real CLI, as a subprocess, against a real openpush server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

CLI_TIMEOUT = 60.0
P = "ExplainProvider"
EMAIL = "Email Security Provider"
DOC = "https://explain.test/eng-only"


def run_explain(
    server: OpenpushServer, *args: str, api_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
    env.update(
        OPENPUSH_URL=server.base_url,
        OPENPUSH_ORG=server.org,
        OPENPUSH_API_KEY=api_key or server.key,
        PYTHONUNBUFFERED="1",
    )
    command = [sys.executable, "-m", "openpush", "explain", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
    )


def push_identity(server: OpenpushServer, body: dict[str, Any]) -> None:
    response = server.http.put(
        server.url(f"/push/v1/organizations/{server.org}/providers/{P}/permissions"), json=body
    )
    assert response.status_code == 202, response.text


def wait_for_identities(server: OpenpushServer, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    url = server.url(f"/rest/organizations/{server.org}/securitycache/entities/{P}")
    while True:
        response = server.http.get(url)
        assert response.status_code == 200, response.text
        if response.json()["totalEntries"] >= count:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the identities were not applied in time: {response.json()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def source(openpush_module: OpenpushServer) -> str:
    server = openpush_module
    source_id = server.create_source("cli-explain", visibility="SECURED")
    response = server.http.post(
        server.url(f"/rest/organizations/{server.org}/securityproviders"),
        json={
            "id": P,
            "type": "EXPANDED",
            "referencedBy": [{"id": source_id, "type": "SOURCE"}],
            "cascadingSecurityProviders": {EMAIL: {"id": EMAIL, "type": "EMAIL"}},
        },
    )
    assert response.status_code == 201, response.text
    push_identity(server, {"identity": {"name": "Eng", "type": "GROUP"},
                           "members": [{"name": "alice", "type": "USER"}]})  # fmt: skip
    push_identity(server, {"identity": {"name": "bob", "type": "USER"}})
    wait_for_identities(server, 3)
    server.put_document(
        source_id,
        DOC,
        {
            "data": "for engineers",
            "permissions": [{"allowedPermissions": [{"identity": "Eng", "identityType": "Group"}]}],
        },
    )
    server.wait_for_state(source_id, DOC, "indexed")
    return source_id


def test_a_visible_item_prints_the_verdict_and_the_path(
    openpush_module: OpenpushServer, source: str
) -> None:
    done = run_explain(openpush_module, DOC, "--source", source, "--user", "alice", "-p", P)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "NOT VISIBLE" not in done.stdout
    assert "VISIBLE" in done.stdout
    assert "allowed by level 0" in done.stdout
    assert "alice -member-of-> Eng" in done.stdout


def test_a_hidden_item_exits_1_and_json_is_the_server_answer(
    openpush_module: OpenpushServer, source: str
) -> None:
    done = run_explain(openpush_module, DOC, "--source", source, "--user", "bob", "-p", P)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "NOT VISIBLE" in done.stdout
    done = run_explain(
        openpush_module, DOC, "--source", source, "--user", "alice", "--provider", P, "--json"
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    answer = json.loads(done.stdout)
    assert answer["visible"] is True
    assert (answer["decidingLevel"], answer["decidingSet"]) == (0, 0)
    assert [m["name"] for m in answer["matchedIdentities"]] == ["Eng"]
    # search agrees
    token = openpush_module.search_token("alice")  # an email identity: no alias, not visible
    assert token
    hits = openpush_module.search_as("alice")["results"]
    done = run_explain(openpush_module, DOC, "--source", source, "--user", "alice", "--json")
    assert json.loads(done.stdout)["visible"] is (DOC in {h["uri"] for h in hits})


def test_errors_exit_2(openpush_module: OpenpushServer, source: str) -> None:
    done = run_explain(openpush_module, "https://explain.test/nope", "-s", source, "-u", "alice")
    assert done.returncode == 2
    assert "DOCUMENT_NOT_FOUND" in done.stderr
    done = run_explain(openpush_module, DOC, "-s", source, "-u", "alice", api_key="wrong-key")
    assert done.returncode == 2
    assert "401" in done.stderr
    done = run_explain(openpush_module, DOC, "-s", source)
    assert done.returncode == 2  # click: missing --user
