"""Coveo's official Python client (``coveo-push-api-client.py``), unmodified, against openpush.

The client hard-codes ``https://api.cloud.coveo.com`` and ``https://platform.cloud.coveo.com``;
it is redirected with a ``requests.Session`` subclass (the only thing it lets us pass in).
Everything the tests push goes through the client's own ``Source``, ``DocumentBuilder`` and
``PlatformClient``; openpush's own endpoints are used only to observe the outcome
(item status, search, logs).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
from push_api_clientpy import (
    BackoffOptions,
    DocumentBuilder,
    PlatformClient,
    Source,
    UserSecurityIdentityBuilder,
)

from tests.acceptance.conftest import OpenpushServer

pytestmark = pytest.mark.acceptance

COVEO_HOSTS = ("https://api.cloud.coveo.com", "https://platform.cloud.coveo.com")

ALICE = "alice@example.com"
BOB = "bob@example.com"
ALICE_DOC = "https://example.com/reports/alice-q3"
BOB_DOC = "https://example.com/reports/bob-q3"
PUBLIC_DOC = "https://example.com/reports/public-handbook"
BOB_DRAFT = "https://example.com/reports/bob-draft"  # pushed and deleted by the delete test
# what the client sends for a naive datetime: "2024-05-01T12:00:00", read as UTC
ALICE_DATE_MS = 1714564800000


class LocalCoveoSession(requests.Session):
    """Sends the client's Coveo Cloud requests to a local openpush server instead.

    ``PlatformClient`` mounts its retry adapter on ``https://`` only; mounting the same adapter
    on ``http://`` keeps its 429 retry policy for the local (plain HTTP) server.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.sent: list[tuple[str, str]] = []

    def mount(self, prefix: str, adapter: requests.adapters.BaseAdapter) -> None:
        super().mount(prefix, adapter)
        if prefix == "https://":
            super().mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else url
        for host in COVEO_HOSTS:
            if text.startswith(host):
                text = self.base_url + text[len(host) :]
                break
        self.sent.append((str(method), text))
        return super().request(method, text, *args, **kwargs)


@dataclass
class Pushed:
    source: Source
    session: LocalCoveoSession
    source_id: str
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)


def official_source(server: OpenpushServer) -> tuple[Source, LocalCoveoSession]:
    session = LocalCoveoSession(server.base_url)
    source = Source(server.key, server.org)
    # Source.client is public: give it a client whose session points at openpush
    source.client = PlatformClient(
        server.key, server.org, BackoffOptions(retry_after=1, max_retries=2), session=session
    )
    return source, session


def builders() -> dict[str, DocumentBuilder]:
    alice = (
        DocumentBuilder(ALICE_DOC, "Alice quarterly report")
        .withData("Quarterly revenue figures for the northern region.")
        .withAuthor("Alice")
        .withDate(datetime(2024, 5, 1, 12, 0, 0))  # noqa: DTZ001 (naive on purpose)
        .withMetadataValue("category", "finance")
        .withAllowAnonymousUsers(False)
        .withAllowedPermissions(UserSecurityIdentityBuilder(ALICE))
    )
    bob = (
        DocumentBuilder(BOB_DOC, "Bob quarterly report")
        .withData("Quarterly revenue figures for the southern region.")
        .withAuthor("Bob")
        .withAllowAnonymousUsers(False)
        .withAllowedPermissions(UserSecurityIdentityBuilder(BOB))
    )
    # the client's default permission set is {allowAnonymous: true}: a public item
    public = DocumentBuilder(PUBLIC_DOC, "Employee handbook").withData(
        "Quarterly planning calendar and holidays."
    )
    return {ALICE_DOC: alice, BOB_DOC: bob, PUBLIC_DOC: public}


@pytest.fixture(scope="module")
def pushed(openpush_module: OpenpushServer) -> Pushed:
    server = openpush_module
    source, session = official_source(server)
    created = source.create("official-python-client", "SECURED")
    assert created.status_code == 201, created.text
    state = Pushed(source, session, created.json()["id"])
    for document_id, builder in builders().items():
        response = source.addOrUpdateDocument(state.source_id, builder)
        assert response.status_code == 202, response.text
        state.receipts[document_id] = response.json()
    for document_id in state.receipts:
        server.wait_for_state(state.source_id, document_id, "indexed")
    return state


def uris(search: dict[str, Any]) -> set[str]:
    return {result["uri"] for result in search["results"]}


def test_client_requests_reach_openpush_with_its_retry_adapter(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    sent = pushed.session.sent
    assert sent, "the client sent nothing through the session"
    assert all(url.startswith(openpush_module.base_url) for _, url in sent), sent
    assert ("POST", openpush_module.url(f"/rest/organizations/{openpush_module.org}/sources")) in (
        sent
    )
    assert sum(1 for method, _ in sent if method == "PUT") == 3
    adapter = pushed.session.get_adapter(openpush_module.base_url)
    assert adapter.max_retries is pushed.source.client.retries
    assert list(adapter.max_retries.status_forcelist) == [429]


def test_source_created_by_client_is_a_secured_push_source(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    response = openpush_module.http.get(
        openpush_module.url(f"/rest/organizations/{openpush_module.org}/sources/{pushed.source_id}")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "official-python-client"
    assert body["sourceType"] == "PUSH"
    assert body["sourceVisibility"] == "SECURED"
    assert body["pushEnabled"] is True


def test_items_pushed_by_client_are_indexed_with_their_receipts(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    for document_id, receipt in pushed.receipts.items():
        status = openpush_module.status(pushed.source_id, document_id)
        assert status["state"] == "indexed", status
        assert status["lastOperation"] == "ADD", status
        assert status["orderingId"] == str(receipt["orderingId"]), (status, receipt)


def test_each_user_sees_only_what_the_permissions_allow(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    alice = openpush_module.search_as(ALICE)
    assert alice["totalCount"] == 2, alice
    assert uris(alice) == {ALICE_DOC, PUBLIC_DOC}

    bob = openpush_module.search_as(BOB)
    assert bob["totalCount"] == 2, bob
    assert uris(bob) == {BOB_DOC, PUBLIC_DOC}

    stranger = openpush_module.search_as("carol@example.com")
    assert stranger["totalCount"] == 1, stranger
    assert uris(stranger) == {PUBLIC_DOC}

    # a query that matches all three items is still trimmed to the caller's items
    alice_query = openpush_module.search_as(ALICE, q="quarterly")
    assert uris(alice_query) == {ALICE_DOC, PUBLIC_DOC}
    assert BOB_DOC not in uris(openpush_module.search_as(ALICE, q="southern"))


def test_client_document_fields_arrive_in_the_index(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    results = {r["uri"]: r for r in openpush_module.search_as(ALICE)["results"]}
    raw = results[ALICE_DOC]["raw"]
    assert results[ALICE_DOC]["title"] == "Alice quarterly report"
    assert raw["author"] == "Alice"
    assert raw["date"] == ALICE_DATE_MS  # naive ISO date from the client, read as UTC
    # the client generates permanentId as md5[:30] + sha1[:30] of the URI
    assert raw["permanentid"] == builders()[ALICE_DOC].marshal()["permanentId"]


def test_log_has_one_add_per_pushed_item(openpush_module: OpenpushServer, pushed: Pushed) -> None:
    entries = openpush_module.logs({"sourcesIds": [pushed.source_id], "operations": ["ADD"]})
    entries = [e for e in entries if e["id"] != BOB_DRAFT]
    assert Counter(e["id"] for e in entries) == Counter(list(pushed.receipts)), entries
    for entry in entries:
        receipt = pushed.receipts[entry["id"]]
        assert entry["result"] in {"COMPLETED", "WARNING"}, entry
        assert entry["operation"] == "ADD"
        assert entry["sourceId"] == pushed.source_id
        assert entry["requestId"] == receipt["requestId"], (entry, receipt)
        assert entry["meta"]["orderingId"] == str(receipt["orderingId"]), (entry, receipt)
        assert entry["meta"]["reason"], entry


def test_delete_through_client_removes_the_item(
    openpush_module: OpenpushServer, pushed: Pushed
) -> None:
    server = openpush_module
    # an extra item of Bob's, so that this test leaves the shared source as it found it
    draft = (
        DocumentBuilder(BOB_DRAFT, "Bob draft")
        .withData("Unfinished notes.")
        .withAllowAnonymousUsers(False)
        .withAllowedPermissions(UserSecurityIdentityBuilder(BOB))
    )
    added = pushed.source.addOrUpdateDocument(pushed.source_id, draft)
    assert added.status_code == 202, added.text
    server.wait_for_state(pushed.source_id, BOB_DRAFT, "indexed")
    assert uris(server.search_as(BOB)) == {BOB_DOC, BOB_DRAFT, PUBLIC_DOC}

    # the client's own Source.deleteDocument is broken in 1.1.2 (it drops deleteChildren);
    # PlatformClient.deleteDocument is what works
    response = pushed.source.client.deleteDocument(pushed.source_id, BOB_DRAFT, False)
    assert response.status_code == 202, response.text
    assert "deleteChildren=false" in response.request.url
    status = server.wait_for_state(pushed.source_id, BOB_DRAFT, "deleted")
    assert status["lastOperation"] == "DELETE", status
    assert status["lastResult"] == "COMPLETED", status

    bob = server.search_as(BOB)
    assert bob["totalCount"] == 2, bob
    assert uris(bob) == {BOB_DOC, PUBLIC_DOC}
    assert BOB_DRAFT not in uris(server.search_all())
    assert uris(server.search_as(ALICE)) == {ALICE_DOC, PUBLIC_DOC}

    deletes = server.logs({"sourcesIds": [pushed.source_id], "operations": ["DELETE"]})
    assert [(e["id"], e["result"]) for e in deletes] == [(BOB_DRAFT, "COMPLETED")], deletes
    assert deletes[0]["requestId"] == response.json()["requestId"]
