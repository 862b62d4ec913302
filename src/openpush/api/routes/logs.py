"""Logs API: what the pipeline did with each operation."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request

from openpush.api.auth import caller_for_org, runtime_of
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.wire import MAX_PAGE, log_entry_model, parse_time
from openpush.domain.organizations import Privilege
from openpush.errors import InvalidParameterError
from openpush.storage.base import LogQuery

__all__ = ["router"]

router = APIRouter(prefix="/logs/v1/organizations/{organizationId}", tags=["Logs"])

_VIEW_LOGS = (Privilege("PLATFORM", "LOGS", "VIEW"), Privilege("PLATFORM", "SOURCE", "VIEW"))
_DAY = 86_400.0


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(f"{key} must be an array of strings")
    return value


@router.post("", summary="Query indexing logs")
async def query_logs(
    request: Request,
    organizationId: str,
    from_: str | None = Query(default=None, alias="from"),
    to: str | None = None,
    page: int = Query(0, ge=0, le=MAX_PAGE),
    perPage: int = 100,
    documentId: str | None = None,
    documentIdMatching: str = "EXACT",
) -> JsonResponse:
    caller = caller_for_org(request, organizationId)
    caller.require(*_VIEW_LOGS)
    end = parse_time(to, "to") or time.time() + 1
    start = parse_time(from_, "from") or end - 7 * _DAY
    if start > end:
        raise InvalidParameterError("'from' must not be after 'to'")
    matching = documentIdMatching.upper()
    if matching not in {"EXACT", "PARTIAL", "WILDCARD"}:
        raise InvalidParameterError("documentIdMatching must be EXACT, PARTIAL or WILDCARD")
    body = await read_json_object(request, 1024 * 1024)
    query = LogQuery(
        from_time=start,
        to_time=end,
        source_ids=_strings(body, "sourcesIds") + _strings(body, "sourceIds"),
        operations=_strings(body, "operations"),
        results=_strings(body, "results"),
        tasks=_strings(body, "tasks"),
        exclude_source_ids=_strings(body, "excludeSourceIds"),
        exclude_operations=_strings(body, "excludeOperations"),
        exclude_results=_strings(body, "excludeResults"),
        exclude_tasks=_strings(body, "excludeTasks"),
        document_id=documentId,
        document_id_matching=matching,
        page=max(page, 0),
        per_page=min(max(perPage, 1), 1000),
    )
    entries, more = runtime_of(request).store.logs.query(caller.org_id, query)
    return JsonResponse(
        {
            "documentLogEntries": [log_entry_model(e) for e in entries],
            "hasNextPage": more,
        }
    )
