"""Push API: single items, delete, delete older than, source status, and item status."""

from __future__ import annotations

import dataclasses
import time
import uuid

from fastapi import APIRouter, Query, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.body import read_json_body
from openpush.api.responses import JsonResponse
from openpush.api.throttle import charge_items
from openpush.api.wire import item_status_model, parse_bool, parse_ordering
from openpush.domain.items import ItemDocument, check_item_limits, parse_item_json
from openpush.domain.operations import ItemState, OperationKind
from openpush.domain.organizations import Privilege
from openpush.domain.sources import ActivityType, Source
from openpush.errors import (
    FileContainerNotFoundError,
    InvalidParameterError,
    MissingParameterError,
)
from openpush.runtime import Runtime
from openpush.settings import Settings
from openpush.storage.base import NewOperation

__all__ = [
    "check_future_ordering",
    "enqueue_delete_older_than",
    "parse_queue_delay",
    "parse_single_item",
    "push_privilege",
    "receipt",
    "require_upload",
    "router",
]

router = APIRouter(
    prefix="/push/v1/organizations/{organizationId}/sources/{sourceId}", tags=["Items"]
)

ITEM_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "DocumentBody: reserved keys (data, compressedBinaryData, "
                    "compressedBinaryDataFileId, compressionType, fileExtension, parentId, "
                    "permissions) and metadata; keys are case-insensitive.",
                    "additionalProperties": True,
                }
            }
        },
    }
}


def push_privilege(source_id: str) -> tuple[Privilege, ...]:
    return (Privilege("PLATFORM", "SOURCE", "EDIT", source_id),)


def receipt(ordering_id: int, request_id: str, status: int = 202) -> JsonResponse:
    return JsonResponse(
        {"orderingId": str(ordering_id), "requestId": request_id}, status_code=status
    )


def require_upload(runtime: Runtime, org_id: str, file_id: str) -> None:
    """A container that a call consumes must exist in the caller's organization and hold bytes."""
    container = runtime.store.transfers.get_container(org_id, file_id)
    if container is None or container.expired():
        raise FileContainerNotFoundError(f"file container {file_id!r} does not exist or expired")
    if runtime.blobs.size(org_id, file_id) is None:
        raise FileContainerNotFoundError(f"nothing was uploaded to file container {file_id!r}")


def parse_single_item(
    body: bytes, document_id: str, compression_type: str | None, limits: Settings
) -> ItemDocument:
    """A single push's item, with the checks refused synchronously (400, 412, 413)."""
    item = parse_item_json(
        body,
        document_id=document_id,
        compression_type=compression_type,
        max_bytes=limits.max_request_bytes,
        max_depth=limits.max_json_depth,
    )
    check_item_limits(
        item,
        max_content_bytes=limits.max_item_content_bytes,
        max_metadata_value_bytes=limits.max_metadata_value_bytes,
        max_dictionary_pairs=limits.max_dictionary_pairs,
    )
    return item


def parse_queue_delay(value: str | None) -> int:
    """``queueDelay`` in minutes: a non-negative integer, 15 when absent."""
    if value is None or not value.strip():
        return 15
    if not value.strip().isdigit():
        raise InvalidParameterError("queueDelay must be a non-negative number of minutes")
    return int(value)


def check_future_ordering(
    runtime: Runtime, org_id: str, source_id: str, ordering_id: int, *, force: bool
) -> None:
    """Refuse a delete-older-than threshold far ahead of every clock the source knows.

    After a delete-older-than with value X the source rejects pushes below X (§2.4), so a
    threshold an hour or ten years ahead silently breaks the source until then. The reference
    is the later of now in epoch milliseconds and the highest orderingId the source has
    received, so connectors with their own clocks (ticks, nanoseconds) pass as long as the
    threshold is one they actually used.
    """
    if force:
        return
    margin = runtime.settings.olderthan_future_margin_seconds * 1000
    now_ms = time.time_ns() // 1_000_000
    reference = max(now_ms, runtime.store.items.max_ordering_id(org_id, source_id))
    if ordering_id > reference + margin:
        raise InvalidParameterError(
            f"orderingId {ordering_id} lies more than {margin} ms ahead of now ({now_ms}) and of"
            f" every orderingId this source has received ({reference}); deleting older than it"
            " would make the source reject new pushes until then. Use the orderingId your"
            " rebuild started with, or add force=true if this is really meant"
        )


@router.put("/documents", status_code=202, openapi_extra=ITEM_BODY, summary="Add or update an item")
async def put_document(
    request: Request,
    organizationId: str,
    sourceId: str,
    documentId: str | None = None,
    orderingId: str | None = None,
    compressionType: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not documentId:
        raise MissingParameterError("the parameter 'documentId' is required")
    limits = runtime.settings.for_org(caller.org_id)
    body = await read_json_body(request, limits.max_request_bytes)
    item = parse_single_item(body, documentId, compressionType, limits)
    ordering_id = parse_ordering(orderingId) if orderingId else item.ordering_id
    if ordering_id is None:
        ordering_id = runtime.clock.next()
    kind = (
        OperationKind.ADD_BY_REFERENCE if item.compressed_binary_data_file_id else OperationKind.ADD
    )
    request_id = str(uuid.uuid4())
    operation = NewOperation(
        org_id=caller.org_id,
        source_id=source.id,
        kind=kind,
        document_id=item.document_id,
        ordering_id=ordering_id,
        # the operation carries the orderingId; a body orderingId beyond 64 bits (the
        # Crawling Module's) would not survive the payload's JSON encoding
        payload={"item": dataclasses.replace(item, ordering_id=None).to_dict()},
        request_id=request_id,
    )
    if item.compressed_binary_data_file_id:
        require_upload(runtime, caller.org_id, item.compressed_binary_data_file_id)
    await charge_items(request, caller.org_id, 1)
    if item.compressed_binary_data_file_id:
        file_id = item.compressed_binary_data_file_id
        await runtime.store.transfers.asubmit(operation, hold_files=[file_id], now=time.time())
    else:
        await runtime.store.queue.aenqueue([operation])
    runtime.notify()
    return receipt(ordering_id, request_id)


@router.delete("/documents", status_code=202, summary="Delete an item (and its children)")
async def delete_document(
    request: Request,
    organizationId: str,
    sourceId: str,
    documentId: str | None = None,
    deleteChildren: str | None = None,
    orderingId: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not documentId:
        raise MissingParameterError("the parameter 'documentId' is required")
    children = parse_bool("deleteChildren", deleteChildren, default=False)
    ordering_id = parse_ordering(orderingId) if orderingId else runtime.clock.next()
    request_id = str(uuid.uuid4())
    await runtime.store.queue.aenqueue(
        [
            NewOperation(
                org_id=caller.org_id,
                source_id=source.id,
                kind=OperationKind.DELETE,
                document_id=documentId,
                ordering_id=ordering_id,
                payload={"delete_children": children},
                request_id=request_id,
            )
        ]
    )
    runtime.notify()
    return receipt(ordering_id, request_id)


@router.delete(
    "/documents/olderthan",
    status_code=202,
    summary="Delete the items last updated before an orderingId",
)
async def delete_older_than(
    request: Request,
    organizationId: str,
    sourceId: str,
    orderingId: str | None = None,
    queueDelay: str | None = None,
    force: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not orderingId:
        raise MissingParameterError("the parameter 'orderingId' is required")
    return await enqueue_delete_older_than(runtime, source, orderingId, queueDelay, force)


async def enqueue_delete_older_than(
    runtime: Runtime,
    source: Source,
    ordering: str,
    queue_delay: str | None,
    force: str | None,
    *,
    status: int = 202,
) -> JsonResponse:
    """Validate (the future-threshold guard included) and queue a delete-older-than."""
    ordering_id = parse_ordering(ordering)
    delay = parse_queue_delay(queue_delay)
    check_future_ordering(
        runtime,
        source.org_id,
        source.id,
        ordering_id,
        force=parse_bool("force", force, default=False),
    )
    request_id = str(uuid.uuid4())
    await runtime.store.queue.aenqueue(
        [
            NewOperation(
                org_id=source.org_id,
                source_id=source.id,
                kind=OperationKind.DELETE_OLDER_THAN,
                document_id=None,
                ordering_id=ordering_id,
                payload={},
                request_id=request_id,
                delay_seconds=delay * 60.0,
            )
        ]
    )
    runtime.notify()
    return receipt(ordering_id, request_id, status)


@router.post("/status", status_code=201, summary="Set the source status (activity)")
async def set_status(
    request: Request,
    organizationId: str,
    sourceId: str,
    statusType: str | None = Query(default=None),
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not statusType:
        raise MissingParameterError("the parameter 'statusType' is required")
    try:
        activity = ActivityType(statusType.strip().upper())
    except ValueError:
        allowed = ", ".join(ActivityType)
        raise InvalidParameterError(
            f"invalid statusType {statusType!r}; expected one of {allowed}"
        ) from None
    runtime.store.catalog.record_activity(caller.org_id, source.id, activity)
    return JsonResponse({"sourceId": source.id, "statusType": activity.value}, status_code=201)


@router.get("/documents/status", summary="Where an item stands in the pipeline (openpush)")
async def item_status(
    request: Request,
    organizationId: str,
    sourceId: str,
    documentId: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "VIEW", sourceId))
    source = source_for(request, caller, sourceId)
    if not documentId:
        raise MissingParameterError("the parameter 'documentId' is required")
    store = runtime.store
    pending = store.queue.pending_state(caller.org_id, source.id, documentId)
    record = store.items.get_items(caller.org_id, source.id, [documentId]).get(documentId)
    last = store.logs.last_for(caller.org_id, source.id, documentId)
    state = pending or (record.state if record else ItemState.UNKNOWN)
    return JsonResponse(item_status_model(source.id, documentId, state, record, last))
