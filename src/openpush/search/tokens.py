"""Search tokens: signed JWTs naming an organization, the user's identities and a filter.

Claims: ``org``, ``userIds`` (``[{name, provider, type}]``), optional ``filter``,
``searchHub``, ``pipeline``, ``userDisplayName``, and ``exp``/``iat``. Signed with HS256 and
the installation's secret; ``validFor`` is clamped to Coveo's 15 minutes to 24 hours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from openpush.errors import InvalidTokenError

__all__ = ["MAX_VALID_FOR_MS", "MIN_VALID_FOR_MS", "SearchTokenClaims", "SearchTokens", "UserId"]

MIN_VALID_FOR_MS = 900_000
MAX_VALID_FOR_MS = 86_400_000
DEFAULT_PROVIDER = "Email Security Provider"


@dataclass(frozen=True, slots=True)
class UserId:
    name: str
    provider: str = DEFAULT_PROVIDER
    type: str = "User"


@dataclass(frozen=True, slots=True)
class SearchTokenClaims:
    org_id: str
    user_ids: tuple[UserId, ...]
    filter: str = ""
    search_hub: str = ""
    pipeline: str = ""
    expires_at: float = 0.0


class SearchTokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(self, claims: SearchTokenClaims, valid_for_ms: int | None) -> str:
        valid = MAX_VALID_FOR_MS if valid_for_ms is None else valid_for_ms
        valid = min(max(valid, MIN_VALID_FOR_MS), MAX_VALID_FOR_MS)
        now = int(time.time())
        payload: dict[str, Any] = {
            "v": 1,
            "org": claims.org_id,
            "userIds": [
                {"name": u.name, "provider": u.provider, "type": u.type} for u in claims.user_ids
            ],
            "filter": claims.filter,
            "searchHub": claims.search_hub,
            "pipeline": claims.pipeline,
            "iat": now,
            "exp": now + valid // 1000,
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def verify(self, token: str) -> SearchTokenClaims:
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["exp", "org"]}
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("the search token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("the search token is invalid") from exc
        return SearchTokenClaims(
            org_id=str(payload["org"]),
            user_ids=tuple(
                UserId(
                    str(u.get("name", "")),
                    str(u.get("provider") or DEFAULT_PROVIDER),
                    str(u.get("type") or "User"),
                )
                for u in payload.get("userIds", [])
            ),
            filter=str(payload.get("filter") or ""),
            search_hub=str(payload.get("searchHub") or ""),
            pipeline=str(payload.get("pipeline") or ""),
            expires_at=float(payload["exp"]),
        )

    @staticmethod
    def looks_like_token(credential: str) -> bool:
        return credential.count(".") == 2
