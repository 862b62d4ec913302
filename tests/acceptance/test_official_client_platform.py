"""The platform side against a real server, driven by Coveo's official Python client.

An administrator creates a narrow API key through ``/rest/organizations/{org}/apikeys``; the
official client, holding only that key, creates a source with ``Source.create`` and pushes
into it (single items and a batch). The source model then counts the items in
``information.numberOfDocuments``, and the key stops working the moment it is disabled.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from push_api_clientpy import BackoffOptions, BatchUpdate, DocumentBuilder, PlatformClient, Source

from tests.acceptance.conftest import OpenpushServer
from tests.acceptance.test_official_client import LocalCoveoSession

pytestmark = pytest.mark.acceptance

PUSHER = [
    {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "*"},
]


def client_source(server: OpenpushServer, secret: str) -> tuple[Source, LocalCoveoSession]:
    session = LocalCoveoSession(server.base_url)
    source = Source(secret, server.org)
    source.client = PlatformClient(
        secret, server.org, BackoffOptions(retry_after=1, max_retries=2), session=session
    )
    return source, session


def source_model(server: OpenpushServer, secret: str, source_id: str) -> dict[str, Any]:
    response = requests.get(
        server.url(f"/rest/organizations/{server.org}/sources/{source_id}"),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_documents(
    server: OpenpushServer, secret: str, source_id: str, count: int, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        model = source_model(server, secret, source_id)
        if model["information"]["numberOfDocuments"] == count:
            return model
        if time.monotonic() > deadline:
            pytest.fail(f"numberOfDocuments never reached {count}: {model['information']}")
        time.sleep(0.05)


def test_a_created_key_drives_the_official_client_end_to_end(openpush: OpenpushServer) -> None:
    created = openpush.http.post(
        openpush.url(f"/rest/organizations/{openpush.org}/apikeys"),
        json={"displayName": "python-crawler", "privileges": PUSHER},
    )
    assert created.status_code == 201, created.text
    key_id, secret = created.json()["id"], created.json()["value"]
    source, session = client_source(openpush, secret)

    response = source.create("platform-acceptance", "SHARED")
    assert response.status_code == 201, response.text
    source_id = response.json()["id"]
    model = source_model(openpush, secret, source_id)
    assert model["information"]["numberOfDocuments"] == 0
    assert model["information"]["sourceStatus"]["type"] == "PUSH_READY"

    singles = [f"https://example.com/platform/{n}" for n in range(3)]
    for document_id in singles:
        builder = DocumentBuilder(document_id, f"Single {document_id}").withData("basalt")
        pushed = source.addOrUpdateDocument(source_id, builder)
        assert pushed.status_code == 202, pushed.text
    batch = [
        DocumentBuilder(f"https://example.com/platform/batch/{n}", f"Batch {n}").withData("slate")
        for n in range(5)
    ]
    pushed = source.batchUpdateDocuments(source_id, BatchUpdate(addOrUpdate=batch, delete=[]))
    assert pushed.status_code == 202, pushed.text

    model = wait_for_documents(openpush, secret, source_id, 8)
    assert model["name"] == "platform-acceptance"
    pages = requests.get(
        openpush.url(f"/rest/organizations/{openpush.org}/sources/pages"),
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    ).json()
    listed = next(m for m in pages["sourceModels"] if m["id"] == source_id)
    assert listed["information"]["numberOfDocuments"] == 8
    assert all(url.startswith(openpush.base_url) for _, url in session.sent)

    # the client's own delete removes one; the count follows
    deleted = source.client.deleteDocument(source_id, singles[0], False)
    assert deleted.status_code == 202, deleted.text
    wait_for_documents(openpush, secret, source_id, 7)

    # the key holds exactly what it was given: no API keys, no fields
    assert (
        requests.get(
            openpush.url(f"/rest/organizations/{openpush.org}/apikeys"),
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        ).status_code
        == 403
    )

    disabled = openpush.http.put(
        openpush.url(f"/rest/organizations/{openpush.org}/apikeys/{key_id}/disable")
    )
    assert disabled.status_code == 200, disabled.text
    refused = source.addOrUpdateDocument(
        source_id, DocumentBuilder("https://example.com/platform/late", "Late").withData("x")
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["errorCode"] == "INVALID_TOKEN"
