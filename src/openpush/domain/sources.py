"""Sources and their activity (the status calls of a crawler run)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ActivityType",
    "Source",
    "SourceActivity",
    "SourceType",
    "SourceVisibility",
    "new_source_id",
]

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


class SourceType(StrEnum):
    PUSH = "PUSH"
    CATALOG = "CATALOG"


class SourceVisibility(StrEnum):
    SECURED = "SECURED"
    SHARED = "SHARED"
    PRIVATE = "PRIVATE"


class ActivityType(StrEnum):
    """``statusType`` values of the status call; IDLE ends the ongoing activity."""

    REBUILD = "REBUILD"
    REFRESH = "REFRESH"
    INCREMENTAL = "INCREMENTAL"
    IDLE = "IDLE"


def new_source_id(org_id: str) -> str:
    """``<org>-<26 lowercase base32 chars>``, the common form of Coveo source ids."""
    return f"{org_id}-" + "".join(secrets.choice(_BASE32) for _ in range(26))


@dataclass(slots=True)
class Source:
    org_id: str
    id: str
    name: str
    source_type: SourceType = SourceType.PUSH
    visibility: SourceVisibility = SourceVisibility.SECURED
    push_enabled: bool = True
    stream_enabled: bool = False
    security_providers: tuple[str, ...] = ()
    low_water_ordering_id: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    @property
    def default_provider(self) -> str:
        """The provider of permission identities that name none: the source's first one."""
        return self.security_providers[0] if self.security_providers else "Email Security Provider"


@dataclass(slots=True)
class SourceActivity:
    id: int
    org_id: str
    source_id: str
    activity: ActivityType
    started_at: float
    ended_at: float | None = None
