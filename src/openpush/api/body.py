"""Reading request bodies: size-capped while streaming, JSON content type only."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from openpush.errors import InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError

__all__ = ["read_body", "read_json_body", "read_json_object"]

_JSON_TYPES = ("application/json", "text/json")


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in _JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type {content_type!r}; send application/json"
        )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the request body exceeds {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw bytes of a JSON body (parsing is the caller's: Coveo keys are case-insensitive)."""
    body = await read_body(request, limit)
    if body.strip():
        _check_content_type(request)
    return body


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body; an empty body is ``{}``."""
    body = await read_json_body(request, limit)
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidJsonError("the body must be a JSON object")
    return value
