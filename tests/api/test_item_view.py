"""``GET …/sources/{src}/documents/item``: an indexed item's metadata and permission model."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio

DOC = "https://item.test/report"
MODEL = [
    {
        "name": "Admins",
        "permissionSets": [
            {
                "name": "Denied interns",
                "allowAnonymous": False,
                "allowedPermissions": [],
                "deniedPermissions": [
                    {"identity": "intern@item.test", "identityType": "User"},
                ],
            },
        ],
    },
    {
        "name": "Everyone else",
        "permissionSets": [
            {
                "name": None,
                "allowAnonymous": False,
                "allowedPermissions": [
                    {"identity": "alice@item.test", "identityType": "User"},
                    {
                        "identity": "Eng",
                        "identityType": "Group",
                        "securityProvider": "Email Security Provider",
                    },
                ],
                "deniedPermissions": [],
            },
            {
                "name": "public",
                "allowAnonymous": True,
                "allowedPermissions": [],
                "deniedPermissions": [],
            },
        ],
    },
]


def item_url(api: Api, source: str) -> str:
    return f"/rest/organizations/{api.org}/sources/{source}/documents/item"


async def get_item(api: Api, source: str, document_id: str, key: str | None = None) -> Any:
    return await api.http.get(
        item_url(api, source), params={"documentId": document_id}, headers=api.auth(key)
    )


async def test_the_item_as_pushed_metadata_content_and_permissions(api: Api) -> None:
    source = await api.create_source()
    body = {
        "title": "Quarterly report",
        "author": "Ann",
        "tags": ["finance", "q3"],
        "data": "Revenue grew. Été.",
        "fileExtension": ".txt",
        "permissions": MODEL,
    }
    assert (await api.push(source, DOC, body, orderingId=42)).status_code == 202
    api.drain()
    r = await get_item(api, source, DOC)
    assert r.status_code == 200, r.text
    item = r.json()
    assert item["documentId"] == DOC
    assert item["sourceId"] == source
    assert item["state"] == "indexed"
    assert item["orderingId"] == "42"
    assert item["title"] == "Quarterly report"
    assert item["metadata"] == {
        "title": "Quarterly report",
        "author": "Ann",
        "tags": ["finance", "q3"],
    }
    assert item["content"] == {"carrier": "data", "bytes": len("Revenue grew. Été.".encode())}
    assert item["textLength"] == len("Revenue grew. Été.")
    assert item["fileExtension"] == ".txt"
    assert item["permissions"] == MODEL
    assert item["lastResult"] == "WARNING"  # no field is named tags: kept, not indexed
    assert "tags" in item["lastReason"]


async def test_a_simplified_model_and_compressed_content(api: Api) -> None:
    source = await api.create_source()
    body = {
        "compressedBinaryData": "aGVsbG8gd29ybGQ=",  # "hello world", 11 bytes
        "compressionType": "UNCOMPRESSED",
        "permissions": [{"allowedPermissions": [{"identity": "bob@item.test"}]}],
    }
    assert (await api.push(source, DOC, body)).status_code == 202
    api.drain()
    item = (await get_item(api, source, DOC)).json()
    assert item["content"] == {
        "carrier": "compressedBinaryData",
        "bytes": 11,
        "compressionType": "UNCOMPRESSED",
    }
    assert item["permissions"] == [
        {
            "name": None,
            "permissionSets": [
                {
                    "name": None,
                    "allowAnonymous": False,
                    "allowedPermissions": [
                        {"identity": "bob@item.test", "identityType": "Unknown"}
                    ],
                    "deniedPermissions": [],
                }
            ],
        }
    ]


async def test_only_indexed_items_and_the_right_privileges(api: Api) -> None:
    source = await api.create_source()
    assert (await api.push(source, DOC, {"data": "x"})).status_code == 202
    r = await get_item(api, source, DOC)  # still queued
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")
    api.drain()
    assert (await get_item(api, source, DOC)).status_code == 200
    r = await get_item(api, source, "https://item.test/never")
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")
    r = await api.http.get(item_url(api, source), headers=api.auth())
    assert (r.status_code, r.json()["errorCode"]) == (412, "MISSING_PARAMETER")
    # source viewers that cannot view all content do not see the metadata
    logs_key = api.add_key("logs", "logs-key")
    r = await get_item(api, source, DOC, logs_key)
    assert (r.status_code, r.json()["errorCode"]) == (403, "ACCESS_DENIED")
    search_key = api.add_key("search", "search-key")
    assert (await get_item(api, source, DOC, search_key)).status_code == 403
    assert (await api.delete(source, DOC)).status_code == 202
    api.drain()
    r = await get_item(api, source, DOC)
    assert (r.status_code, r.json()["errorCode"]) == (404, "DOCUMENT_NOT_FOUND")
    assert "deleted" in r.json()["message"]
