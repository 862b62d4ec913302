"""Privileges, what a key holds, and what it may grant."""

from __future__ import annotations

import re

import pytest

from openpush.domain.organizations import (
    ADMIN,
    API_KEY_EDIT,
    API_KEY_VIEW,
    ApiKey,
    Privilege,
    new_api_key,
    new_api_key_id,
)

SOURCE_EDIT = Privilege("PLATFORM", "SOURCE", "EDIT")


def test_from_dict_fills_coveo_defaults_and_normalises_case() -> None:
    assert Privilege.from_dict({"targetDomain": "impersonate", "owner": "search_api"}) == (
        Privilege("SEARCH_API", "IMPERSONATE", "ENABLE", "*")
    )
    explicit_nulls = {"targetDomain": "FIELD", "owner": None, "type": None, "targetId": None}
    assert Privilege.from_dict(explicit_nulls) == Privilege("PLATFORM", "FIELD", "ENABLE", "*")
    assert Privilege.from_dict(SOURCE_EDIT.to_dict()) == SOURCE_EDIT


@pytest.mark.parametrize(
    ("held", "wanted", "granted"),
    [
        (ADMIN, Privilege("SEARCH_API", "EXECUTE_QUERY", "ENABLE"), True),
        (SOURCE_EDIT, Privilege("PLATFORM", "SOURCE", "VIEW", "s1"), True),
        (SOURCE_EDIT, Privilege("PLATFORM", "SOURCE", "CREATE"), True),
        (Privilege("PLATFORM", "SOURCE", "VIEW"), SOURCE_EDIT, False),
        (Privilege("PLATFORM", "SOURCE", "EDIT", "s1"), SOURCE_EDIT, False),
        (API_KEY_EDIT, API_KEY_VIEW, True),
        (API_KEY_VIEW, API_KEY_EDIT, False),
    ],
)
def test_grants(held: Privilege, wanted: Privilege, granted: bool) -> None:
    assert held.grants(wanted) is granted


def test_covers_is_every_privilege_and_nothing_when_disabled() -> None:
    key = ApiKey("k", "acme", "k", (SOURCE_EDIT, API_KEY_EDIT))
    assert key.covers([Privilege("PLATFORM", "SOURCE", "VIEW"), API_KEY_VIEW])
    assert key.covers([])
    assert not key.covers([SOURCE_EDIT, ADMIN])
    key.enabled = False
    assert not key.covers([SOURCE_EDIT])
    assert not key.allows_any([SOURCE_EDIT])


def test_new_secrets_and_ids() -> None:
    assert re.fullmatch(
        r"xx[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", new_api_key()
    )
    ids = {new_api_key_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[a-z2-7]{26}", i) for i in ids)
