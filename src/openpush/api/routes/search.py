"""Search API: search tokens and queries, results in Coveo's shape.

Request parsing and the facet shapes live in :mod:`openpush.api.search_wire`. Durations:
``indexDuration`` is the time spent in the index, ``requestDuration`` the whole search (query
parsing, identity expansion, index), ``duration`` the request as this route saw it.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import Caller, authenticate, runtime_of
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.search_wire import (
    WireFacet,
    facet_json,
    group_by_json,
    parse_facets,
    parse_group_by,
    parse_names,
    parse_sort,
    wire_value,
)
from openpush.api.wire import parse_bool
from openpush.domain.fields import FieldDefinition
from openpush.domain.organizations import EXECUTE_QUERY, IMPERSONATE, VIEW_ALL_CONTENT
from openpush.errors import AccessDeniedError, InvalidParameterError, OrganizationNotFoundError
from openpush.index.base import IndexHit
from openpush.search.service import (
    SearchRequest,
    SearchResponse,
    excerpt,
    highlights,
    org_fields,
    run_search,
    select_raw,
)
from openpush.search.tokens import SearchTokenClaims, UserId

__all__ = ["router"]

router = APIRouter(prefix="/rest/search", tags=["Search"])

_LIMIT = 1024 * 1024


def _org(caller: Caller, request: Request, body: dict[str, Any]) -> str:
    wanted = request.query_params.get("organizationId") or body.get("organizationId")
    if wanted and wanted != caller.org_id:
        raise OrganizationNotFoundError(f"organization {wanted!r} does not exist")
    return caller.org_id


def _user_id(raw: Any) -> UserId:
    if isinstance(raw, str):
        return UserId(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise InvalidParameterError("each userIds entry needs a 'name'")
    return UserId(
        raw["name"],
        str(raw.get("provider") or "Email Security Provider"),
        str(raw.get("type") or "User"),
    )


@router.post("/v2/token", summary="Create a search token")
@router.post("/token", include_in_schema=False)
async def create_token(request: Request) -> JsonResponse:
    caller = authenticate(request)
    body = await read_json_object(request, _LIMIT)
    org_id = _org(caller, request, body)
    caller.require(IMPERSONATE)
    raw_ids = body.get("userIds") or []
    if not isinstance(raw_ids, list) or not raw_ids:
        raise InvalidParameterError("userIds must be a non-empty array")
    valid_for = body.get("validFor")
    if valid_for is not None and (not isinstance(valid_for, int) or isinstance(valid_for, bool)):
        raise InvalidParameterError("validFor must be a number of milliseconds")
    claims = SearchTokenClaims(
        org_id=org_id,
        user_ids=tuple(_user_id(u) for u in raw_ids),
        filter=str(body.get("filter") or ""),
        search_hub=str(body.get("searchHub") or ""),
        pipeline=str(body.get("pipeline") or ""),
    )
    return JsonResponse({"token": runtime_of(request).tokens.issue(claims, valid_for)})


_MAX_INTEGER = 2**31 - 1  # the index counts documents in 32 bits


def _integer(params: dict[str, Any], key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{key} must be an integer") from None
    if abs(value) > _MAX_INTEGER:
        raise InvalidParameterError(f"{key} must be at most {_MAX_INTEGER}")
    return value


def _search_request(
    caller: Caller, org_id: str, params: dict[str, Any], fields: dict[str, FieldDefinition]
) -> tuple[SearchRequest, list[WireFacet], list[WireFacet]]:
    view_all = parse_bool("viewAllContent", str(params.get("viewAllContent", "")), default=False)
    if view_all and not caller.holds(VIEW_ALL_CONTENT):
        raise AccessDeniedError("viewAllContent requires the VIEW_ALL_CONTENT privilege")
    token: SearchTokenClaims | None = caller.token
    if token is None:
        caller.require(EXECUTE_QUERY)
    facets, filters = parse_facets(params.get("facets"), fields)
    groups, overrides = parse_group_by(params.get("groupBy"), fields)
    search = SearchRequest(
        org_id=org_id,
        q=str(params.get("q") or ""),
        aq=str(params.get("aq") or ""),
        cq=str(params.get("cq") or ""),
        dq=str(params.get("dq") or ""),
        lq=str(params.get("lq") or ""),
        token_filter=token.filter if token else "",
        enable_query_syntax=parse_bool(
            "enableQuerySyntax", str(params.get("enableQuerySyntax", "")), default=True
        ),
        first_result=_integer(params, "firstResult", 0),
        number_of_results=_integer(params, "numberOfResults", 10),
        sort=parse_sort(params.get("sortCriteria")),
        view_all=view_all,
        user_ids=token.user_ids if token else (),
        fields_to_include=parse_names(params.get("fieldsToInclude"), "fieldsToInclude"),
        fields_to_exclude=parse_names(params.get("fieldsToExclude"), "fieldsToExclude") or (),
        excerpt_length=max(_integer(params, "excerptLength", 200), 0),
        facets=tuple(w.request for w in [*facets, *groups]),
        filters=tuple(filters),
        overrides=overrides,
        fields=fields,
    )
    return search, facets, groups


def _result(hit: IndexHit, response: SearchResponse, search: SearchRequest, top: float) -> Any:
    text, spans = excerpt(hit, response.highlights, search.excerpt_length)
    return {
        "title": hit.title,
        "uri": hit.document_id,
        "printableUri": hit.raw.get("printableuri") or hit.document_id,
        "clickUri": hit.raw.get("clickableuri") or hit.document_id,
        "uniqueId": f"{hit.source_id}${hit.document_id}",
        "excerpt": text,
        "firstSentences": None,
        "summary": None,
        "flags": "",
        "hasHtmlVersion": False,
        "score": int(hit.score * 1000),
        "percentScore": round(100.0 * hit.score / top, 2),
        "rankingInfo": None,
        "isTopResult": False,
        "isRecommendation": False,
        "isUserActionView": False,
        "rankingModifier": "",
        "absentTerms": [],
        "titleHighlights": highlights(hit.title, response.highlights),
        "excerptHighlights": spans,
        "firstSentencesHighlights": [],
        "printableUriHighlights": [],
        "summaryHighlights": [],
        "parentResult": None,
        "childResults": [],
        "totalNumberOfChildResults": 0,
        "raw": select_raw(hit.raw, search.fields_to_include, search.fields_to_exclude),
    }


_NO_ANSWER: dict[str, Any] = {
    "question": "",
    "answerSnippet": "",
    "documentId": {"contentIdKey": "", "contentIdValue": ""},
    "score": 0,
    "relatedQuestions": [],
}


async def _search(request: Request, params: dict[str, Any]) -> JsonResponse:
    started = time.perf_counter()
    runtime = runtime_of(request)
    caller = authenticate(request)
    org_id = _org(caller, request, params)
    fields = org_fields(runtime.store, org_id)
    search, facets, groups = _search_request(caller, org_id, params, fields)
    response = run_search(runtime.store, runtime.index, runtime.expander, search)
    top = max((h.score for h in response.result.hits), default=0.0) or 1.0
    results = [_result(hit, response, search, top) for hit in response.result.hits]
    total = response.result.total
    counted = iter(response.facets)
    facets_json = [facet_json(w, next(counted), total) for w in facets]
    groups_json = [group_by_json(w, next(counted)) for w in groups]
    return JsonResponse(
        {
            "totalCount": total,
            "totalCountFiltered": total,
            "duration": max(int((time.perf_counter() - started) * 1000), response.duration_ms),
            "indexDuration": response.index_ms,
            "requestDuration": response.duration_ms,
            "searchUid": str(uuid.uuid4()),
            "pipeline": "default",
            "apiVersion": 2,
            "results": results,
            "groupByResults": groups_json,
            "facets": facets_json,
            # what openpush has no part of (query pipelines, corrections, answers), in
            # Coveo's empty shapes: Coveo's Headless reads them from every response
            "categoryFacets": [],
            "queryCorrections": [],
            "triggers": [],
            "termsToHighlight": {},
            "phrasesToHighlight": {},
            "splitTestRun": "",
            "extendedResults": {},
            "questionAnswer": _NO_ANSWER,
        }
    )


@router.post("/v2", summary="Query the index (security-trimmed)")
@router.post("", include_in_schema=False)
async def search_post(request: Request) -> JsonResponse:
    body = await read_json_object(request, _LIMIT)
    params: dict[str, Any] = dict(request.query_params)
    params.update(body)
    return await _search(request, params)


_FACET_SEARCH_VALUES = 1000  # values counted before the query pattern picks among them
_FACET_SEARCH_ID = "openpush-facet-search"


def _pattern(raw: Any) -> re.Pattern[str]:
    """A facet search's ``query``: ``*`` stands for any text, the rest is literal, and the
    match ignores case (``*ali*``: values containing "ali")."""
    if raw is None:
        raw = "*"
    if not isinstance(raw, str):
        raise InvalidParameterError("a facet search's 'query' must be a string")
    parts = (re.escape(part) for part in raw.split("*"))
    return re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)


@router.post("/v2/facet", summary="Search a facet's values (Headless and Atomic facet search)")
async def facet_search(request: Request) -> JsonResponse:
    """``{field, query, numberOfValues, ignoreValues, searchContext}``: the values of ``field``
    among the items ``searchContext`` (a search request) finds for the caller, with the other
    facets' selections applied and this facet's own dropped, counted as a search would count
    them, then picked by the ``query`` pattern."""
    body = await read_json_object(request, _LIMIT)
    field = body.get("field")
    if not isinstance(field, str) or not field.strip():
        raise InvalidParameterError("a facet search needs the 'field' whose values to search")
    wanted = _integer(body, "numberOfValues", 10)
    if wanted < 1:
        raise InvalidParameterError("numberOfValues must be at least 1")
    ignored = body.get("ignoreValues") or []
    if not isinstance(ignored, list):
        raise InvalidParameterError("ignoreValues must be an array")
    pattern = _pattern(body.get("query"))
    context = body.get("searchContext") or {}
    if not isinstance(context, dict):
        raise InvalidParameterError("searchContext must be an object")
    name = field.strip().lstrip("@").lower()
    others = [
        spec
        for spec in context.get("facets") or []
        if isinstance(spec, dict) and str(spec.get("field", "")).lstrip("@").lower() != name
    ]
    searched = {"facetId": _FACET_SEARCH_ID, "field": name, "type": "specific",
                "numberOfValues": _FACET_SEARCH_VALUES, "sortCriteria": "occurrences"}  # fmt: skip
    params: dict[str, Any] = {
        **context,
        **dict(request.query_params),
        "facets": [*others, searched],
        "numberOfResults": 0,
        "firstResult": 0,
    }
    params.pop("groupBy", None)
    runtime = runtime_of(request)
    caller = authenticate(request)
    org_id = _org(caller, request, params)
    search, facets, _ = _search_request(caller, org_id, params, org_fields(runtime.store, org_id))
    response = run_search(runtime.store, runtime.index, runtime.expander, search)
    result = response.facets[len(facets) - 1]
    skip = {str(v) for v in ignored}
    values = []
    for bucket in result.buckets:
        shown = wire_value(bucket.value, facets[-1].kind)
        if shown not in skip and pattern.fullmatch(shown):
            values.append({"displayValue": shown, "rawValue": shown, "count": bucket.count})
    more = len(values) > wanted or result.more
    return JsonResponse({"values": values[:wanted], "moreValuesAvailable": more})


@router.post(
    "/v2/querySuggest", summary="Query suggestions (none: openpush has no suggestion model)"
)
@router.get("/v2/querySuggest", include_in_schema=False)
async def query_suggest(request: Request) -> JsonResponse:
    """Search boxes (Coveo's Headless and Atomic) ask for completions as the user types;
    openpush has no usage-based suggestion model, so the list is empty. Credentials and the
    ``organizationId`` are checked as for a search."""
    caller = authenticate(request)
    body = await read_json_object(request, _LIMIT) if request.method == "POST" else {}
    _org(caller, request, body)
    return JsonResponse({"completions": [], "responseId": str(uuid.uuid4())})


@router.get("/v2", summary="Query the index with query-string parameters")
@router.get("", include_in_schema=False)
async def search_get(request: Request) -> JsonResponse:
    params: dict[str, Any] = dict(request.query_params)
    for key in ("fieldsToInclude", "fieldsToExclude"):
        if key in params:
            params[key] = request.query_params.getlist(key)
            if len(params[key]) == 1 and params[key][0].startswith("["):
                params[key] = [v.strip(' "') for v in params[key][0].strip("[]").split(",")]
    return await _search(request, params)
