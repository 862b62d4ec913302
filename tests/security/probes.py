"""How to call each endpoint of the app with a given set of ids: the isolation matrix's table.

A ``Probe`` builds one request of one route from a mapping of ids (``Tenant.ids()``). Path
parameters map to ids by name (``PATH_IDS``); ``slots`` lists the ids the query or body use.
The matrix (``test_routes.py``) calls every probe with organization A's credentials and,
slot by slot, organization B's id in place of A's, then an id that exists nowhere, and
requires the same answer.

``owned`` slots name things in the caller's own namespace or only filter the caller's own
data (a documentId in A's source, a field name, a provider id, a log filter): B's value
there may succeed, exactly as an unknown value does, and must touch nothing of B's. Every
other foreign id must fail. ``fresh`` slots name something the request creates: the control
call (all of A's ids, which must succeed) uses a new name there, and ``cleanup`` removes
what the probes created so that tests do not see each other's leftovers.

Adding an endpoint: add its probe here (or, if it has no organization in its path, a
dedicated test named in ``test_routes.DEDICATED``); ``test_every_route_is_covered`` fails
until you do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

Ids = dict[str, str]
Cleanup = Callable[[Ids, httpx.Response], list[tuple[str, str]]]

EMAIL = "Email Security Provider"
PATH_IDS = {
    "organizationId": "org",
    "sourceId": "source",
    "batchId": "batch",
    "providerId": "provider",
    "streamId": "stream",
    "keyId": "key_id",
    "name": "field",
}
FIXED_PATH = {"timestamp": "1"}  # stream/deleteolderthan/{timestamp}: a value, not an id
_READING_POSTS = (
    "/validate",
    "/members/parents",
    "/members/children",
    "/entity",
    "/entities/list",
    "/refresh",
    "/refresh/cancel",
    "/organizations/{organizationId}",
    "/indexes/fields/search",
)


def _none(_: Ids) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    query: Callable[[Ids], dict[str, str]] = _none
    body: Callable[[Ids], Any] | None = None
    slots: tuple[str, ...] = ()
    owned: frozenset[str] = frozenset()
    fresh: frozenset[str] = frozenset()
    path_ids: dict[str, str] = field(default_factory=dict)
    cleanup: Cleanup | None = None
    control: bool = True

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def reads_only(self) -> bool:
        """Changes nothing, even with A's own ids (so tests may share A's objects)."""
        return self.method == "GET" or self.path.endswith(_READING_POSTS)

    def path_slots(self) -> list[tuple[str, str]]:
        """(path parameter, id name) in path order."""
        out = []
        for part in self.path.split("/"):
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if name not in FIXED_PATH:
                    out.append((name, self.path_ids.get(name, PATH_IDS[name])))
        return out

    def all_slots(self) -> list[str]:
        seen = [kind for _, kind in self.path_slots()]
        return seen + [s for s in self.slots if s not in seen]

    def url(self, ids: Ids) -> str:
        values = {param: quote(ids[kind], safe="") for param, kind in self.path_slots()}
        return self.path.format(**values, **FIXED_PATH)

    async def send(self, http: httpx.AsyncClient, ids: Ids, credential: str) -> httpx.Response:
        body = self.body(ids) if self.body is not None else None
        return await http.request(
            self.method,
            self.url(ids),
            params=self.query(ids),
            json=body,
            headers={"Authorization": f"Bearer {credential}"},
        )

    def sent(self, ids: Ids) -> str:
        """Everything the request carries, for telling echoes from leaks."""
        body = self.body(ids) if self.body is not None else None
        return f"{self.url(ids)} {self.query(ids)} {body}"


# -- cleanups ---------------------------------------------------------------------------


def _delete_field(ids: Ids, _: httpx.Response) -> list[tuple[str, str]]:
    return [("DELETE", f"/rest/organizations/{ids['org']}/indexes/fields/{ids['field']}")]


def _delete_provider(ids: Ids, _: httpx.Response) -> list[tuple[str, str]]:
    pid = quote(ids["provider"], safe="")
    return [("DELETE", f"/rest/organizations/{ids['org']}/securityproviders/{pid}")]


def _delete_created(kind: str) -> Cleanup:
    def cleanup(ids: Ids, response: httpx.Response) -> list[tuple[str, str]]:
        if response.status_code != 201:
            return []
        return [("DELETE", f"/rest/organizations/{ids['org']}/{kind}/{response.json()['id']}")]

    return cleanup


# -- the table --------------------------------------------------------------------------

P = "/push/v1/organizations/{organizationId}"
REST = "/rest/organizations/{organizationId}"
PROVIDER = P + "/providers/{providerId}"


def _doc(ids: Ids) -> dict[str, str]:
    return {"documentId": ids["document"]}


def _file(ids: Ids) -> dict[str, str]:
    return {"fileId": ids["file"]}


def _old(_: Ids) -> dict[str, str]:
    return {"orderingId": "1", "queueDelay": "0"}


def _identity(ids: Ids) -> dict[str, Any]:
    return {"identity": {"name": ids["user"], "type": "USER"}}


def _stream_probes(base: str) -> list[Probe]:
    stream = base + "/stream"
    return [
        Probe("POST", stream + "/open"),
        Probe("POST", stream + "/{streamId}/chunk"),
        Probe("POST", stream + "/{streamId}/close"),
        Probe("PUT", stream + "/update", query=_file, slots=("file",)),
        Probe("PUT", stream + "/merge", query=_file, slots=("file",)),
        Probe("POST", stream + "/deleteolderthan/{timestamp}", query=lambda _: {"queueDelay": "0"}),
    ]


_SOURCE = P + "/sources/{sourceId}"
_FIELD = {"type": "STRING"}

PROBES: list[Probe] = [
    # items
    Probe(
        "PUT",
        _SOURCE + "/documents",
        query=_doc,
        body=lambda ids: {"data": "probe"},
        slots=("document",),
        owned=frozenset({"document"}),
    ),
    Probe(
        "PUT",
        _SOURCE + "/documents",
        query=lambda ids: {"documentId": "https://probe.test/by-reference"},
        body=lambda ids: {
            "compressedBinaryDataFileId": ids["file"],
            "compressionType": "UNCOMPRESSED",
        },
        slots=("file",),
    ),
    Probe(
        "DELETE",
        _SOURCE + "/documents",
        query=_doc,
        slots=("document",),
        owned=frozenset({"document"}),
    ),
    Probe("DELETE", _SOURCE + "/documents/olderthan", query=_old),
    Probe("POST", _SOURCE + "/status", query=lambda _: {"statusType": "IDLE"}),
    Probe(
        "GET",
        _SOURCE + "/documents/status",
        query=_doc,
        slots=("document",),
        owned=frozenset({"document"}),
    ),
    Probe("PUT", _SOURCE + "/documents/batch", query=_file, slots=("file",)),
    Probe("GET", _SOURCE + "/documents/batches/{batchId}"),
    Probe(
        "POST",
        _SOURCE + "/documents/validate",
        query=_doc,
        body=lambda ids: {"data": "probe"},
        slots=("document",),
        owned=frozenset({"document"}),
    ),
    Probe("POST", _SOURCE + "/documents/validate", query=_file, slots=("file",)),
    Probe(
        "POST",
        _SOURCE + "/documents/validate",
        query=lambda ids: {"documentId": "https://probe.test/by-reference"},
        body=lambda ids: {"compressedBinaryDataFileId": ids["file"]},
        slots=("file",),
        # an unusable container is reported inside the 200 report, as a REJECTED item;
        # the report must read the same for B's container as for one that exists nowhere
        owned=frozenset({"file"}),
    ),
    Probe("POST", P + "/files"),
    *_stream_probes(_SOURCE),
    *_stream_probes(P + "/data-collections/{sourceId}"),
    # sources
    Probe(
        "POST",
        REST + "/sources",
        body=lambda ids: {
            "name": ids["source_name"],
            "sourceVisibility": "SECURED",
            "securityProviderReferences": [ids["provider"]],
        },
        slots=("source_name", "provider"),
        owned=frozenset({"source_name", "provider"}),
        fresh=frozenset({"source_name"}),
        cleanup=_delete_created("sources"),
    ),
    Probe("GET", REST + "/sources"),
    Probe("GET", REST + "/sources/pages"),
    Probe("GET", REST + "/sources/{sourceId}"),
    Probe(
        "PUT",
        REST + "/sources/{sourceId}",
        body=lambda ids: {"name": ids["source_name"]},
        slots=("source_name",),
        owned=frozenset({"source", "source_name"}),
        fresh=frozenset({"source_name"}),
    ),
    Probe("DELETE", REST + "/sources/{sourceId}"),
    Probe(
        "GET",
        REST + "/sources/{sourceId}/documents/access",
        query=lambda ids: {
            "documentId": ids["document"],
            "user": ids["user"],
            "provider": ids["provider"],
        },
        slots=("document", "user", "provider"),
        owned=frozenset({"user", "provider"}),
    ),
    Probe(
        "GET",
        REST + "/sources/{sourceId}/documents/item",
        query=_doc,
        slots=("document",),
    ),
    # fields
    Probe("GET", REST + "/indexes/page/fields"),
    Probe(
        "POST",
        REST + "/indexes/fields",
        body=lambda ids: {"name": ids["field"], **_FIELD},
        slots=("field",),
        owned=frozenset({"field"}),
        fresh=frozenset({"field"}),
        cleanup=_delete_field,
    ),
    Probe(
        "POST",
        REST + "/indexes/fields/batch/create",
        body=lambda ids: [{"name": ids["field"], **_FIELD}],
        slots=("field",),
        owned=frozenset({"field"}),
        fresh=frozenset({"field"}),
        cleanup=_delete_field,
    ),
    Probe(
        "PUT",
        REST + "/indexes/fields/{name}",
        body=lambda ids: {"name": ids["field"], **_FIELD},
        owned=frozenset({"field"}),
        fresh=frozenset({"field"}),
        cleanup=_delete_field,
    ),
    Probe("GET", REST + "/indexes/fields/{name}"),
    Probe("DELETE", REST + "/indexes/fields/{name}"),
    Probe(
        "POST",
        REST + "/indexes/fields/search",
        body=lambda ids: {"filters": {"name": ids["field"]}},
        slots=("field",),
        owned=frozenset({"field"}),  # a name filter over the caller's own fields
    ),
    Probe(
        "PUT",
        REST + "/indexes/fields/batch/update",
        body=lambda ids: [{"name": ids["field"], **_FIELD}],
        slots=("field",),
    ),
    Probe(
        "DELETE",
        REST + "/indexes/fields/batch/delete",
        query=lambda ids: {"fields": ids["field"]},
        slots=("field",),
    ),
    # security providers and identities
    Probe(
        "POST",
        REST + "/securityproviders",
        body=lambda ids: {
            "id": ids["provider"],
            "referencedBy": [{"id": ids["source"], "type": "SOURCE"}],
        },
        slots=("provider", "source"),
        owned=frozenset({"provider", "source"}),
        fresh=frozenset({"provider"}),
        cleanup=_delete_provider,
    ),
    Probe(
        "PUT",
        REST + "/securityproviders/{providerId}",
        body=lambda ids: {"referencedBy": [{"id": ids["source"], "type": "SOURCE"}]},
        slots=("source",),
        owned=frozenset({"provider", "source"}),
        fresh=frozenset({"provider"}),
        cleanup=_delete_provider,
    ),
    Probe("GET", REST + "/securityproviders"),
    Probe("GET", REST + "/securityproviders/{providerId}"),
    Probe("GET", REST + "/securityproviders/{providerId}/schedules"),
    Probe("POST", REST + "/securityproviders/{providerId}/refresh/cancel"),
    Probe("DELETE", REST + "/securityproviders/{providerId}"),
    Probe(
        "PUT",
        PROVIDER + "/permissions",
        body=lambda ids: {**_identity(ids), "members": [{"name": ids["user"], "type": "USER"}]},
        slots=("user",),
        owned=frozenset({"user"}),
    ),
    Probe(
        "PUT",
        PROVIDER + "/mappings",
        body=lambda ids: {**_identity(ids), "mappings": [{"name": ids["user"], "provider": EMAIL}]},
        slots=("user",),
        owned=frozenset({"user"}),
    ),
    Probe(
        "DELETE",
        PROVIDER + "/permissions",
        body=_identity,
        slots=("user",),
        owned=frozenset({"user"}),
    ),
    Probe("DELETE", PROVIDER + "/permissions/olderthan", query=_old),
    Probe("PUT", PROVIDER + "/permissions/batch", query=_file, slots=("file",)),
    Probe(
        "POST",
        PROVIDER + "/permissions/validate",
        body=lambda ids: {**_identity(ids), "members": [{"name": ids["user"], "type": "USER"}]},
        slots=("user",),
        owned=frozenset({"user"}),
    ),
    Probe("POST", PROVIDER + "/permissions/validate", query=_file, slots=("file",)),
    Probe(
        "GET",
        PROVIDER + "/permissions/batches/{batchId}",
        path_ids={"batchId": "identity_batch"},
    ),
    Probe("GET", REST + "/securitycache/entities/{providerId}"),
    Probe(
        "POST",
        REST + "/securitycache/entities/{providerId}/members/parents",
        body=lambda ids: {"name": ids["user"]},
        slots=("user",),
    ),
    Probe(
        "POST",
        REST + "/securitycache/entities/{providerId}/members/children",
        body=lambda ids: {"name": ids["user"]},
        slots=("user",),
    ),
    Probe(
        "POST",
        REST + "/securitycache/entities/{providerId}/members/aliases",
        body=lambda ids: {"name": ids["user"]},
        slots=("user",),
    ),
    Probe("GET", REST + "/securitycache/entities/{providerId}/members"),
    Probe("GET", REST + "/securitycache/entities/list/is_supported"),
    Probe(
        "POST",
        REST + "/securitycache/entities/list",
        body=lambda ids: {"providerIds": [ids["provider"]], "filterTerm": ids["user"]},
        slots=("provider", "user"),
        owned=frozenset({"user"}),  # a name filter over the caller's own identities
    ),
    Probe(
        "POST",
        REST + "/securitycache/entities/{providerId}/entity",
        body=lambda ids: {"name": ids["user"]},
        slots=("user",),
    ),
    Probe("POST", REST + "/securitycache/refresh"),
    Probe("POST", REST + "/securitycache/{providerId}/refresh"),
    Probe("POST", REST + "/securitycache/{providerId}/refresh/cancel"),
    Probe(
        "POST",
        REST + "/securitycache/refresh/entity",
        body=lambda ids: {"name": ids["user"], "provider": ids["provider"]},
        slots=("user", "provider"),
        owned=frozenset({"user"}),  # nothing to refresh: any name is accepted
    ),
    Probe("GET", REST + "/securitycache/schedules"),
    Probe("GET", REST + "/securitycache/status"),
    # logs
    Probe(
        "POST",
        "/logs/v1/organizations/{organizationId}",
        query=_doc,
        body=lambda ids: {"sourcesIds": [ids["source"]]},
        slots=("document", "source"),
        owned=frozenset({"document", "source"}),
    ),
    # the organization and its API keys
    Probe("GET", REST),
    Probe("GET", REST + "/apikeys"),
    Probe(
        "POST",
        REST + "/apikeys",
        body=lambda ids: {
            "displayName": "probe",
            "privileges": [
                {
                    "owner": "PLATFORM",
                    "targetDomain": "SOURCE",
                    "type": "VIEW",
                    "targetId": ids["source"],
                }
            ],
        },
        slots=("source",),
        owned=frozenset({"source"}),
        cleanup=_delete_created("apikeys"),
    ),
    Probe("GET", REST + "/apikeys/{keyId}"),
    Probe("PUT", REST + "/apikeys/{keyId}", body=lambda _: {"displayName": "renamed"}),
    Probe("PUT", REST + "/apikeys/{keyId}/disable"),
    Probe("PUT", REST + "/apikeys/{keyId}/activate"),
    Probe("DELETE", REST + "/apikeys/{keyId}"),
]


def probes_by_route() -> dict[tuple[str, str], list[Probe]]:
    table: dict[tuple[str, str], list[Probe]] = {}
    for probe in PROBES:
        table.setdefault(probe.route, []).append(probe)
    return table
