"""The organization and the privilege evaluator, as Coveo's platform clients call them.

``POST /rest/privilege/evaluate`` answers from the calling key's own privileges, with
Coveo's evaluation reports (``PrivilegeRequestEvaluationReportModel`` in platform-client):

* ``OPERATION_GRANTED`` / ``OPERATION_NOT_ALLOWED``: the key holds the privilege, or not;
  a search token holds no platform privilege;
* ``OPERATION_FORBIDDEN_FOR_AUTHENTICATION_BOUND_TO_DIFFERENT_ORGANIZATION``: any
  ``organizationId`` other than the caller's, existing or not, so nothing is learned about
  other tenants;
* ``OPERATION_FORBIDDEN_INVALID_PRIVILEGE_REQUEST``: ``requestedPrivilege`` is missing or
  malformed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import authenticate, caller_for_org, runtime_of
from openpush.api.body import read_json_object
from openpush.api.responses import JsonResponse
from openpush.api.wire import privilege_from_wire
from openpush.domain.organizations import Organization, Privilege
from openpush.errors import InvalidParameterError, OrganizationNotFoundError

__all__ = ["router"]

router = APIRouter(tags=["Platform"])

_BODY_LIMIT = 64 * 1024

GRANTED = "OPERATION_GRANTED"
NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
OTHER_ORGANIZATION = "OPERATION_FORBIDDEN_FOR_AUTHENTICATION_BOUND_TO_DIFFERENT_ORGANIZATION"
INVALID_REQUEST = "OPERATION_FORBIDDEN_INVALID_PRIVILEGE_REQUEST"


def organization_model(org: Organization) -> dict[str, Any]:
    """Coveo's OrganizationModel, with the fields its clients read."""
    return {
        "id": org.id,
        "displayName": org.display_name,
        "createdDate": int(org.created_at * 1000),
        "type": "Standard",
        "owner": {"email": ""},
        "readOnly": False,
        "publicContentOnly": False,
        "configuration": {"servingExperimentAllowed": False},
        "organizationStatusModel": {
            "errorCodes": [],
            "lifeCycleState": "ACTIVE",
            "pauseState": "ACTIVE",
            "paused": False,
            "readOnly": False,
            "supportActivated": False,
        },
    }


@router.get("/rest/organizations", summary="List the organizations the caller can reach")
async def list_organizations(request: Request) -> JsonResponse:
    caller = authenticate(request)
    org = runtime_of(request).store.catalog.get_organization(caller.org_id)
    return JsonResponse([organization_model(org)] if org is not None else [])


@router.get("/rest/organizations/{organizationId}", summary="Get the organization")
async def get_organization(request: Request, organizationId: str) -> JsonResponse:
    caller_for_org(request, organizationId)
    org = runtime_of(request).store.catalog.get_organization(organizationId)
    if org is None:  # deleted between the two reads
        raise OrganizationNotFoundError(f"organization {organizationId!r} does not exist")
    return JsonResponse(organization_model(org))


def _requested(raw: Any) -> Privilege | None:
    try:
        return privilege_from_wire(raw, "requestedPrivilege")
    except InvalidParameterError:
        return None


@router.post("/rest/privilege/evaluate", summary="Does the caller hold a privilege?")
async def evaluate_privilege(request: Request) -> JsonResponse:
    caller = authenticate(request)
    body = await read_json_object(request, _BODY_LIMIT)
    given = body.get("organizationId")
    if given is not None and not isinstance(given, str):
        raise InvalidParameterError("organizationId must be a string")
    org_id = given or request.query_params.get("organizationId") or caller.org_id
    wanted = _requested(body.get("requestedPrivilege"))
    if org_id != caller.org_id:
        report = OTHER_ORGANIZATION
    elif wanted is None:
        report = INVALID_REQUEST
    else:
        report = GRANTED if caller.holds(wanted) else NOT_ALLOWED
    return JsonResponse(
        {
            "approved": report == GRANTED,
            "evaluationReport": report,
            "organizationId": org_id,
            "requestedPrivilege": body.get("requestedPrivilege"),
        }
    )
