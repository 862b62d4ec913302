"""Coveo's official JavaScript client (``@coveo/push-api-client``) against a real openpush.

``js/worked_example.js`` drives the client and the platform client it holds, unmodified, with
the global ``fetch`` redirected to the server (docs/clients.md). It creates a SECURED source
and an EXPANDED provider, pushes push-api.md §6.5's identities (groups with member lists,
a granted ``Everyone``, aliases to email identities, a disabled group) and ten items whose
permission models the client's own builders make. The test then checks, through search
tokens for the email identities, that every user sees exactly the rows §6.5 allows, and what
the platform client read from the security cache.

The ``lifecycle`` step is a connector's next full run: source status REBUILD, an identity batch
through a file container, disabling the identities the run did not push again, one item
deleted, one pushed again, the rest deleted as older, status IDLE.

The client comes from the npm registry (the ``node_client`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import OpenpushServer, run_node

ROWS = [f"https://js.example.com/{n}" for n in range(1, 11)]
# push-api.md §6.5 (rows 1-9), and row 10: a group that was disabled after its push
EXPECTED = {
    "alice": {1, 2, 3, 4, 5, 6, 9},
    "bob": {1, 3, 4, 5},
    "carol": {2, 4, 6, 7, 8},
    "dave": {4, 6, 9},
    "stranger": {4, 6},  # an email identity nothing maps: only the public rows
}


def run_client(server: OpenpushServer, *args: str) -> dict[str, Any]:
    out = run_node(server, ["node", "worked_example.js", server.org, server.key, *args])
    result: dict[str, Any] = json.loads(out)
    failed = [c for c in result["calls"] if c["status"] not in ("ok", 200, 201, 202)]
    assert not failed, failed
    return result


def sees(server: OpenpushServer, user: str) -> set[int]:
    """The rows the email identity ``user@corp.com`` finds."""
    body = server.search_as(f"{user}@corp.com", "openpushjs")
    rows = {int(r["uri"].rsplit("/", 1)[1]) for r in body["results"]}
    assert body["totalCount"] == len(rows), body
    return rows


def wait_until(condition: Any, what: str, server: OpenpushServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout}s\nserver stderr:\n{server.stderr()[-4000:]}")
        time.sleep(0.05)


def entities(server: OpenpushServer, provider: str) -> dict[str, str]:
    response = server.http.get(
        server.url(f"/rest/organizations/{server.org}/securitycache/entities/{provider}"),
        params={"perPage": 1000},
    )
    assert response.status_code == 200, response.text
    return {e["name"]: e["state"] for e in response.json()["items"]}


def test_the_js_client_pushes_identities_and_items_that_trim_as_the_reference_says(
    node_client: Path, openpush: OpenpushServer
) -> None:
    result = run_client(openpush, "example")
    source, provider = result["sourceId"], result["providerId"]
    openpush.wait_for_all(source, ROWS, "indexed")
    wait_until(
        lambda: entities(openpush, provider).get("Retired") == "DISABLED",
        "the disabled group did not show as DISABLED",
        openpush,
    )
    for user, rows in EXPECTED.items():
        assert sees(openpush, user) == rows, user

    # what the platform client read back from the security cache
    listed = {e["name"]: e for e in result["entities"]["items"]}
    assert {"alice", "bob", "carol", "dave", "Eng", "Mgmt", "Everyone", "Retired"} <= set(listed)
    assert listed["Eng"]["type"] == "Group" and listed["alice"]["type"] == "User"
    assert {m["name"] for m in result["members"]["items"]} == {"carol", "Eng", "alice", "bob"}
    assert {p["name"] for p in result["parents"]["items"]} == {"Eng", "Mgmt", "Everyone"}


def test_the_js_client_full_run_lifecycle(node_client: Path, openpush: OpenpushServer) -> None:
    first = run_client(openpush, "example")
    source, provider = first["sourceId"], first["providerId"]
    openpush.wait_for_all(source, ROWS, "indexed")

    run = run_client(openpush, "lifecycle", source, provider)
    # the JavaScript client sends no queueDelay: the deletion of older items waits 15 minutes
    # (§2.4), so only the explicit delete and the push of row 1 are applied now
    openpush.wait_for_state(source, "https://js.example.com/2", "deleted")
    wait_until(
        lambda: (
            entities(openpush, provider).get("dave") == "DISABLED"
            and entities(openpush, provider).get("erin") == "UP_TO_DATE"
        ),
        "the identity batch and the disabling of older identities were not applied",
        openpush,
    )
    states = entities(openpush, provider)
    # pushed again by the batch (or only named by it, as Everyone): still enabled; dave's own
    # push was not repeated: disabled
    kept = ("alice", "bob", "carol", "Eng", "Mgmt", "Everyone")
    assert {n: states[n] for n in kept} == dict.fromkeys(kept, "UP_TO_DATE"), states
    assert states["dave"] == "DISABLED"
    assert sees(openpush, "erin") == sees(openpush, "bob") | {6} == {1, 3, 4, 5, 6}
    assert sees(openpush, "alice") == {1, 3, 4, 5, 6, 9}
    assert sees(openpush, "dave") == {4, 6}  # disabled: his row 9 is gone, the public rows stay
    status = openpush.http.get(openpush.url(f"/rest/organizations/{openpush.org}/sources/{source}"))
    assert status.status_code == 200, status.text
    assert status.json()["information"]["sourceStatus"]["type"] == "IDLE", status.json()
    assert run["runOrderingId"] > 0
