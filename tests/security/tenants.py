"""Two organizations on one server, each holding one of every kind of object.

``Tenant`` records the ids of what ``populate`` created: a stream-enabled source, an item,
a documents batch, an identity batch, an uploaded (unconsumed) file container, an open
stream, a security provider with a user and a group, a field and an extra API key. Every
name carries the tenant's random ``marker`` so that any of them showing up in another
tenant's response is caught (``leaked``).
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from openpush.domain.organizations import PRESETS, ApiKey, Organization, hash_api_key
from openpush.domain.sources import new_source_id
from tests.api.conftest import Api

EMAIL = "Email Security Provider"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Tenant:
    org: str
    key: str  # the admin API key's secret
    marker: str = ""
    source: str = ""
    source_name: str = ""
    document: str = ""
    batch: str = ""
    identity_batch: str = ""
    file: str = ""
    stream: str = ""
    provider: str = ""
    user: str = ""
    key_id: str = ""
    field: str = ""
    data: str = ""
    upload_uri: str = ""

    def ids(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def secrets(self) -> set[str]:
        """Strings that only this tenant's data contains (the org id itself excluded)."""
        values = self.ids()
        del values["org"]
        return {v for v in values.values() if v and self.marker in v} | {self.key}


def unknown(org: str) -> Tenant:
    """Ids shaped like real ones that exist nowhere (in ``org``'s namespace)."""
    tag = secrets.token_hex(4)
    return Tenant(
        org=org,
        key="no-such-key-" + tag,
        marker=tag,
        source=new_source_id(org),
        source_name=f"nowhere-{tag}",
        document=f"https://nowhere.test/{tag}",
        batch=str(uuid.uuid4()),
        identity_batch=str(uuid.uuid4()),
        file=str(uuid.uuid4()),
        stream=str(uuid.uuid4()),
        provider=f"provider-nowhere-{tag}",
        user=f"nobody-{tag}@nowhere.test",
        key_id="".join(secrets.choice(_BASE32) for _ in range(26)),
        field=f"nowhere{tag}",
        data=f"nowhere{tag}",
    )


def create_org(api: Api, org: str) -> str:
    """Create ``org`` with an admin key; returns the key's secret."""
    secret = f"{org}-admin-{secrets.token_hex(8)}"
    catalog = api.runtime.store.catalog
    catalog.create_organization(Organization(org, org))
    catalog.save_api_key(
        ApiKey(id=f"admin-{org}", org_id=org, display_name="admin", privileges=PRESETS["admin"]),
        hash_api_key(secret),
    )
    return secret


async def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201, 202, 204)), response.text
    return dict(response.json()) if response.content else {}


async def _container(api: Api, org: str, auth: dict[str, str], content: bytes) -> dict[str, Any]:
    created = await _ok(await api.http.post(f"/push/v1/organizations/{org}/files", headers=auth))
    up = await api.http.put(
        created["uploadUri"], content=content, headers=created["requiredHeaders"]
    )
    assert up.status_code == 200, up.text
    return created


async def populate(api: Api, org: str, key: str) -> Tenant:
    """One of every object in ``org`` (an org that already exists, with admin key ``key``)."""
    marker = secrets.token_hex(5)
    auth = {"Authorization": f"Bearer {key}"}
    http = api.http
    rest = f"/rest/organizations/{org}"
    push = f"/push/v1/organizations/{org}"
    source_name = f"source-{marker}"
    source = await _ok(
        await http.post(
            f"{rest}/sources",
            headers=auth,
            json={
                "name": source_name,
                "sourceType": "PUSH",
                "sourceVisibility": "SHARED",
                "streamEnabled": True,
            },
        )
    )
    source_id = source["id"]
    provider = f"provider-{marker}"
    user = f"user-{marker}@{org}.test"
    await _ok(
        await http.put(
            f"{rest}/securityproviders/{provider}",
            headers=auth,
            json={"referencedBy": [{"id": source_id, "type": "SOURCE"}]},
        )
    )
    await _ok(
        await http.put(
            f"{push}/providers/{provider}/permissions",
            headers=auth,
            json={
                "identity": {"name": f"group-{marker}", "type": "GROUP"},
                "members": [{"name": user, "type": "USER"}],
            },
        )
    )
    await _ok(
        await http.put(
            f"{push}/providers/{provider}/permissions",
            headers=auth,
            json={"identity": {"name": user, "type": "USER"}},
        )
    )
    document = f"https://{org}.test/doc-{marker}"
    data = f"secret{marker}"
    docs = f"{push}/sources/{source_id}/documents"
    await _ok(
        await http.put(
            docs, headers=auth, params={"documentId": document}, json={"data": f"{data} words"}
        )
    )
    batch_file = orjson.dumps(
        {"addOrUpdate": [{"documentId": f"{document}/child", "data": f"{data} child"}]}
    )
    created = await _container(api, org, auth, batch_file)
    batch = await _ok(
        await http.put(f"{docs}/batch", headers=auth, params={"fileId": created["fileId"]})
    )
    identities_file = orjson.dumps({"members": [{"identity": {"name": f"batch-{user}"}}]})
    created = await _container(api, org, auth, identities_file)
    identity_batch = await _ok(
        await http.put(
            f"{push}/providers/{provider}/permissions/batch",
            headers=auth,
            params={"fileId": created["fileId"]},
        )
    )
    spare = await _container(
        api, org, auth, orjson.dumps({"addOrUpdate": [{"documentId": f"{document}/spare"}]})
    )
    stream = await _ok(await http.post(f"{push}/sources/{source_id}/stream/open", headers=auth))
    field = f"field{marker}"
    await _ok(
        await http.post(
            f"{rest}/indexes/fields", headers=auth, json={"name": field, "type": "STRING"}
        )
    )
    extra = await _ok(
        await http.post(
            f"{rest}/apikeys",
            headers=auth,
            json={
                "displayName": f"extra-{marker}",
                "privileges": [{"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "VIEW"}],
            },
        )
    )
    api.drain()
    return Tenant(
        org=org,
        key=key,
        marker=marker,
        source=source_id,
        source_name=source_name,
        document=document,
        batch=batch["batchId"],
        identity_batch=identity_batch["batchId"],
        file=spare["fileId"],
        stream=stream["streamId"],
        provider=provider,
        user=user,
        key_id=extra["id"],
        field=field,
        data=data,
        upload_uri=spare["uploadUri"],
    )


def leaked(response: httpx.Response, victim: Tenant, sent: str) -> set[str]:
    """The victim's strings in ``response`` that the request (``sent``) did not contain."""
    text = response.text + " " + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    return {s for s in victim.secrets() if s in text and s not in sent}


async def snapshot(api: Api, tenant: Tenant) -> dict[str, Any]:
    """Everything the tenant's own admin key can read about its objects."""
    auth = {"Authorization": f"Bearer {tenant.key}"}
    rest = f"/rest/organizations/{tenant.org}"
    docs = f"/push/v1/organizations/{tenant.org}/sources/{tenant.source}/documents"
    provider_path = f"/push/v1/organizations/{tenant.org}/providers/{tenant.provider}"
    reads = {
        "sources": ("GET", f"{rest}/sources", None, {}),
        "providers": ("GET", f"{rest}/securityproviders", None, {}),
        "fields": ("GET", f"{rest}/indexes/page/fields", None, {"perPage": 1000}),
        "keys": ("GET", f"{rest}/apikeys", None, {}),
        "status": ("GET", f"{docs}/status", None, {"documentId": tenant.document}),
        "batch": ("GET", f"{docs}/batches/{tenant.batch}", None, {"perPage": 1000}),
        "identity_batch": (
            "GET",
            f"{provider_path}/permissions/batches/{tenant.identity_batch}",
            None,
            {},
        ),
        "entities": ("GET", f"{rest}/securitycache/entities/{tenant.provider}", None, {}),
        "logs": ("POST", f"/logs/v1/organizations/{tenant.org}", {}, {"perPage": 1000}),
        "search": (
            "POST",
            "/rest/search/v2",
            {"numberOfResults": 1000},
            {"viewAllContent": "true"},
        ),
    }
    state: dict[str, Any] = {}
    for name, (method, path, body, params) in reads.items():
        r = await api.http.request(method, path, headers=auth, json=body, params=params)
        assert r.status_code == 200, (name, r.text)
        state[name] = _stable(r.json())
    # equal scores tie in an order index merges (of anyone's commits) may change
    state["search"]["results"].sort(key=lambda hit: hit["uri"])
    transfers = api.runtime.store.transfers
    container = transfers.get_container(tenant.org, tenant.file)
    stream = transfers.get_stream(tenant.org, tenant.source, tenant.stream)
    state["container"] = None if container is None else container.state.value
    state["blob"] = api.runtime.blobs.size(tenant.org, tenant.file)
    state["stream"] = None if stream is None else (stream.state.value, list(stream.file_ids))
    return state


_VOLATILE = {"duration", "indexDuration", "requestDuration", "searchUid", "score", "percentScore"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value
