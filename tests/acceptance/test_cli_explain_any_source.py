"""``openpush explain DOCUMENT_ID --user USER`` without ``--source``: the source is found."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.cli_runner import run_cli
from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

DOC = "https://explain-any.test/memo"


def test_the_source_holding_the_item_is_found(openpush: OpenpushServer) -> None:
    openpush.create_source("explain-empty")
    holder = openpush.create_source("explain-holder")
    allowed = [{"identity": "alice@explain.test", "identityType": "User"}]
    openpush.put_document(
        holder, DOC, {"data": "x", "permissions": [{"allowedPermissions": allowed}]}
    )
    openpush.wait_for_state(holder, DOC, "indexed")

    done = run_cli(openpush, "explain", DOC, "--user", "alice@explain.test", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    answer = json.loads(done.stdout)
    assert (answer["sourceId"], answer["visible"]) == (holder, True)
    done = run_cli(openpush, "explain", DOC, "--user", "bob@explain.test")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "NOT VISIBLE" in done.stdout

    done = run_cli(openpush, "explain", "https://explain-any.test/none", "--user", "alice")
    assert done.returncode == 2
    assert "no source holds" in done.stderr

    second = openpush.create_source("explain-second")
    openpush.put_document(
        second, DOC, {"data": "x", "permissions": [{"allowedPermissions": allowed}]}
    )
    openpush.wait_for_state(second, DOC, "indexed")
    done = run_cli(openpush, "explain", DOC, "--user", "alice@explain.test")
    assert done.returncode == 2
    assert "several sources" in done.stderr and "give --source" in done.stderr
    done = run_cli(openpush, "explain", DOC, "--user", "alice@explain.test", "--source", second)
    assert done.returncode == 0, (done.stdout, done.stderr)
