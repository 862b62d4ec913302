"""Explain access (openpush's own): may this user see this item, and why.

``GET /rest/organizations/{org}/sources/{src}/documents/access?documentId=&user=&provider=``
answers with the verdict search would reach for that user, the reason, and the identities the
user holds with the path through which each one is held. It uses exactly what search uses:

- the user's identity set comes from the runtime's expander (``runtime.expander.expansion``,
  the cached graph expansion searches go through); an expander without ``expansion`` falls
  back to a :class:`~openpush.security.graph.GraphExpander` over the same store;
- SHARED sources are visible to everybody, PRIVATE ones to nobody but view-all queries (which
  involve no user, so the verdict is "not visible"), SECURED ones are decided by the reference
  evaluator (``openpush.security.evaluate``) on the item's stored permission model, with the
  source's default provider and the organization's case-sensitive providers, as indexing did.

``user`` is one identity name (``provider`` defaults to the Email Security Provider); no
``user`` explains the anonymous user, who holds only ``*@*``. Only indexed items are explained:
anything else (never pushed, deleted, still queued, rejected) is 404 ``DOCUMENT_NOT_FOUND``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Request

from openpush.api.auth import caller_for_org, runtime_of, source_for
from openpush.api.responses import JsonResponse
from openpush.domain.identities import EMAIL_PROVIDER_ID
from openpush.domain.operations import ItemState
from openpush.domain.organizations import Privilege
from openpush.domain.permissions import PermissionModel
from openpush.domain.sources import Source, SourceVisibility
from openpush.errors import InvalidParameterError, MissingParameterError, ResourceNotFoundError
from openpush.runtime import Runtime
from openpush.search.tokens import UserId
from openpush.security.evaluate import (
    ANONYMOUS,
    Decision,
    IdentityKey,
    evaluate,
    identity_key,
    permission_key,
)
from openpush.security.expand import Expansion, StepKind
from openpush.security.graph import GraphExpander

__all__ = ["DocumentNotFoundError", "explain_access", "router", "user_expansion"]

router = APIRouter(
    prefix="/rest/organizations/{organizationId}/sources/{sourceId}", tags=["Access (openpush)"]
)


class DocumentNotFoundError(ResourceNotFoundError):
    error_code = "DOCUMENT_NOT_FOUND"


def user_expansion(runtime: Runtime, org_id: str, users: tuple[UserId, ...]) -> Expansion:
    """The expansion searches use for ``users`` (the same expander, hence the same cache)."""
    expansion = getattr(runtime.expander, "expansion", None)
    if callable(expansion):
        result: Expansion = expansion(org_id, users)
        return result
    return GraphExpander(runtime.store).expansion(org_id, users)


class _Names:
    """Display forms of identity keys: provider ids and names as pushed, when known."""

    def __init__(
        self,
        runtime: Runtime,
        org_id: str,
        keys: Iterable[IdentityKey],
        given: Mapping[IdentityKey, str],
    ) -> None:
        identities = runtime.store.identities
        self.providers = {p.key: p.id for p in identities.list_providers(org_id)}
        records = identities.get_identities(org_id, list(keys))
        self.names = {key: record.ref.name for key, record in records.items()}
        for key, name in given.items():
            self.names.setdefault(key, name)

    def provider(self, provider_key: str) -> str:
        return self.providers.get(provider_key, provider_key)

    def ref(self, key: IdentityKey) -> dict[str, Any]:
        return {"name": self.names.get(key, key.name), "provider": self.provider(key.provider)}


def _path(key: IdentityKey, incoming: Mapping[IdentityKey, tuple[IdentityKey, StepKind]]) -> list:
    """The steps from a start key to ``key``, first step first (empty for a start key)."""
    steps: list[tuple[IdentityKey, StepKind, IdentityKey]] = []
    seen = {key}
    current = key
    while current in incoming:
        source, kind = incoming[current]
        steps.append((source, kind, current))
        if source in seen:  # a breadth-first tree has no cycle; never loop regardless
            break
        seen.add(source)
        current = source
    steps.reverse()
    return steps


def _identities(expansion: Expansion, start: set[IdentityKey], names: _Names) -> list[dict]:
    incoming: dict[IdentityKey, tuple[IdentityKey, StepKind]] = {}
    for source, kind, to in expansion.steps:
        incoming.setdefault(to, (source, kind))
    paths = {key: _path(key, incoming) for key in expansion.identities}
    ordered = sorted(
        expansion.identities,
        key=lambda k: (k not in start, len(paths[k]), k.provider, k.name),
    )
    return [
        {
            **names.ref(key),
            "via": [
                {"from": names.ref(source), "kind": kind, "to": names.ref(to)}
                for source, kind, to in paths[key]
            ],
        }
        for key in ordered
    ]


def _permission_names(
    model: PermissionModel, source: Source, sensitive: frozenset[str]
) -> dict[IdentityKey, dict[str, Any]]:
    """Each key the model mentions, spelled as the model spells it."""
    out: dict[IdentityKey, dict[str, Any]] = {}
    for level in model.levels:
        for pset in level.sets:
            for identity in (*pset.allowed, *pset.denied):
                key = permission_key(
                    identity,
                    default_provider=source.default_provider,
                    case_sensitive_providers=sensitive,
                )
                out.setdefault(
                    key,
                    {
                        "name": identity.name,
                        "provider": identity.provider or source.default_provider,
                    },
                )
    return out


def _matched(
    decision: Decision, spelled: Mapping[IdentityKey, dict[str, Any]], names: _Names
) -> list:
    out = []
    for key in decision.matched:
        if key == ANONYMOUS:
            ref: dict[str, Any] = {"name": None, "provider": None}
        else:
            ref = spelled.get(key) or names.ref(key)
        out.append({**ref, "allowed": decision.allowed, "anonymous": key == ANONYMOUS})
    return out


def explain_access(
    runtime: Runtime, source: Source, document_id: str, user: UserId | None
) -> dict[str, Any]:
    """The access explanation of one indexed item for one user (None: anonymous)."""
    org_id = source.org_id
    record = runtime.store.items.get_items(org_id, source.id, [document_id]).get(document_id)
    if record is None or record.state is not ItemState.INDEXED or not record.record:
        state = record.state.value if record is not None else ItemState.UNKNOWN.value
        raise DocumentNotFoundError(
            f"document {document_id!r} is not indexed in source {source.id!r} (state: {state})"
        )
    users = (user,) if user is not None else ()
    expansion = user_expansion(runtime, org_id, users)
    providers = runtime.store.identities.list_providers(org_id)
    sensitive = frozenset(p.key for p in providers if p.case_sensitive)
    start = {
        identity_key(u.provider, u.name, case_sensitive=u.provider.casefold() in sensitive)
        for u in users
    }
    names = _Names(
        runtime, org_id, expansion.identities, {key: u.name for u in users for key in start}
    )
    raw_model = record.record.get("item", {}).get("permissions")
    model = PermissionModel.from_dict(raw_model) if raw_model else PermissionModel()
    decision: Decision
    matched: list[dict[str, Any]] = []
    if source.visibility is SourceVisibility.SHARED:
        decision = Decision(True, "the source is SHARED: every user sees its items")
    elif source.visibility is SourceVisibility.PRIVATE:
        decision = Decision(
            False, "the source is PRIVATE: only queries that view all content see its items"
        )
    else:
        decision = evaluate(
            model,
            expansion.identities,
            default_provider=source.default_provider,
            case_sensitive_providers=sensitive,
        )
        matched = _matched(decision, _permission_names(model, source, sensitive), names)
    return {
        "documentId": document_id,
        "sourceId": source.id,
        "sourceVisibility": source.visibility.value,
        "user": {"name": user.name, "provider": user.provider} if user else None,
        "visible": decision.allowed,
        "reason": decision.reason,
        "decidingLevel": decision.level,
        "decidingSet": decision.set,
        "matchedIdentities": matched,
        "identities": _identities(expansion, start, names),
        "depthCapped": expansion.depth_capped,
    }


@router.get("/documents/access", summary="Explain whether a user may see an item (openpush)")
async def document_access(
    request: Request,
    organizationId: str,
    sourceId: str,
    documentId: str | None = None,
    user: str | None = None,
    provider: str | None = None,
) -> JsonResponse:
    runtime = runtime_of(request)
    caller = caller_for_org(request, organizationId)
    caller.require(Privilege("PLATFORM", "SOURCE", "VIEW", sourceId))
    source = source_for(request, caller, sourceId)
    if not documentId:
        raise MissingParameterError("the parameter 'documentId' is required")
    if len(request.query_params.getlist("user")) > 1:
        raise InvalidParameterError("explain one user at a time: give 'user' once")
    if provider is not None and not user:
        raise InvalidParameterError("'provider' needs a 'user'")
    who = UserId(user, provider or EMAIL_PROVIDER_ID) if user else None
    return JsonResponse(explain_access(runtime, source, documentId, who))
