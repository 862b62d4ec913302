"""Security identity cache, read side (push-api.md §7.8): what the identity graph holds.

Base ``/rest/organizations/{org}/securitycache``; every call needs ``PLATFORM/SECURITY_PROVIDER/
VIEW`` (on the provider for the entity calls). openpush applies identity pushes to its graph in
the pipeline round that takes them, so there is no separate cache to refresh: these calls read
the graph searches expand through.

- ``GET /entities/{providerId}?page=&perPage=`` (or ``pageSize``), and the same listing at
  ``GET /entities/{providerId}/members``: the provider's identities by name, each with its
  state (``UP_TO_DATE`` or ``DISABLED``), ``orderingID`` and ``lastUpdateDate``. ``states``
  (repeated or comma-separated) keeps those states; ``from`` / ``to`` (ISO 8601 date-times,
  or epoch milliseconds) bound the last update, inclusive. ``usePageModel`` is accepted and
  changes nothing, as on the Platform.
- ``POST /entities/list?page=&perPage=`` with ``{providerIds?, identityTypes?, filterTerm?,
  filteringMode?}``: the identities of those providers (all when none is named) of those
  types, whose names start with ``filterTerm`` (``filteringMode: SUBSTRING``: contain it),
  ignoring case; ``GET /entities/list/is_supported`` answers ``true``.
- ``POST /entities/{providerId}/entity`` with the identity ``{name, provider?, type?}``: that
  identity as the listings show it.
- ``POST /entities/{providerId}/members/parents`` and ``…/children`` with the identity
  ``{name, provider?, type?, infos?}`` (provider defaults to ``providerId``) and
  ``?recursive=false&page=&pageSize=``: the identities it is a child of (groups listing it as a
  member, identities granted to it) or its children (the members of a group, the identities
  it is granted to). ``recursive=true`` walks transitively, cycle-safe.
- ``POST /entities/{providerId}/members/aliases`` (openpush's own), same body and parameters:
  the identities mapped to it as aliases (``PUT …/providers/{p}/mappings``), in both
  directions, since an alias is held both ways. Relationships are
  listed as stored, disabled identities included (their ``state`` says so), so this view can
  differ from what a search expands to; ``…/documents/access`` explains the latter.
  An identity the graph knows nothing about (no record, no relationship) is 404
  ``SECURITY_IDENTITY_NOT_FOUND``.
- ``GET /status``: ``IDLE``, with entity counts by state.
- ``POST /refresh``, ``POST /{providerId}/refresh``, ``POST /{providerId}/refresh/cancel`` and
  ``POST /refresh/entity`` (body: an identity with its ``provider``): 204 and nothing to do,
  since the graph is never behind the pushes the pipeline has applied. They need
  ``SECURITY_PROVIDER/EDIT``; an unknown provider is 404 as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.routes.identities import ProviderNotFoundError
from openpush.api.wire import MAX_PAGE, page_model, parse_bool
from openpush.domain.identities import SecurityProvider
from openpush.domain.organizations import Privilege
from openpush.domain.permissions import IdentityType, parse_identity_type
from openpush.errors import (
    InvalidItemError,
    InvalidJsonError,
    InvalidParameterError,
    ResourceNotFoundError,
)
from openpush.runtime import Runtime
from openpush.security.evaluate import IdentityKey, identity_key
from openpush.storage.base import IdentityFilter, IdentityRecord

__all__ = ["IdentityNotFoundError", "router"]

router = APIRouter(
    prefix="/rest/organizations/{organizationId}/securitycache", tags=["Security cache"]
)

_BODY_LIMIT = 1024 * 1024
_MAX_PAGE = 1000
# The Platform API spells identity types this way (platform-client PermissionIdentityType).
_WIRE_TYPES = {
    IdentityType.USER: "User",
    IdentityType.GROUP: "Group",
    IdentityType.VIRTUAL_GROUP: "VirtualGroup",
    IdentityType.UNKNOWN: "Unknown",
}

# The Platform's identity states; the graph holds identities in the first two only.
_STATES = ("UP_TO_DATE", "DISABLED", "UNKNOWN", "NOT_UPDATED", "OUT_OF_DATE", "IN_ERROR")

_States = Annotated[list[str] | None, Query()]  # repeated (states=A&states=B) or "A,B"

Related = Callable[[Collection[IdentityKey]], Mapping[IdentityKey, Collection[IdentityKey]]]


class IdentityNotFoundError(ResourceNotFoundError):
    error_code = "SECURITY_IDENTITY_NOT_FOUND"


def _view(
    request: Request, organizationId: str, provider_id: str = "*", access: str = "VIEW"
) -> tuple[Runtime, Caller]:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SECURITY_PROVIDER", access, provider_id))
    return runtime, caller


def _provider(runtime: Runtime, org_id: str, provider_id: str) -> SecurityProvider:
    provider = runtime.store.identities.get_provider(org_id, provider_id)
    if provider is None:
        raise ProviderNotFoundError(f"security provider {provider_id!r} does not exist")
    return provider


def _paging(page: int, per_page: int | None, page_size: int | None) -> tuple[int, int]:
    size = per_page if per_page is not None else page_size if page_size is not None else 100
    return max(page, 0), min(max(size, 1), _MAX_PAGE)


def _entity(
    key: IdentityKey, record: IdentityRecord | None, provider_ids: Mapping[str, str]
) -> dict[str, Any]:
    """An identity as the security cache shows it; one known only by a relationship is UNKNOWN."""
    if record is None:
        return {
            "name": key.name,
            "provider": provider_ids.get(key.provider, key.provider),
            "type": _WIRE_TYPES[IdentityType.UNKNOWN],
            "state": "UNKNOWN",
            "orderingID": None,
            "lastUpdateDate": None,
            "lastUpdateResult": "NONE",
            "infos": [],
        }
    return {
        "name": record.ref.name,
        "provider": provider_ids.get(record.key.provider, record.ref.provider),
        "type": _WIRE_TYPES[record.ref.type],
        "state": "UP_TO_DATE" if record.enabled else "DISABLED",
        "orderingID": record.ordering_id,
        "lastUpdateDate": int(record.updated_at * 1000),
        "lastUpdateResult": "SUCCESS",
        "infos": [{"key": k, "value": v} for k, v in record.ref.additional_info],
    }


def _provider_ids(runtime: Runtime, org_id: str) -> dict[str, str]:
    return {p.key: p.id for p in runtime.store.identities.list_providers(org_id)}


def _instant(name: str, value: str | None) -> float | None:
    """Epoch seconds of a ``from`` / ``to`` parameter: an ISO 8601 date-time (UTC unless it
    says otherwise) or epoch milliseconds."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return int(text) / 1000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError(
            f"{name} must be an ISO 8601 date-time or epoch milliseconds, got {value!r}"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _listing_filter(
    states: list[str] | None, from_: str | None, to: str | None
) -> IdentityFilter | None:
    """The filter of an identity listing; None when the states asked for hold nobody."""
    wanted = {s.strip().upper() for value in states or () for s in value.split(",") if s.strip()}
    if unknown := sorted(wanted - set(_STATES)):
        raise InvalidParameterError(
            f"unknown identity state {unknown[0]!r}; states are {', '.join(_STATES)}"
        )
    held = wanted & {"UP_TO_DATE", "DISABLED"} if wanted else {"UP_TO_DATE", "DISABLED"}
    if not held:
        return None
    enabled = None if len(held) == 2 else "UP_TO_DATE" in held
    return IdentityFilter(enabled, _instant("from", from_), _instant("to", to))


@router.get(
    "/entities/list/is_supported",
    summary="Whether identities can be filtered",
    responses={200: {"content": {"application/json": {"schema": {"type": "boolean"}}}}},
)
async def list_supported(request: Request, organizationId: str) -> JsonResponse:
    _view(request, organizationId)
    return JsonResponse(True)


@router.post("/entities/list", summary="Find identities by provider, type and name")
async def find_entities(
    request: Request,
    organizationId: str,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int | None = None,
    pageSize: int | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    fields = {
        str(k).casefold(): v
        for k, v in (await read_json_object(request, _BODY_LIMIT)).items()
        if v is not None
    }
    named = fields.get("providerids", [])
    if not isinstance(named, list) or not all(isinstance(p, str) for p in named):
        raise InvalidJsonError("'providerIds' must be an array of strings")
    for provider_id in named or ["*"]:
        caller.require(Privilege("PLATFORM", "SECURITY_PROVIDER", "VIEW", provider_id))
    providers = [_provider(runtime, caller.org_id, p).id for p in dict.fromkeys(named)] or [
        p.id for p in runtime.store.identities.list_providers(caller.org_id)
    ]
    number, size = _paging(page, perPage, pageSize)
    only = _find_filter(fields)
    records, total = runtime.store.identities.list_identities(
        caller.org_id, providers, number, size, only
    )
    ids = _provider_ids(runtime, caller.org_id)
    items = [_entity(record.key, record, ids) for record in records]
    return JsonResponse(page_model(items, number, size, total))


def _find_filter(fields: Mapping[str, Any]) -> IdentityFilter:
    """The filter of an ``IdentitiesFilterModel`` (keys case-folded, nulls dropped)."""
    types = fields.get("identitytypes", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidJsonError("'identityTypes' must be an array of strings")
    try:
        wanted = frozenset(
            parse_identity_type(t, path=f"identityTypes[{i}]").value for i, t in enumerate(types)
        )
    except InvalidItemError as exc:
        raise InvalidJsonError(exc.message) from None
    term = fields.get("filterterm", "")
    mode = fields.get("filteringmode", "PREFIX")
    if not isinstance(term, str):
        raise InvalidJsonError("'filterTerm' must be a string")
    if not isinstance(mode, str) or mode.upper() not in {"PREFIX", "SUBSTRING"}:
        raise InvalidJsonError("'filteringMode' must be PREFIX or SUBSTRING")
    return IdentityFilter(types=wanted, name=term, name_anywhere=mode.upper() == "SUBSTRING")


@router.get("/entities/{providerId}/members", summary="List a provider's identities")
@router.get("/entities/{providerId}", summary="List a provider's identities")
async def list_entities(
    request: Request,
    organizationId: str,
    providerId: str,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int | None = None,
    pageSize: int | None = None,
    states: _States = None,
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    usePageModel: str | None = None,
) -> JsonResponse:
    runtime, caller = _view(request, organizationId, providerId)
    provider = _provider(runtime, caller.org_id, providerId)
    number, size = _paging(page, perPage, pageSize)
    only = _listing_filter(states, from_, to)
    if only is None:
        return JsonResponse(page_model([], number, size, 0))
    records, total = runtime.store.identities.list_identities(
        caller.org_id, provider.id, number, size, only
    )
    ids = _provider_ids(runtime, caller.org_id)
    items = [_entity(record.key, record, ids) for record in records]
    return JsonResponse(page_model(items, number, size, total))


def _body_identity(
    body: dict[str, Any], provider: SecurityProvider, runtime: Runtime
) -> IdentityKey:
    """The key of ``{name, provider?, type?, infos?}`` (keys case-insensitive)."""
    fields = {str(k).casefold(): v for k, v in body.items()}
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidJsonError("the body needs the identity's 'name'")
    named = fields.get("provider") or provider.id
    if not isinstance(named, str):
        raise InvalidJsonError("'provider' must be a string")
    try:
        parse_identity_type(fields.get("type"), path="type")  # validated, not part of the key
    except InvalidItemError as exc:
        raise InvalidJsonError(exc.message) from None
    target = _provider(runtime, provider.org_id, named)
    return identity_key(target.id, name, case_sensitive=target.case_sensitive)


def _related(start: IdentityKey, step: Related, recursive: bool) -> list[IdentityKey]:
    """The keys ``step`` relates ``start`` to, transitively if ``recursive`` (cycle-safe)."""
    seen = {start}
    found: list[IdentityKey] = []
    frontier = [start]
    while frontier:
        related = step(frontier)
        fresh = sorted({k for key in frontier for k in related.get(key, ())} - seen)
        seen.update(fresh)
        found.extend(fresh)
        frontier = fresh if recursive else []
    return found


def _steps(graph: Any) -> dict[str, Related]:
    return {"parents": graph.parents, "children": graph.children, "aliases": graph.aliases}


def _known(runtime: Runtime, org_id: str, key: IdentityKey, graph: Any) -> IdentityRecord | None:
    """The identity's record (None: known only through a relationship); 404 when the graph
    knows nothing of it."""
    record = runtime.store.identities.get_identities(org_id, [key]).get(key)
    if record is None and not any(step([key]) for step in _steps(graph).values()):
        raise IdentityNotFoundError(
            f"the security cache holds no identity {key.name!r} in provider {key.provider!r}"
        )
    return record


async def _members(
    request: Request,
    organizationId: str,
    providerId: str,
    direction: str,
    recursive: str | None,
    page: int,
    per_page: int | None,
    page_size: int | None,
) -> JsonResponse:
    runtime, caller = _view(request, organizationId, providerId)
    provider = _provider(runtime, caller.org_id, providerId)
    body = await read_json_object(request, _BODY_LIMIT)
    key = _body_identity(body, provider, runtime)
    deep = parse_bool("recursive", recursive, default=False)
    number, size = _paging(page, per_page, page_size)
    identities = runtime.store.identities
    graph = identities.graph(caller.org_id)
    _known(runtime, caller.org_id, key, graph)
    step: Related = _steps(graph)[direction]
    related = _related(key, step, deep)
    chunk = related[number * size : (number + 1) * size]
    records = identities.get_identities(caller.org_id, chunk)
    ids = _provider_ids(runtime, caller.org_id)
    items = [_entity(k, records.get(k), ids) for k in chunk]
    return JsonResponse(page_model(items, number, size, len(related)))


@router.post(
    "/entities/{providerId}/members/parents", summary="The identities an identity belongs to"
)
async def parents(
    request: Request,
    organizationId: str,
    providerId: str,
    recursive: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int | None = None,
    pageSize: int | None = None,
) -> JsonResponse:
    return await _members(
        request, organizationId, providerId, "parents", recursive, page, perPage, pageSize
    )


@router.post("/entities/{providerId}/members/children", summary="The members of an identity")
async def children(
    request: Request,
    organizationId: str,
    providerId: str,
    recursive: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int | None = None,
    pageSize: int | None = None,
) -> JsonResponse:
    return await _members(
        request, organizationId, providerId, "children", recursive, page, perPage, pageSize
    )


@router.post(
    "/entities/{providerId}/members/aliases", summary="The aliases of an identity (openpush)"
)
async def aliases(
    request: Request,
    organizationId: str,
    providerId: str,
    recursive: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int | None = None,
    pageSize: int | None = None,
) -> JsonResponse:
    return await _members(
        request, organizationId, providerId, "aliases", recursive, page, perPage, pageSize
    )


@router.post("/entities/{providerId}/entity", summary="One identity of a provider")
async def entity(request: Request, organizationId: str, providerId: str) -> JsonResponse:
    runtime, caller = _view(request, organizationId, providerId)
    provider = _provider(runtime, caller.org_id, providerId)
    key = _body_identity(await read_json_object(request, _BODY_LIMIT), provider, runtime)
    record = _known(runtime, caller.org_id, key, runtime.store.identities.graph(caller.org_id))
    return JsonResponse(_entity(key, record, _provider_ids(runtime, caller.org_id)))


@router.post("/refresh", status_code=204, summary="Refresh the security cache (nothing to do)")
async def refresh_all(request: Request, organizationId: str) -> Response:
    _view(request, organizationId, access="EDIT")
    return Response(status_code=204)


@router.post("/refresh/entity", status_code=204, summary="Refresh one identity (nothing to do)")
async def refresh_entity(request: Request, organizationId: str) -> Response:
    runtime, caller = _view(request, organizationId, access="EDIT")
    body = await read_json_object(request, _BODY_LIMIT)
    named = {str(k).casefold(): v for k, v in body.items()}.get("provider")
    if not isinstance(named, str) or not named:
        raise InvalidJsonError("the body needs the identity's 'provider'")
    _body_identity(body, _provider(runtime, caller.org_id, named), runtime)
    return Response(status_code=204)


@router.post(
    "/{providerId}/refresh/cancel",
    status_code=204,
    summary="Cancel a provider's refresh (none ever runs)",
)
@router.post("/{providerId}/refresh", status_code=204, summary="Refresh a provider (nothing to do)")
async def refresh_provider(request: Request, organizationId: str, providerId: str) -> Response:
    runtime, caller = _view(request, organizationId, providerId, access="EDIT")
    _provider(runtime, caller.org_id, providerId)
    return Response(status_code=204)


@router.get("/schedules", summary="Refresh schedules (none: the cache is never behind)")
async def schedules(request: Request, organizationId: str) -> JsonResponse:
    _view(request, organizationId)
    return JsonResponse([])


@router.get("/status", summary="The security cache's status")
async def status(request: Request, organizationId: str) -> JsonResponse:
    runtime, caller = _view(request, organizationId)
    identities = runtime.store.identities
    providers = identities.list_providers(caller.org_id)
    every = [p.id for p in providers]
    by_state = dict.fromkeys(_STATES, 0)
    for state, enabled in (("UP_TO_DATE", True), ("DISABLED", False)):
        only = IdentityFilter(enabled=enabled)
        by_state[state] = identities.list_identities(caller.org_id, every, 0, 1, only)[1]
    total = sum(by_state.values())
    return JsonResponse(
        {
            "status": "IDLE",
            "currentStatus": {
                "type": "IDLE",
                "totalNumberOfEntities": total,
                "numberOfEntitiesInError": 0,
            },
            "statistics": {
                "numberOfProviders": len(providers),
                "totalNumberOfEntities": total,
                "numberOfEntitiesInError": 0,
                "numberOfEntitiesByState": by_state,
            },
        }
    )
