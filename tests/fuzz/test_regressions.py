"""Bugs the fuzzers found, pinned with the request that found them (in-process API)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ORG, Api

BEYOND_64_BITS = 19457712023373612345  # a Crawling Module orderingId (ns since 1440)


async def test_a_body_ordering_id_beyond_64_bits_is_accepted_and_applied(api: Api) -> None:
    source = await api.create_source("big", "SHARED")
    r = await api.http.put(
        api.docs(source),
        params={"documentId": "https://x.test/1"},
        headers={**api.auth(), "Content-Type": "application/json"},
        content=b'{"data": "granite", "orderingId": %d}' % BEYOND_64_BITS,
    )
    assert r.status_code == 202, r.text  # was a 500: the queued payload could not be encoded
    assert r.json()["orderingId"] == str(BEYOND_64_BITS)
    api.drain()
    status = await api.status(source, "https://x.test/1")
    assert status["state"] == "indexed", status
    assert status["orderingId"] == str(BEYOND_64_BITS)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"/rest/organizations/{ORG}/indexes/page/fields", {"page": "-9223372036854775809"}),
        (f"/rest/organizations/{ORG}/indexes/page/fields", {"page": "99999999999999999999"}),
        (f"/rest/organizations/{ORG}/sources/pages", {"page": "99999999999999999999"}),
        (f"/rest/organizations/{ORG}/securitycache/entities/p", {"page": "99999999999999999999"}),
    ],
)
async def test_page_numbers_out_of_range_are_invalid_parameters(
    api: Api, path: str, params: dict[str, str]
) -> None:
    await api.http.put(
        f"/rest/organizations/{ORG}/securityproviders/p", headers=api.auth(), json={}
    )
    r = await api.http.get(path, headers=api.auth(), params=params)
    assert r.status_code == 412, r.text  # was a 500 (the page was echoed; orjson refused it)
    assert r.json()["errorCode"] == "INVALID_PARAMETER"


async def test_log_and_batch_pages_out_of_range_are_invalid_parameters(api: Api) -> None:
    r = await api.http.post(
        f"/logs/v1/organizations/{ORG}",
        headers=api.auth(),
        params={"page": "99999999999999999999"},
        json={},
    )
    assert r.status_code == 412, r.text  # was a 500 (SQLite OFFSET overflow)
    source = await api.create_source("paged", "SHARED")
    batch = await api.batch(source, {"addOrUpdate": []})
    r = await api.http.get(
        api.docs(source) + f"/batches/{batch.json()['batchId']}",
        headers=api.auth(),
        params={"page": "99999999999999999999"},
    )
    assert r.status_code == 412, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"cascadingSecurityProviders": "AAA"},  # cascaded to providers "A", "A" and "A"
        {"cascadingSecurityProviders": False},
        {"referencedBy": [{"id": "s", "type": {}}]},
        {"type": {}},
        {"id": {}},
        {"displayName": 5},
        {"caseSensitive": "false"},  # made the provider case-sensitive
    ],
)
async def test_malformed_provider_bodies_are_refused(api: Api, body: dict[str, Any]) -> None:
    r = await api.http.put(
        f"/rest/organizations/{ORG}/securityproviders/p", headers=api.auth(), json=body
    )
    assert r.status_code == 412, r.text
    assert r.json()["errorCode"] == "INVALID_PARAMETER"


async def test_null_provider_keys_mean_absent(api: Api) -> None:
    r = await api.http.put(
        f"/rest/organizations/{ORG}/securityproviders/p",
        headers=api.auth(),
        json={"displayName": None, "cascadingSecurityProviders": None, "caseSensitive": None},
    )
    assert r.status_code == 200, r.text
    assert r.json()["caseSensitive"] is False


@pytest.mark.parametrize("filters", [{"tasks": [{}]}, {"tasks": {}}, {"sourcesIds": [1]}])
async def test_log_filters_must_be_arrays_of_strings(api: Api, filters: dict[str, Any]) -> None:
    r = await api.http.post(f"/logs/v1/organizations/{ORG}", headers=api.auth(), json=filters)
    assert r.status_code == 412, r.text


async def test_privilege_evaluation_needs_a_string_organization(api: Api) -> None:
    r = await api.http.post(
        "/rest/privilege/evaluate",
        headers=api.auth(),
        json={"organizationId": {}, "requestedPrivilege": {"targetDomain": "SOURCE"}},
    )
    assert r.status_code == 412, r.text  # {} used to mean "the caller's organization"


async def test_search_with_a_huge_first_result_is_a_412(api: Api) -> None:
    r = await api.http.post(
        "/rest/search/v2",
        headers={**api.auth(), "Content-Type": "application/json"},
        content=b'{"q": "", "firstResult": 99999999999999999999}',
    )
    assert r.status_code == 412, r.text  # was a 500: the engine's offset overflowed
    assert r.json()["errorCode"] == "INVALID_PARAMETER"
