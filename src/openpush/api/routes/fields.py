"""Field API subset: the paged list the JS client reads, create (one or a batch), get, delete.

Every organization has the default (system) fields; created fields add to them.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from openpush.api.auth import caller_for_org, runtime_of
from openpush.api.body import read_json_body
from openpush.api.responses import JsonResponse
from openpush.api.wire import MAX_PAGE, field_from_wire, field_model, page_model
from openpush.domain.fields import DEFAULT_FIELDS, FieldDefinition, merged_fields
from openpush.domain.organizations import Privilege
from openpush.errors import InvalidJsonError, InvalidParameterError, NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/rest/organizations/{organizationId}/indexes", tags=["Fields"])

_VIEW = Privilege("PLATFORM", "FIELD", "VIEW")
_CREATE = Privilege("PLATFORM", "FIELD", "CREATE")
_EDIT = Privilege("PLATFORM", "FIELD", "EDIT")
_LIMIT = 8 * 1024 * 1024
_SYSTEM = set(DEFAULT_FIELDS)


def _all_fields(request: Request, org_id: str) -> list[FieldDefinition]:
    custom = runtime_of(request).store.catalog.list_fields(org_id)
    return sorted(merged_fields(custom).values(), key=lambda f: f.name)


async def _definitions(request: Request) -> list[FieldDefinition]:
    body = await read_json_body(request, _LIMIT)
    try:
        raw: Any = orjson.loads(body or b"[]")
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonError(f"the body is not valid JSON: {exc}") from exc
    items = raw if isinstance(raw, list) else [raw]
    definitions = [field_from_wire(item) for item in items]
    for definition in definitions:
        if definition.name in _SYSTEM:
            raise InvalidParameterError(f"field {definition.name!r} is a system field")
    return definitions


@router.get("/page/fields", summary="List fields, paged")
async def list_fields(
    request: Request,
    organizationId: str,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int = 100,
) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    per_page = min(max(perPage, 1), 1000)
    fields = _all_fields(request, caller.org_id)
    chunk = fields[page * per_page : (page + 1) * per_page]
    return JsonResponse(page_model([field_model(f) for f in chunk], page, per_page, len(fields)))


@router.post("/fields", status_code=204, summary="Create a field")
@router.post("/fields/batch/create", status_code=204, summary="Create fields")
async def create_fields(request: Request, organizationId: str) -> Response:
    caller = caller_for_org(request, organizationId)
    caller.require(_CREATE)
    definitions = await _definitions(request)
    runtime_of(request).store.catalog.save_fields(caller.org_id, definitions)
    return Response(status_code=204)


@router.put("/fields/{name}", status_code=204, summary="Update a field")
async def update_field(request: Request, organizationId: str, name: str) -> Response:
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    definitions = await _definitions(request)
    if len(definitions) != 1 or definitions[0].name != name:
        raise InvalidParameterError("the body must be the field named in the path")
    runtime_of(request).store.catalog.save_fields(caller.org_id, definitions)
    return Response(status_code=204)


@router.get("/fields/{name}", summary="Get a field")
async def get_field(request: Request, organizationId: str, name: str) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    for definition in _all_fields(request, caller.org_id):
        if definition.name == name.lower():
            return JsonResponse(field_model(definition))
    raise NotFoundError(f"field {name!r} does not exist")


@router.delete("/fields/{name}", status_code=204, summary="Delete a field")
async def delete_field(request: Request, organizationId: str, name: str) -> Response:
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    if name in _SYSTEM:
        raise InvalidParameterError(f"field {name!r} is a system field and cannot be deleted")
    if not runtime_of(request).store.catalog.delete_field(caller.org_id, name):
        raise NotFoundError(f"field {name!r} does not exist")
    return Response(status_code=204)
