"""Security providers (§11.2) and identity pushes (§7.2 to 7.5).

Providers: ``/rest/organizations/{org}/securityproviders[/{id}]``; the built-in ``Email
Security Provider`` always exists. Identities: ``/push/v1/organizations/{org}/providers/{p}/
permissions`` (add or update, disable with a JSON body, disable older than) and ``…/mappings``
(aliases). Pushes are queued and answered 202 like item pushes.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of
from openpush.api.body import read_json_body, read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.routes.batches import batch_model, batch_receipt, submit_batch
from openpush.api.routes.documents import parse_queue_delay, receipt, require_upload
from openpush.api.wire import parse_ordering
from openpush.domain.identities import (
    EMAIL_PROVIDER_ID,
    SecurityProvider,
    check_identity_limits,
    parse_alias_update,
    parse_disable,
    parse_identity_update,
)
from openpush.domain.items import check_json_depth
from openpush.domain.operations import OperationKind
from openpush.domain.organizations import Privilege
from openpush.domain.transfers import BatchKind
from openpush.errors import (
    BatchNotFoundError,
    ConflictError,
    InvalidJsonError,
    InvalidParameterError,
    MissingParameterError,
    ResourceNotFoundError,
)
from openpush.runtime import Runtime
from openpush.settings import Settings
from openpush.storage.base import NewOperation

__all__ = ["identity_body", "identity_limits", "push_target", "router"]

router = APIRouter(tags=["Security identities"])

_EDIT = Privilege("PLATFORM", "SECURITY_PROVIDER", "EDIT")
_VIEW = Privilege("PLATFORM", "SECURITY_PROVIDER", "VIEW")
_BODY_LIMIT = 6 * 1024 * 1024


class ProviderNotFoundError(ResourceNotFoundError):
    error_code = "SECURITY_PROVIDER_DOES_NOT_EXIST"


def provider_model(provider: SecurityProvider) -> dict[str, Any]:
    return {
        "id": provider.id,
        "name": provider.id,
        "displayName": provider.display_name or provider.id,
        "type": provider.type,
        "nodeRequired": False,
        "caseSensitive": provider.case_sensitive,
        "referencedBy": [{"id": i, "type": t} for i, t in provider.referenced_by],
        "cascadingSecurityProviders": {
            c: {"id": c, "name": c, "type": "EMAIL" if c == EMAIL_PROVIDER_ID else "EXPANDED"}
            for c in provider.cascading
        },
        "currentStatus": "IDLE",
    }


def _cascading(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict | list):  # a string would cascade to each of its letters
        raise InvalidParameterError("cascadingSecurityProviders must be an object")
    values = raw.values() if isinstance(raw, dict) else raw
    out = []
    for entry in values:
        name = entry.get("id") or entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            raise InvalidParameterError("each cascading provider needs an id or a name")
        out.append(EMAIL_PROVIDER_ID if name.casefold() == EMAIL_PROVIDER_ID.casefold() else name)
    return tuple(out)


def _references(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidParameterError("referencedBy must be an array")
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise InvalidParameterError("each referencedBy entry needs an id")
        kind = entry.get("type")
        kind = "SOURCE" if kind is None else kind
        if not isinstance(kind, str):
            raise InvalidParameterError("a referencedBy type must be a string")
        out.append((entry["id"], kind.upper()))
    return tuple(out)


def _optional(body: dict[str, Any], key: str, kind: type) -> Any:
    """``body[key]`` when it is a ``kind``; None when absent or null; refused otherwise."""
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise InvalidParameterError(f"{key} must be a {kind.__name__}")
    return value


def _provider_from(body: dict[str, Any], org_id: str, provider_id: str | None) -> SecurityProvider:
    named = _optional(body, "id", str) or _optional(body, "name", str)
    pid = provider_id or named
    if not isinstance(pid, str) or not pid.strip():
        raise MissingParameterError("the provider needs an 'id'")
    if pid.casefold() == EMAIL_PROVIDER_ID.casefold():
        raise ConflictError("the Email Security Provider is built in")
    kind = (_optional(body, "type", str) or "EXPANDED").upper()
    return SecurityProvider(
        org_id=org_id,
        id=pid,
        display_name=_optional(body, "displayName", str) or pid,
        type=kind,
        referenced_by=_references(body.get("referencedBy")),
        cascading=_cascading(body.get("cascadingSecurityProviders")),
        case_sensitive=bool(_optional(body, "caseSensitive", bool)),
    )


def _save(runtime: Runtime, caller: Caller, provider: SecurityProvider) -> None:
    runtime.store.identities.save_provider(provider)
    for ref_id, ref_type in provider.referenced_by:
        if ref_type == "SOURCE":
            runtime.store.catalog.add_source_provider(caller.org_id, ref_id, provider.id)


@router.post("/rest/organizations/{organizationId}/securityproviders", status_code=201)
async def create_provider(request: Request, organizationId: str) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    provider = _provider_from(await read_json_object(request, _BODY_LIMIT), caller.org_id, None)
    if runtime.store.identities.get_provider(caller.org_id, provider.id) is not None:
        raise ConflictError(f"security provider {provider.id!r} already exists")
    _save(runtime, caller, provider)
    return JsonResponse(provider_model(provider), status_code=201)


@router.put("/rest/organizations/{organizationId}/securityproviders/{providerId}")
async def put_provider(request: Request, organizationId: str, providerId: str) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    body = await read_json_object(request, _BODY_LIMIT)
    provider = _provider_from(body, caller.org_id, providerId)
    existing = runtime.store.identities.get_provider(caller.org_id, providerId)
    if existing is not None:
        provider.created_at = existing.created_at
    _save(runtime, caller, provider)
    return JsonResponse(provider_model(provider))


@router.get("/rest/organizations/{organizationId}/securityproviders")
async def list_providers(request: Request, organizationId: str) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    providers = runtime.store.identities.list_providers(caller.org_id)
    return JsonResponse([provider_model(p) for p in providers])


def _provider(runtime: Runtime, caller: Caller, provider_id: str) -> SecurityProvider:
    provider = runtime.store.identities.get_provider(caller.org_id, provider_id)
    if provider is None:
        raise ProviderNotFoundError(f"security provider {provider_id!r} does not exist")
    return provider


@router.get("/rest/organizations/{organizationId}/securityproviders/{providerId}")
async def get_provider(request: Request, organizationId: str, providerId: str) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    return JsonResponse(provider_model(_provider(runtime, caller, providerId)))


@router.post(
    "/rest/organizations/{organizationId}/securityproviders/{providerId}/refresh/cancel",
    status_code=204,
    summary="Cancel a provider's refresh (none ever runs)",
)
async def cancel_provider_refresh(
    request: Request, organizationId: str, providerId: str
) -> Response:
    """The platform client's ``securityCache.cancelRefresh``: the identity graph is never
    behind what the pipeline applied, so no refresh runs and there is nothing to cancel."""
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    _provider(runtime, caller, providerId)
    return Response(status_code=204)


@router.get(
    "/rest/organizations/{organizationId}/securityproviders/{providerId}/schedules",
    summary="A provider's refresh schedules (none: nothing needs refreshing)",
)
async def provider_schedules(
    request: Request, organizationId: str, providerId: str
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    _provider(runtime, caller, providerId)
    return JsonResponse([])


@router.delete(
    "/rest/organizations/{organizationId}/securityproviders/{providerId}", status_code=204
)
async def delete_provider(request: Request, organizationId: str, providerId: str) -> Response:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    if providerId.casefold() == EMAIL_PROVIDER_ID.casefold():
        raise ConflictError("the Email Security Provider is built in")
    if not runtime.store.identities.delete_provider(caller.org_id, providerId):
        raise ProviderNotFoundError(f"security provider {providerId!r} does not exist")
    return Response(status_code=204)


# -- identity pushes ----------------------------------------------------------------------

_PUSH = "/push/v1/organizations/{organizationId}/providers/{providerId}"


async def _enqueue(
    runtime: Runtime,
    provider: SecurityProvider,
    kind: OperationKind,
    name: str | None,
    payload: dict[str, Any],
    ordering: str | None,
    delay_minutes: int = 0,
) -> JsonResponse:
    ordering_id = parse_ordering(ordering) if ordering else runtime.clock.next()
    request_id = str(uuid.uuid4())
    await runtime.store.queue.aenqueue(
        [
            NewOperation(
                org_id=provider.org_id,
                source_id=provider.id,
                kind=kind,
                document_id=name,
                ordering_id=ordering_id,
                payload=payload,
                request_id=request_id,
                delay_seconds=delay_minutes * 60.0,
            )
        ]
    )
    runtime.notify()
    return receipt(ordering_id, request_id)


async def identity_body(request: Request, limits: Settings) -> Any:
    """The JSON body of an identity push, within the organization's size and depth limits."""
    raw = await read_json_body(request, limits.max_request_bytes)
    if not raw.strip():
        raise InvalidJsonError("the body must be a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonError(f"the body is not valid JSON: {exc}") from None
    check_json_depth(value, limits.max_json_depth)
    return value


def identity_limits(limits: Settings) -> dict[str, int]:
    """``check_identity_limits`` keyword arguments from the organization's settings."""
    return {
        "max_identity_bytes": limits.max_identity_bytes,
        "max_relationships": limits.max_identity_relationships,
    }


def push_target(
    request: Request, organizationId: str, providerId: str
) -> tuple[Runtime, SecurityProvider]:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SECURITY_PROVIDER", "EDIT", providerId))
    return runtime, _provider(runtime, caller, providerId)


@router.put(_PUSH + "/permissions", status_code=202, summary="Add or update an identity")
async def put_identity(
    request: Request, organizationId: str, providerId: str, orderingId: str | None = None
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    limits = runtime.settings.for_org(provider.org_id)
    update = parse_identity_update(await identity_body(request, limits), provider.id)
    check_identity_limits(update, **identity_limits(limits))
    payload = {
        "identity": update.identity.to_dict(),
        "members": [m.to_dict() for m in update.members],
        "wellKnowns": [w.to_dict() for w in update.well_knowns],
    }
    return await _enqueue(
        runtime, provider, OperationKind.IDENTITY_UPDATE, update.identity.name, payload, orderingId
    )


@router.put(_PUSH + "/mappings", status_code=202, summary="Add or update an alias")
async def put_alias(
    request: Request, organizationId: str, providerId: str, orderingId: str | None = None
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    default = provider.cascading[0] if len(provider.cascading) == 1 else None
    if default is None and not provider.cascading:
        default = EMAIL_PROVIDER_ID
    limits = runtime.settings.for_org(provider.org_id)
    update = parse_alias_update(await identity_body(request, limits), provider.id, default)
    check_identity_limits(update, **identity_limits(limits))
    payload = {
        "identity": update.identity.to_dict(),
        "mappings": [m.to_dict() for m in update.mappings],
        "wellKnowns": [w.to_dict() for w in update.well_knowns],
    }
    return await _enqueue(
        runtime, provider, OperationKind.ALIAS_UPDATE, update.identity.name, payload, orderingId
    )


@router.delete(_PUSH + "/permissions", status_code=202, summary="Disable an identity")
async def disable_identity(
    request: Request, organizationId: str, providerId: str, orderingId: str | None = None
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    limits = runtime.settings.for_org(provider.org_id)
    identity = parse_disable(await identity_body(request, limits), provider.id)
    check_identity_limits(identity, **identity_limits(limits))
    return await _enqueue(
        runtime,
        provider,
        OperationKind.IDENTITY_DISABLE,
        identity.name,
        {"identity": identity.to_dict()},
        orderingId,
    )


@router.delete(
    _PUSH + "/permissions/olderthan", status_code=202, summary="Disable older identities"
)
async def disable_older_than(
    request: Request,
    organizationId: str,
    providerId: str,
    orderingId: str | None = None,
    queueDelay: str | None = None,
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    if not orderingId:
        raise MissingParameterError("the parameter 'orderingId' is required")
    return await _enqueue(
        runtime,
        provider,
        OperationKind.IDENTITY_DISABLE_OLDER_THAN,
        None,
        {},
        orderingId,
        parse_queue_delay(queueDelay),
    )


@router.put(_PUSH + "/permissions/batch", status_code=202, summary="Identities in batch")
async def identity_batch(
    request: Request,
    organizationId: str,
    providerId: str,
    fileId: str | None = None,
    orderingId: str | None = None,
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    if not fileId:
        raise MissingParameterError("the parameter 'fileId' is required")
    require_upload(runtime, provider.org_id, fileId)
    ordering_id = parse_ordering(orderingId) if orderingId else runtime.clock.next()
    batch = await submit_batch(runtime, provider, BatchKind.IDENTITIES, [fileId], ordering_id)
    return batch_receipt(batch, 202)


@router.get(_PUSH + "/permissions/batches/{batchId}", summary="An identity batch's progress")
async def identity_batch_status(
    request: Request, organizationId: str, providerId: str, batchId: str
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    provider = _provider(runtime, caller, providerId)
    batch = runtime.store.transfers.get_batch(caller.org_id, provider.id, batchId)
    if batch is None:
        raise BatchNotFoundError(f"batch {batchId!r} does not exist for provider {providerId!r}")
    return JsonResponse(batch_model(batch))
