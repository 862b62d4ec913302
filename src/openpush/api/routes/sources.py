"""Source API subset: create, get, list (whole or paged), update, delete."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of, source_for
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.wire import MAX_PAGE, page_model, source_model
from openpush.domain.organizations import Privilege
from openpush.domain.sources import Source, SourceType, SourceVisibility, new_source_id
from openpush.errors import InvalidParameterError, MissingParameterError

__all__ = ["router"]

router = APIRouter(prefix="/rest/organizations/{organizationId}", tags=["Sources"])

_VIEW = Privilege("PLATFORM", "SOURCE", "VIEW")
_CREATE = Privilege("PLATFORM", "SOURCE", "CREATE")
_BODY_LIMIT = 1024 * 1024
_HOST_TYPES = ("CLOUD", "CRAWLING_MODULE", "PUSH")


def _enum(kind: type[SourceType] | type[SourceVisibility], raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    try:
        return kind(str(raw).upper())
    except ValueError:
        allowed = ", ".join(kind)
        raise InvalidParameterError(f"invalid value {raw!r}; expected one of {allowed}") from None


def _providers(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidParameterError("securityProviderReferences must be an array")
    names = [r.get("id") if isinstance(r, dict) else r for r in raw]
    return tuple(str(n) for n in names if n)


def _model(request: Request, caller: Caller, source: Source) -> dict[str, Any]:
    store = runtime_of(request).store
    return source_model(
        source,
        documents=store.items.count_live(caller.org_id, source.id),
        activities=store.catalog.activities(caller.org_id, source.id, limit=2),
    )


def _listed(request: Request, caller: Caller, host_type: str | None) -> list[Source]:
    """The organization's sources; ``filterHostType`` keeps the ones of that host type
    (every openpush source is a push source, so ``PUSH`` keeps all and the others none)."""
    sources = runtime_of(request).store.catalog.list_sources(caller.org_id)
    if host_type is None or host_type.strip() == "":
        return sources
    kind = host_type.strip().upper()
    if kind not in _HOST_TYPES:
        allowed = ", ".join(_HOST_TYPES)
        raise InvalidParameterError(f"invalid filterHostType {host_type!r}; expected {allowed}")
    return [s for s in sources if s.push_enabled] if kind == "PUSH" else []


@router.post("/sources", status_code=201, summary="Create a source")
async def create_source(request: Request, organizationId: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_CREATE)
    body = await read_json_object(request, _BODY_LIMIT)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MissingParameterError("a source needs a 'name'")
    source_type = _enum(SourceType, body.get("sourceType"), SourceType.PUSH)
    stream = bool(body.get("streamEnabled")) or source_type is SourceType.CATALOG
    source = Source(
        org_id=caller.org_id,
        id=new_source_id(caller.org_id),
        name=name.strip(),
        source_type=source_type,
        visibility=_enum(SourceVisibility, body.get("sourceVisibility"), SourceVisibility.SECURED),
        push_enabled=bool(body.get("pushEnabled", True)),
        stream_enabled=stream,
        security_providers=_providers(body.get("securityProviderReferences")),
        created_at=time.time(),
        updated_at=time.time(),
    )
    runtime_of(request).store.catalog.create_source(source)
    return JsonResponse(_model(request, caller, source), status_code=201)


@router.get("/sources", summary="List sources")
async def list_all_sources(
    request: Request, organizationId: str, filterHostType: str | None = None
) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    sources = _listed(request, caller, filterHostType)
    return JsonResponse([_model(request, caller, s) for s in sources])


@router.get("/sources/pages", summary="List sources, paged")
async def list_sources(
    request: Request,
    organizationId: str,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int = 100,
    filterHostType: str | None = None,
) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    per_page = min(max(perPage, 1), 1000)
    page = max(page, 0)
    sources = _listed(request, caller, filterHostType)
    chunk = sources[page * per_page : (page + 1) * per_page]
    models = [_model(request, caller, s) for s in chunk]
    body = page_model(models, page, per_page, len(sources))
    body["sourceModels"] = models
    return JsonResponse(body)


@router.get("/sources/{sourceId}", summary="Get a source")
async def get_source(request: Request, organizationId: str, sourceId: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "VIEW", sourceId))
    return JsonResponse(_model(request, caller, source_for(request, caller, sourceId)))


@router.put("/sources/{sourceId}", summary="Update a source")
async def update_source(request: Request, organizationId: str, sourceId: str) -> JsonResponse:
    """The source model as ``GET`` gives it, changed: ``name`` always; ``sourceVisibility``
    and ``securityProviderReferences`` only while the source holds no items, as items are
    indexed for the visibility and default provider they were pushed under. A ``sourceType``
    other than the source's is refused; every other key is ignored.
    """
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "EDIT", sourceId))
    source = source_for(request, caller, sourceId)
    body = await read_json_object(request, _BODY_LIMIT)
    name = body.get("name", source.name)
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError("a source's 'name' must be a non-empty string")
    if _enum(SourceType, body.get("sourceType"), source.source_type) is not source.source_type:
        raise InvalidParameterError("a source's sourceType cannot change")
    updated = replace(
        source,
        name=name.strip(),
        visibility=_enum(SourceVisibility, body.get("sourceVisibility"), source.visibility),
        updated_at=time.time(),
    )
    if "securityProviderReferences" in body:
        updated.security_providers = _providers(body["securityProviderReferences"])
    changes_items = (updated.visibility, updated.security_providers) != (
        source.visibility,
        source.security_providers,
    )
    if changes_items and runtime.store.items.count_live(caller.org_id, source.id):
        raise InvalidParameterError(
            "sourceVisibility and securityProviderReferences change only on a source without"
            " items: its items were indexed for the current ones (create a new source and push"
            " them there)"
        )
    runtime.store.catalog.update_source(updated)
    return JsonResponse(_model(request, caller, updated))


@router.delete("/sources/{sourceId}", status_code=204, summary="Delete a source and its items")
async def delete_source(request: Request, organizationId: str, sourceId: str) -> Response:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "EDIT", sourceId))
    source = source_for(request, caller, sourceId)
    runtime.store.catalog.delete_source(caller.org_id, source.id)
    purge = getattr(runtime.store.items, "purge_source", None)
    if purge is not None:
        purge(caller.org_id, source.id)
    org_id, source_id = caller.org_id, source.id
    if runtime.worker is not None:
        runtime.worker.run_exclusive(lambda writer: writer.delete_source(org_id, source_id))
    elif getattr(runtime.index, "concurrent_writers", False):
        # a shared index (PostgreSQL) takes writes from any process: no worker here, drop now
        writer = runtime.index.writer()
        writer.delete_source(org_id, source_id)
        writer.commit()
    return Response(status_code=204)
