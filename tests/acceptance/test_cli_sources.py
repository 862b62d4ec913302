"""``openpush sources``: the real CLI, as a subprocess, against a real openpush server process."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.cli_runner import run_cli
from tests.acceptance.conftest import OpenpushServer, free_port

pytestmark = pytest.mark.acceptance


def test_status_activity_and_item_counts(openpush: OpenpushServer) -> None:
    busy = openpush.create_source("cli-busy", visibility="SHARED")
    quiet = openpush.create_source("cli-quiet", visibility="PRIVATE")
    docs = [f"https://cli-sources.test/{n}" for n in range(3)]
    for doc in docs:
        openpush.put_document(busy, doc, {"data": "x"})
    openpush.wait_for_all(busy, docs, "indexed")
    openpush.delete_document(busy, docs[0])
    openpush.wait_for_state(busy, docs[0], "deleted")
    started = openpush.http.post(
        openpush.push_url(quiet, "/status"), params={"statusType": "REBUILD"}
    )
    assert started.status_code == 201, started.text

    done = run_cli(openpush, "sources")
    assert done.returncode == 0, (done.stdout, done.stderr)
    rows = {line.split("│")[2].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "cli-busy" in rows[busy] and "SHARED" in rows[busy] and "PUSH_READY" in rows[busy]
    assert "│ 2 " in rows[busy]  # indexed items: the deleted one does not count
    assert "REFRESHING" in rows[quiet] and "REBUILD" in rows[quiet] and "│ 0 " in rows[quiet]
    assert "2 sources" in done.stdout

    ended = openpush.http.post(openpush.push_url(quiet, "/status"), params={"statusType": "IDLE"})
    assert ended.status_code == 201, ended.text
    done = run_cli(openpush, "sources", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    models = {model["id"]: model for model in json.loads(done.stdout)}
    assert set(models) == {busy, quiet}
    assert models[busy]["information"]["numberOfDocuments"] == 2
    assert models[quiet]["information"]["sourceStatus"]["type"] == "IDLE"
    assert models[quiet]["information"]["lastOperation"]["operationType"] == "REBUILD"
    done = run_cli(openpush, "sources")
    assert "REBUILD SUCCESS" in done.stdout  # the last operation, once finished


def test_errors_exit_2(openpush: OpenpushServer) -> None:
    done = run_cli(openpush, "sources", api_key="no-such-key")
    assert done.returncode == 2
    assert "HTTP 401 INVALID_TOKEN" in done.stderr
    done = run_cli(openpush, "sources", "--org", "someone-else")
    assert done.returncode == 2
    assert "ORGANIZATION_NOT_FOUND" in done.stderr
    done = run_cli(openpush, "sources", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2
    assert "cannot reach the server" in done.stderr
