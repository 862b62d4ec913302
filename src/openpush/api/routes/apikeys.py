"""API keys: ``/rest/organizations/{org}/apikeys``, as Coveo's platform-client calls it.

* Create (``POST``, ``PLATFORM/API_KEY/CREATE``, which ``EDIT`` implies) answers ``201`` with
  the key's model and its secret ``value``: the only time the secret is shown. Only its
  SHA-256 hash is stored.
* List, get (``PLATFORM/API_KEY/VIEW``) never show the secret.
* Update (``PUT …/{id}``), ``PUT …/{id}/disable``, ``PUT …/{id}/activate`` and ``DELETE
  …/{id}`` need ``PLATFORM/API_KEY/EDIT`` (on the key or ``*``).
* No escalation: a key may grant only privileges it holds itself, and may update, disable,
  enable or delete only keys whose every privilege it holds (``403 ACCESS_DENIED``).
* Restrictions openpush does not enforce (``allowedIps``, ``deniedIps``, ``lifetimeDuration``,
  ``expirationDate``, ``additionalConfiguration``, templates) are refused with ``412
  INVALID_PARAMETER`` rather than silently dropped: a key must never be wider than asked.
* A disabled or deleted key is refused (``401 INVALID_TOKEN``) from its next request: keys
  are looked up on every call.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.wire import privilege_from_wire
from openpush.domain.organizations import (
    API_KEY_VIEW,
    ApiKey,
    Privilege,
    hash_api_key,
    new_api_key,
    new_api_key_id,
)
from openpush.errors import (
    AccessDeniedError,
    InvalidParameterError,
    MissingParameterError,
    ResourceNotFoundError,
)

__all__ = ["router"]

router = APIRouter(prefix="/rest/organizations/{organizationId}/apikeys", tags=["API keys"])

_BODY_LIMIT = 256 * 1024
_CREATE = Privilege("PLATFORM", "API_KEY", "CREATE")
_UNSUPPORTED = (
    "allowedIps",
    "deniedIps",
    "lifetimeDuration",
    "expirationDate",
    "additionalConfiguration",
    "apiKeyTemplateId",
)


def key_model(key: ApiKey, *, secret: str | None = None) -> dict[str, Any]:
    """Coveo's ApiKeyModel; ``value`` (the secret) only when ``secret`` is given."""
    model: dict[str, Any] = {
        "id": key.id,
        "resourceId": key.id,
        "organizationId": key.org_id,
        "displayName": key.display_name,
        "description": key.description,
        "enabled": key.enabled,
        "status": "ENABLED" if key.enabled else "DISABLED",
        "privileges": [p.to_dict() for p in key.privileges],
        "createdDate": int(key.created_at * 1000),
        "createdBy": key.created_by or None,
        "disabledDate": int(key.disabled_at * 1000) if key.disabled_at else None,
        "allowedIps": [],
        "deniedIps": [],
    }
    if secret is not None:
        model["value"] = secret
    return model


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string")
    return value.strip()


def _privileges(raw: Any) -> tuple[Privilege, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidParameterError("privileges must be an array")
    parsed = [privilege_from_wire(p, f"privileges[{i}]") for i, p in enumerate(raw)]
    return tuple(dict.fromkeys(parsed))


def _refuse_unsupported(request: Request, body: dict[str, Any]) -> None:
    for name in _UNSUPPORTED:
        if body.get(name) or request.query_params.get(name):
            raise InvalidParameterError(
                f"openpush does not enforce {name!r}; it is refused rather than ignored"
            )


def _enabled(body: dict[str, Any], default: bool) -> bool:
    value = body.get("enabled", default)
    if not isinstance(value, bool):
        raise InvalidParameterError("enabled must be true or false")
    return value


def _may_grant(caller: Caller, privileges: tuple[Privilege, ...]) -> None:
    assert caller.key is not None
    missing = [p for p in privileges if not caller.key.allows(p)]
    if missing:
        names = ", ".join(f"{p.owner}/{p.target_domain}/{p.type}/{p.target_id}" for p in missing)
        raise AccessDeniedError(f"a key cannot grant privileges it does not hold: {names}")


def _managed(request: Request, organizationId: str, keyId: str) -> tuple[Caller, ApiKey]:
    """The caller and the key it may manage: EDIT on it, and every privilege it holds."""
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "API_KEY", "EDIT", keyId))
    key = runtime_of(request).store.catalog.get_api_key(caller.org_id, keyId)
    if key is None:
        raise ResourceNotFoundError(f"API key {keyId!r} does not exist")
    assert caller.key is not None
    if not caller.key.covers(key.privileges):
        raise AccessDeniedError("a key cannot manage a key holding privileges it does not hold")
    return caller, key


def _save(request: Request, key: ApiKey, *, enabled: bool) -> JsonResponse:
    if enabled != key.enabled:
        key.disabled_at = None if enabled else time.time()
    key.enabled = enabled
    if not runtime_of(request).store.catalog.update_api_key(key):
        raise ResourceNotFoundError(f"API key {key.id!r} does not exist")
    return JsonResponse(key_model(key))


@router.get("", summary="List API keys")
async def list_keys(request: Request, organizationId: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(API_KEY_VIEW)
    keys = runtime_of(request).store.catalog.list_api_keys(caller.org_id)
    return JsonResponse([key_model(k) for k in keys])


@router.post("", status_code=201, summary="Create an API key (its secret is shown once)")
async def create_key(request: Request, organizationId: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_CREATE)
    body = await read_json_object(request, _BODY_LIMIT)
    _refuse_unsupported(request, body)
    name = _text(body, "displayName")
    if not name:
        raise MissingParameterError("an API key needs a 'displayName'")
    privileges = _privileges(body.get("privileges"))
    _may_grant(caller, privileges)
    assert caller.key is not None
    secret = new_api_key()
    key = ApiKey(
        id=new_api_key_id(),
        org_id=caller.org_id,
        display_name=name,
        privileges=privileges,
        enabled=_enabled(body, True),
        description=_text(body, "description") or "",
        created_by=caller.key.id,
    )
    if not key.enabled:
        key.disabled_at = key.created_at
    runtime_of(request).store.catalog.save_api_key(key, hash_api_key(secret))
    return JsonResponse(key_model(key, secret=secret), status_code=201)


@router.get("/{keyId}", summary="Get an API key (without its secret)")
async def get_key(request: Request, organizationId: str, keyId: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "API_KEY", "VIEW", keyId))
    key = runtime_of(request).store.catalog.get_api_key(caller.org_id, keyId)
    if key is None:
        raise ResourceNotFoundError(f"API key {keyId!r} does not exist")
    return JsonResponse(key_model(key))


@router.put("/{keyId}", summary="Update an API key")
async def update_key(request: Request, organizationId: str, keyId: str) -> JsonResponse:
    caller, key = _managed(request, organizationId, keyId)
    body = await read_json_object(request, _BODY_LIMIT)
    _refuse_unsupported(request, body)
    name = _text(body, "displayName")
    if name is not None:
        if not name:
            raise InvalidParameterError("displayName cannot be empty")
        key.display_name = name
    description = _text(body, "description")
    if description is not None:
        key.description = description
    if body.get("privileges") is not None:
        privileges = _privileges(body["privileges"])
        _may_grant(caller, privileges)
        key.privileges = privileges
    return _save(request, key, enabled=_enabled(body, key.enabled))


@router.put("/{keyId}/disable", summary="Disable an API key")
async def disable_key(request: Request, organizationId: str, keyId: str) -> JsonResponse:
    _, key = _managed(request, organizationId, keyId)
    return _save(request, key, enabled=False)


@router.put("/{keyId}/activate", summary="Enable an API key again")
async def activate_key(request: Request, organizationId: str, keyId: str) -> JsonResponse:
    _, key = _managed(request, organizationId, keyId)
    return _save(request, key, enabled=True)


@router.delete("/{keyId}", status_code=204, summary="Delete an API key")
async def delete_key(request: Request, organizationId: str, keyId: str) -> Response:
    caller, key = _managed(request, organizationId, keyId)
    runtime_of(request).store.catalog.delete_api_key(caller.org_id, key.id)
    return Response(status_code=204)
