"""Who is calling: API keys and search tokens, organization scoping and privilege checks.

``Authorization: Bearer <credential>`` (or ``?access_token=``). A credential that looks like
a JWT is a search token; anything else is an API key, looked up by its SHA-256 hash. A
caller only ever reaches its own organization: any other organization id, existing or not,
answers 404 ``ORGANIZATION_NOT_FOUND``, so nothing about other tenants can be learned.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from openpush.domain.organizations import ApiKey, Privilege, hash_api_key
from openpush.domain.sources import Source
from openpush.errors import (
    AccessDeniedError,
    AuthenticationError,
    InvalidTokenError,
    OrganizationNotFoundError,
    SourceNotFoundError,
)
from openpush.runtime import Runtime
from openpush.search.tokens import SearchTokenClaims

__all__ = [
    "Caller",
    "authenticate",
    "caller_for_org",
    "credential_of",
    "resolve",
    "runtime_of",
    "source_for",
]


@dataclass(frozen=True, slots=True)
class Caller:
    org_id: str
    key: ApiKey | None = None
    token: SearchTokenClaims | None = None

    def require(self, *wanted: Privilege) -> None:
        """Pass when the key holds any of ``wanted``; search tokens hold none."""
        if self.key is None or not self.key.allows_any(wanted):
            needed = " or ".join(f"{w.owner}/{w.target_domain}/{w.type}" for w in wanted)
            raise AccessDeniedError(f"the credentials lack the privilege {needed}")

    def holds(self, wanted: Privilege) -> bool:
        return self.key is not None and self.key.allows(wanted)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def credential_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.query_params.get("access_token")
    if token:
        return token
    raise AuthenticationError("missing credentials: send 'Authorization: Bearer <API key>'")


def resolve(runtime: Runtime, credential: str) -> Caller:
    """Who ``credential`` is. Keys are read from the store on every call (no cache), so a
    key that is disabled or deleted is refused from its very next request."""
    if runtime.tokens.looks_like_token(credential):
        claims = runtime.tokens.verify(credential)
        return Caller(org_id=claims.org_id, token=claims)
    key = runtime.store.catalog.find_api_key(hash_api_key(credential))
    if key is None or not key.enabled:
        raise InvalidTokenError("the API key is unknown or disabled")
    return Caller(org_id=key.org_id, key=key)


def authenticate(request: Request) -> Caller:
    return resolve(runtime_of(request), credential_of(request))


def caller_for_org(request: Request, org_id: str) -> Caller:
    """Authenticate, then make sure the caller belongs to ``org_id`` and that it exists."""
    caller = authenticate(request)
    if caller.org_id != org_id:
        raise OrganizationNotFoundError(f"organization {org_id!r} does not exist")
    if runtime_of(request).store.catalog.get_organization(org_id) is None:
        raise OrganizationNotFoundError(f"organization {org_id!r} does not exist")
    return caller


def source_for(request: Request, caller: Caller, source_id: str) -> Source:
    source = runtime_of(request).store.catalog.get_source(caller.org_id, source_id)
    if source is None:
        raise SourceNotFoundError(f"source {source_id!r} does not exist")
    return source
