"""``openpush logs``: the real CLI, as a subprocess, against a real openpush server process."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta

import pytest

from tests.acceptance.cli_runner import Lines, run_cli, start_cli
from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

DOC = "https://cli-logs.test/one"
OTHER = "https://cli-logs.test/two"


def push(server: OpenpushServer, source: str, document_id: str, ordering_id: int) -> None:
    response = server.http.put(
        server.push_url(source, "/documents"),
        params={"documentId": document_id, "orderingId": str(ordering_id)},
        json={"data": f"version {ordering_id}"},
    )
    assert response.status_code == 202, response.text


def wait_for_logs(server: OpenpushServer, source: str, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(server.logs({"sourcesIds": [source]})) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{source} did not log {count} entries in time")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sources(openpush_module: OpenpushServer) -> tuple[str, str]:
    server = openpush_module
    first = server.create_source("cli-logs-a", visibility="SHARED")
    second = server.create_source("cli-logs-b", visibility="SHARED")
    push(server, first, DOC, 10)
    push(server, first, DOC, 5)  # older than the item: SKIPPED
    push(server, second, OTHER, 1)
    wait_for_logs(server, first, 2)
    wait_for_logs(server, second, 1)
    return first, second


def entries(done: subprocess.CompletedProcess[str]) -> list[dict]:
    assert done.returncode == 0, (done.stdout, done.stderr)
    return list(json.loads(done.stdout))


def test_a_table_of_entries_oldest_first_with_reasons(
    openpush_module: OpenpushServer, sources: tuple[str, str]
) -> None:
    done = run_cli(openpush_module, "logs", "--document-id", DOC)
    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    completed = next(i for i, line in enumerate(lines) if "COMPLETED" in line)
    skipped = next(i for i, line in enumerate(lines) if "SKIPPED" in line)
    assert completed < skipped  # oldest first
    assert "orderingId 10" in lines[skipped]  # the reason names the newer version
    assert "indexed" in lines[completed]
    assert OTHER not in done.stdout
    assert "2 entries" in done.stdout


def test_filters(openpush_module: OpenpushServer, sources: tuple[str, str]) -> None:
    first, second = sources
    server = openpush_module
    mine = ["--document-id", "cli-logs.test/", "--matching", "PARTIAL", "--json"]  # not follow's
    found = entries(run_cli(server, "logs", *mine))
    assert sorted(e["id"] for e in found) == [DOC, DOC, OTHER]
    found = entries(run_cli(server, "logs", "--source", second, "--json"))
    assert [(e["id"], e["sourceId"], e["result"]) for e in found] == [(OTHER, second, "COMPLETED")]
    found = entries(run_cli(server, "logs", "-r", "skipped", *mine))
    assert [(e["id"], e["result"]) for e in found] == [(DOC, "SKIPPED")]
    assert "orderingId 10" in found[0]["meta"]["reason"]
    found = entries(run_cli(server, "logs", "-r", "SKIPPED", "-r", "COMPLETED", *mine))
    assert len(found) == 3
    assert entries(run_cli(server, "logs", "--operation", "DELETE", *mine)) == []
    assert len(entries(run_cli(server, "logs", "--operation", "ADD", *mine))) == 3
    found = entries(run_cli(server, "logs", "--source", first, "--limit", "1", "--json"))
    assert [e["result"] for e in found] == ["SKIPPED"]  # the most recent one
    assert len(entries(run_cli(server, "logs", "--since", "1h", *mine))) == 3
    assert entries(run_cli(server, "logs", "--since", "2000-01-01", "--limit", "1", *mine))
    newest = datetime.fromisoformat(found[0]["datetime"].replace("Z", "+00:00"))
    later_ms = str(int((newest + timedelta(seconds=1)).timestamp() * 1000))
    assert entries(run_cli(server, "logs", "--since", later_ms, *mine)) == []
    earlier = (newest - timedelta(seconds=1)).isoformat()
    assert len(entries(run_cli(server, "logs", "--since", earlier, *mine))) >= 1


def test_errors_exit_2(openpush_module: OpenpushServer, sources: tuple[str, str]) -> None:
    done = run_cli(openpush_module, "logs", "--since", "2999-01-01T00:00:00Z")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "INVALID_PARAMETER" in done.stderr
    done = run_cli(openpush_module, "logs", "--since", "last tuesday")
    assert done.returncode == 2
    assert "expected a duration" in done.stderr
    done = run_cli(openpush_module, "logs", api_key="no-such-key")
    assert done.returncode == 2
    assert "INVALID_TOKEN" in done.stderr


def test_follow_prints_new_entries_as_they_are_committed(openpush_module: OpenpushServer) -> None:
    server = openpush_module
    first = server.create_source("cli-follow-a", visibility="SHARED")
    before = "https://cli-follow.test/before"
    push(server, first, before, 10)
    push(server, first, before, 5)
    wait_for_logs(server, first, 2)
    process = start_cli(server, "logs", "--follow", "--source", first, "--interval", "0.2")
    output = Lines(process)
    later = "https://cli-follow.test/later"
    try:
        lines = output.until("SKIPPED")  # what was there: printed first
        assert sum(before in line for line in lines) == 2
        push(server, first, later, 100)
        output.until(later)
        push(server, first, later, 50)
        output.until("orderingId 100")
        time.sleep(1.0)  # several more polls: nothing printed twice
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)
    output.rest()
    lines = output.seen
    assert sum(later in line for line in lines) == 2, lines
    assert sum(before in line for line in lines) == 2, lines
    assert "cli-logs.test" not in "".join(lines)  # other sources


def test_follow_json_is_one_object_per_line(openpush_module: OpenpushServer) -> None:
    server = openpush_module
    second = server.create_source("cli-follow-b", visibility="SHARED")
    process = start_cli(server, "logs", "-f", "-s", second, "--interval", "0.2", "--json")
    output = Lines(process)
    fresh = "https://cli-follow.test/json"
    try:
        time.sleep(1.0)  # a few empty polls first
        push(server, second, fresh, 7)
        lines = output.until(fresh)
    finally:
        process.terminate()
        process.wait(10)
    entry = json.loads(lines[-1])
    assert (entry["id"], entry["sourceId"], entry["result"]) == (fresh, second, "COMPLETED")
