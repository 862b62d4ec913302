"""An indexed item as openpush holds it (openpush's own): what the content browser shows.

``GET /rest/organizations/{org}/sources/{src}/documents/item?documentId=`` answers with the
item as its last applied push left it: its state and orderingId, its metadata, the carrier of
its content (``data``, ``compressedBinaryData`` or a file container, with its size, not the
bytes), its file extension, parent, and its permission model in the Push API's full form
(levels of ``permissionSets`` of ``allowedPermissions``..., which a push accepts as is). The
extracted text and the indexed field values are what a view-all-content search returns.

It needs ``PLATFORM/SOURCE/VIEW`` on the source *and* ``SEARCH_API/VIEW_ALL_CONTENT``: the
metadata is content, visible to exactly the keys that could find it with ``viewAllContent``.
Anything not indexed (never pushed, deleted, still queued, rejected) is 404
``DOCUMENT_NOT_FOUND``, as with ``…/documents/access``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.responses import JsonResponse
from openpush.api.routes.access import DocumentNotFoundError
from openpush.api.wire import iso
from openpush.domain.items import ItemDocument
from openpush.domain.operations import ItemState
from openpush.domain.organizations import VIEW_ALL_CONTENT, Privilege
from openpush.domain.permissions import IdentityType, PermissionIdentity, PermissionModel
from openpush.errors import MissingParameterError

__all__ = ["permissions_wire", "router"]

router = APIRouter(
    prefix="/rest/organizations/{organizationId}/sources/{sourceId}", tags=["Access (openpush)"]
)

# The Push API's identity type spellings (push-api.md §6.3).
_WIRE_TYPES = {
    IdentityType.USER: "User",
    IdentityType.GROUP: "Group",
    IdentityType.VIRTUAL_GROUP: "VirtualGroup",
    IdentityType.UNKNOWN: "Unknown",
}


def _identity(identity: PermissionIdentity) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "identity": identity.name,
        "identityType": _WIRE_TYPES[identity.type],
    }
    if identity.provider is not None:
        wire["securityProvider"] = identity.provider
    return wire


def permissions_wire(model: PermissionModel) -> list[dict[str, Any]]:
    """The model as the Push API's full form: a list of levels of sets."""
    return [
        {
            "name": level.name,
            "permissionSets": [
                {
                    "name": pset.name,
                    "allowAnonymous": pset.allow_anonymous,
                    "allowedPermissions": [_identity(i) for i in pset.allowed],
                    "deniedPermissions": [_identity(i) for i in pset.denied],
                }
                for pset in level.sets
            ],
        }
        for level in model.levels
    ]


def _content(item: ItemDocument) -> dict[str, Any]:
    """Which carrier holds the content and how large it is (never the bytes themselves)."""
    if item.data is not None:
        return {"carrier": "data", "bytes": len(item.data.encode())}
    if item.compressed_binary_data is not None:
        encoded = item.compressed_binary_data.strip()
        return {
            "carrier": "compressedBinaryData",
            "bytes": len(encoded) * 3 // 4 - encoded[-2:].count("="),  # decoded, not decoding
            "compressionType": item.compression_type.value if item.compression_type else None,
        }
    if item.compressed_binary_data_file_id is not None:
        return {
            "carrier": "compressedBinaryDataFileId",
            "fileId": item.compressed_binary_data_file_id,
            "compressionType": item.compression_type.value if item.compression_type else None,
        }
    return {"carrier": None}


@router.get("/documents/item", summary="An indexed item: metadata and permissions (openpush)")
async def document_item(
    request: Request, organizationId: str, sourceId: str, documentId: str | None = None
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "VIEW", sourceId))
    caller.require(VIEW_ALL_CONTENT)
    source = source_for(request, caller, sourceId)
    if not documentId:
        raise MissingParameterError("the parameter 'documentId' is required")
    items = runtime.store.items.get_items(caller.org_id, source.id, [documentId])
    record = items.get(documentId)
    if record is None or record.state is not ItemState.INDEXED or not record.record:
        state = record.state.value if record is not None else ItemState.UNKNOWN.value
        raise DocumentNotFoundError(
            f"document {documentId!r} is not indexed in source {source.id!r} (state: {state})"
        )
    item = ItemDocument.from_dict(record.record["item"])
    return JsonResponse(
        {
            "documentId": documentId,
            "sourceId": source.id,
            "sourceVisibility": source.visibility.value,
            "state": record.state.value,
            "orderingId": str(record.ordering_id),
            "updatedAt": iso(record.updated_at),
            "lastResult": record.last_result,
            "lastReason": record.last_reason,
            "title": record.record.get("title"),
            "textLength": record.record.get("text_length"),
            "fileExtension": item.file_extension,
            "parentId": item.parent_id,
            "metadata": item.metadata,
            "content": _content(item),
            "permissions": permissions_wire(item.permissions) if item.permissions else None,
        }
    )
