"""Tests for the permission model and its wire parser (push-api.md §6.1-6.3)."""

from __future__ import annotations

import json

import pytest

from openpush.domain.permissions import (
    IdentityType,
    PermissionIdentity,
    PermissionLevel,
    PermissionModel,
    PermissionSet,
    parse_identity_type,
    parse_permissions,
)
from openpush.errors import InvalidItemError

GROUP = IdentityType.GROUP
USER = IdentityType.USER


def test_simplified_model_is_one_level() -> None:
    raw = [
        {
            "allowAnonymous": False,
            "allowedPermissions": [{"identity": "SampleTeam1", "identityType": "Group"}],
            "deniedPermissions": [
                {
                    "identity": "asmith@example.com",
                    "identityType": "User",
                    "securityProvider": "My Security Identity Provider",
                }
            ],
        },
        {"allowAnonymous": True},
    ]
    model = parse_permissions(raw)
    assert model == PermissionModel(
        (
            PermissionLevel(
                (
                    PermissionSet(
                        allow_anonymous=False,
                        allowed=(PermissionIdentity("SampleTeam1", GROUP),),
                        denied=(
                            PermissionIdentity(
                                "asmith@example.com", USER, "My Security Identity Provider"
                            ),
                        ),
                    ),
                    PermissionSet(allow_anonymous=True),
                )
            ),
        )
    )
    assert model.permission_count == 2


def test_complete_model_keeps_level_order_and_names() -> None:
    raw = [
        {
            "name": "MyPermissionLevel1",
            "permissionSets": [
                {
                    "name": "first",
                    "allowedPermissions": [{"identity": "SampleGroup", "identityType": "Group"}],
                }
            ],
        },
        {"name": "MyPermissionLevel2", "permissionSets": []},
    ]
    model = parse_permissions(raw)
    assert [level.name for level in model.levels] == ["MyPermissionLevel1", "MyPermissionLevel2"]
    assert model.levels[0].sets[0].name == "first"
    assert model.levels[0].sets[0].allowed == (PermissionIdentity("SampleGroup", GROUP),)
    assert model.levels[1].sets == ()


def test_mixed_array_wraps_consecutive_bare_sets_where_they_appear() -> None:
    bare = {"allowedPermissions": [{"identity": "a"}]}
    level = {"permissionSets": [{"allowedPermissions": [{"identity": "b"}]}]}
    model = parse_permissions([bare, bare, level, bare, level])
    assert [len(level.sets) for level in model.levels] == [2, 1, 1, 1]
    assert model.levels[2].sets[0].allowed[0].name == "a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("User", IdentityType.USER),
        ("USER", IdentityType.USER),
        ("user", IdentityType.USER),
        ("GrOup", IdentityType.GROUP),
        ("VirtualGroup", IdentityType.VIRTUAL_GROUP),
        ("VIRTUAL_GROUP", IdentityType.VIRTUAL_GROUP),
        ("virtual_group", IdentityType.VIRTUAL_GROUP),
        ("Unknown", IdentityType.UNKNOWN),
        ("UNKNOWN", IdentityType.UNKNOWN),
        (None, IdentityType.UNKNOWN),
    ],
)
def test_identity_type_spellings(value: str | None, expected: IdentityType) -> None:
    assert parse_identity_type(value) is expected


def test_identity_type_rejections() -> None:
    with pytest.raises(InvalidItemError, match=r"^identityType: unknown identity type 'Robot'"):
        parse_identity_type("Robot")
    with pytest.raises(InvalidItemError, match=r"^identityType: must be a string, got number"):
        parse_identity_type(3)


def test_keys_are_case_insensitive() -> None:
    raw = [
        {
            "PermissionSets": [
                {
                    "AllowAnonymous": True,
                    "ALLOWEDPERMISSIONS": [
                        {"Identity": "x", "IdentityType": "GROUP", "SecurityProvider": "P"}
                    ],
                    "deniedpermissions": [{"IDENTITY": "y", "identitytype": "user"}],
                    "NAME": "s",
                }
            ],
            "Name": "l",
        }
    ]
    level = parse_permissions(raw).levels[0]
    assert level.name == "l"
    assert level.sets == (
        PermissionSet(
            True,
            (PermissionIdentity("x", GROUP, "P"),),
            (PermissionIdentity("y", USER),),
            "s",
        ),
    )


def test_defaults_nulls_and_ignored_keys() -> None:
    raw = [
        {},
        {
            "allowAnonymous": None,
            "allowedPermissions": None,
            "deniedPermissions": [
                {
                    "identity": "u",
                    "securityProvider": "",
                    "additionalInfo": {"k": "v"},
                    "somethingElse": 1,
                }
            ],
            "name": None,
        },
    ]
    model = parse_permissions(raw)
    assert model.levels[0].sets == (
        PermissionSet(),
        PermissionSet(denied=(PermissionIdentity("u", IdentityType.UNKNOWN, None),)),
    )


@pytest.mark.parametrize("raw", [None, []])
def test_no_permissions_means_no_levels(raw: object) -> None:
    model = parse_permissions(raw)
    assert model == PermissionModel()
    assert model.permission_count == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"allowAnonymous": True}, "permissions: must be an array, got object"),
        ("x", "permissions: must be an array, got string"),
        ([[]], "permissions[0]: must be an object, got array"),
        ([{}, 5], "permissions[1]: must be an object, got number"),
        (
            [{"allowAnonymous": "true"}],
            "permissions[0].allowAnonymous: must be a boolean, got string",
        ),
        (
            [{}, {"allowedPermissions": [{"identity": ""}]}],
            "permissions[1].allowedPermissions[0]: identity must be a non-empty string",
        ),
        (
            [{"deniedPermissions": [{"identityType": "User"}]}],
            "permissions[0].deniedPermissions[0]: identity must be a non-empty string",
        ),
        (
            [{"allowedPermissions": [{"identity": 7}]}],
            "permissions[0].allowedPermissions[0]: identity must be a non-empty string",
        ),
        (
            [{"allowedPermissions": {"identity": "x"}}],
            "permissions[0].allowedPermissions: must be an array, got object",
        ),
        (
            [{"deniedPermissions": ["x"]}],
            "permissions[0].deniedPermissions[0]: must be an object, got string",
        ),
        (
            [{"allowedPermissions": [{"identity": "x", "identityType": "Robot"}]}],
            "permissions[0].allowedPermissions[0].identityType: unknown identity type 'Robot'",
        ),
        (
            [{"allowedPermissions": [{"identity": "x", "identityType": True}]}],
            "permissions[0].allowedPermissions[0].identityType: must be a string, got boolean",
        ),
        (
            [{"allowedPermissions": [{"identity": "x", "securityProvider": ["P"]}]}],
            "permissions[0].allowedPermissions[0].securityProvider: must be a string, got array",
        ),
        ([{"name": 1.5}], "permissions[0].name: must be a string, got number"),
        ([{"permissionSets": None}], "permissions[0].permissionSets: must be an array, got null"),
        ([{"permissionSets": [3]}], "permissions[0].permissionSets[0]: must be an object, got"),
        (
            [{"permissionSets": [{"allowAnonymous": 1}]}],
            "permissions[0].permissionSets[0].allowAnonymous: must be a boolean, got number",
        ),
        (
            [{"permissionSets": [], "name": {}}],
            "permissions[0].name: must be a string, got object",
        ),
        (
            [{"permissionSets": [], "deniedPermissions": [{"identity": "bob"}]}],
            "permissions[0]: a permission level cannot also hold deniedPermissions",
        ),
        (
            [{"allowAnonymous": True, "AllowAnonymous": False}],
            "permissions[0]: duplicate key 'AllowAnonymous' (keys are case-insensitive)",
        ),
        (
            [{"allowedPermissions": [{"identity": "x", "Identity": "y"}]}],
            "permissions[0].allowedPermissions[0]: duplicate key 'Identity'",
        ),
    ],
)
def test_rejections_name_the_offending_path(raw: object, message: str) -> None:
    with pytest.raises(InvalidItemError) as caught:
        parse_permissions(raw)
    assert caught.value.message.startswith(message)


def test_json_type_names_unexpected_python_types() -> None:
    with pytest.raises(InvalidItemError, match=r"^permissions: must be an array, got tuple$"):
        parse_permissions(())


def test_identity_needs_a_name_even_when_built_directly() -> None:
    with pytest.raises(InvalidItemError, match="non-empty string name"):
        PermissionIdentity("")


def test_round_trip_through_storage_form() -> None:
    model = PermissionModel(
        (
            PermissionLevel(
                (
                    PermissionSet(
                        True,
                        (PermissionIdentity("a", GROUP, "P"), PermissionIdentity("b", USER)),
                        (PermissionIdentity("c", IdentityType.VIRTUAL_GROUP),),
                        "set",
                    ),
                    PermissionSet(),
                ),
                "level",
            ),
            PermissionLevel(),
        )
    )
    stored = json.loads(json.dumps(model.to_dict()))
    assert PermissionModel.from_dict(stored) == model
    assert stored["levels"][1] == {"sets": []}
    assert stored["levels"][0]["sets"][1] == {}
    assert stored["levels"][0]["sets"][0]["allowed"][1] == {"name": "b", "type": "USER"}
    assert PermissionModel.from_dict(PermissionModel().to_dict()) == PermissionModel()


def test_round_trip_of_a_parsed_wire_model() -> None:
    raw = [
        {"allowedPermissions": [{"identity": "Eng", "identityType": "Group"}]},
        {"name": "L", "permissionSets": [{"deniedPermissions": [{"identity": "bob"}]}]},
    ]
    model = parse_permissions(raw)
    assert PermissionModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model
    assert model.permission_count == 2
