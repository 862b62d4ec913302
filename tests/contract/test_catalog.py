"""The Catalog contract: organizations, sources, activities, fields and meta."""

from __future__ import annotations

import pytest

from openpush.domain.fields import FieldDefinition, FieldType
from openpush.domain.organizations import Organization
from openpush.domain.sources import ActivityType, Source, SourceType, SourceVisibility
from openpush.errors import ConflictError
from openpush.storage.base import StateStore
from tests.contract.conftest import MakeStore


def test_organizations_are_created_once(store: StateStore) -> None:
    assert store.catalog.create_organization(Organization("initech", "Initech", 5.0)) is True
    assert store.catalog.create_organization(Organization("initech", "Other")) is False
    assert store.catalog.get_organization("initech") == Organization("initech", "Initech", 5.0)
    assert store.catalog.get_organization("nope") is None


def test_sources_round_trip_and_are_scoped_to_their_organization(store: StateStore) -> None:
    source = Source(
        "acme",
        "s1",
        "Catalog",
        source_type=SourceType.CATALOG,
        visibility=SourceVisibility.PRIVATE,
        push_enabled=False,
        stream_enabled=True,
        security_providers=("ldap", "email"),
        created_at=10.0,
        updated_at=11.0,
    )
    store.catalog.create_source(source)
    assert store.catalog.get_source("acme", "s1") == source
    assert store.catalog.get_source("globex", "s1") is None
    assert [s.id for s in store.catalog.list_sources("acme")] == [
        "s1",
        "docs",
        "wiki",
    ]  # by creation
    assert [s.id for s in store.catalog.list_sources("globex")] == ["docs"]


def test_a_source_name_is_unique_within_an_organization(store: StateStore) -> None:
    with pytest.raises(ConflictError):
        store.catalog.create_source(Source("acme", "other-id", "docs"))
    store.catalog.create_source(Source("globex", "wiki", "wiki"))  # another organization: fine
    assert store.catalog.get_source("acme", "other-id") is None


def test_deleting_a_source_forgets_it_and_its_activities(store: StateStore) -> None:
    store.catalog.record_activity("acme", "docs", ActivityType.REBUILD)
    assert store.catalog.delete_source("acme", "docs") is True
    assert store.catalog.delete_source("acme", "docs") is False
    assert store.catalog.get_source("acme", "docs") is None
    assert store.catalog.activities("acme", "docs") == []


def test_source_providers_are_added_once_in_order(store: StateStore) -> None:
    for provider in ("ldap", "okta", "ldap"):
        store.catalog.add_source_provider("acme", "docs", provider)
    store.catalog.add_source_provider("acme", "missing", "ldap")  # no such source: nothing
    source = store.catalog.get_source("acme", "docs")
    assert source is not None
    assert source.security_providers == ("ldap", "okta")
    assert source.default_provider == "ldap"


def test_activities_end_when_the_next_starts(store: StateStore) -> None:
    store.catalog.record_activity("acme", "docs", ActivityType.REBUILD)
    store.catalog.record_activity("acme", "docs", ActivityType.INCREMENTAL)
    store.catalog.record_activity("acme", "docs", ActivityType.IDLE)
    newest, oldest = store.catalog.activities("acme", "docs")
    assert (newest.activity, oldest.activity) == (ActivityType.INCREMENTAL, ActivityType.REBUILD)
    assert newest.ended_at is not None and oldest.ended_at is not None
    assert newest.id > oldest.id
    assert store.catalog.activities("acme", "docs", limit=1) == [newest]
    assert store.catalog.activities("acme", "wiki") == []


def test_fields_are_upserted_listed_by_name_and_deleted(store: StateStore) -> None:
    store.catalog.save_fields(
        "acme", [FieldDefinition("ab"), FieldDefinition("a_b", FieldType.LONG, facet=True)]
    )
    store.catalog.save_fields("acme", [FieldDefinition("ab", description="changed")])
    store.catalog.save_fields("acme", [])
    fields = store.catalog.list_fields("acme")
    assert [f.name for f in fields] == ["a_b", "ab"]  # byte order, whatever the locale
    assert fields[0] == FieldDefinition("a_b", FieldType.LONG, facet=True)
    assert fields[1].description == "changed"
    assert store.catalog.list_fields("globex") == []
    assert store.catalog.delete_field("acme", "ab") is True
    assert store.catalog.delete_field("acme", "ab") is False


def test_meta_defaults_are_set_once_and_survive_a_reopen(make_store: MakeStore) -> None:
    store = make_store()
    assert store.catalog.get_meta("secret") is None
    assert store.catalog.set_meta_default("secret", "first") == "first"
    assert store.catalog.set_meta_default("secret", "second") == "first"
    again = make_store()
    assert again.catalog.get_meta("secret") == "first"
