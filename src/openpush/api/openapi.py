"""The served OpenAPI document (``/openapi.json``): FastAPI's, completed.

Routes read their bodies themselves (Coveo's keys are case-insensitive, so there are no
pydantic models), so FastAPI's generated document knows neither what they accept nor how
they fail. ``install_openapi`` completes it, once per generated document:

- the credential: ``Authorization: Bearer`` with an API key or a search token, on every
  operation but the public ones (``PUBLIC``);
- the error envelope ``{"errorCode", "message"}`` (``Error``) and the statuses any operation
  may answer with it; FastAPI's ``422`` goes, since validation errors are answered ``400`` or
  ``412`` in Coveo's shape;
- the request bodies of the platform calls (``REQUEST_BODIES``), where the route declares
  none itself: JSON objects whose known keys are typed and whose other keys are free;
- success bodies: FastAPI describes those of the JSON response class as strings; they are
  JSON objects or arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["ERROR_STATUSES", "REQUEST_BODIES", "complete_openapi", "install_openapi"]

#: Operations anyone may call (no credential).
PUBLIC = frozenset({("get", "/health"), ("post", "/oauth/check_token")})
#: Operations that answer no error at all.
INFALLIBLE = frozenset({("get", "/health")})

#: Error statuses any authenticated operation may answer, with what they mean.
ERROR_STATUSES: dict[str, str] = {
    "400": "Invalid JSON or request (INVALID_JSON, INVALID_REQUEST, INVALID_QUERY_SYNTAX, ...)",
    "401": "Missing, unknown or disabled credential (UNAUTHORIZED, INVALID_TOKEN)",
    "403": "The credential lacks the privilege (ACCESS_DENIED)",
    "404": "Unknown organization or resource (ORGANIZATION_NOT_FOUND, NOT_FOUND, ...)",
    "409": "The resource already exists (RESOURCE_ALREADY_EXISTS)",
    "412": "Missing or invalid parameter, unknown source (MISSING_PARAMETER, ...)",
    "413": "The request body is too large (REQUEST_ENTITY_TOO_LARGE)",
    "415": "The body is not JSON (UNSUPPORTED_MEDIA_TYPE)",
    "429": "Over a request rate or daily quota (TOO_MANY_REQUESTS, ...); see Retry-After",
    "503": "The state store is busy (SERVICE_UNAVAILABLE); see Retry-After",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["errorCode", "message"],
    "properties": {"errorCode": {"type": "string"}, "message": {"type": "string"}},
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}


def _object(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A JSON object; its optional keys may also be null (clients send nulls for "absent")."""
    for name, schema in properties.items():
        if name not in required and schema:
            properties[name] = {"anyOf": [schema, {"type": "null"}]}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_STRING = {"type": "string"}
_JSON = {"type": ["object", "array"]}
_STRINGS = {"type": "array", "items": _STRING}
_IDENTITY = _object(("name",), name=_STRING, type=_STRING, additionalInfo={"type": "object"})
_PRIVILEGE = _object(
    ("targetDomain",), owner=_STRING, targetDomain=_STRING, type=_STRING, targetId=_STRING
)
_FIELD = _object(("name",), name=_STRING, type=_STRING, description=_STRING)
_PROVIDER = _object(
    (),
    id=_STRING,
    displayName=_STRING,
    type=_STRING,
    referencedBy={"type": "array", "items": _object(("id",), id=_STRING, type=_STRING)},
    cascadingSecurityProviders={"type": "object"},
)
_SOURCES = "/rest/organizations/{organizationId}"
_PUSH_PROVIDER = "/push/v1/organizations/{organizationId}/providers/{providerId}"

#: JSON bodies of the calls whose route does not declare one, by (method, path).
REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", _SOURCES + "/sources"): _object(
        ("name",),
        name=_STRING,
        sourceType=_STRING,
        sourceVisibility=_STRING,
        securityProviderReferences={"type": "array"},
    ),
    ("post", _SOURCES + "/securityproviders"): _PROVIDER,
    ("put", _SOURCES + "/securityproviders/{providerId}"): _PROVIDER,
    ("post", _SOURCES + "/indexes/fields"): _FIELD,
    ("post", _SOURCES + "/indexes/fields/batch/create"): {"type": "array", "items": _FIELD},
    ("put", _SOURCES + "/indexes/fields/{name}"): _FIELD,
    ("post", _SOURCES + "/apikeys"): _object(
        ("displayName",),
        displayName=_STRING,
        description=_STRING,
        privileges={"type": "array", "items": _PRIVILEGE},
    ),
    ("put", _SOURCES + "/apikeys/{keyId}"): _object((), displayName=_STRING, description=_STRING),
    ("put", _PUSH_PROVIDER + "/permissions"): _object(
        ("identity",),
        identity=_IDENTITY,
        members={"type": "array", "items": _IDENTITY},
        wellKnowns={"type": "array", "items": _IDENTITY},
    ),
    ("put", _PUSH_PROVIDER + "/mappings"): _object(
        ("identity",),
        identity=_IDENTITY,
        mappings={"type": "array", "items": _IDENTITY},
        wellKnowns={"type": "array", "items": _IDENTITY},
    ),
    ("delete", _PUSH_PROVIDER + "/permissions"): _object(("identity",), identity=_IDENTITY),
    ("post", "/logs/v1/organizations/{organizationId}"): _object(
        (),
        sourcesIds=_STRINGS,
        operations=_STRINGS,
        results=_STRINGS,
        tasks=_STRINGS,
    ),
    ("post", _SOURCES + "/securitycache/entities/{providerId}/members/parents"): _object(
        ("name",), name=_STRING, provider=_STRING, type=_STRING
    ),
    ("post", _SOURCES + "/securitycache/entities/{providerId}/members/children"): _object(
        ("name",), name=_STRING, provider=_STRING, type=_STRING
    ),
    ("post", _SOURCES + "/securitycache/entities/{providerId}/members/aliases"): _object(
        ("name",), name=_STRING, provider=_STRING, type=_STRING
    ),
    ("post", _SOURCES + "/securitycache/entities/{providerId}/entity"): _object(
        ("name",), name=_STRING, provider=_STRING, type=_STRING
    ),
    # null counts as absent; extractPreciseTotalCount is accepted and ignored (always precise)
    ("post", _SOURCES + "/securitycache/entities/list"): _object(
        (),
        providerIds={"type": ["array", "null"], "items": _STRING},
        identityTypes={"type": ["array", "null"], "items": _STRING},
        filterTerm={"type": ["string", "null"]},
        filteringMode={"type": ["string", "null"]},
    ),
    ("post", _SOURCES + "/securitycache/refresh/entity"): _object(
        ("name", "provider"), name=_STRING, provider=_STRING, type=_STRING
    ),
    # a malformed requestedPrivilege is answered 200, OPERATION_FORBIDDEN_INVALID_PRIVILEGE_REQUEST
    ("post", "/rest/privilege/evaluate"): _object(
        (), organizationId=_STRING, requestedPrivilege={}
    ),
}


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Add the credential, the error envelope and the request bodies to ``document``."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key, or a search token for the Search API",
        }
    }
    document["security"] = [{"bearer": []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(method, path, operation)
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    return document


def _complete_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status, response in responses.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if status.startswith("2") and schema == {"type": "string"}:
            response["content"]["application/json"]["schema"] = _JSON
    if (method, path) in PUBLIC:
        operation["security"] = []
    if (method, path) in INFALLIBLE:
        return
    for status, description in ERROR_STATUSES.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status in {"429", "503"}:
            response["headers"] = _RETRY_AFTER
        responses.setdefault(status, response)
    body = REQUEST_BODIES.get((method, path))
    if body is not None and "requestBody" not in operation:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body}},
        }


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (and on the API pages)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI caches it until the routes change
        if not completed or completed[0] is not document:
            completed[:] = [complete_openapi(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
