"""The Stream API (push-api.md §4) for Catalog and other stream-enabled sources.

Load: ``stream/open`` (a stream and its first chunk container) → ``stream/{id}/chunk`` (more
containers) → uploads → ``stream/{id}/close``, which applies every chunk with the stream's
orderingId and then deletes the items the load did not contain. ``stream/update`` and
``stream/merge`` apply one container; ``stream/deleteolderthan/{ms}`` deletes what is older.
Each path also exists under ``/data-collections/{id}`` (Coveo's newer name for the resource).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.responses import JsonResponse
from openpush.api.routes.batches import submit_batch
from openpush.api.routes.documents import (
    enqueue_delete_older_than,
    push_privilege,
    require_upload,
)
from openpush.api.routes.files import container_model, new_container
from openpush.api.throttle import charge_batch
from openpush.domain.sources import Source, SourceType
from openpush.domain.transfers import BatchKind, Stream, StreamState, new_id
from openpush.errors import InvalidParameterError, MissingParameterError, StreamNotFoundError
from openpush.runtime import Runtime

__all__ = ["PREFIXES", "router"]

PREFIXES = (
    "/push/v1/organizations/{organizationId}/sources/{sourceId}/stream",
    "/push/v1/organizations/{organizationId}/data-collections/{sourceId}/stream",
)

router = APIRouter(tags=["Stream"])


def _stream_source(request: Request, organizationId: str, sourceId: str) -> tuple[Runtime, Source]:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not (source.stream_enabled or source.source_type is SourceType.CATALOG):
        raise InvalidParameterError(
            f"source {source.id!r} is not stream-enabled; create it with streamEnabled: true"
            " (or sourceType CATALOG) to use the Stream API"
        )
    return runtime, source


def _open_stream(runtime: Runtime, source: Source, stream_id: str) -> Stream:
    stream = runtime.store.transfers.get_stream(source.org_id, source.id, stream_id)
    if stream is None or stream.state is not StreamState.OPEN:
        raise StreamNotFoundError(f"stream {stream_id!r} is not open in source {source.id!r}")
    return stream


@router.post("/open", status_code=201, summary="Open a stream (full load)")
async def open_stream(request: Request, organizationId: str, sourceId: str) -> JsonResponse:
    runtime, source = _stream_source(request, organizationId, sourceId)
    stream = Stream(
        id=new_id(), org_id=source.org_id, source_id=source.id, ordering_id=runtime.clock.next()
    )
    container, target = new_container(runtime, request, source.org_id, holder=stream.id)
    runtime.store.transfers.create_stream(stream, container)
    return JsonResponse(
        {"streamId": stream.id, **container_model(container, target)}, status_code=201
    )


@router.post("/{streamId}/chunk", summary="Get a file container for the next chunk")
async def stream_chunk(
    request: Request, organizationId: str, sourceId: str, streamId: str
) -> JsonResponse:
    runtime, source = _stream_source(request, organizationId, sourceId)
    stream = _open_stream(runtime, source, streamId)
    container, target = new_container(runtime, request, source.org_id, holder=stream.id)
    runtime.store.transfers.add_stream_chunk(stream, container)
    return JsonResponse(container_model(container, target))


@router.post("/{streamId}/close", summary="Close a stream: apply it, delete what it lacked")
async def close_stream(
    request: Request, organizationId: str, sourceId: str, streamId: str
) -> JsonResponse:
    runtime, source = _stream_source(request, organizationId, sourceId)
    stream = _open_stream(runtime, source, streamId)
    await charge_batch(request, runtime, source.org_id, BatchKind.STREAM_LOAD, stream.file_ids)
    batch = await submit_batch(
        runtime,
        source,
        BatchKind.STREAM_LOAD,
        list(stream.file_ids),
        stream.ordering_id,
        stream_id=stream.id,
    )
    return JsonResponse(
        {"orderingId": str(batch.ordering_id), "requestId": batch.id},
        headers={"X-Openpush-Batch-Id": batch.id},
    )


async def _file_batch(
    request: Request, organizationId: str, sourceId: str, fileId: str | None, kind: BatchKind
) -> JsonResponse:
    runtime, source = _stream_source(request, organizationId, sourceId)
    if not fileId:
        raise MissingParameterError("the parameter 'fileId' is required")
    require_upload(runtime, source.org_id, fileId)
    await charge_batch(request, runtime, source.org_id, kind, [fileId])
    batch = await submit_batch(runtime, source, kind, [fileId], runtime.clock.next())
    return JsonResponse(
        {"orderingId": str(batch.ordering_id), "requestId": batch.id},
        status_code=202,
        headers={"X-Openpush-Batch-Id": batch.id},
    )


@router.put("/update", status_code=202, summary="Add, replace, delete and partially update")
async def stream_update(
    request: Request,
    organizationId: str,
    sourceId: str,
    fileId: str | None = None,
    shard: str | None = None,
) -> JsonResponse:
    return await _file_batch(request, organizationId, sourceId, fileId, BatchKind.STREAM_UPDATE)


@router.put("/merge", status_code=202, summary="Shallow-merge items (create or overwrite fields)")
async def stream_merge(
    request: Request, organizationId: str, sourceId: str, fileId: str | None = None
) -> JsonResponse:
    return await _file_batch(request, organizationId, sourceId, fileId, BatchKind.STREAM_MERGE)


@router.post(
    "/deleteolderthan/{timestamp}",
    status_code=201,
    summary="Delete the items indexed before an epoch-millisecond timestamp",
)
async def stream_delete_older_than(
    request: Request,
    organizationId: str,
    sourceId: str,
    timestamp: str,
    queueDelay: str | None = None,
    force: str | None = None,
) -> JsonResponse:
    runtime, source = _stream_source(request, organizationId, sourceId)
    return await enqueue_delete_older_than(
        runtime, source, timestamp, queueDelay, force, status=201
    )
