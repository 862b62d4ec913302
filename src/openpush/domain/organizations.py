"""Organizations, API keys and privileges.

Privileges are Coveo's ``{owner, targetDomain, type, targetId}`` tuples. A key holding
``PLATFORM/ORGANIZATION/EDIT`` administers its organization and passes every check. ``EDIT``
implies ``VIEW`` and ``CREATE`` on the same domain. A ``targetId`` of ``*`` covers every target.
A key may grant, and manage keys holding, only privileges it holds itself (:meth:`ApiKey.covers`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "ADMIN",
    "API_KEY_EDIT",
    "API_KEY_VIEW",
    "PRESETS",
    "ApiKey",
    "Organization",
    "Privilege",
    "hash_api_key",
    "new_api_key",
    "new_api_key_id",
]


@dataclass(frozen=True, slots=True)
class Privilege:
    owner: str
    target_domain: str
    type: str
    target_id: str = "*"

    def grants(self, wanted: Privilege) -> bool:
        if (self.owner, self.target_domain, self.type) == ("PLATFORM", "ORGANIZATION", "EDIT"):
            return True
        if (self.owner, self.target_domain) != (wanted.owner, wanted.target_domain):
            return False
        if self.type != wanted.type and not (
            self.type == "EDIT" and wanted.type in {"VIEW", "CREATE"}
        ):
            return False
        return self.target_id in {"*", wanted.target_id}

    def to_dict(self) -> dict[str, str]:
        return {
            "owner": self.owner,
            "targetDomain": self.target_domain,
            "type": self.type,
            "targetId": self.target_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, str]) -> Privilege:
        return cls(
            owner=str(raw.get("owner") or "PLATFORM").upper(),
            target_domain=str(raw["targetDomain"]).upper(),
            type=str(raw.get("type") or "ENABLE").upper(),
            target_id=str(raw.get("targetId") or "*"),
        )


ADMIN = Privilege("PLATFORM", "ORGANIZATION", "EDIT")
PUSH_ALL = Privilege("PLATFORM", "SOURCE", "EDIT")
IDENTITIES = Privilege("PLATFORM", "SECURITY_PROVIDER", "EDIT")
FIELDS = Privilege("PLATFORM", "FIELD", "EDIT")
EXECUTE_QUERY = Privilege("SEARCH_API", "EXECUTE_QUERY", "ENABLE")
IMPERSONATE = Privilege("SEARCH_API", "IMPERSONATE_SEARCH_API", "ENABLE")
VIEW_ALL_CONTENT = Privilege("SEARCH_API", "VIEW_ALL_CONTENT", "ENABLE")
VIEW_LOGS = Privilege("PLATFORM", "LOGS", "VIEW")
API_KEY_VIEW = Privilege("PLATFORM", "API_KEY", "VIEW")
API_KEY_EDIT = Privilege("PLATFORM", "API_KEY", "EDIT")

PRESETS: dict[str, tuple[Privilege, ...]] = {
    "admin": (ADMIN,),
    "push": (PUSH_ALL, FIELDS),
    "identities": (IDENTITIES,),
    "search": (EXECUTE_QUERY, IMPERSONATE),
    "logs": (VIEW_LOGS, Privilege("PLATFORM", "SOURCE", "VIEW")),
}


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_api_key() -> str:
    """A fresh secret in Coveo's key style (``xx`` + a UUID-like body)."""
    raw = secrets.token_hex(16)
    return f"xx{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def new_api_key_id() -> str:
    """A key's public id: 26 lowercase base32 characters, like Coveo's key ids."""
    return "".join(secrets.choice(_BASE32) for _ in range(26))


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(slots=True)
class Organization:
    id: str
    display_name: str
    created_at: float = field(default_factory=time.time)


@dataclass(slots=True)
class ApiKey:
    id: str
    org_id: str
    display_name: str
    privileges: tuple[Privilege, ...]
    enabled: bool = True
    created_at: float = field(default_factory=time.time)
    description: str = ""
    created_by: str = ""
    disabled_at: float | None = None

    def allows(self, wanted: Privilege) -> bool:
        return self.enabled and any(p.grants(wanted) for p in self.privileges)

    def allows_any(self, wanted: Iterable[Privilege]) -> bool:
        return any(self.allows(w) for w in wanted)

    def covers(self, privileges: Iterable[Privilege]) -> bool:
        """Whether this key holds every one of ``privileges``: what it may grant or manage."""
        return all(self.allows(p) for p in privileges)
