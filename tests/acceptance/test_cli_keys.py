"""``openpush keys``: the real CLI, as a subprocess, against a real openpush server process."""

from __future__ import annotations

import json
import re

import pytest

from tests.acceptance.cli_runner import run_cli
from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance


def test_create_list_disable_enable(openpush: OpenpushServer) -> None:
    done = run_cli(openpush, "keys", "create", "reader", "--preset", "logs", "--description", "ro")
    assert done.returncode == 0, (done.stdout, done.stderr)
    secret = re.search(r"secret: (\S+)", done.stdout)
    assert secret, done.stdout
    key = secret.group(1)
    assert "never shows it again" in done.stdout
    assert "PLATFORM/LOGS/VIEW" in done.stdout and "PLATFORM/SOURCE/VIEW" in done.stdout

    listed = run_cli(openpush, "keys", "list", "--json")
    assert listed.returncode == 0, (listed.stdout, listed.stderr)
    models = {model["displayName"]: model for model in json.loads(listed.stdout)}
    assert set(models) == {"bootstrap admin key", "reader"}
    reader = models["reader"]
    assert "value" not in reader and key not in listed.stdout  # the secret is shown once
    assert reader["description"] == "ro"
    assert reader["enabled"] is True

    # the new key works for what it was granted, and for nothing else
    assert run_cli(openpush, "sources", api_key=key).returncode == 0
    refused = run_cli(openpush, "search", "--view-all", api_key=key)
    assert (refused.returncode, "ACCESS_DENIED" in refused.stderr) == (2, True)

    done = run_cli(openpush, "keys", "disable", reader["id"])
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "DISABLED" in done.stdout
    refused = run_cli(openpush, "sources", api_key=key)
    assert refused.returncode == 2
    assert "INVALID_TOKEN" in refused.stderr
    done = run_cli(openpush, "keys", "list")
    assert re.search(r"reader\s*│\s*DISABLED", done.stdout), done.stdout

    done = run_cli(openpush, "keys", "enable", reader["id"], "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["status"] == "ENABLED"
    assert run_cli(openpush, "sources", api_key=key).returncode == 0


def test_privileges_and_refusals(openpush: OpenpushServer) -> None:
    source = openpush.create_source("cli-keys")
    done = run_cli(
        openpush, "keys", "create", "pusher",
        "--privilege", f"PLATFORM/SOURCE/EDIT/{source}",
        "--privilege", "search_api/execute_query/enable",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    model = json.loads(done.stdout)
    assert model["value"].startswith("xx")
    assert model["privileges"] == [
        {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": source},
        {"owner": "SEARCH_API", "targetDomain": "EXECUTE_QUERY", "type": "ENABLE", "targetId": "*"},
    ]
    pusher = model["value"]

    done = run_cli(openpush, "keys", "create", "nothing")
    assert done.returncode == 2
    assert "grant at least one --privilege or --preset" in done.stderr
    done = run_cli(openpush, "keys", "create", "bad", "--privilege", "PLATFORM/SOURCE")
    assert done.returncode == 2
    assert "OWNER/DOMAIN/TYPE" in done.stderr
    # a key cannot manage keys without the privilege, nor grant what it does not hold
    done = run_cli(openpush, "keys", "create", "mine", "--preset", "admin", api_key=pusher)
    assert done.returncode == 2
    assert "HTTP 403 ACCESS_DENIED" in done.stderr
    done = run_cli(openpush, "keys", "disable", "no-such-key-id")
    assert done.returncode == 2
    assert "HTTP 404" in done.stderr
