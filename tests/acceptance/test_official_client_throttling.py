"""Coveo's official Python client, unmodified, recovers from openpush's 429s on PUT.

The server runs with throttling on and a tiny per-key rate (0.5 request/s, burst 3). The client
pushes six items with its default backoff options: urllib3 ``Retry(backoff_factor=5,
status_forcelist=[429], respect_retry_after_header=False)``, so it ignores ``Retry-After``,
retries the first 429 at once and waits 10 s before the second retry, by which time the bucket
has refilled. Every item must end up indexed, and at least one push must have been retried.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from push_api_clientpy import BackoffOptions, DocumentBuilder, PlatformClient, Source

from tests.acceptance.conftest import OpenpushServer
from tests.acceptance.test_official_client import LocalCoveoSession

pytestmark = pytest.mark.acceptance

ITEMS = 6
SOURCE_EDIT = {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "*"}


@pytest.fixture
def throttled_server(tmp_path: Path) -> Iterator[OpenpushServer]:
    root = tmp_path / "openpush"
    root.mkdir()
    server = OpenpushServer(root)
    server.env = {
        "OPENPUSH_THROTTLING": "true",
        "OPENPUSH_ORG_REQUESTS_PER_SECOND": "0",
        "OPENPUSH_KEY_REQUESTS_PER_SECOND": "0.5",
        "OPENPUSH_KEY_REQUEST_BURST": "3",
    }
    try:
        server.start()
        yield server
    finally:
        server.close()


def crawler_key(server: OpenpushServer) -> str:
    """A push key of its own: the admin key's bucket stays for observing."""
    response = server.http.post(
        server.url(f"/rest/organizations/{server.org}/apikeys"),
        json={"displayName": "crawler", "privileges": [SOURCE_EDIT]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["value"])


def indexed_uris(server: OpenpushServer, expected: int, timeout: float = 20.0) -> set[str]:
    """Poll the (unthrottled) Search API until ``expected`` items are indexed."""
    deadline = time.monotonic() + timeout
    while True:
        found = {r["uri"] for r in server.search_all()["results"]}
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_the_python_client_recovers_from_429_on_put(throttled_server: OpenpushServer) -> None:
    server = throttled_server
    source_id = server.create_source("throttled", "SHARED")
    key = crawler_key(server)
    source = Source(key, server.org)
    client = PlatformClient(key, server.org, BackoffOptions(), session=LocalCoveoSession(
        server.base_url
    ))  # fmt: skip
    source.client = client  # public attribute: the client, redirected to openpush
    assert client.retries.backoff_factor == 5
    assert client.retries.respect_retry_after_header is False

    retried = []
    for n in range(ITEMS):
        document = DocumentBuilder(f"https://example.com/throttled/{n}", f"Item {n}").withData(
            f"throttled item number {n}"
        )
        response = source.addOrUpdateDocument(source_id, document)
        assert response.status_code == 202, response.text
        history = response.raw.retries.history if response.raw.retries else ()
        retried.extend(entry.status for entry in history)
    assert retried and set(retried) == {429}, retried

    expected = {f"https://example.com/throttled/{n}" for n in range(ITEMS)}
    assert indexed_uris(server, ITEMS) == expected

    # what the client saw on each of those 429s: Coveo's body and a Retry-After
    refused = requests.put(
        server.push_url(source_id, "/documents"),
        params={"documentId": "https://example.com/throttled/extra"},
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        data="{}",
        timeout=10,
    )
    assert refused.status_code == 429
    assert refused.json()["errorCode"] == "TOO_MANY_REQUESTS"
    assert refused.headers["Retry-After"].isdigit()
    assert int(refused.headers["Retry-After"]) >= 1
