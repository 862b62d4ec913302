"""Validation without side effects (openpush's own): what a push would do, changing nothing.

``POST /push/v1/organizations/{org}/sources/{src}/documents/validate`` takes either one item
(the body and ``documentId``, ``compressionType``, ``orderingId`` of ``PUT …/documents``) or
``fileId`` (and ``orderingId``) of an uploaded documents batch file.
``POST /push/v1/organizations/{org}/providers/{p}/permissions/validate`` takes either one
identity (the body of ``PUT …/permissions``) or ``fileId`` of an identity batch file.

Each runs the checks the push call makes and then the pipeline's own code over a round that is
never committed (:mod:`openpush.pipeline.dryrun`), and answers ``200``::

    {"valid": true, "total": 2, "counts": {"COMPLETED": 1, "WARNING": 1},
     "errors": [], "warnings": [], "truncated": false,
     "items": [{"documentId": "…", "operation": "ADD", "result": "WARNING", "reasons": ["…"],
                "section": "addOrUpdate", "index": 0}]}

``result`` is what the log would say (``COMPLETED``, ``WARNING``, ``REJECTED``, ``SKIPPED``,
``ERROR``). A refusal by the push call itself is a ``REJECTED`` item with the ``httpStatus`` and
``errorCode`` the call would answer. ``errors`` are file-level problems (nothing of the file would
be applied). ``valid`` is false when there is an error or an item is ``REJECTED`` or ``ERROR``.
Identity items carry ``identity`` instead of ``documentId``. ``limit`` (default 1000, at most
10,000) caps the items listed; ``counts`` and ``total`` cover them all.

Nothing is queued, logged, indexed or consumed: the container stays usable by a real batch. The
call needs the privilege of the push it validates. Failing credentials, organization, source,
provider or container are answered as errors, as the push call would be.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.body import read_json_body
from openpush.api.errors import status_of
from openpush.api.responses import JsonResponse
from openpush.api.routes.documents import parse_single_item, push_privilege, require_upload
from openpush.api.routes.identities import identity_body, identity_limits, push_target
from openpush.api.wire import parse_ordering
from openpush.domain.identities import check_identity_limits, parse_identity_update
from openpush.domain.operations import LogResult, OperationKind
from openpush.errors import (
    FileContainerNotFoundError,
    InvalidItemError,
    InvalidParameterError,
    InvalidRequestError,
    MissingParameterError,
)
from openpush.pipeline.dryrun import DryRun, Finding, Report
from openpush.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["Validation"])

_REFUSALS = (InvalidRequestError, InvalidItemError, FileContainerNotFoundError)
_PUSH = "/push/v1/organizations/{organizationId}"


def _limit(value: str | None) -> int:
    if value is None or not value.strip():
        return 1000
    if not value.strip().isdigit() or not 1 <= int(value) <= 10_000:
        raise InvalidParameterError("limit must be an integer between 1 and 10000")
    return int(value)


def _ordering(value: str | None, default: int | None = None) -> int:
    if value:
        return parse_ordering(value)
    return default if default is not None else time.time_ns() // 1_000_000


def _which(document: str | None, file_id: str | None, name: str) -> None:
    if document and file_id:
        raise InvalidParameterError(f"give {name} or fileId, not both")
    if not document and not file_id:
        raise MissingParameterError(f"the parameter {name!r} or 'fileId' is required")


def _refused(exc: Exception, operation: str, **names: Any) -> Finding:
    status, code = status_of(exc)
    message = getattr(exc, "message", str(exc))
    return Finding(
        LogResult.REJECTED, [message], operation=operation, status=status, error_code=code, **names
    )


def finding_model(finding: Finding) -> dict[str, Any]:
    model: dict[str, Any] = {}
    if finding.of_identity:
        model["identity"] = finding.identity
    else:
        model["documentId"] = finding.document_id
    model.update(operation=finding.operation, result=finding.result.value, reasons=finding.reasons)
    if finding.section is not None:
        model.update(section=finding.section, index=finding.index)
    if finding.status is not None:
        model.update(httpStatus=finding.status, errorCode=finding.error_code)
    return model


def report_model(report: Report) -> JsonResponse:
    return JsonResponse(
        {
            "valid": report.valid,
            "total": report.total,
            "counts": report.counts,
            "errors": report.errors,
            "warnings": report.warnings,
            "truncated": report.truncated,
            "items": [finding_model(f) for f in report.findings],
        }
    )


def _single(finding: Finding) -> JsonResponse:
    report = Report()
    report.add(finding, 1)
    return report_model(report)


def _dry_run(runtime: Runtime, org_id: str) -> DryRun:
    return DryRun(runtime.store, runtime.settings, runtime.blobs, org_id)


@router.post(
    _PUSH + "/sources/{sourceId}/documents/validate",
    summary="Check an item or a batch file as the pipeline would, changing nothing",
)
async def validate_documents(
    request: Request,
    organizationId: str,
    sourceId: str,
    documentId: str | None = None,
    fileId: str | None = None,
    compressionType: str | None = None,
    orderingId: str | None = None,
    limit: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(*push_privilege(sourceId))
    source = source_for(request, caller, sourceId)
    _which(documentId, fileId, "documentId")
    dry = _dry_run(runtime, caller.org_id)
    if fileId:
        require_upload(runtime, caller.org_id, fileId)
        ordering, most = _ordering(orderingId), _limit(limit)
        report = await asyncio.to_thread(dry.item_batch, source, fileId, ordering, limit=most)
        return report_model(report)
    assert documentId is not None
    limits = runtime.settings.for_org(caller.org_id)
    try:
        body = await read_json_body(request, limits.max_request_bytes)
        item = parse_single_item(body, documentId, compressionType, limits)
        if item.compressed_binary_data_file_id:
            require_upload(runtime, caller.org_id, item.compressed_binary_data_file_id)
        ordering = _ordering(orderingId, item.ordering_id)
    except _REFUSALS as exc:
        return _single(_refused(exc, OperationKind.ADD.value, document_id=documentId))
    return _single(await asyncio.to_thread(dry.item, source, item, ordering))


@router.post(
    _PUSH + "/providers/{providerId}/permissions/validate",
    summary="Check an identity or an identity batch file as the pipeline would, changing nothing",
)
async def validate_identities(
    request: Request,
    organizationId: str,
    providerId: str,
    fileId: str | None = None,
    orderingId: str | None = None,
    limit: str | None = None,
) -> JsonResponse:
    runtime, provider = push_target(request, organizationId, providerId)
    dry = _dry_run(runtime, provider.org_id)
    if fileId:
        require_upload(runtime, provider.org_id, fileId)
        ordering, most = _ordering(orderingId), _limit(limit)
        report = await asyncio.to_thread(dry.identity_batch, provider, fileId, ordering, limit=most)
        return report_model(report)
    limits = runtime.settings.for_org(provider.org_id)
    try:
        value = await identity_body(request, limits)
        update = parse_identity_update(value, provider.id)
        check_identity_limits(update, **identity_limits(limits))
        ordering = _ordering(orderingId)
    except _REFUSALS as exc:
        return _single(_refused(exc, OperationKind.IDENTITY_UPDATE.value, of_identity=True))
    return _single(await asyncio.to_thread(dry.identity, provider, value, ordering))
