"""Identity expansion against push-api.md §6.5 and §7, and against a plain fixpoint reference."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpush.security.evaluate import IdentityKey
from openpush.security.expand import (
    EMAIL_PROVIDER,
    EVERYONE,
    MAX_STEPS,
    Expansion,
    domain_wildcard,
    expand,
)
from openpush.security.graph import CachedGraph
from tests.unit.identity_graphs import DictGraph, key

KNOWN = frozenset({"p"})


def email(name: str) -> IdentityKey:
    return key(name, "Email Security Provider")


def wildcard(domain: str) -> IdentityKey:
    return email(f"*@{domain}")


def worked_example(*, alias: bool = False) -> DictGraph:
    """§6.5: Eng = {alice, bob}; Mgmt = {carol, Eng}; alice is granted Everyone; dave exists."""
    return DictGraph(
        members=[
            (key("Eng"), key("alice")),
            (key("Eng"), key("bob")),
            (key("Mgmt"), key("carol")),
            (key("Mgmt"), key("Eng")),
        ],
        granted=[(key("alice"), key("Everyone"))],
        aliases=[(key("alice"), email("alice@corp.com"))] if alias else [],
        identities=[key("dave")],
    )


def held(graph: DictGraph, *start: IdentityKey) -> frozenset[IdentityKey]:
    return expand(graph, start, known_providers=KNOWN).identities


def assert_tree(expansion: Expansion, start: set[IdentityKey]) -> None:
    """Every held key but the start keys and EVERYONE was reached by exactly one step."""
    targets = [to for _, _, to in expansion.steps]
    assert len(targets) == len(set(targets))
    assert set(targets) | (start & expansion.identities) | {EVERYONE} == expansion.identities
    assert {source for source, _, _ in expansion.steps} <= expansion.identities


WORKED = {
    "alice": {"alice", "Eng", "Mgmt", "Everyone"},
    "bob": {"bob", "Eng", "Mgmt"},
    "carol": {"carol", "Mgmt"},
    "dave": {"dave"},
}


@pytest.mark.parametrize("user", WORKED)
def test_worked_example_sets(user: str) -> None:
    expansion = expand(worked_example(), [key(user)], known_providers=KNOWN)
    expected = {key(name) for name in WORKED[user]}
    assert expected <= expansion.identities
    assert expansion.identities - expected == {EVERYONE}
    assert not expansion.depth_capped
    assert_tree(expansion, {key(user)})


def test_anonymous_holds_only_everyone() -> None:
    expansion = expand(worked_example(), [], known_providers=KNOWN)
    assert expansion == Expansion(frozenset({EVERYONE}), False, ())


def test_steps_explain_alice() -> None:
    steps = expand(worked_example(), [key("alice")], known_providers=KNOWN).steps
    assert set(steps) == {
        (key("alice"), "member-of", key("Eng")),
        (key("alice"), "granted", key("Everyone")),
        (key("Eng"), "member-of", key("Mgmt")),
    }


def test_alias_example_email_token_sees_what_alice_sees() -> None:
    token = email("alice@corp.com")
    expansion = expand(worked_example(alias=True), [token], known_providers=KNOWN)
    expected = {token, *(key(name) for name in WORKED["alice"])}
    assert expected <= expansion.identities
    assert expansion.identities - expected == {EVERYONE, wildcard("corp.com")}
    assert (token, "alias", key("alice")) in expansion.steps
    assert_tree(expansion, {token})


def test_without_the_alias_the_email_token_holds_only_itself_and_wildcards() -> None:
    token = email("alice@corp.com")
    assert held(worked_example(), token) == {token, wildcard("corp.com"), EVERYONE}


def test_alias_works_from_the_provider_side_too() -> None:
    identities = held(worked_example(alias=True), key("alice"))
    assert {email("alice@corp.com"), wildcard("corp.com"), key("Mgmt")} <= identities


def test_unknown_email_alias_partner_is_held() -> None:
    graph = DictGraph(aliases=[(key("alice"), email("a@x.org"))], known=[key("alice")])
    assert held(graph, key("alice")) == {
        key("alice"),
        email("a@x.org"),
        wildcard("x.org"),
        EVERYONE,
    }


def test_unknown_alias_partner_outside_email_is_not_held() -> None:
    graph = DictGraph(aliases=[(key("alice"), key("al", "Q"))], known=[key("alice")])
    assert held(graph, key("alice")) == {key("alice"), EVERYONE}


def test_unknown_parent_is_not_held() -> None:
    graph = DictGraph(members=[(email("*@corp.com"), key("alice"))], known=[key("alice")])
    assert held(graph, key("alice")) == {key("alice"), EVERYONE}


def test_membership_cycle_terminates() -> None:
    graph = DictGraph(members=[(key("A"), key("B")), (key("B"), key("A"))])
    expansion = expand(graph, [key("A")], known_providers=KNOWN)
    assert expansion.identities == {key("A"), key("B"), EVERYONE}
    assert not expansion.depth_capped
    assert_tree(expansion, {key("A")})


def test_alias_cycle_across_groups_terminates() -> None:
    graph = DictGraph(
        members=[(key("G"), key("alice"))],
        aliases=[(key("G"), key("H", "Q")), (key("H", "Q"), key("G"))],
    )
    assert held(graph, key("alice")) == {key("alice"), key("G"), key("H", "Q"), EVERYONE}


def chain(length: int) -> DictGraph:
    """u ∈ g1 ∈ g2 ∈ … ∈ g<length>."""
    names = ["u", *(f"g{i}" for i in range(1, length + 1))]
    return DictGraph(members=[(key(b), key(a)) for a, b in pairwise(names)])


def test_depth_cap_stops_the_walk_and_says_so() -> None:
    expansion = expand(chain(5), [key("u")], max_depth=2, known_providers=KNOWN)
    assert expansion.identities == {key("u"), key("g1"), key("g2"), EVERYONE}
    assert expansion.depth_capped


def test_depth_exactly_enough_is_not_capped() -> None:
    expansion = expand(chain(3), [key("u")], max_depth=4, known_providers=KNOWN)
    assert expansion.identities == {key("u"), key("g1"), key("g2"), key("g3"), EVERYONE}
    assert not expansion.depth_capped


def test_depth_zero_holds_only_the_start() -> None:
    expansion = expand(chain(3), [key("u")], max_depth=0, known_providers=KNOWN)
    assert expansion.identities == {key("u"), EVERYONE}
    assert expansion.depth_capped


def test_negative_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        expand(chain(1), [key("u")], max_depth=-1)


def test_calls_are_batched_per_level() -> None:
    graph = worked_example(alias=True)
    expand(graph, [key("alice"), key("bob"), key("carol")], known_providers=KNOWN)
    # Every held key is one level from a start key (Mgmt through carol): depth 1, two rounds.
    assert len(graph.calls_to("parents")) == 2
    assert len(graph.calls_to("aliases")) == len(graph.calls_to("parents"))
    assert len(graph.calls_to("states")) <= 1 + len(graph.calls_to("parents"))
    assert len(graph.calls_to("granted")) == 1
    first = set(graph.calls_to("parents")[0])
    assert {key("alice"), key("bob"), key("carol"), EVERYONE} <= first


def test_chain_asks_parents_depth_plus_one_times() -> None:
    graph = chain(4)
    expand(graph, [key("u")], known_providers=KNOWN)
    assert len(graph.calls_to("parents")) == 5


def test_disabled_group_stops_the_chain() -> None:
    graph = DictGraph(
        members=[(key("G1"), key("u")), (key("G2"), key("G1")), (key("G3"), key("G2"))],
        disabled=[key("G2")],
    )
    assert held(graph, key("u")) == {key("u"), key("G1"), EVERYONE}
    assert all(key("G2") not in batch for batch in graph.calls_to("parents"))


def test_group_reachable_another_way_survives_a_disabled_one() -> None:
    graph = DictGraph(
        members=[
            (key("G1"), key("u")),
            (key("G2"), key("u")),
            (key("G3"), key("G1")),
            (key("G3"), key("G2")),
        ],
        disabled=[key("G2")],
    )
    assert held(graph, key("u")) == {key("u"), key("G1"), key("G3"), EVERYONE}


def test_disabled_user_holds_nothing_but_everyone() -> None:
    graph = DictGraph(
        members=[(key("Eng"), key("alice"))],
        granted=[(key("alice"), key("Everyone"))],
        disabled=[key("alice")],
    )
    expansion = expand(graph, [key("alice")], known_providers=KNOWN)
    assert expansion.identities == {EVERYONE}
    assert graph.calls_to("parents") == [(EVERYONE,)]


def test_disabled_email_user_holds_no_wildcard() -> None:
    graph = DictGraph(disabled=[email("a@corp.com")])
    assert held(graph, email("a@corp.com")) == {EVERYONE}


def test_unknown_identity_in_a_known_provider_grants_nothing() -> None:
    assert held(worked_example(), key("mallory")) == {EVERYONE}


def test_unknown_identity_in_a_foreign_provider_is_taken_at_its_word() -> None:
    stranger = key("someone", "Active Directory")
    assert held(worked_example(), stranger) == {stranger, EVERYONE}


def test_unknown_email_identity_is_held_with_its_domain_wildcard() -> None:
    token = email("Zed@Example.COM")
    assert held(DictGraph(), token) == {token, wildcard("example.com"), EVERYONE}
    assert wildcard("example.com").name == "*@example.com"


def test_domain_wildcard_step_and_groups_of_the_wildcard() -> None:
    graph = DictGraph(members=[(key("AllStaff"), wildcard("corp.com"))])
    expansion = expand(graph, [email("bo@corp.com")], known_providers=KNOWN)
    assert expansion.identities == {
        email("bo@corp.com"),
        wildcard("corp.com"),
        key("AllStaff"),
        EVERYONE,
    }
    assert (email("bo@corp.com"), "wildcard", wildcard("corp.com")) in expansion.steps


def test_groups_listing_everyone_are_held_by_anonymous() -> None:
    graph = DictGraph(members=[(key("Public"), EVERYONE)])
    assert held(graph) == {key("Public"), EVERYONE}


def test_disabled_domain_wildcard_is_not_held() -> None:
    graph = DictGraph(disabled=[wildcard("corp.com")])
    assert held(graph, email("bo@corp.com")) == {email("bo@corp.com"), EVERYONE}


@pytest.mark.parametrize(
    ("name", "provider", "expected"),
    [
        ("a@corp.com", "Email Security Provider", "*@corp.com"),
        ("a@B.com", "email security provider", "*@b.com"),
        ("*@corp.com", "Email Security Provider", None),
        ("*@*", "Email Security Provider", None),
        ("a@b@c", "Email Security Provider", None),
        ("@corp.com", "Email Security Provider", None),
        ("a@", "Email Security Provider", None),
        ("nobody", "Email Security Provider", None),
        ("a@corp.com", "P", None),
    ],
)
def test_domain_wildcard(name: str, provider: str, expected: str | None) -> None:
    result = domain_wildcard(key(name, provider))
    assert (result.name if result else None) == expected
    if result is not None:
        assert result.provider == EMAIL_PROVIDER


def test_granted_identity_of_a_group_member() -> None:
    graph = DictGraph(
        members=[(key("Eng"), key("alice"))],
        granted=[(key("Eng"), key("Builders")), (key("alice"), key("Everyone"))],
    )
    expansion = expand(graph, [key("alice")], known_providers=KNOWN)
    assert expansion.identities == {
        key("alice"),
        key("Eng"),
        key("Builders"),
        key("Everyone"),
        EVERYONE,
    }
    assert (key("Eng"), "granted", key("Builders")) in expansion.steps
    assert (key("alice"), "granted", key("Everyone")) in expansion.steps


def test_steps_are_capped_but_identities_are_complete() -> None:
    groups = [key(f"g{i}") for i in range(MAX_STEPS + 10)]
    expansion = expand(
        DictGraph(members=[(g, key("u")) for g in groups]), [key("u")], known_providers=KNOWN
    )
    assert len(expansion.steps) == MAX_STEPS
    assert expansion.identities == {key("u"), EVERYONE, *groups}


def test_result_is_deterministic() -> None:
    graph = worked_example(alias=True)
    start = [key("carol"), key("alice"), email("alice@corp.com")]
    first = expand(graph, start, known_providers=KNOWN)
    assert expand(graph, list(reversed(start)), known_providers=KNOWN) == first


# --- property: expand equals a plain fixpoint over random graphs -------------------------------

PROVIDERS = ("p", EMAIL_PROVIDER)
NODES = [
    IdentityKey("p", f"n{i}") if i % 2 else IdentityKey(EMAIL_PROVIDER, f"u{i}@d{i % 3}.com")
    for i in range(26)
] + [wildcard("d0.com"), wildcard("d1.com"), EVERYONE, email("plain")]

nodes = st.sampled_from(NODES)
edges = st.lists(st.tuples(nodes, nodes), max_size=40)


def reference(
    graph: DictGraph, start: list[IdentityKey], known_providers: frozenset[str]
) -> set[IdentityKey]:
    """The module docstring's rules, applied until nothing changes."""

    def state(k: IdentityKey) -> bool | None:
        return graph.states([k]).get(k)

    result = {EVERYONE}
    for k in start:
        s = state(k)
        if s or (s is None and (k.provider == EMAIL_PROVIDER or k.provider not in known_providers)):
            result.add(k)
    changed = True
    while changed:
        changed = False
        for k in list(result):
            w = domain_wildcard(k)
            candidates = [w] if w is not None and state(w) is not False else []
            candidates += [p for p in graph.parents([k]).get(k, ()) if state(p)]
            candidates += [
                a
                for a in graph.aliases([k]).get(k, ())
                if state(a) or (state(a) is None and a.provider == EMAIL_PROVIDER)
            ]
            for c in candidates:
                if c not in result:
                    result.add(c)
                    changed = True
    return result


@settings(max_examples=300, deadline=None)
@given(
    members=edges,
    granted=st.lists(st.tuples(nodes, nodes), max_size=10),
    aliases=st.lists(st.tuples(nodes, nodes), max_size=15),
    disabled=st.sets(nodes, max_size=8),
    unknown=st.sets(nodes, max_size=8),
    start=st.lists(nodes, max_size=4),
    known_providers=st.sets(st.sampled_from(PROVIDERS)).map(frozenset),
)
def test_expand_matches_the_fixpoint(
    members: list[tuple[IdentityKey, IdentityKey]],
    granted: list[tuple[IdentityKey, IdentityKey]],
    aliases: list[tuple[IdentityKey, IdentityKey]],
    disabled: set[IdentityKey],
    unknown: set[IdentityKey],
    start: list[IdentityKey],
    known_providers: frozenset[str],
) -> None:
    graph = DictGraph(
        members=members,
        granted=granted,
        aliases=aliases,
        disabled=disabled,
        known=set(NODES) - unknown,
    )
    expansion = expand(graph, start, max_depth=100, known_providers=known_providers)
    assert not expansion.depth_capped
    assert expansion.identities == reference(graph, start, known_providers)
    assert not expansion.identities & (disabled - {EVERYONE})
    assert_tree(expansion, set(start))


@settings(max_examples=150, deadline=None)
@given(
    members=edges,
    granted=st.lists(st.tuples(nodes, nodes), max_size=10),
    aliases=st.lists(st.tuples(nodes, nodes), max_size=15),
    disabled=st.sets(nodes, max_size=8),
    unknown=st.sets(nodes, max_size=8),
    starts=st.lists(st.lists(nodes, max_size=3), min_size=1, max_size=5),
)
def test_a_shared_neighbourhood_cache_changes_no_expansion(
    members: list[tuple[IdentityKey, IdentityKey]],
    granted: list[tuple[IdentityKey, IdentityKey]],
    aliases: list[tuple[IdentityKey, IdentityKey]],
    disabled: set[IdentityKey],
    unknown: set[IdentityKey],
    starts: list[list[IdentityKey]],
) -> None:
    """Users expanded one after the other through one CachedGraph (as GraphExpander does):
    the same identities, and the same steps, granted ones labelled as such."""
    graph = DictGraph(
        members=members,
        granted=granted,
        aliases=aliases,
        disabled=disabled,
        known=set(NODES) - unknown,
    )
    cached = CachedGraph(graph)
    for start in starts:
        assert expand(cached, start, known_providers=KNOWN) == expand(
            graph, start, known_providers=KNOWN
        )


class CountingGraph:
    """A graph recording which keys' neighbourhoods were asked for."""

    def __init__(self, graph: DictGraph) -> None:
        self.graph = graph
        self.keys_read: set[IdentityKey] = set()

    def states(self, keys):  # type: ignore[no-untyped-def]
        return self.graph.states(keys)

    def parents(self, keys):  # type: ignore[no-untyped-def]
        self.keys_read |= set(keys)
        return self.graph.parents(keys)

    def aliases(self, keys):  # type: ignore[no-untyped-def]
        self.keys_read |= set(keys)
        return self.graph.aliases(keys)


def test_cached_graph_reads_each_neighbourhood_once() -> None:
    graph = DictGraph(members=[(key("Eng"), key("alice")), (key("Eng"), key("bob"))])
    counted = CountingGraph(graph)
    cached = CachedGraph(counted)
    expand(cached, [key("alice")], known_providers=KNOWN)
    first = set(counted.keys_read)
    expand(cached, [key("bob")], known_providers=KNOWN)
    # bob's own neighbourhood is new; Eng's was read for alice
    assert counted.keys_read - first == {key("bob")}


def test_cache_bound_starts_over_without_losing_answers() -> None:
    graph = chain(30)
    cached = CachedGraph(graph, max_keys=5)
    expansion = expand(cached, [key("u")], known_providers=KNOWN)
    assert expansion.identities == expand(graph, [key("u")], known_providers=KNOWN).identities
    assert len(expansion.identities) == 32  # u, g1..g30, everyone
