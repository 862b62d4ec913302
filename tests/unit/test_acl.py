"""The token encoding and visibility filter must reproduce ``evaluate`` exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpush.domain.permissions import (
    IdentityType,
    PermissionIdentity,
    PermissionLevel,
    PermissionModel,
    PermissionSet,
    parse_permissions,
)
from openpush.security.acl import (
    MATCH_ALL,
    MATCH_NONE,
    AclEncoding,
    AllOf,
    AnyExpr,
    AnyOf,
    Expr,
    Not,
    all_of,
    any_expr,
    any_of,
    encode_model,
    leaf_masks,
    matches,
    not_,
    restrict,
    token,
    visibility_filter,
)
from openpush.security.evaluate import (
    ANONYMOUS,
    EMAIL_PROVIDER,
    IdentityKey,
    evaluate,
    identity_key,
)
from tests.unit.test_evaluate import ALIAS_CASES, CASES, EXAMPLES, USERS

DEFAULT = "P"
SENSITIVE = frozenset({"q"})


def _encode(model: PermissionModel) -> AclEncoding:
    return encode_model(model, default_provider=DEFAULT, case_sensitive_providers=SENSITIVE)


def _visible(
    model: PermissionModel, user: frozenset[IdentityKey], *others: tuple[int, ...]
) -> bool:
    encoding = _encode(model)
    expr = visibility_filter(user, [*others, encoding.shape])
    return matches(expr, encoding.tokens)


def _evaluate(model: PermissionModel, user: frozenset[IdentityKey]) -> bool:
    decision = evaluate(model, user, default_provider=DEFAULT, case_sensitive_providers=SENSITIVE)
    return decision.allowed


# --- §6.5 through the index encoding ------------------------------------------------------------


@pytest.mark.parametrize(("row", "user", "expected"), CASES)
def test_worked_examples(row: int, user: str, expected: bool) -> None:
    model = parse_permissions(EXAMPLES[row][0])
    assert _visible(model, USERS[user], (1,), (2,), (1, 1), (0,)) is expected


@pytest.mark.parametrize(("row", "user", "expected"), ALIAS_CASES)
def test_alias_example(row: int, user: frozenset[IdentityKey], expected: bool) -> None:
    assert _visible(parse_permissions(EXAMPLES[row][0]), user) is expected


def test_encoding_of_a_simple_model() -> None:
    encoding = encode_model(parse_permissions(EXAMPLES[1][0]), default_provider=DEFAULT)
    assert encoding.shape == (1,)
    assert len(encoding.tokens) == 1  # allow (level 0 of 1 set, set 0, Eng); no next level
    level = parse_permissions(EXAMPLES[1][0]).levels[0]
    two_levels = PermissionModel((level, level))
    assert len(encode_model(two_levels, default_provider=DEFAULT).tokens) == 3  # + mention
    assert encode_model(PermissionModel(), default_provider=DEFAULT).shape == ()


def test_items_without_levels_are_never_visible() -> None:
    assert visibility_filter(USERS["alice"], [()]) == MATCH_NONE
    assert visibility_filter(USERS["alice"], []) == MATCH_NONE


def test_level_without_sets_allows_whoever_reaches_it() -> None:
    model = PermissionModel(
        (
            PermissionLevel((PermissionSet(denied=(PermissionIdentity("bob"),)),)),
            PermissionLevel(),
            PermissionLevel((PermissionSet(),)),
        )
    )
    for user, expected in [("alice", True), ("bob", False), ("anon", True)]:
        assert _evaluate(model, USERS[user]) is expected
        assert _visible(model, USERS[user]) is expected


def test_filter_covers_the_set_counts_of_its_shapes() -> None:
    public = parse_permissions([{"allowAnonymous": True}])
    encoding = encode_model(public, default_provider=DEFAULT)
    # one level of one set is part of (1, 1); a shape list without it cannot see the doc
    assert matches(visibility_filter(frozenset(), [(2,), (1, 1)]), encoding.tokens)
    assert not matches(visibility_filter(frozenset(), [(2,), (2, 1)]), encoding.tokens)
    # a doc whose first level has two sets needs both: one allowing set is not enough
    two_sets = parse_permissions(
        [{"permissionSets": [{"allowAnonymous": True}, {"allowedPermissions": []}]}]
    )
    assert not _visible(two_sets, frozenset(), (1,))
    assert visibility_filter(frozenset(), [(1,), (1,)]) == visibility_filter(frozenset(), [(1,)])


# --- tokens and expressions ---------------------------------------------------------------------


def test_tokens_are_unsigned_64_bit_and_unambiguous() -> None:
    values = [token("a", 0, 0, "p", "x"), token("x\x1fy", "z"), token("x", "y\x1fz")]
    assert all(0 <= value < 2**64 for value in values)
    assert len(set(values)) == 3
    assert token("a", 0, 0, "p", "x") == values[0]
    assert token("\ud800") != token("\udc00")  # lone surrogates are legal in JSON strings


LEAF = AnyOf(frozenset({1}))
OTHER = AnyOf(frozenset({2}))


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (any_of([]), MATCH_NONE),
        (any_of([1, 1]), LEAF),
        (all_of(), MATCH_ALL),
        (all_of(LEAF), LEAF),
        (all_of(MATCH_ALL, LEAF, MATCH_ALL), LEAF),
        (all_of(LEAF, MATCH_NONE), MATCH_NONE),
        (all_of(AllOf((LEAF, OTHER)), LEAF), AllOf((LEAF, OTHER, LEAF))),
        (any_expr(), MATCH_NONE),
        (any_expr(MATCH_NONE, LEAF), LEAF),
        (any_expr(LEAF, MATCH_ALL), MATCH_ALL),
        (any_expr(AnyExpr((LEAF, OTHER)), OTHER), AnyExpr((LEAF, OTHER, OTHER))),
        (not_(MATCH_ALL), MATCH_NONE),
        (not_(MATCH_NONE), MATCH_ALL),
        (not_(not_(LEAF)), LEAF),
        (not_(LEAF), Not(LEAF)),
    ],
)
def test_constructors_simplify(built: Expr, expected: Expr) -> None:
    assert built == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (LEAF, True),
        (OTHER, False),
        (AllOf((LEAF, Not(OTHER))), True),
        (AllOf((LEAF, OTHER)), False),
        (AnyExpr((OTHER, LEAF)), True),
        (AnyExpr((OTHER,)), False),
        (MATCH_ALL, True),
        (MATCH_NONE, False),
    ],
)
def test_matches(expr: Expr, expected: bool) -> None:
    assert matches(expr, frozenset({1, 3})) is expected


def test_matches_refuses_foreign_objects() -> None:
    with pytest.raises(TypeError, match="not a filter expression"):
        matches(AllOf(("x",)), frozenset())  # type: ignore[arg-type]


# --- property: the encoding agrees with the evaluator -------------------------------------------

NAMES = ["alice", "Alice", "bob", "Eng", "ENG", "Straße", "STRASSE", "a\x1fb"]
PROVIDERS = [None, "P", "p", EMAIL_PROVIDER, "Q", "q"]

identities = st.builds(
    PermissionIdentity,
    st.sampled_from(NAMES),
    st.sampled_from(list(IdentityType)),
    st.sampled_from(PROVIDERS),
)
identity_lists = st.lists(identities, max_size=3).map(tuple)
permission_sets = st.builds(PermissionSet, st.booleans(), identity_lists, identity_lists)
levels = st.builds(PermissionLevel, st.lists(permission_sets, max_size=4).map(tuple))
models = st.builds(PermissionModel, st.lists(levels, max_size=4).map(tuple))
user_keys = st.builds(
    lambda provider, name: identity_key(
        provider, name, case_sensitive=provider.casefold() in SENSITIVE
    ),
    st.sampled_from(["P", EMAIL_PROVIDER, "Q"]),
    st.sampled_from(NAMES),
)
users = st.frozensets(user_keys | st.just(ANONYMOUS), max_size=8)
shapes = st.lists(st.integers(0, 4), max_size=4).map(tuple)


@settings(max_examples=250, deadline=None)
@given(models, users)
def test_encoding_matches_evaluate(model: PermissionModel, user: frozenset[IdentityKey]) -> None:
    assert _visible(model, user) is _evaluate(model, user)


@settings(max_examples=100, deadline=None)
@given(st.lists(models, min_size=2, max_size=4), users, st.lists(shapes, max_size=3))
def test_filter_over_several_shapes(
    corpus: list[PermissionModel], user: frozenset[IdentityKey], extra: list[tuple[int, ...]]
) -> None:
    encodings = [_encode(model) for model in corpus]
    expr = visibility_filter(user, [*extra, *(encoding.shape for encoding in encodings)])
    for model, encoding in zip(corpus, encodings, strict=True):
        assert matches(expr, encoding.tokens) is _evaluate(model, user)


@settings(max_examples=100, deadline=None)
@given(models, users, st.lists(shapes, max_size=3))
def test_docs_of_unlisted_shapes_never_leak(
    model: PermissionModel, user: frozenset[IdentityKey], others: list[tuple[int, ...]]
) -> None:
    """A doc whose shape the filter was not built for may be missed, never shown wrongly."""
    encoding = encode_model(model, default_provider=DEFAULT, case_sensitive_providers=SENSITIVE)
    listed = [shape for shape in others if shape != encoding.shape]
    if matches(visibility_filter(user, listed), encoding.tokens):
        assert _evaluate(model, user)


# --- leaf masks decide as the filter does -------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(models, min_size=1, max_size=4), users, st.lists(shapes, max_size=3))
def test_leaf_masks_decide_as_the_filter(
    corpus: list[PermissionModel], user: frozenset[IdentityKey], extra: list[tuple[int, ...]]
) -> None:
    encodings = [_encode(model) for model in corpus]
    expr = visibility_filter(user, [*extra, *(encoding.shape for encoding in encodings)])
    masks = leaf_masks(expr)
    assert masks is not None
    for encoding in encodings:
        assert masks.allows(masks.mask(encoding.tokens)) is matches(expr, encoding.tokens)


def test_leaf_masks_of_a_token_in_two_leaves() -> None:
    expr = all_of(any_of([1, 2]), not_(any_of([2, 3])))
    masks = leaf_masks(expr)
    assert masks is not None
    assert masks.token_bits[2] == masks.token_bits[1] | masks.token_bits[3]
    decided = {tokens: masks.allows(masks.mask(tokens)) for tokens in [(1,), (2,), (1, 3), (4,)]}
    assert decided == {(1,): True, (2,): False, (1, 3): False, (4,): False}


def test_leaf_masks_refuse_filters_wider_than_a_mask() -> None:
    wide = any_expr(*(all_of(any_of([n]), any_of([n + 1000])) for n in range(32)))
    assert leaf_masks(wide) is not None  # 64 leaves
    assert leaf_masks(any_expr(wide, any_of([5000]))) is None
    assert leaf_masks(MATCH_ALL) is not None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(models, min_size=1, max_size=4),
    users,
    st.lists(shapes, max_size=3),
    st.lists(models, max_size=3),
)
def test_a_filter_restricted_to_the_tokens_present_decides_alike(
    corpus: list[PermissionModel],
    user: frozenset[IdentityKey],
    extra: list[tuple[int, ...]],
    elsewhere: list[PermissionModel],
) -> None:
    """Cut down to the tokens of ``corpus``, the filter decides ``corpus`` as before (what
    the rest of the index holds, ``elsewhere``, is what it may no longer match)."""
    encodings = [_encode(model) for model in corpus]
    shapes_seen = [encoding.shape for encoding in [*encodings, *map(_encode, elsewhere)]]
    expr = visibility_filter(user, [*extra, *shapes_seen])
    present = frozenset().union(*(encoding.tokens for encoding in encodings))
    restricted = restrict(expr, present)
    for encoding in encodings:
        assert matches(restricted, encoding.tokens) is matches(expr, encoding.tokens)
