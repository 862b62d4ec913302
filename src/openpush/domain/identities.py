"""Security identities and providers, as pushed (push-api.md §7).

An identity lives in a security provider and is known by its name there (compared
case-insensitively unless the provider is ``caseSensitive``); its ``type`` and
``additionalInfo`` are kept from the latest push but are not part of its key, because item
permissions reference identities by provider and name. Three kinds of relationships connect
identities, each *owned* by the identity whose push declared it, so that the next push of that
identity replaces them (a group push replaces its member list, §7.2):

- ``member``: parent = a group, child = one of its members (the group's push);
- ``granted``: parent = a granted ("well-known") identity, child = the pushed identity;
- ``alias``: the pushed identity and an identity of another provider are the same person.

Limits (push-api.md §9.1 names them without numbers; ours are settings, per organization):
the *size* of an identity is the UTF-8 size of its name, its type and the keys and values of its
``additionalInfo``; the *relationships* of a push are its members, granted identities and
mappings. :func:`check_identity_limits` refuses either over its limit (412 INVALID_PARAMETER).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from openpush.domain.permissions import IdentityType, parse_identity_type
from openpush.errors import InvalidJsonError, InvalidParameterError
from openpush.security.evaluate import IdentityKey, identity_key

__all__ = [
    "EMAIL_PROVIDER_ID",
    "AliasUpdate",
    "Edge",
    "EdgeKind",
    "IdentityRef",
    "IdentityUpdate",
    "SecurityProvider",
    "check_identity_limits",
    "identity_size",
    "parse_alias_update",
    "parse_disable",
    "parse_identity_update",
]

EMAIL_PROVIDER_ID = "Email Security Provider"


class EdgeKind(StrEnum):
    MEMBER = "member"
    GRANTED = "granted"
    ALIAS = "alias"


@dataclass(slots=True)
class SecurityProvider:
    """An identity provider of an organization (§11.2); the Email one always exists."""

    org_id: str
    id: str
    display_name: str = ""
    type: str = "EXPANDED"
    referenced_by: tuple[tuple[str, str], ...] = ()  # (id, "SOURCE" | "SECURITY_PROVIDER")
    cascading: tuple[str, ...] = ()  # provider ids
    case_sensitive: bool = False
    created_at: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return self.id.casefold()


@dataclass(frozen=True, slots=True)
class IdentityRef:
    """An identity as a push names it; ``provider`` is the provider's id."""

    provider: str
    name: str
    type: IdentityType = IdentityType.UNKNOWN
    additional_info: tuple[tuple[str, str], ...] = ()

    def key(self, case_sensitive: bool = False) -> IdentityKey:
        return identity_key(self.provider, self.name, case_sensitive=case_sensitive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "name": self.name,
            "type": self.type.value,
            "additionalInfo": dict(self.additional_info),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IdentityRef:
        return cls(
            raw["provider"],
            raw["name"],
            IdentityType(raw.get("type", "UNKNOWN")),
            tuple(sorted(raw.get("additionalInfo", {}).items())),
        )


@dataclass(frozen=True, slots=True)
class Edge:
    kind: EdgeKind
    parent: IdentityRef
    child: IdentityRef


@dataclass(frozen=True, slots=True)
class IdentityUpdate:
    """``PUT …/providers/{p}/permissions``: an identity, its members, its granted identities."""

    identity: IdentityRef
    members: tuple[IdentityRef, ...] = ()
    well_knowns: tuple[IdentityRef, ...] = ()


@dataclass(frozen=True, slots=True)
class AliasUpdate:
    """``PUT …/providers/{p}/mappings``: an identity and the same person in other providers."""

    identity: IdentityRef
    mappings: tuple[IdentityRef, ...] = ()
    well_knowns: tuple[IdentityRef, ...] = ()


def _fields(raw: object, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidJsonError(f"{what} must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        folded = str(key).casefold()
        if folded in out:
            raise InvalidJsonError(f"{what}: duplicate key {key!r} (keys are case-insensitive)")
        out[folded] = value
    return out


def parse_identity(raw: object, provider: str, what: str = "identity") -> IdentityRef:
    """``{name, type, additionalInfo[, provider]}`` with keys in any case."""
    fields = _fields(raw, what)
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidJsonError(f"{what}: 'name' must be a non-empty string")
    kind = parse_identity_type(fields.get("type"), path=f"{what}.type")
    info = fields.get("additionalinfo") or {}
    if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
        raise InvalidJsonError(f"{what}: 'additionalInfo' must map strings to strings")
    named = fields.get("provider")
    if named is not None and (not isinstance(named, str) or not named):
        raise InvalidJsonError(f"{what}: 'provider' must be a non-empty string")
    return IdentityRef(named or provider, name, kind, tuple(sorted(info.items())))


def _identities(raw: object, provider: str, what: str) -> tuple[IdentityRef, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):  # a single object where an array is documented (§7.3)
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidJsonError(f"'{what}' must be an array of identities")
    return tuple(parse_identity(item, provider, f"{what}[{n}]") for n, item in enumerate(raw))


def parse_identity_update(raw: object, provider: str) -> IdentityUpdate:
    fields = _fields(raw, "the body")
    if "identity" not in fields:
        raise InvalidJsonError("the body needs an 'identity' object")
    return IdentityUpdate(
        parse_identity(fields["identity"], provider),
        _identities(fields.get("members"), provider, "members"),
        _identities(fields.get("wellknowns"), provider, "wellKnowns"),
    )


def parse_alias_update(raw: object, provider: str, default_target: str | None) -> AliasUpdate:
    """Mappings name their provider; it defaults to the single provider ``provider`` cascades to."""
    fields = _fields(raw, "the body")
    if "identity" not in fields:
        raise InvalidJsonError("the body needs an 'identity' object")
    identity = parse_identity(fields["identity"], provider)
    mappings = []
    for n, item in enumerate(_raw_list(fields.get("mappings"))):
        mapped = parse_identity(item, "", f"mappings[{n}]")
        if not mapped.provider:
            if default_target is None:
                raise InvalidParameterError(
                    f"mappings[{n}] names no provider and {provider!r} does not cascade to"
                    " exactly one provider"
                )
            mapped = IdentityRef(default_target, mapped.name, mapped.type, mapped.additional_info)
        mappings.append(mapped)
    return AliasUpdate(
        identity, tuple(mappings), _identities(fields.get("wellknowns"), provider, "wellKnowns")
    )


def _raw_list(raw: object) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    if not isinstance(raw, list):
        raise InvalidJsonError("'mappings' must be an array (or one object)")
    return raw


def parse_disable(raw: object, provider: str) -> IdentityRef:
    """``{"identity": {...}}`` or the bare identity object (old docs, the Java client)."""
    fields = _fields(raw, "the body")
    if "identity" in fields:
        return parse_identity(fields["identity"], provider)
    return parse_identity(raw, provider)


def identity_size(ref: IdentityRef) -> int:
    """Bytes of an identity as Coveo sizes it: name, type, additionalInfo keys and values."""
    info = sum(len(k.encode()) + len(v.encode()) for k, v in ref.additional_info)
    return len(ref.name.encode()) + len(ref.type.value) + info


def check_identity_limits(
    update: IdentityUpdate | AliasUpdate | IdentityRef,
    *,
    max_identity_bytes: int,
    max_relationships: int,
) -> None:
    """Refuse an identity push whose identities are too large or that declares too many."""
    if isinstance(update, IdentityRef):
        named: tuple[IdentityRef, ...] = ()
        identity = update
    else:
        others = update.members if isinstance(update, IdentityUpdate) else update.mappings
        named = (*others, *update.well_knowns)
        identity = update.identity
    if len(named) > max_relationships:
        raise InvalidParameterError(
            f"identity {identity.name[:100]!r} declares {len(named)} members, granted identities"
            f" and mappings; the limit is {max_relationships}"
        )
    for ref in (identity, *named):
        size = identity_size(ref)
        if size > max_identity_bytes:
            raise InvalidParameterError(
                f"identity {ref.name[:100]!r} is {size} bytes (name, type and additionalInfo);"
                f" the limit is {max_identity_bytes}"
            )
