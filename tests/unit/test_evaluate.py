"""The reference evaluator against every worked example of push-api.md §6.5, plus its reasons."""

from __future__ import annotations

import pytest

from openpush.domain.permissions import (
    PermissionIdentity,
    PermissionLevel,
    PermissionModel,
    PermissionSet,
    parse_permissions,
)
from openpush.security.evaluate import (
    ANONYMOUS,
    EMAIL_PROVIDER,
    Decision,
    IdentityKey,
    evaluate,
    identity_key,
    permission_key,
)

P = "P"


def _ids(*names: str, provider: str = P) -> frozenset[IdentityKey]:
    return frozenset(identity_key(provider, name) for name in names)


def _allow(*names: str) -> list[dict[str, str]]:
    return [{"identity": name, "identityType": "Group"} for name in names]


def _deny(*names: str) -> list[dict[str, str]]:
    return [{"identity": name, "identityType": "User"} for name in names]


def _level(*sets: dict[str, object]) -> dict[str, object]:
    return {"permissionSets": list(sets)}


# Expanded identity sets of §6.5 (provider P; anonymous holds nothing).
USERS: dict[str, frozenset[IdentityKey]] = {
    "alice": _ids("alice", "Eng", "Mgmt", "Everyone"),
    "bob": _ids("bob", "Eng", "Mgmt"),
    "carol": _ids("carol", "Mgmt"),
    "dave": _ids("dave"),
    "anon": frozenset(),
}

# §6.5 rows: wire model, then the verdict of alice, bob, carol, dave, anon.
EXAMPLES: dict[int, tuple[list[dict[str, object]], str]] = {
    1: ([{"allowedPermissions": _allow("Eng"), "deniedPermissions": []}], "yyNNN"),
    2: ([{"allowedPermissions": _allow("Mgmt"), "deniedPermissions": _deny("bob")}], "yNyNN"),
    3: ([{"allowedPermissions": _allow("Mgmt")}, {"allowedPermissions": _allow("Eng")}], "yyNNN"),
    4: ([{"allowAnonymous": True}], "yyyyy"),
    5: ([{"allowAnonymous": True}, {"allowedPermissions": _allow("Eng")}], "yyNNN"),
    6: ([{"allowAnonymous": True, "deniedPermissions": _deny("bob")}], "yNyyy"),
    7: (
        [
            _level({"allowedPermissions": [], "deniedPermissions": _deny("Eng")}),
            _level({"allowedPermissions": _allow("Mgmt")}),
        ],
        "NNyNN",
    ),
    8: (
        [
            _level({"allowedPermissions": _allow("carol")}),
            _level({"deniedPermissions": _deny("Mgmt")}),
        ],
        "NNyNN",
    ),
    9: (
        [
            _level({"allowedPermissions": _allow("Everyone")}),
            _level({"allowedPermissions": _allow("dave")}),
        ],
        "yNNyN",
    ),
}

CASES = [
    pytest.param(row, user, verdicts[column] == "y", id=f"row{row}-{user}")
    for row, (_, verdicts) in EXAMPLES.items()
    for column, user in enumerate(USERS)
]

ALICE_ALIAS = _ids("alice@corp.com", provider=EMAIL_PROVIDER) | USERS["alice"]
EMAIL_ONLY = _ids("alice@corp.com", provider=EMAIL_PROVIDER)
ALIAS_CASES = [
    pytest.param(row, user, row in rows, id=f"row{row}-{name}")
    for name, user, rows in [
        ("alias", ALICE_ALIAS, {1, 2, 3, 4, 5, 6, 9}),
        ("email-only", EMAIL_ONLY, {4, 6}),
    ]
    for row in EXAMPLES
]


def _decide(model: PermissionModel, user: frozenset[IdentityKey]) -> Decision:
    return evaluate(model, user, default_provider=P)


def _row(row: int, user: str) -> Decision:
    return _decide(parse_permissions(EXAMPLES[row][0]), USERS[user])


@pytest.mark.parametrize(("row", "user", "expected"), CASES)
def test_worked_examples(row: int, user: str, expected: bool) -> None:
    assert _row(row, user).allowed is expected


@pytest.mark.parametrize(("row", "user", "expected"), ALIAS_CASES)
def test_alias_example(row: int, user: frozenset[IdentityKey], expected: bool) -> None:
    assert _decide(parse_permissions(EXAMPLES[row][0]), user).allowed is expected


REASONS = [
    (1, "alice", "allowed by level 0 set 0 through identity Eng (provider P)", 0, 0, "Eng"),
    (2, "bob", "denied by level 0 set 0: bob (provider P) is denied (deny wins)", 0, 0, "bob"),
    (4, "anon", "allowed by level 0 set 0 through allowAnonymous", 0, 0, None),
    (6, "bob", "denied by level 0 set 0: bob (provider P) is denied (deny wins)", 0, 0, "bob"),
    (7, "carol", "allowed by level 1 set 0 through identity Mgmt (provider P)", 1, 0, "Mgmt"),
    (8, "alice", "denied by level 1 set 0: Mgmt (provider P) is denied (deny wins)", 1, 0, "Mgmt"),
]


@pytest.mark.parametrize(("row", "user", "reason", "level", "pset", "matched"), REASONS)
def test_reasons_name_the_deciding_level_and_set(
    row: int, user: str, reason: str, level: int, pset: int, matched: str | None
) -> None:
    keys = (ANONYMOUS,) if matched is None else (identity_key(P, matched),)
    assert _row(row, user) == Decision(reason.startswith("allowed"), reason, level, pset, keys)


def test_no_conclusive_level() -> None:
    assert _row(9, "bob") == Decision(False, "not specified in any level")


def test_partially_allowing_level_names_the_unspecified_set() -> None:
    decision = _row(3, "carol")
    assert (decision.allowed, decision.level, decision.set, decision.matched) == (False, 0, 1, ())
    assert decision.reason.startswith("denied by level 0 set 1: not specified in that set")


def test_allowed_by_several_sets_lists_every_set() -> None:
    decision = _row(5, "bob")
    assert decision == Decision(
        True,
        "allowed by level 0 set 0 through allowAnonymous; set 1 through identity Eng (provider P)",
        0,
        None,
        (ANONYMOUS, identity_key(P, "eng")),
    )


def test_several_matches_in_one_set() -> None:
    allowed = parse_permissions([{"allowedPermissions": _allow("Eng", "Mgmt", "ENG")}])
    decision = _decide(allowed, USERS["bob"])
    assert decision.reason == (
        "allowed by level 0 set 0 through identities Eng (provider P), Mgmt (provider P),"
        " ENG (provider P)"
    )
    assert decision.matched == (identity_key(P, "eng"), identity_key(P, "mgmt"))
    denied = parse_permissions([{"deniedPermissions": _deny("bob", "Eng")}])
    assert _decide(denied, USERS["bob"]).reason == (
        "denied by level 0 set 0: bob (provider P), Eng (provider P) are denied (deny wins)"
    )


def test_no_model_and_empty_levels() -> None:
    assert _decide(PermissionModel(), USERS["alice"]) == Decision(False, "no permission model")
    empty_level = PermissionModel((PermissionLevel(), PermissionLevel((PermissionSet(),))))
    assert _decide(empty_level, frozenset()) == Decision(
        True, "allowed by level 0: the level has no permission sets", 0
    )
    unspecified = PermissionModel((PermissionLevel((PermissionSet(),)), PermissionLevel()))
    reason = _decide(unspecified, frozenset()).reason
    assert reason == "allowed by level 1: the level has no permission sets"


def test_provider_defaults_and_compares_case_insensitively() -> None:
    model = parse_permissions(
        [
            {
                "allowedPermissions": [
                    {"identity": "ALICE@corp.com", "securityProvider": "email security provider"}
                ]
            }
        ]
    )
    assert _decide(model, ALICE_ALIAS).reason == (
        "allowed by level 0 set 0 through identity ALICE@corp.com"
        " (provider email security provider)"
    )
    assert not _decide(model, USERS["alice"]).allowed
    assert _decide(parse_permissions(EXAMPLES[1][0]), _ids("Eng", provider="p")).allowed


def test_case_sensitive_providers_compare_names_exactly() -> None:
    model = PermissionModel(
        (PermissionLevel((PermissionSet(allowed=(PermissionIdentity("Eng", provider="Q"),)),)),)
    )
    sensitive = frozenset({"q"})
    exact = frozenset({identity_key("Q", "Eng", case_sensitive=True)})
    lower = frozenset({identity_key("Q", "eng", case_sensitive=True)})
    assert evaluate(model, exact, default_provider=P, case_sensitive_providers=sensitive).allowed
    assert not evaluate(
        model, lower, default_provider=P, case_sensitive_providers=sensitive
    ).allowed
    assert evaluate(model, lower, default_provider=P).allowed


def test_identity_type_does_not_take_part_in_matching() -> None:
    model = parse_permissions(
        [{"allowedPermissions": [{"identity": "Eng", "identityType": "User"}]}]
    )
    assert _decide(model, USERS["alice"]).allowed


def test_keys() -> None:
    assert identity_key("My Provider", "Bob@X.com") == IdentityKey("my provider", "bob@x.com")
    assert identity_key("P", "Bob", case_sensitive=True) == IdentityKey("p", "Bob")
    assert identity_key("P", "a") < identity_key("P", "b")
    assert ANONYMOUS.name == ""
    identity = PermissionIdentity("Eng")
    assert permission_key(identity, default_provider="Dflt") == IdentityKey("dflt", "eng")
    assert permission_key(
        PermissionIdentity("Eng", provider="Q"),
        default_provider="Dflt",
        case_sensitive_providers=frozenset({"q"}),
    ) == IdentityKey("q", "Eng")
