"""``openpush push``: the real CLI, as a subprocess, against a real openpush server process.

Each test creates its own SHARED source on the module's server, runs
``python -m openpush push …`` and checks the exit code, the printed summary and what the
server did (item status, search).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

CLI_TIMEOUT = 120.0
_names = itertools.count()


def run_push(
    server: OpenpushServer, path: Path, source: str, *args: str, api_key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``openpush push PATH --source SOURCE ARGS``, configured through the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPUSH_")}
    env.update(
        OPENPUSH_URL=server.base_url,
        OPENPUSH_ORG=server.org,
        OPENPUSH_API_KEY=api_key or server.key,
        PYTHONUNBUFFERED="1",
    )
    command = [sys.executable, "-m", "openpush", "push", str(path), "--source", source, *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
    )


def run_json(
    server: OpenpushServer, path: Path, source: str, *args: str
) -> tuple[int, dict[str, Any]]:
    done = run_push(server, path, source, "--json", *args)
    assert done.returncode in (0, 1), (done.returncode, done.stdout, done.stderr)
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def source(openpush_module: OpenpushServer) -> str:
    return openpush_module.create_source(f"cli-push-{next(_names)}", visibility="SHARED")


def write_jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def test_a_directory_is_pushed_one_item_per_file_and_searchable(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    (root / "guides" / "deep").mkdir(parents=True)
    (root / "readme.txt").write_text("The aardvark manual for openpush.")
    (root / "guides" / "intro.md").write_text("# Intro\n\nA page about the quokka.")
    (root / "guides" / "deep" / "page one.html").write_text(
        "<html><head><title>Deep</title></head><body>The okapi lives here.</body></html>"
    )
    (root / "logo.bin").write_bytes(bytes(range(256)) * 4)  # not UTF-8: sent Base64-encoded

    done = run_push(openpush_module, root, source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Sent 4 items in 1 batch" in done.stdout
    assert "Every item was indexed." in done.stdout
    base = root.resolve().as_uri()
    relative = ["readme.txt", "guides/intro.md", "guides/deep/page one.html", "logo.bin"]
    document_ids = [f"{base}/{quote(path)}" for path in relative]
    assert document_ids[2].endswith("/guides/deep/page%20one.html")
    for document_id in document_ids:
        assert openpush_module.status(source, document_id)["state"] == "indexed", document_id
    for word, document_id in [("aardvark", 0), ("quokka", 1), ("okapi", 2)]:
        results = openpush_module.search_all(q=word)["results"]
        assert [r["uri"] for r in results] == [document_ids[document_id]], word
    titles = {r["uri"]: r["title"] for r in openpush_module.search_all()["results"]}
    assert titles[document_ids[3]] == "logo.bin"


def test_base_uri_sets_the_document_ids_of_a_directory(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "a b.txt").write_text("first")

    done = run_push(openpush_module, root, source, "--base-uri", "https://docs.example.com/")

    assert done.returncode == 0, (done.stdout, done.stderr)
    status = openpush_module.status(source, "https://docs.example.com/a%20b.txt")
    assert status["state"] == "indexed"


def test_jsonl_with_invalid_items_exits_1_and_shows_the_reasons(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    items = [
        {"documentId": "https://example.com/jsonl/1", "title": "One", "data": "first"},
        {"documentId": "nope", "data": "no URI scheme"},
        {"documentId": "https://example.com/jsonl/3", "data": "a", "compressedBinaryData": "YQ=="},
        {"documentId": "https://example.com/jsonl/4", "data": "fourth"},
    ]
    path = write_jsonl(tmp_path / "items.jsonl", items)

    done = run_push(openpush_module, path, source)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Sent 4 items in 1 batch" in done.stdout
    assert "2 items were not indexed." in done.stdout
    table = done.stdout[done.stdout.index("Rejected or errored items") :]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert set(rows) == {"nope", "https://example.com/jsonl/3"}
    assert "REJECTED" in rows["nope"]
    assert "not a URI" in rows["nope"]
    assert "content carrier" in rows["https://example.com/jsonl/3"]
    for document_id in ("https://example.com/jsonl/1", "https://example.com/jsonl/4"):
        assert openpush_module.status(source, document_id)["state"] == "indexed"


def test_json_output_counts_every_outcome(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    items: list[Any] = [
        {"documentId": f"https://example.com/json-out/{i}", "data": f"item {i}"} for i in range(5)
    ]
    items.append({"documentId": "nope", "data": "rejected by the server"})
    items.append({"data": "no documentId: refused before sending"})
    path = write_jsonl(tmp_path / "mixed.jsonl", items)
    with path.open("a") as stream:
        stream.write("{not json\n")

    code, summary = run_json(openpush_module, path, source)

    assert code == 1
    assert summary["ok"] is False
    assert summary["itemsSent"] == 6
    assert summary["batches"] == 1
    assert summary["notSent"] == 2
    assert summary["timedOut"] is False
    assert summary["counts"] == {
        "COMPLETED": 5, "WARNING": 0, "REJECTED": 1, "SKIPPED": 0, "ERROR": 0
    }  # fmt: skip
    by_id = {f["documentId"]: f for f in summary["failures"]}
    assert by_id["nope"]["sent"] is True
    assert by_id["nope"]["result"] == "REJECTED"
    assert "not a URI" in by_id["nope"]["reason"]
    local = [f for f in summary["failures"] if not f["sent"]]
    assert sorted(f["documentId"] for f in local) == ["mixed.jsonl:7", "mixed.jsonl:8"]
    assert all(f["reason"].startswith("not sent:") for f in local)
    assert summary["elapsedSeconds"] > 0
    assert summary["itemsPerSecond"] > 0


def test_a_small_batch_size_splits_a_json_list_into_several_batches(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    items = [
        {"documentId": f"https://example.com/many/{i}", "title": f"Item {i}", "data": "x" * 500}
        for i in range(40)
    ]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items))

    code, summary = run_json(openpush_module, path, source, "--batch-mb", "0.005")  # ~5 KB

    assert code == 0, summary
    assert summary["ok"] is True
    assert summary["itemsSent"] == 40
    assert summary["batches"] >= 4
    assert len(set(summary["batchIds"])) == summary["batches"]
    assert summary["counts"]["COMPLETED"] == 40
    assert summary["failures"] == []
    openpush_module.wait_for_all(source, [item["documentId"] for item in items], "indexed")


def test_an_item_larger_than_a_batch_is_not_sent(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    items = [
        {"documentId": "https://example.com/size/small", "data": "small"},
        {"documentId": "https://example.com/size/big", "data": "x" * 20_000},
    ]
    path = write_jsonl(tmp_path / "sizes.jsonl", items)

    code, summary = run_json(openpush_module, path, source, "--batch-mb", "0.01")

    assert code == 1
    assert summary["itemsSent"] == 1
    assert summary["counts"]["COMPLETED"] == 1
    [failure] = summary["failures"]
    assert failure["documentId"] == "https://example.com/size/big"
    assert failure["sent"] is False
    assert "exceeds --batch-mb" in failure["reason"]


def test_a_json_object_adds_and_deletes(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    keep, drop = "https://example.com/obj/keep", "https://example.com/obj/drop"
    first = tmp_path / "first.json"
    first.write_text(json.dumps([{"documentId": d, "data": "v1"} for d in (keep, drop)]))
    assert run_json(openpush_module, first, source)[0] == 0
    second = tmp_path / "second.json"
    second.write_text(
        json.dumps(
            {
                "AddOrUpdate": [{"documentId": keep, "data": "v2 pangolin"}],
                "delete": [{"documentId": drop}],
            }
        )
    )

    code, summary = run_json(openpush_module, second, source)

    assert code == 0, summary
    assert summary["itemsSent"] == 2
    assert summary["counts"]["COMPLETED"] == 2
    assert openpush_module.status(source, drop)["state"] == "deleted"
    results = openpush_module.search_all(q="pangolin")["results"]
    assert [r["uri"] for r in results] == [keep]


def test_no_wait_exits_after_sending(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    document_id = "https://example.com/no-wait/1"
    path = write_jsonl(tmp_path / "one.jsonl", [{"documentId": document_id, "data": "later"}])

    code, summary = run_json(openpush_module, path, source, "--no-wait")

    assert code == 0
    assert summary["waited"] is False
    assert summary["counts"] is None
    assert summary["itemsSent"] == 1
    openpush_module.wait_for_state(source, document_id, "indexed")


def test_a_wrong_api_key_exits_2_with_the_servers_message(
    openpush_module: OpenpushServer, source: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [{"documentId": "https://x/1", "data": "x"}])

    expected = requests.post(
        openpush_module.url(f"/push/v1/organizations/{openpush_module.org}/files"),
        headers={"Authorization": "Bearer not-a-real-key"},
        timeout=10,
    )
    assert expected.status_code == 401

    done = run_push(openpush_module, path, source, api_key="not-a-real-key")

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "HTTP 401" in done.stderr
    assert expected.json()["message"] in done.stderr


def test_an_unknown_source_exits_2_with_the_servers_message(
    openpush_module: OpenpushServer, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [{"documentId": "https://x/1", "data": "x"}])

    done = run_push(openpush_module, path, "no-such-source")

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no-such-source' does not exist" in done.stderr


def test_an_unreachable_server_exits_2(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "one.jsonl", [{"documentId": "https://x/1", "data": "x"}])
    server = OpenpushServer(tmp_path)  # never started: nothing listens on its port
    server.http.close()

    done = run_push(server, path, "any")

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "cannot reach the server" in done.stderr
