"""Field API subset: the paged list the JS client reads, the platform client's search, create,
update and delete (one or a batch), get.

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
from openpush.domain.fields import DEFAULT_FIELDS, FieldDefinition, FieldType, merged_fields
from openpush.domain.organizations import Privilege
from openpush.errors import InvalidJsonError, InvalidParameterError, NotFoundError
from openpush.storage.base import Catalog

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


_TYPES = frozenset(FieldType.__members__)
_FLAGS = {"TRUE_ONLY": True, "FALSE_ONLY": False, "ALL": None}
_ORIGINS = {"USER": False, "SYSTEM": True, "ALL": None}


def _choice(filters: dict[str, Any], key: str, allowed: dict[str, bool | None]) -> bool | None:
    raw = filters.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str) or raw.upper() not in allowed:
        choices = ", ".join(allowed)
        raise InvalidParameterError(f"filters.{key} must be one of {choices}, not {raw!r}")
    return allowed[raw.upper()]


def _matching(fields: list[FieldDefinition], filters: dict[str, Any]) -> list[FieldDefinition]:
    name = filters.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidParameterError("filters.name must be a string")
    kind = filters.get("type")
    if kind is not None and (not isinstance(kind, str) or kind.upper() not in _TYPES):
        raise InvalidParameterError(f"invalid filters.type {kind!r}")
    facet, sort = _choice(filters, "facet", _FLAGS), _choice(filters, "sort", _FLAGS)
    system = _choice(filters, "origin", _ORIGINS)
    return [
        f
        for f in fields
        if (not name or name.casefold() in f.name)
        and (kind is None or f.type.value == kind.upper())
        and (facet is None or f.facet == facet)
        and (sort is None or f.sort == sort)
        and (system is None or f.system == system)
    ]


@router.post("/fields/search", summary="Find fields by name, type, facet, sort and origin")
async def search_fields(request: Request, organizationId: str) -> JsonResponse:
    """The platform client's ``field.search``: ``{page, perPage, filters: {name (contained,
    ignoring case), type, facet, sort (TRUE_ONLY, FALSE_ONLY, ALL), origin (USER, SYSTEM,
    ALL)}, sortBy: "name", order: ASC | DESC}``."""
    caller = caller_for_org(request, organizationId)
    caller.require(_VIEW)
    body = await read_json_body(request, _LIMIT)
    try:
        options: Any = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(options, dict):
        raise InvalidJsonError("the body must be a JSON object")
    page, per_page = options.get("page", 0), options.get("perPage", 100)
    if not isinstance(page, int) or not 0 <= page <= MAX_PAGE:
        raise InvalidParameterError(f"page must be an integer from 0 to {MAX_PAGE}")
    if not isinstance(per_page, int) or per_page < 1:
        raise InvalidParameterError("perPage must be a positive integer")
    per_page = min(per_page, 1000)
    filters = options.get("filters") or {}
    if not isinstance(filters, dict):
        raise InvalidParameterError("filters must be an object")
    if str(options.get("sortBy") or "name").casefold() != "name":
        raise InvalidParameterError("fields sort by 'name' only")
    order = str(options.get("order") or "ASC").upper()
    if order not in ("ASC", "DESC"):
        raise InvalidParameterError(f"order must be ASC or DESC, not {options.get('order')!r}")
    fields = _matching(_all_fields(request, caller.org_id), filters)
    if order == "DESC":
        fields.reverse()
    chunk = fields[page * per_page : (page + 1) * per_page]
    return JsonResponse(page_model([field_model(f) for f in chunk], page, per_page, len(fields)))


def _require_existing(catalog: Catalog, org_id: str, names: list[str]) -> None:
    """NotFoundError naming every one of ``names`` the organization has not created."""
    known = {f.name for f in catalog.list_fields(org_id)}
    missing = [n for n in names if n not in known]
    if missing:
        raise NotFoundError(f"fields {', '.join(map(repr, missing))} do not exist")


@router.put("/fields/batch/update", status_code=204, summary="Update fields")
async def update_fields(request: Request, organizationId: str) -> Response:
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    definitions = await _definitions(request)
    catalog = runtime_of(request).store.catalog
    _require_existing(catalog, caller.org_id, [d.name for d in definitions])
    catalog.save_fields(caller.org_id, definitions)
    return Response(status_code=204)


@router.delete("/fields/batch/delete", status_code=204, summary="Delete fields")
async def delete_fields(request: Request, organizationId: str) -> Response:
    """``?fields=a&fields=b`` or ``?fields=a,b``; nothing is deleted unless all can be."""
    caller = caller_for_org(request, organizationId)
    caller.require(_EDIT)
    fields = request.query_params.getlist("fields")
    names = [n.strip().lower() for raw in fields for n in raw.split(",") if n.strip()]
    if not names:
        raise InvalidParameterError("name the fields to delete with 'fields'")
    system = [n for n in names if n in _SYSTEM]
    if system:
        raise InvalidParameterError(f"system fields cannot be deleted: {', '.join(system)}")
    catalog = runtime_of(request).store.catalog
    _require_existing(catalog, caller.org_id, names)
    for name in dict.fromkeys(names):
        catalog.delete_field(caller.org_id, name)
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
