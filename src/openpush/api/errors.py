"""The one place where errors become HTTP responses.

Every error body has Coveo's shape ``{"errorCode": "...", "message": "..."}``. The handler
for an exception is found by walking its MRO, so a new subclass inherits its parent's
status and code until it is given its own row.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from openpush import errors
from openpush.api.responses import JsonResponse

__all__ = ["error_response", "install_error_handlers", "status_of"]

log = logging.getLogger("openpush.api")

# exception class -> (status, errorCode)
STATUS: dict[type[BaseException], tuple[int, str]] = {
    errors.InvalidJsonError: (400, "INVALID_JSON"),
    errors.InvalidItemError: (400, "INVALID_JSON"),
    errors.ItemLimitError: (413, "REQUEST_ENTITY_TOO_LARGE"),
    errors.MissingParameterError: (412, "MISSING_PARAMETER"),
    errors.InvalidParameterError: (412, "INVALID_PARAMETER"),
    errors.InvalidRequestError: (400, "INVALID_REQUEST"),
    errors.PayloadTooLargeError: (413, "REQUEST_ENTITY_TOO_LARGE"),
    errors.UnsupportedMediaTypeError: (415, "UNSUPPORTED_MEDIA_TYPE"),
    errors.QuerySyntaxError: (400, "INVALID_QUERY_SYNTAX"),
    errors.AuthenticationError: (401, "UNAUTHORIZED"),
    errors.InvalidTokenError: (401, "INVALID_TOKEN"),
    errors.AccessDeniedError: (403, "ACCESS_DENIED"),
    errors.OrganizationNotFoundError: (404, "ORGANIZATION_NOT_FOUND"),
    errors.SourceNotFoundError: (412, "SOURCE_DOES_NOT_EXIST"),
    errors.FieldNotFoundError: (404, "FIELD_NOT_FOUND"),
    errors.NotFoundError: (404, "NOT_FOUND"),
    errors.ConflictError: (409, "RESOURCE_ALREADY_EXISTS"),
    errors.TooManyRequestsError: (429, "TOO_MANY_REQUESTS"),
    errors.StorageBusyError: (503, "SERVICE_UNAVAILABLE"),
    errors.OpenpushError: (500, "UNEXPECTED_ERROR"),
}

_HTTP_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        {"errorCode": code, "message": message}, status_code=status, headers=headers
    )


def _lookup(exc: BaseException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "UNEXPECTED_ERROR"


def status_of(exc: BaseException) -> tuple[int, str]:
    """The status and errorCode a request refused with ``exc`` is answered with."""
    status, code = _lookup(exc)
    return status, getattr(exc, "error_code", None) or code


def _headers(status: int, exc: Exception) -> dict[str, str] | None:
    if status == 429:
        return {"Retry-After": str(getattr(exc, "retry_after", 1))}
    if status == 503:
        return {"Retry-After": "1"}
    return None


async def _openpush_error(_: Request, exc: Exception) -> JsonResponse:
    status, code = status_of(exc)
    headers = _headers(status, exc)
    if status >= 500:
        log.error("request failed: %s", exc, exc_info=exc)
    message = exc.message if isinstance(exc, errors.OpenpushError) else str(exc)
    return error_response(status, code, message, headers)


async def _validation_error(_: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {}
    location = first.get("loc", ())
    name = str(location[-1]) if location else "request"
    if location and location[0] == "body":
        return error_response(
            400, "INVALID_JSON", f"invalid body: {first.get('msg', '')} at {name}"
        )
    if first.get("type") == "missing":
        return error_response(412, "MISSING_PARAMETER", f"the parameter {name!r} is required")
    return error_response(
        412, "INVALID_PARAMETER", f"invalid value for {name!r}: {first.get('msg', 'invalid')}"
    )


async def _http_error(_: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _unexpected(_: Request, exc: Exception) -> JsonResponse:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "UNEXPECTED_ERROR", "an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.OpenpushError, _openpush_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
