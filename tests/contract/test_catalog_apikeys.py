"""The API-key part of the Catalog contract (every backend), and the upgrade of old SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from openpush.domain.organizations import ApiKey, Privilege, hash_api_key
from openpush.storage.base import Catalog, StateStore
from openpush.storage.sqlite import SqliteStateStore

EDIT = Privilege("PLATFORM", "SOURCE", "EDIT")


@pytest.fixture
def catalog(store: StateStore) -> Catalog:
    return store.catalog


def key(key_id: str, org: str = "acme", **fields: object) -> ApiKey:
    return ApiKey(id=key_id, org_id=org, display_name=key_id, privileges=(EDIT,), **fields)


def test_keys_are_found_by_hash_and_by_id_within_their_organization(catalog: Catalog) -> None:
    catalog.save_api_key(key("k1", description="d", created_by="admin"), hash_api_key("s1"))
    catalog.save_api_key(key("k2", org="globex"), hash_api_key("s2"))
    found = catalog.find_api_key(hash_api_key("s1"))
    assert found is not None
    assert (found.id, found.description, found.created_by, found.privileges) == (
        "k1",
        "d",
        "admin",
        (EDIT,),
    )
    assert catalog.get_api_key("acme", "k1") == found
    assert catalog.get_api_key("acme", "k2") is None
    assert [k.id for k in catalog.list_api_keys("acme")] == ["k1"]
    assert catalog.find_api_key(hash_api_key("nope")) is None


def test_update_changes_everything_but_the_secret(catalog: Catalog) -> None:
    catalog.save_api_key(key("k1"), hash_api_key("s1"))
    changed = key("k1", enabled=False, disabled_at=12.5, description="off")
    changed.display_name = "renamed"
    changed.privileges = ()
    assert catalog.update_api_key(changed) is True
    found = catalog.find_api_key(hash_api_key("s1"))
    assert found is not None
    assert (found.display_name, found.enabled, found.disabled_at, found.privileges) == (
        "renamed",
        False,
        12.5,
        (),
    )
    assert catalog.update_api_key(key("missing")) is False
    assert catalog.get_api_key("acme", "missing") is None


def test_delete_is_scoped_to_the_organization(catalog: Catalog) -> None:
    catalog.save_api_key(key("k1"), hash_api_key("s1"))
    assert catalog.delete_api_key("globex", "k1") is False
    assert catalog.delete_api_key("acme", "k1") is True
    assert catalog.find_api_key(hash_api_key("s1")) is None
    assert catalog.delete_api_key("acme", "k1") is False


OLD_API_KEYS = """
CREATE TABLE organizations (id TEXT PRIMARY KEY, display_name TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    privileges   TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   REAL NOT NULL
);
INSERT INTO organizations VALUES ('acme', 'acme', 1.0);
"""


def columns(path: Path) -> list[tuple[str, str, int, object]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("PRAGMA table_info(api_keys)").fetchall()
    return sorted((r[1], r[2], r[3], r[4]) for r in rows)


def test_a_data_directory_from_before_key_management_is_upgraded(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.executescript(OLD_API_KEYS)
        conn.execute(
            "INSERT INTO api_keys VALUES (?,?,?,?,?,?,?)",
            (
                "bootstrap",
                "acme",
                hash_api_key("secret"),
                "admin",
                '[{"owner":"PLATFORM","targetDomain":"ORGANIZATION","type":"EDIT"}]',
                1,
                1.0,
            ),
        )
    store = SqliteStateStore(old, synchronous="NORMAL")
    try:
        found = store.catalog.find_api_key(hash_api_key("secret"))
        assert found is not None
        assert (found.id, found.description, found.created_by, found.disabled_at) == (
            "bootstrap",
            "",
            "",
            None,
        )
        found.description = "kept"
        assert store.catalog.update_api_key(found)
    finally:
        store.close()
    # opening it again changes nothing, and the table now matches a fresh one
    SqliteStateStore(old, synchronous="NORMAL").close()
    fresh = tmp_path / "fresh.db"
    SqliteStateStore(fresh, synchronous="NORMAL").close()
    assert columns(old) == columns(fresh)
