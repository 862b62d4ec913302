"""Tenant isolation of the routes without an organization in their path.

The signed upload URL of a file container, the organization list, the privilege evaluator
and ``/oauth/check_token``: organization A learns nothing of B through them, and gets the
same answer for B's objects as for objects that exist nowhere.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.security.conftest import World
from tests.security.tenants import leaked, unknown

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _signed(uri: str) -> tuple[str, str, str, str]:
    """(org, fileId, exp, sig) of an upload URL."""
    parts = urlsplit(uri)
    _, _, org, file_id = parts.path.split("/")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return org, file_id, query["exp"], query["sig"]


async def test_an_upload_url_is_bound_to_its_org_and_file(world: World) -> None:
    a, b = await world.sandbox(), world.b
    http = world.api.http
    b_org, b_file, b_exp, b_sig = _signed(b.upload_uri)
    a_org, a_file, a_exp, a_sig = _signed(a.upload_uri)
    nowhere = unknown(a.org)
    forged = secrets.token_hex(32)

    async def put(org: str, file_id: str, exp: str, sig: str) -> httpx.Response:
        return await http.put(
            f"/blobstore/{org}/{file_id}",
            params={"exp": exp, "sig": sig},
            content=b'{"addOrUpdate": []}',
            headers={"Content-Type": "application/octet-stream"},
        )

    # (B's signature or A's, moved onto other ids) vs (the same onto ids that exist nowhere)
    cases = [
        ((a_org, b_file, b_exp, b_sig), (a_org, nowhere.file, b_exp, b_sig)),
        ((b_org, a_file, b_exp, b_sig), (b_org, nowhere.file, b_exp, b_sig)),
        ((a_org, a_file, b_exp, b_sig), (a_org, nowhere.file, b_exp, b_sig)),
        ((b_org, b_file, a_exp, a_sig), (b_org, nowhere.file, a_exp, a_sig)),
        ((b_org, b_file, b_exp, forged), (nowhere.org, nowhere.file, b_exp, forged)),
        ((b_org, b_file, str(int(b_exp) + 1), b_sig), (b_org, b_file, b_exp, forged)),
    ]
    for foreign, reference in cases:
        got, ref = await put(*foreign), await put(*reference)
        assert got.status_code == 403, (foreign, got.text)
        body = got.json()
        assert body["errorCode"] == "ACCESS_DENIED"
        assert ref.json()["errorCode"] == "ACCESS_DENIED"
        assert not leaked(got, b, str(foreign))
        # the message names the signature check, never whether the container exists
        assert "exist" not in body["message"] and "consumed" not in body["message"]
    # the URL itself still works for its holder, and only it ever wrote to B's container
    state = world.api.runtime.store.transfers.get_container(b.org, b.file)
    assert state is not None and state.state.value == "open"
    assert world.api.runtime.blobs.size(b.org, b.file) == world.b_snapshot["blob"]
    own = await put(a_org, a_file, a_exp, a_sig)
    assert own.status_code == 200, own.text
    await world.assert_b_untouched()


async def test_organization_list_shows_only_the_callers(world: World) -> None:
    a = await world.sandbox()
    token = await world.token(world.a_key, a.user)
    for credential in (world.a_key, token):
        r = await world.api.http.get(
            "/rest/organizations", headers={"Authorization": f"Bearer {credential}"}
        )
        assert r.status_code == 200, r.text
        assert [org["id"] for org in r.json()] == [a.org]
        assert world.b.org not in r.text
        assert not leaked(r, world.b, "")


async def test_privilege_evaluation_says_nothing_of_other_orgs(world: World) -> None:
    a, b = await world.sandbox(), world.b
    http = world.api.http
    auth = {"Authorization": f"Bearer {world.a_key}"}
    for target in (b.source, "*"):
        wanted = {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "VIEW", "targetId": target}
        answers = []
        for org in (b.org, "orgnowhere"):
            by_body = await http.post(
                "/rest/privilege/evaluate",
                headers=auth,
                json={"organizationId": org, "requestedPrivilege": wanted},
            )
            by_query = await http.post(
                "/rest/privilege/evaluate",
                headers=auth,
                params={"organizationId": org},
                json={"requestedPrivilege": wanted},
            )
            for r in (by_body, by_query):
                assert r.status_code == 200, r.text
                assert r.json()["approved"] is False
                assert not leaked(r, b, str(wanted))
                answers.append({**r.json(), "organizationId": "<org>"})
        assert answers[0] == answers[2] and answers[1] == answers[3]
    # a privilege on B's source id, asked in A's own organization, is only A's business
    own = await http.post(
        "/rest/privilege/evaluate",
        headers=auth,
        json={
            "requestedPrivilege": {"targetDomain": "SOURCE", "type": "VIEW", "targetId": b.source}
        },
    )
    assert own.status_code == 200 and own.json()["organizationId"] == a.org


async def test_check_token_knows_only_the_token_it_is_given(world: World) -> None:
    a, b = await world.sandbox(), world.b
    http = world.api.http
    auth = {"Authorization": f"Bearer {world.a_key}"}
    # B's ids are not credentials: they answer exactly as strings that mean nothing
    nowhere = unknown(b.org)
    for field in ("key_id", "source", "provider", "file", "stream", "batch", "marker"):
        answers = []
        for value in (b.ids()[field], nowhere.ids()[field]):
            for method in ("GET", "POST"):
                r = await http.request(
                    method, "/oauth/check_token", headers=auth, params={"token": value}
                )
                assert r.status_code == 400, (field, r.text)
                assert r.json()["errorCode"] == "INVALID_TOKEN"
                assert not leaked(r, b, value)
                answers.append(r.json()["errorCode"])
        assert len(set(answers)) == 1
    # with no token parameter the caller's own credential is described, and nothing else
    for credential in (world.a_key, await world.token(world.a_key, a.user)):
        r = await http.post("/oauth/check_token", headers={"Authorization": f"Bearer {credential}"})
        assert r.status_code == 200, r.text
        assert r.json()["organizationId"] == a.org
        assert not leaked(r, b, "")
