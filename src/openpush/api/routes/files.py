"""File containers (push-api.md §3): create one, and the presigned upload the local store serves.

``POST /push/v1/organizations/{org}/files`` answers Coveo's ``{uploadUri, fileId,
requiredHeaders}``. With the embedded local store, ``uploadUri`` points back at this server
(``PUT /blobstore/{org}/{fileId}?exp=&sig=``): no Authorization header, an HMAC signature
bound to the organization, the file id and the expiry; the body is streamed to disk and
refused with 413 as soon as it exceeds the container limit. With S3 the URL is S3's own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response

from openpush.api.auth import Caller, caller_for_org, runtime_of
from openpush.api.body import read_body
from openpush.api.responses import JsonResponse
from openpush.blobs.base import UploadTarget
from openpush.blobs.local import LocalBlobStore
from openpush.domain.transfers import ContainerState, FileContainer, new_id
from openpush.errors import AccessDeniedError, NotFoundError, PayloadTooLargeError
from openpush.runtime import Runtime

__all__ = ["container_model", "new_container", "router"]

router = APIRouter(tags=["File containers"])


_PUSH_DOMAINS = {"SOURCE", "SECURITY_PROVIDER", "ORGANIZATION"}


def _may_push(caller: Caller) -> None:
    """Any push privilege (on a source or a security provider, any target) may create one."""
    key = caller.key
    if key is not None and key.enabled:
        for held in key.privileges:
            if (held.owner, held.type) == ("PLATFORM", "EDIT") and (
                held.target_domain in _PUSH_DOMAINS
            ):
                return
    raise AccessDeniedError("the credentials lack a push privilege (PLATFORM/SOURCE/EDIT)")


def public_base_url(runtime: Runtime, request: Request) -> str:
    if runtime.settings.public_url:
        return runtime.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def new_container(
    runtime: Runtime, request: Request, org_id: str, *, holder: str = ""
) -> tuple[FileContainer, UploadTarget]:
    """A fresh container (not yet stored) and where to upload it."""
    now = time.time()
    container = FileContainer(
        org_id=org_id,
        file_id=new_id(),
        created_at=now,
        expires_at=now + runtime.settings.file_container_ttl_seconds,
        holder=holder,
    )
    target = runtime.blobs.upload_target(
        org_id,
        container.file_id,
        base_url=public_base_url(runtime, request),
        expires_at=container.expires_at,
    )
    return container, target


def container_model(container: FileContainer, target: UploadTarget) -> dict[str, object]:
    return {
        "uploadUri": target.upload_uri,
        "fileId": container.file_id,
        "requiredHeaders": dict(target.required_headers),
    }


@router.post(
    "/push/v1/organizations/{organizationId}/files",
    status_code=201,
    summary="Create a file container",
)
async def create_file_container(
    request: Request, organizationId: str, useVirtualHostedStyleUrl: str | None = None
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    _may_push(caller)
    await read_body(request, runtime.settings.max_request_bytes)  # `{}` or nothing: ignored
    container, target = new_container(runtime, request, caller.org_id)
    runtime.store.transfers.create_container(container)
    return JsonResponse(container_model(container, target), status_code=201)


@router.put("/blobstore/{organizationId}/{fileId}", include_in_schema=False)
async def upload(
    request: Request,
    organizationId: str,
    fileId: str,
    exp: str | None = None,
    sig: str | None = None,
) -> Response:
    runtime = runtime_of(request)
    blobs = runtime.blobs
    if not isinstance(blobs, LocalBlobStore):
        raise NotFoundError("this server does not receive uploads; use the uploadUri given")
    blobs.verify(organizationId, fileId, exp, sig, now=time.time())
    container = runtime.store.transfers.get_container(organizationId, fileId)
    if container is None or container.state is not ContainerState.OPEN:
        raise AccessDeniedError("the file container no longer accepts uploads")
    limit = runtime.settings.for_org(organizationId).file_container_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the file container limit is {limit} bytes")
    size = await blobs.write(organizationId, fileId, _capped(request.stream(), limit))
    return Response(status_code=200, headers={"ETag": f'"{fileId}-{size}"'})


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``chunks``, refused (413) as soon as they pass the organization's container limit."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the file container limit is {limit} bytes")
        yield chunk
