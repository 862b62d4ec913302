"""``/oauth/check_token``: what a credential is, as Coveo's platform-client asks at start-up.

platform-client's ``initialize()`` posts the token as a multipart form field ``token`` (with
the same token as Bearer) and keeps the answer's ``authentication`` (a UserModel); the Coveo
CLI treats any error as "expired". The token may also come as ``?token=`` or as a
URL-encoded form field; without one, the request's own credential is inspected.

The answer follows Spring Security's ``check_token`` (``active``, ``client_id``,
``user_name``, ``scope``, ``exp``), which Coveo's OAuth server is built on, plus
``organizationId``, ``tokenType`` (``API_KEY`` or ``SEARCH_TOKEN``), ``authentication`` and,
for a key, its id and privileges (never its secret); for a search token, its identities and
restrictions (all of them readable in the token itself). A token that is unknown, malformed,
expired, disabled or deleted answers ``400 INVALID_TOKEN``, as Spring's endpoint answers
400 for a token it does not recognise. No other credential is needed: knowing a token is
what lets one inspect it.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from openpush.api.auth import Caller, credential_of, resolve, runtime_of
from openpush.api.body import read_body
from openpush.api.errors import error_response
from openpush.api.responses import JsonResponse
from openpush.domain.organizations import ApiKey
from openpush.errors import AuthenticationError, MissingParameterError
from openpush.search.tokens import SearchTokenClaims

__all__ = ["router"]

router = APIRouter(prefix="/oauth", tags=["Platform"])

_BODY_LIMIT = 64 * 1024
CLIENT_ID = "openpush"


def _form_token(content_type: str, body: bytes) -> str | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get("token")
        return values[0] if values else None
    if media == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "token":
                payload = part.get_payload(decode=True)
                return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return None


async def _token_of(request: Request) -> str:
    token = request.query_params.get("token")
    if not token:
        body = await read_body(request, _BODY_LIMIT)
        token = _form_token(request.headers.get("content-type", ""), body) if body else None
    if not token:
        try:
            token = credential_of(request)
        except AuthenticationError:
            raise MissingParameterError("the parameter 'token' is required") from None
    return token.strip()


def _key_info(key: ApiKey) -> dict[str, Any]:
    return {
        "tokenType": "API_KEY",
        "user_name": key.id,
        "scope": ["full"],
        "exp": None,
        "apiKeyId": key.id,
        "displayName": key.display_name,
        "privileges": [p.to_dict() for p in key.privileges],
        "authentication": {
            "username": key.id,
            "displayName": key.display_name,
            "provider": "API_KEY",
            "providerUsername": key.id,
            "enabled": key.enabled,
        },
    }


def _search_token_info(claims: SearchTokenClaims) -> dict[str, Any]:
    first = claims.user_ids[0] if claims.user_ids else None
    name = first.name if first else "anonymous"
    return {
        "tokenType": "SEARCH_TOKEN",
        "user_name": name,
        "scope": ["search"],
        "exp": int(claims.expires_at),
        "userIds": [
            {"name": u.name, "provider": u.provider, "type": u.type} for u in claims.user_ids
        ],
        "filter": claims.filter or None,
        "searchHub": claims.search_hub or None,
        "pipeline": claims.pipeline or None,
        "authentication": {
            "username": name,
            "displayName": name,
            "email": name if "@" in name else "",
            "provider": first.provider if first else "",
            "providerUsername": name,
            "enabled": True,
        },
    }


def token_info(caller: Caller) -> dict[str, Any]:
    if caller.token is not None:
        details = _search_token_info(caller.token)
    else:
        assert caller.key is not None
        details = _key_info(caller.key)
    return {"active": True, "client_id": CLIENT_ID, "organizationId": caller.org_id, **details}


@router.post("/check_token", summary="Inspect an API key or search token")
@router.get("/check_token", include_in_schema=False)
async def check_token(request: Request) -> JsonResponse:
    token = await _token_of(request)
    try:
        caller = resolve(runtime_of(request), token)
    except AuthenticationError as exc:
        return error_response(400, "INVALID_TOKEN", exc.message)
    return JsonResponse(token_info(caller))
