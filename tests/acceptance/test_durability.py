"""Crash durability with real processes: ``kill -9`` the server while the pipeline works.

An operation answered with 202 is durable: after a ``kill -9`` and a restart on the same data
directory it is applied, exactly once (one log entry, one indexed version), whether the kill
came before the worker claimed it, while it was being applied, or between the index commit and
the state-store commit.

To make sure the kill lands mid-pipeline, items carry a few thousand distinct terms (so
indexing is the slow part) and are pushed from several threads; before killing, the test
checks that the last accepted operation is still ``accepted`` (not even claimed by the worker),
pushing more if the worker has caught up. After the restart, each operation's log entry carries
the time it was applied, which shows that the tail was applied by the new process.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

FIRST_BURST = 300
NEXT_BURST = 100
MAX_BURSTS = 6  # at most 800 items: a view-all search returns them all in one page
TERMS_PER_ITEM = 2000
PUSH_THREADS = 8
APPLIED = {"COMPLETED", "WARNING"}


def item_body(n: int) -> dict[str, Any]:
    words = " ".join(f"t{n}x{j}" for j in range(TERMS_PER_ITEM))
    return {
        "title": f"Durable item {n}",
        "data": f"durable {words}",
        "permissions": [{"allowAnonymous": True}],
    }


class Pusher:
    """Pushes items from several threads with plain ``requests``; every PUT must be a 202."""

    def __init__(self, server: OpenpushServer, source_id: str, prefix: str) -> None:
        self.server = server
        self.source_id = source_id
        self.prefix = prefix
        self.ids: list[str] = []
        self.receipts: dict[str, dict[str, Any]] = {}
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.server.key}"
            self._local.session = session
        return session

    def _put(self, n: int) -> tuple[str, dict[str, Any]]:
        document_id = f"{self.prefix}{n}"
        response = self._session().put(
            self.server.push_url(self.source_id, "/documents"),
            params={"documentId": document_id},
            json=item_body(n),
            timeout=30,
        )
        assert response.status_code == 202, (document_id, response.status_code, response.text)
        return document_id, response.json()

    def burst(self, count: int) -> None:
        start = len(self.ids)
        with ThreadPoolExecutor(PUSH_THREADS) as pool:
            done = list(pool.map(self._put, range(start, start + count)))
        for document_id, receipt in done:
            self.ids.append(document_id)
            self.receipts[document_id] = receipt

    def close(self) -> None:
        self._local = threading.local()


def push_until_behind(pusher: Pusher, probe: Callable[[], str]) -> int:
    """Push bursts until ``probe()`` (the status of the newest operation) is 'accepted'."""
    pusher.burst(FIRST_BURST)
    for _ in range(MAX_BURSTS):
        if probe() == "accepted":
            return len(pusher.ids)
        pusher.burst(NEXT_BURST)
    pytest.fail(f"the pipeline kept up with {len(pusher.ids)} pushes; could not kill it mid-way")


def applied_at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["datetime"].replace("Z", "+00:00")).timestamp()


def by_id(entries: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(entry["id"], []).append(entry)
    return grouped


def test_kill_9_mid_pipeline_loses_nothing_and_applies_nothing_twice(
    openpush: OpenpushServer,
) -> None:
    server = openpush
    source_id = server.create_source("durability")
    pusher = Pusher(server, source_id, "https://durable.example.com/item/")

    push_until_behind(pusher, lambda: server.status(source_id, pusher.ids[-1])["state"])
    killed_at = server.kill()
    pusher.close()
    total = len(pusher.ids)

    server.start()
    server.wait_for_all(source_id, pusher.ids, "indexed", timeout=40)

    # every accepted item is searchable, once
    search = server.search_all(number_of_results=1000)
    found = [result["uri"] for result in search["results"]]
    assert search["totalCount"] == total, (search["totalCount"], total)
    assert len(found) == total
    assert set(found) == set(pusher.ids), sorted(set(pusher.ids) - set(found))[:10]

    # exactly one applied ADD per documentId, matching its 202 receipt; nothing else logged
    entries = server.logs({"sourcesIds": [source_id]})
    counts = Counter(entry["id"] for entry in entries)
    twice = {document_id: n for document_id, n in counts.items() if n != 1}
    assert not twice, f"log entries per documentId other than 1: {dict(list(twice.items())[:10])}"
    assert set(counts) == set(pusher.ids), sorted(set(pusher.ids) - set(counts))[:10]
    for entry in entries:
        receipt = pusher.receipts[entry["id"]]
        assert entry["operation"] == "ADD", entry
        assert entry["result"] in APPLIED, entry
        assert entry["requestId"] == receipt["requestId"], (entry, receipt)
        assert entry["meta"]["orderingId"] == str(receipt["orderingId"]), (entry, receipt)

    # the kill really happened mid-pipeline: the newest items were applied by the new process
    logged = by_id(entries)
    after_restart = [d for d in pusher.ids if applied_at(logged[d][0]) > killed_at]
    assert pusher.ids[-1] in after_restart, (
        "the last item was indexed before the kill; the test did not kill mid-pipeline"
    )
    assert len(after_restart) < total, "nothing was indexed before the kill"

    # the status endpoint agrees with the receipts
    for document_id in (pusher.ids[0], pusher.ids[total // 2], pusher.ids[-1]):
        status = server.status(source_id, document_id)
        assert status["orderingId"] == str(pusher.receipts[document_id]["orderingId"]), status


def test_delete_accepted_just_before_kill_9_is_applied_after_restart(
    openpush: OpenpushServer,
) -> None:
    server = openpush
    source_id = server.create_source("durable-deletes")
    targets = [f"https://durable.example.com/target/{n}" for n in range(MAX_BURSTS)]
    for n, document_id in enumerate(targets):
        server.put_document(source_id, document_id, item_body(10_000 + n))
    server.wait_for_all(source_id, targets, "indexed")

    # a backlog of pushes, then a DELETE behind it; repeat until the DELETE is still queued
    fillers = Pusher(server, source_id, "https://durable.example.com/filler/")
    deletes: dict[str, dict[str, Any]] = {}
    for document_id in targets:
        fillers.burst(FIRST_BURST if not deletes else NEXT_BURST)
        deletes[document_id] = server.delete_document(source_id, document_id)
        if server.status(source_id, document_id)["state"] == "accepted":
            break
    else:
        pytest.fail("every DELETE was applied before it could be checked; no kill mid-way")
    last_delete = document_id
    killed_at = server.kill()
    fillers.close()

    server.start()
    for document_id, receipt in deletes.items():
        status = server.wait_for_state(source_id, document_id, "deleted", timeout=30)
        assert status["lastOperation"] == "DELETE", status
        assert status["orderingId"] == str(receipt["orderingId"]), (status, receipt)
    server.wait_for_all(source_id, fillers.ids, "indexed", timeout=40)

    kept = [d for d in targets if d not in deletes]
    found = [r["uri"] for r in server.search_all(number_of_results=1000)["results"]]
    assert not set(deletes) & set(found), sorted(set(deletes) & set(found))
    assert sorted(found) == sorted(kept + fillers.ids)

    delete_entries = by_id(server.logs({"sourcesIds": [source_id], "operations": ["DELETE"]}))
    assert set(delete_entries) == set(deletes), delete_entries.keys()
    for document_id, entries in delete_entries.items():
        assert len(entries) == 1, entries
        assert entries[0]["result"] == "COMPLETED", entries
        assert entries[0]["requestId"] == deletes[document_id]["requestId"], entries
    # the DELETE that was still queued at the kill was applied by the restarted process
    assert applied_at(delete_entries[last_delete][0]) > killed_at, delete_entries[last_delete]

    # and the fillers pushed around it were each applied exactly once
    adds = server.logs({"sourcesIds": [source_id], "operations": ["ADD"]})
    assert Counter(e["id"] for e in adds) == Counter(targets + fillers.ids)
    assert {e["result"] for e in adds} <= APPLIED, Counter(e["result"] for e in adds)
