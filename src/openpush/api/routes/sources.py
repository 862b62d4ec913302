"""Source API subset: create, get, list (paged), delete; the organization itself."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of, source_for
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.wire import page_model, source_model
from openpush.domain.organizations import Privilege
from openpush.domain.sources import Source, SourceType, SourceVisibility, new_source_id
from openpush.errors import InvalidParameterError, MissingParameterError

__all__ = ["router"]

router = APIRouter(prefix="/rest/organizations/{organizationId}", tags=["Sources"])

_VIEW = Privilege("PLATFORM", "SOURCE", "VIEW")
_CREATE = Privilege("PLATFORM", "SOURCE", "CREATE")
_BODY_LIMIT = 1024 * 1024


def _enum(kind: type[SourceType] | type[SourceVisibility], raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    try:
        return kind(str(raw).upper())
    except ValueError:
        allowed = ", ".join(kind)
        raise InvalidParameterError(f"invalid value {raw!r}; expected one of {allowed}") from None


def _providers(raw: Any) -> tuple[str, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise InvalidParameterError("securityProviderReferences must be an array")
    names = [r.get("id") if isinstance(r, dict) else r for r in raw]
    return tuple(str(n) for n in names if n)


def _model(request: Request, caller: Caller, source: Source) -> dict[str, Any]:
    store = runtime_of(request).store
    activities = store.catalog.activities(caller.org_id, source.id, limit=1)
    return source_model(
        source,
        documents=store.items.count_live(caller.org_id, source.id),
        activity=activities[0] if activities else None,
    )


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


@router.get("/sources/pages", summary="List sources, paged")
async def list_sources(
    request: Request, organizationId: str, page: int = 0, perPage: int = 100
) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    per_page = min(max(perPage, 1), 1000)
    sources = runtime_of(request).store.catalog.list_sources(caller.org_id)
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
    if runtime.worker is not None:
        org_id, source_id = caller.org_id, source.id
        runtime.worker.run_exclusive(lambda writer: writer.delete_source(org_id, source_id))
    return Response(status_code=204)


@router.get("", summary="Get the organization")
async def get_organization(request: Request, organizationId: str) -> JsonResponse:
    caller_for_org(request, organizationId)
    org = runtime_of(request).store.catalog.get_organization(organizationId)
    assert org is not None
    return JsonResponse(
        {
            "id": org.id,
            "displayName": org.display_name,
            "createdDate": int(org.created_at * 1000),
            "type": "Standard",
            "readOnly": False,
            "publicContentOnly": False,
        }
    )
