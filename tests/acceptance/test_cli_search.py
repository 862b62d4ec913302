"""``openpush search``: the real CLI, as a subprocess, against a real openpush server process."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.acceptance.cli_runner import run_cli
from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

P = "SearchCliProvider"
EMAIL = "Email Security Provider"
ENG_DOC = "https://cli-search.test/eng-plan"
MAIL_DOC = "https://cli-search.test/alice-memo"


def push_identity(server: OpenpushServer, body: dict[str, Any]) -> None:
    response = server.http.put(
        server.url(f"/push/v1/organizations/{server.org}/providers/{P}/permissions"), json=body
    )
    assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def source(openpush_module: OpenpushServer) -> str:
    server = openpush_module
    source_id = server.create_source("cli-search", visibility="SECURED")
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
    url = server.url(f"/rest/organizations/{server.org}/securitycache/entities/{P}")
    deadline = time.monotonic() + 15
    while server.http.get(url).json()["totalEntries"] < 2:
        assert time.monotonic() < deadline, "the identities were not applied in time"
        time.sleep(0.05)
    eng = [{"identity": "Eng", "identityType": "Group", "securityProvider": P}]
    mail = [
        {"identity": "alice@cli-search.test", "identityType": "User", "securityProvider": EMAIL}
    ]
    server.put_document(
        source_id,
        ENG_DOC,
        {
            "title": "Engineering plan",
            "data": "roadmap",
            "permissions": [{"allowedPermissions": eng}],
        },
    )
    server.put_document(
        source_id,
        MAIL_DOC,
        {"title": "Memo", "data": "roadmap memo", "permissions": [{"allowedPermissions": mail}]},
    )
    server.wait_for_all(source_id, [ENG_DOC, MAIL_DOC], "indexed")
    return source_id


def test_as_a_user_the_results_are_trimmed(openpush_module: OpenpushServer, source: str) -> None:
    done = run_cli(openpush_module, "search", "roadmap", "--as", "alice@cli-search.test")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert MAIL_DOC in done.stdout
    assert ENG_DOC not in done.stdout
    assert "1 results in total (1 shown)" in done.stdout
    assert "Memo" in done.stdout
    assert source in done.stdout

    done = run_cli(openpush_module, "search", "roadmap", "--as", "bob@cli-search.test")
    assert done.returncode == 1, (done.stdout, done.stderr)  # like grep: nothing matched
    assert "0 results in total" in done.stdout
    assert "cli-search.test/" not in done.stdout.replace("bob@cli-search.test", "")


def test_the_provider_picks_the_identity(openpush_module: OpenpushServer, source: str) -> None:
    done = run_cli(openpush_module, "search", "roadmap", "--as", "alice", "-p", P, "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    answer = json.loads(done.stdout)
    assert answer["totalCount"] == 1
    assert [r["uri"] for r in answer["results"]] == [ENG_DOC]  # alice of P is in Eng
    done = run_cli(openpush_module, "search", "roadmap", "--as", "alice", "--json")
    assert done.returncode == 1  # alice of the email provider is nobody here
    assert json.loads(done.stdout)["totalCount"] == 0


def test_view_all_and_paging(openpush_module: OpenpushServer, source: str) -> None:
    done = run_cli(openpush_module, "search", "roadmap", "--view-all", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert sorted(r["uri"] for r in json.loads(done.stdout)["results"]) == [MAIL_DOC, ENG_DOC]
    done = run_cli(openpush_module, "search", "roadmap", "--view-all", "--limit", "1")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "2 results in total (1 shown)" in done.stdout
    done = run_cli(openpush_module, "search", "@title==Memo", "--view-all", "--json")
    assert [r["uri"] for r in json.loads(done.stdout)["results"]] == [MAIL_DOC]


def test_usage_and_privilege_errors(openpush_module: OpenpushServer, source: str) -> None:
    done = run_cli(openpush_module, "search", "roadmap")
    assert done.returncode == 2
    assert "exactly one of --as USER or --view-all" in done.stderr
    done = run_cli(openpush_module, "search", "x", "--as", "a", "--view-all")
    assert done.returncode == 2
    created = openpush_module.http.post(
        openpush_module.url(f"/rest/organizations/{openpush_module.org}/apikeys"),
        json={"displayName": "query only", "privileges": [
            {"owner": "SEARCH_API", "targetDomain": "EXECUTE_QUERY", "type": "ENABLE"}]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    key = created.json()["value"]
    done = run_cli(openpush_module, "search", "roadmap", "--as", "alice", api_key=key)
    assert done.returncode == 2  # minting a token needs IMPERSONATE
    assert "ACCESS_DENIED" in done.stderr
    done = run_cli(openpush_module, "search", "roadmap", "--view-all", api_key=key)
    assert done.returncode == 2
    assert "VIEW_ALL_CONTENT" in done.stderr
    done = run_cli(openpush_module, "search", "(roadmap", "--view-all")
    assert done.returncode == 2
    assert "INVALID_QUERY_SYNTAX" in done.stderr
