"""The IdentityStore contract: providers, identity changes, the graph reads and versions."""

from __future__ import annotations

import time

import pytest

from openpush.domain.identities import EMAIL_PROVIDER_ID, EdgeKind, IdentityRef, SecurityProvider
from openpush.domain.operations import LogEntry, LogResult
from openpush.domain.permissions import IdentityType
from openpush.errors import StorageError
from openpush.security.evaluate import IdentityKey
from openpush.storage.base import (
    IdentityChange,
    IdentityFilter,
    IdentityRecord,
    PipelineCommit,
    StateStore,
)

ALICE = IdentityKey("ldap", "alice")
BOB = IdentityKey("ldap", "bob")
DEVS = IdentityKey("ldap", "devs")
STAFF = IdentityKey("ldap", "staff")
GONE = IdentityKey("ldap", "gone")
WELL_KNOWN = IdentityKey("ldap", "everyone-wk")
MAIL = IdentityKey("email security provider", "alice@x.com")


def change(
    key: IdentityKey,
    *,
    org: str = "acme",
    enabled: bool = True,
    ordering_id: int = 1,
    kind: IdentityType = IdentityType.USER,
    **edges: list[tuple[IdentityKey, IdentityKey]],
) -> IdentityChange:
    ref = IdentityRef(key.provider, key.name, kind, (("mail", f"{key.name}@x.com"),))
    record = IdentityRecord(org, key, ref, enabled, ordering_id, time.time())
    return IdentityChange(record, {EdgeKind(k): v for k, v in edges.items()})


def apply(store: StateStore, *changes: IdentityChange, **more: object) -> None:
    store.queue.complete(PipelineCommit(identities=list(changes), **more))  # type: ignore[arg-type]


@pytest.fixture
def graph_store(store: StateStore) -> StateStore:
    """alice ∈ devs ∈ staff, bob ∈ devs; alice ~ alice@x.com; devs is granted everyone-wk."""
    apply(
        store,
        change(ALICE, alias=[(ALICE, MAIL)]),
        change(BOB),
        change(DEVS, kind=IdentityType.GROUP, member=[(DEVS, ALICE), (DEVS, BOB)]),
        change(STAFF, kind=IdentityType.GROUP, member=[(STAFF, DEVS)]),
        change(WELL_KNOWN, granted=[(WELL_KNOWN, DEVS)]),
        change(GONE, enabled=False, member=[(GONE, ALICE)]),
    )
    return store


def test_providers_are_saved_found_case_insensitively_and_deleted(store: StateStore) -> None:
    provider = SecurityProvider("acme", "LDAP", "Corporate", "EXPANDED", case_sensitive=True)
    store.identities.save_provider(provider)
    assert store.identities.get_provider("acme", "ldap") == provider
    assert store.identities.get_provider("globex", "ldap") is None
    email = store.identities.get_provider("acme", EMAIL_PROVIDER_ID.upper())
    assert email is not None and email.type == "EMAIL"
    assert [p.id for p in store.identities.list_providers("acme")] == [EMAIL_PROVIDER_ID, "LDAP"]
    assert store.identities.delete_provider("acme", "Ldap") is True
    assert store.identities.delete_provider("acme", "ldap") is False


def test_identity_changes_are_read_back(graph_store: StateStore) -> None:
    found = graph_store.identities.get_identities("acme", [ALICE, DEVS, IdentityKey("ldap", "x")])
    assert set(found) == {ALICE, DEVS}
    alice = found[ALICE]
    assert (alice.org_id, alice.enabled, alice.ordering_id) == ("acme", True, 1)
    assert alice.ref == IdentityRef("ldap", "alice", IdentityType.USER, (("mail", "alice@x.com"),))
    assert graph_store.identities.get_identities("globex", [ALICE]) == {}
    assert graph_store.identities.get_identities("acme", []) == {}


def test_identities_are_listed_in_pages_by_name(graph_store: StateStore) -> None:
    page, total = graph_store.identities.list_identities("acme", "LDAP", 0, 4)
    assert total == 6
    assert [r.key.name for r in page] == ["alice", "bob", "devs", "everyone-wk"]
    page, _ = graph_store.identities.list_identities("acme", "ldap", 1, 4)
    assert [r.key.name for r in page] == ["gone", "staff"]
    assert graph_store.identities.list_identities("acme", "okta", 0, 10) == ([], 0)


def test_identity_listings_filter(graph_store: StateStore) -> None:
    def names(providers: str | list[str], **only: object) -> list[str]:
        found, total = graph_store.identities.list_identities(
            "acme",
            providers,
            0,
            10,
            IdentityFilter(**only),  # type: ignore[arg-type]
        )
        assert total == len(found)
        return [r.key.name for r in found]

    assert names("ldap", enabled=False) == ["gone"]
    assert names("ldap", enabled=True, types=frozenset({"GROUP"})) == ["devs", "staff"]
    assert names("ldap", name="E") == ["everyone-wk"]  # a prefix, ignoring case
    assert names("ldap", name="O", name_anywhere=True) == ["bob", "everyone-wk", "gone"]
    assert names("ldap", name="%") == names("ldap", name="_") == []  # no LIKE wildcards
    assert names("ldap", updated_from=time.time() + 60) == []
    assert names("ldap", updated_to=time.time() + 60) == names("ldap")
    apply(graph_store, change(MAIL))
    assert names(["LDAP", "Email Security Provider"], name="alice") == ["alice@x.com", "alice"]
    assert names([]) == []


def test_older_than_lists_enabled_identities_below_an_ordering_id(store: StateStore) -> None:
    apply(
        store,
        change(ALICE, ordering_id=5),
        change(BOB, ordering_id=50),
        change(GONE, ordering_id=1, enabled=False),
    )
    assert [r.key for r in store.identities.older_than("acme", "LDAP", 10)] == [ALICE]


def test_graph_reads(graph_store: StateStore) -> None:
    graph = graph_store.identities.graph("acme")
    assert graph.states([ALICE, GONE, MAIL]) == {ALICE: True, GONE: False}
    assert graph.parents([ALICE, DEVS, STAFF]) == {
        ALICE: {DEVS, GONE},
        DEVS: {STAFF, WELL_KNOWN},
    }
    assert graph.children([DEVS, STAFF]) == {DEVS: {ALICE, BOB}, STAFF: {DEVS}}
    assert graph.aliases([ALICE, MAIL]) == {ALICE: {MAIL}, MAIL: {ALICE}}
    assert graph.granted([DEVS, ALICE]) == {DEVS: {WELL_KNOWN}}
    assert graph.states([]) == {}
    assert graph_store.identities.graph("globex").parents([ALICE]) == {}


def test_neighbours_read_a_whole_level_at_once(graph_store: StateStore) -> None:
    aliases, parents, states = graph_store.identities.graph("acme").neighbours([ALICE, MAIL, DEVS])
    assert aliases == {ALICE: {MAIL}, MAIL: {ALICE}}
    assert parents == {ALICE: {DEVS, GONE}, DEVS: {STAFF, WELL_KNOWN}}
    # the states of the neighbours the graph knows (alice@x.com is not a pushed identity)
    assert states == {ALICE: True, DEVS: True, GONE: False, STAFF: True, WELL_KNOWN: True}


def test_a_large_level_is_read_in_one_call(store: StateStore) -> None:
    users = [IdentityKey("ldap", f"user{n}") for n in range(2000)]
    apply(store, change(DEVS, member=[(DEVS, user) for user in users]))
    _, parents, states = store.identities.graph("acme").neighbours(users)
    assert parents == {user: {DEVS} for user in users}
    assert states == {DEVS: True}


def test_a_push_replaces_the_edges_its_identity_owns_of_each_kind(graph_store: StateStore) -> None:
    apply(graph_store, change(DEVS, ordering_id=2, member=[(DEVS, BOB)]))
    graph = graph_store.identities.graph("acme")
    assert graph.children([DEVS]) == {DEVS: {BOB}}
    assert graph.parents([DEVS]) == {DEVS: {STAFF, WELL_KNOWN}}  # edges owned by others stay
    apply(graph_store, change(DEVS, ordering_id=3))  # no kind named: edges kept
    assert graph.children([DEVS]) == {DEVS: {BOB}}


def test_every_commit_with_identity_changes_bumps_the_version_once(store: StateStore) -> None:
    assert store.identities.version("acme") == 0
    apply(store, change(ALICE), change(BOB))
    assert store.identities.version("acme") == 1
    apply(store, change(ALICE, org="globex"))
    apply(store)  # no identity change: no bump
    assert (store.identities.version("acme"), store.identities.version("globex")) == (1, 1)
    store.identities.save_provider(SecurityProvider("acme", "ldap", "ldap", "EXPANDED"))
    store.identities.delete_provider("acme", "ldap")
    assert store.identities.version("acme") == 2
    assert store.identities.get_identities("acme", [ALICE, BOB]) == {}


def test_identity_changes_and_their_version_commit_together_or_not_at_all(
    store: StateStore,
) -> None:
    broken = LogEntry(None, "docs", "x", "ADD", LogResult.COMPLETED, "", 1, "r")  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        apply(store, change(ALICE), logs=[broken])
    assert store.identities.version("acme") == 0
    assert store.identities.get_identities("acme", [ALICE]) == {}


def test_waiting_items_are_recorded_and_released(store: StateStore) -> None:
    apply(
        store,
        waiting=[
            ("acme", ALICE, "docs", "https://x/1"),
            ("acme", ALICE, "docs", "https://x/1"),
            ("acme", ALICE, "wiki", "https://x/2"),
            ("acme", BOB, "docs", "https://x/3"),
        ],
    )
    assert sorted(store.identities.waiting_items("acme", ALICE)) == [
        ("docs", "https://x/1"),
        ("wiki", "https://x/2"),
    ]
    apply(store, released=[("acme", ALICE)])
    assert store.identities.waiting_items("acme", ALICE) == []
    assert store.identities.waiting_items("acme", BOB) == [("docs", "https://x/3")]


def test_changes_of_one_identity_in_one_round_apply_in_order(store: StateStore) -> None:
    apply(
        store,
        change(DEVS, ordering_id=1, member=[(DEVS, ALICE)], granted=[(WELL_KNOWN, DEVS)]),
        change(DEVS, ordering_id=2, member=[(DEVS, BOB)]),
        change(DEVS, ordering_id=3, enabled=False),
    )
    graph = store.identities.graph("acme")
    assert graph.children([DEVS]) == {DEVS: {BOB}}
    assert graph.granted([DEVS]) == {DEVS: {WELL_KNOWN}}
    record = store.identities.get_identities("acme", [DEVS])[DEVS]
    assert (record.ordering_id, record.enabled) == (3, False)
    assert store.identities.version("acme") == 1
