"""Item permission models (push-api.md §6): identities, sets, levels, and their wire parser.

A model is a tuple of *levels*, evaluated highest first; a level is a tuple of *sets*, all of which
must allow; a set allows some identities, denies others, and may be public (``allow_anonymous``).

``parse_permissions`` reads the JSON value of an item's ``permissions`` key, in either wire form:
the simplified one (an array of sets, which together form one level) or the complete one (an
array of levels, each with ``permissionSets``). ``to_dict``/``from_dict`` give a compact snake_case
form for storage. Evaluation lives in ``openpush.security.evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openpush.errors import InvalidItemError

__all__ = [
    "IdentityType",
    "PermissionIdentity",
    "PermissionLevel",
    "PermissionModel",
    "PermissionSet",
    "parse_identity_type",
    "parse_permissions",
]


class IdentityType(StrEnum):
    """The type of a security identity; values are the index's spelling (§6.3)."""

    USER = "USER"
    GROUP = "GROUP"
    VIRTUAL_GROUP = "VIRTUAL_GROUP"
    UNKNOWN = "UNKNOWN"


_IDENTITY_TYPES = {member.value.replace("_", "").casefold(): member for member in IdentityType}
_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}
_SET_KEYS = {
    "allowanonymous": "allowAnonymous",
    "allowedpermissions": "allowedPermissions",
    "deniedpermissions": "deniedPermissions",
}


@dataclass(frozen=True, slots=True)
class PermissionIdentity:
    """A reference to a security identity; ``provider`` None means the source's default one."""

    name: str
    type: IdentityType = IdentityType.UNKNOWN
    provider: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidItemError("a permission identity needs a non-empty string name")


@dataclass(frozen=True, slots=True)
class PermissionSet:
    """One set: deny wins, then ``allow_anonymous``, then an allowed identity."""

    allow_anonymous: bool = False
    allowed: tuple[PermissionIdentity, ...] = ()
    denied: tuple[PermissionIdentity, ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PermissionLevel:
    """One level: the user must be allowed by every one of its sets."""

    sets: tuple[PermissionSet, ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PermissionModel:
    """An item's permission model: levels in precedence order (index 0 is analysed first)."""

    levels: tuple[PermissionLevel, ...] = ()

    @property
    def permission_count(self) -> int:
        """The number of identity references, allowed and denied, over all levels and sets."""
        return sum(
            len(pset.allowed) + len(pset.denied) for level in self.levels for pset in level.sets
        )

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able form for storage; ``from_dict`` reverses it exactly."""
        return {"levels": [_level_to_dict(level) for level in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PermissionModel:
        """Rebuild a model stored with ``to_dict``."""
        return cls(tuple(_level_from_dict(level) for level in data["levels"]))


def _identity_to_dict(identity: PermissionIdentity) -> dict[str, Any]:
    data: dict[str, Any] = {"name": identity.name, "type": identity.type.value}
    if identity.provider is not None:
        data["provider"] = identity.provider
    return data


def _set_to_dict(pset: PermissionSet) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if pset.name is not None:
        data["name"] = pset.name
    if pset.allow_anonymous:
        data["allow_anonymous"] = True
    if pset.allowed:
        data["allowed"] = [_identity_to_dict(identity) for identity in pset.allowed]
    if pset.denied:
        data["denied"] = [_identity_to_dict(identity) for identity in pset.denied]
    return data


def _level_to_dict(level: PermissionLevel) -> dict[str, Any]:
    data: dict[str, Any] = {"sets": [_set_to_dict(pset) for pset in level.sets]}
    if level.name is not None:
        data["name"] = level.name
    return data


def _identity_from_dict(data: dict[str, Any]) -> PermissionIdentity:
    return PermissionIdentity(data["name"], IdentityType(data["type"]), data.get("provider"))


def _set_from_dict(data: dict[str, Any]) -> PermissionSet:
    return PermissionSet(
        allow_anonymous=data.get("allow_anonymous", False),
        allowed=tuple(_identity_from_dict(item) for item in data.get("allowed", ())),
        denied=tuple(_identity_from_dict(item) for item in data.get("denied", ())),
        name=data.get("name"),
    )


def _level_from_dict(data: dict[str, Any]) -> PermissionLevel:
    return PermissionLevel(tuple(_set_from_dict(pset) for pset in data["sets"]), data.get("name"))


# --- wire parser -------------------------------------------------------------------------------


def parse_identity_type(value: object, *, path: str = "identityType") -> IdentityType:
    """Normalise an identity type, ignoring case and ``_`` (``User``, ``VIRTUAL_GROUP``, ``GrOup``).

    An absent (None) type is UNKNOWN: the identity's provider decides what it is, and matching
    ignores the type anyway. Anything else that is not a known type raises InvalidItemError.
    """
    if value is None:
        return IdentityType.UNKNOWN
    if not isinstance(value, str):
        raise InvalidItemError(f"{path}: must be a string, got {_json_type(value)}")
    found = _IDENTITY_TYPES.get(value.replace("_", "").casefold())
    if found is None:
        raise InvalidItemError(
            f"{path}: unknown identity type {value!r}"
            " (expected User, Group, VirtualGroup or Unknown)"
        )
    return found


def parse_permissions(raw: object) -> PermissionModel:
    """Parse the wire value of an item's ``permissions`` key; None means no model (no levels).

    Keys are case-insensitive and ``null`` counts as absent, except ``permissionSets``: an element
    holding that key is a level, any other element is a set. Consecutive bare sets form one implicit
    level at the position where they appear. Unknown keys (``additionalInfo``...) are ignored.
    """
    if raw is None:
        return PermissionModel()
    if not isinstance(raw, list):
        raise InvalidItemError(f"permissions: must be an array, got {_json_type(raw)}")
    levels: list[PermissionLevel] = []
    bare_sets: list[PermissionSet] = []
    for index, element in enumerate(raw):
        path = f"permissions[{index}]"
        fields = _fields(element, path)
        if "permissionsets" not in fields:
            bare_sets.append(_parse_set(fields, path))
            continue
        if bare_sets:
            levels.append(PermissionLevel(tuple(bare_sets)))
            bare_sets = []
        levels.append(_parse_level(fields, path))
    if bare_sets:
        levels.append(PermissionLevel(tuple(bare_sets)))
    return PermissionModel(tuple(levels))


def _parse_level(fields: dict[str, Any], path: str) -> PermissionLevel:
    mixed = [wire for key, wire in _SET_KEYS.items() if key in fields]
    if mixed:
        raise InvalidItemError(f"{path}: a permission level cannot also hold {', '.join(mixed)}")
    raw_sets = fields["permissionsets"]
    if not isinstance(raw_sets, list):
        raise InvalidItemError(
            f"{path}.permissionSets: must be an array, got {_json_type(raw_sets)}"
        )
    sets = []
    for index, element in enumerate(raw_sets):
        set_path = f"{path}.permissionSets[{index}]"
        sets.append(_parse_set(_fields(element, set_path), set_path))
    return PermissionLevel(tuple(sets), _optional_str(fields.get("name"), f"{path}.name"))


def _parse_set(fields: dict[str, Any], path: str) -> PermissionSet:
    allow_anonymous = fields.get("allowanonymous")
    if allow_anonymous is None:
        allow_anonymous = False
    elif not isinstance(allow_anonymous, bool):
        raise InvalidItemError(
            f"{path}.allowAnonymous: must be a boolean, got {_json_type(allow_anonymous)}"
        )
    return PermissionSet(
        allow_anonymous=allow_anonymous,
        allowed=_parse_identities(fields.get("allowedpermissions"), f"{path}.allowedPermissions"),
        denied=_parse_identities(fields.get("deniedpermissions"), f"{path}.deniedPermissions"),
        name=_optional_str(fields.get("name"), f"{path}.name"),
    )


# The spellings every official client sends; identities written exactly so skip the general,
# case-insensitive path (an item carries many identities, and batches carry many items).
_USUAL_KEYS = frozenset({"identity", "identityType", "securityProvider", "additionalInfo"})
_USUAL_TYPES = {  # "User" and "USER", "VirtualGroup" and "VIRTUAL_GROUP"...
    spelling: member
    for member in IdentityType
    for spelling in (member.value, member.value.title().replace("_", ""))
}


# Identities recur across items: share one immutable object per (name, type, provider).
_IDENTITIES: dict[tuple[str, IdentityType, str | None], PermissionIdentity] = {}
_IDENTITIES_MAX = 100_000


def _parse_identities(raw: object, path: str) -> tuple[PermissionIdentity, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidItemError(f"{path}: must be an array, got {_json_type(raw)}")
    out = []
    for index, item in enumerate(raw):
        if type(item) is dict and _USUAL_KEYS.issuperset(item):
            name = item.get("identity")
            kind = _USUAL_TYPES.get(item.get("identityType"))  # type: ignore[arg-type]
            provider = item.get("securityProvider")
            if (
                type(name) is str
                and name
                and kind is not None
                and (provider is None or type(provider) is str)
            ):
                key = (name, kind, provider or None)
                identity = _IDENTITIES.get(key)
                if identity is None:
                    if len(_IDENTITIES) >= _IDENTITIES_MAX:
                        _IDENTITIES.clear()
                    identity = _IDENTITIES[key] = PermissionIdentity(*key)
                out.append(identity)
                continue
        out.append(_parse_identity(item, f"{path}[{index}]"))
    return tuple(out)


def _parse_identity(raw: object, path: str) -> PermissionIdentity:
    fields = _fields(raw, path)
    name = fields.get("identity")
    if not isinstance(name, str) or not name:
        raise InvalidItemError(f"{path}: identity must be a non-empty string")
    identity_type = parse_identity_type(fields.get("identitytype"), path=f"{path}.identityType")
    provider = _optional_str(fields.get("securityprovider"), f"{path}.securityProvider")
    return PermissionIdentity(name, identity_type, provider or None)


def _fields(raw: object, path: str) -> dict[str, Any]:
    """An object's members keyed by casefolded name; a key repeated in another case is refused."""
    if not isinstance(raw, dict):
        raise InvalidItemError(f"{path}: must be an object, got {_json_type(raw)}")
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        folded = str(key).casefold()
        if folded in fields:
            raise InvalidItemError(f"{path}: duplicate key {key!r} (keys are case-insensitive)")
        fields[folded] = value
    return fields


def _optional_str(value: object, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidItemError(f"{path}: must be a string, got {_json_type(value)}")


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)
