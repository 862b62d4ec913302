"""Batches of items through a file container (§2.5) and their outcomes (openpush's own).

``PUT …/documents/batch?fileId=`` holds the container, records the batch and enqueues it in
one transaction, then answers 202 with ``{orderingId, requestId, batchId}`` (also in the
``X-Openpush-Batch-Id`` header). ``GET …/documents/batches/{batchId}`` reports its progress,
its per-result counts and, page by page, the outcome of each entry.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.responses import JsonResponse
from openpush.api.routes.documents import push_privilege, require_upload
from openpush.api.throttle import charge_batch
from openpush.api.wire import MAX_PAGE, iso, parse_ordering
from openpush.domain.identities import SecurityProvider
from openpush.domain.operations import LogResult, OperationKind
from openpush.domain.organizations import Privilege
from openpush.domain.sources import Source
from openpush.domain.transfers import Batch, BatchKind
from openpush.errors import BatchNotFoundError, InvalidParameterError, MissingParameterError
from openpush.runtime import Runtime
from openpush.storage.base import LogQuery, NewOperation

__all__ = ["router", "submit_batch"]

router = APIRouter(
    prefix="/push/v1/organizations/{organizationId}/sources/{sourceId}", tags=["Items"]
)


async def submit_batch(
    runtime: Runtime,
    target: Source | SecurityProvider,
    kind: BatchKind,
    file_ids: list[str],
    ordering_id: int,
    *,
    stream_id: str = "",
) -> Batch:
    """Accept a container-backed request: one batch, one queued operation, atomically.

    ``target`` is the source (items) or the security provider (identities) it applies to.
    """
    batch_id = str(uuid.uuid4())
    batch = Batch(
        id=batch_id,
        org_id=target.org_id,
        source_id=target.id,
        kind=kind,
        file_ids=file_ids,
        ordering_id=ordering_id,
        stream_id=stream_id,
    )
    operation = NewOperation(
        org_id=target.org_id,
        source_id=target.id,
        kind=OperationKind.BATCH_FILE,
        document_id=None,
        ordering_id=ordering_id,
        payload={"batch_id": batch_id},
        request_id=batch_id,
    )
    await runtime.store.transfers.asubmit(
        operation,
        hold_files=[] if stream_id else file_ids,
        batch=batch,
        close_stream=stream_id or None,
        now=time.time(),
    )
    runtime.notify()
    return batch


def batch_receipt(batch: Batch, status: int) -> JsonResponse:
    return JsonResponse(
        {"orderingId": str(batch.ordering_id), "requestId": batch.id, "batchId": batch.id},
        status_code=status,
        headers={"X-Openpush-Batch-Id": batch.id},
    )


@router.put("/documents/batch", status_code=202, summary="Add, update and delete items in batch")
async def put_batch(
    request: Request,
    organizationId: str,
    sourceId: str,
    fileId: str | None = None,
    orderingId: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    if not fileId:
        raise MissingParameterError("the parameter 'fileId' is required")
    ordering_id = parse_ordering(orderingId) if orderingId else runtime.clock.next()
    require_upload(runtime, caller.org_id, fileId)
    await charge_batch(request, runtime, caller.org_id, BatchKind.DOCUMENTS, [fileId])
    batch = await submit_batch(runtime, source, BatchKind.DOCUMENTS, [fileId], ordering_id)
    return batch_receipt(batch, 202)


def _page_params(page: str | None, per_page: str | None) -> tuple[int, int]:
    try:
        number = int(page) if page else 0
        size = int(per_page) if per_page else 100
    except ValueError:
        raise InvalidParameterError("page and perPage must be integers") from None
    if not 0 <= number <= MAX_PAGE or not 1 <= size <= 1000:
        raise InvalidParameterError(
            f"page must be between 0 and {MAX_PAGE} and perPage between 1 and 1000"
        )
    return number, size


def batch_model(batch: Batch) -> dict[str, Any]:
    return {
        "batchId": batch.id,
        "sourceId": batch.source_id,
        "kind": batch.kind.value,
        "fileIds": list(batch.file_ids),
        "orderingId": str(batch.ordering_id),
        "state": batch.state.value,
        "total": batch.total,
        "processed": batch.processed,
        "counts": dict(batch.counts),
        "error": batch.error or None,
        "streamId": batch.stream_id or None,
        "createdDate": iso(batch.created_at),
        "finishedDate": iso(batch.finished_at) if batch.finished_at else None,
    }


@router.get("/documents/batches/{batchId}", summary="A batch's progress and item outcomes")
async def get_batch(
    request: Request,
    organizationId: str,
    sourceId: str,
    batchId: str,
    page: str | None = None,
    perPage: str | None = None,
    result: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "VIEW", sourceId))
    source = source_for(request, caller, sourceId)
    batch = runtime.store.transfers.get_batch(caller.org_id, source.id, batchId)
    if batch is None:
        raise BatchNotFoundError(f"batch {batchId!r} does not exist in source {source.id!r}")
    number, size = _page_params(page, perPage)
    results: list[str] = []
    if result:
        results = [r.strip().upper() for r in result.split(",") if r.strip()]
        unknown = sorted(set(results) - {r.value for r in LogResult})
        if unknown:
            raise InvalidParameterError(f"unknown result {unknown[0]!r}")
    entries, more = runtime.store.logs.query(
        caller.org_id,
        LogQuery(
            from_time=batch.created_at - 1,
            to_time=time.time() + 1,
            source_ids=[source.id],
            results=results,
            request_id=batch.id,
            page=number,
            per_page=size,
        ),
    )
    items = [
        {
            "documentId": e.document_id or None,
            "operation": e.operation,
            "result": e.result.value,
            "reason": e.reason,
            "orderingId": str(e.ordering_id),
            "datetime": iso(e.created_at),
        }
        for e in entries
    ]
    return JsonResponse(
        {**batch_model(batch), "items": items, "page": number, "perPage": size, "hasMore": more}
    )
