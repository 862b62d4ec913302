"""Tenant isolation, endpoint by endpoint: organization A's credentials against B's ids.

For every probe of ``probes.py`` and both of A's credentials (its admin API key and a search
token), each id the request carries is replaced in turn by organization B's id and by an
id that exists nowhere; then all of them at once (with A's organization, and with B's). The
two answers must be the same (status, errorCode and message, ids aside), never a 5xx, never
a success unless the id only names something in A's own namespace, and never contain any of
B's strings that the request did not. B's complete state, as its own admin key reads it, is
the same after every probe as before. A control call with A's own ids must succeed, so the
failures are the ids' doing, not a malformed probe.

``test_every_route_is_covered`` enumerates the app's routes: each must have a probe, be
covered by a dedicated test (``DEDICATED``: the routes without an organization in the path)
or be listed as public.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from tests.security.conftest import World
from tests.security.probes import Ids, Probe, probes_by_route
from tests.security.tenants import Tenant, leaked, unknown

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Routes anyone may call: they hold no tenant data.
PUBLIC = {
    ("GET", "/health"): "liveness",
    ("GET", "/openapi.json"): "the API description",
    ("GET", "/docs"): "the interactive API page",
    ("GET", "/docs/oauth2-redirect"): "the API page's OAuth helper",
    ("GET", "/redoc"): "the API reference page",
    ("GET", "/ready"): "readiness: which checks pass, no tenant data",
    ("GET", "/metrics"): "process counters, no organization, source or document labels",
    ("GET", "/console"): "the console page: static, its data comes from the APIs",
    ("MOUNT", "/console/static"): "the console's static files",
}

#: Routes without an organization in the path, each covered by the named test.
DEDICATED = {
    ("PUT", "/blobstore/{organizationId}/{fileId}"): (
        "tests.security.test_credentials::test_an_upload_url_is_bound_to_its_org_and_file"
    ),
    ("GET", "/rest/organizations"): (
        "tests.security.test_credentials::test_organization_list_shows_only_the_callers"
    ),
    ("POST", "/rest/privilege/evaluate"): (
        "tests.security.test_credentials::test_privilege_evaluation_says_nothing_of_other_orgs"
    ),
    ("GET", "/oauth/check_token"): (
        "tests.security.test_credentials::test_check_token_knows_only_the_token_it_is_given"
    ),
    ("POST", "/oauth/check_token"): (
        "tests.security.test_credentials::test_check_token_knows_only_the_token_it_is_given"
    ),
    ("POST", "/rest/search/v2/token"): (
        "tests.security.test_search::test_a_token_is_only_ever_for_the_callers_org"
    ),
    ("POST", "/rest/search/token"): (
        "tests.security.test_search::test_a_token_is_only_ever_for_the_callers_org"
    ),
    ("POST", "/rest/search/v2"): (
        "tests.security.test_search::test_searches_never_see_nor_count_another_orgs_items"
    ),
    ("GET", "/rest/search/v2"): (
        "tests.security.test_search::test_searches_never_see_nor_count_another_orgs_items"
    ),
    ("POST", "/rest/search"): (
        "tests.security.test_search::test_searches_never_see_nor_count_another_orgs_items"
    ),
    ("GET", "/rest/search"): (
        "tests.security.test_search::test_searches_never_see_nor_count_another_orgs_items"
    ),
    ("POST", "/rest/search/v2/facet"): (
        "tests.security.test_search::test_facet_search_counts_only_the_callers_items"
    ),
    ("POST", "/rest/search/v2/querySuggest"): (
        "tests.security.test_search::test_query_suggest_answers_only_for_the_callers_org"
    ),
    ("GET", "/rest/search/v2/querySuggest"): (
        "tests.security.test_search::test_query_suggest_answers_only_for_the_callers_org"
    ),
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD aside."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routers are flattened into app.routes
        routes: list[Any] = list(app.routes)
    else:  # newer FastAPI keeps included routers as nodes of app.routes
        routes = list(iter_route_contexts(app.routes))
    found = set()
    for route in routes:
        if isinstance(getattr(route, "original_route", route), Mount):
            found.add(("MOUNT", route.path))  # a mounted app serves every method below it
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


async def test_every_route_is_covered(world: World) -> None:
    routes = app_routes(world.app)
    probed = set(probes_by_route())
    listed = probed | set(PUBLIC) | set(DEDICATED)
    missing = sorted(routes - listed)
    assert not missing, (
        f"routes without a tenant-isolation probe: {missing}. Add a Probe to "
        "tests/security/probes.py (or a dedicated test named in DEDICATED, or PUBLIC if it "
        "holds no tenant data)."
    )
    assert not sorted(listed - routes), "probes for routes the app no longer serves"
    assert not probed & (set(PUBLIC) | set(DEDICATED))
    for target in set(DEDICATED.values()):
        module, name = target.split("::")
        assert callable(getattr(importlib.import_module(module), name, None)), target


#: Keys of success bodies that differ from call to call whatever the ids.
_VOLATILE = {
    "requestId", "orderingId", "batchId", "id", "value", "createdDate", "lastModifiedDate",
    "createdBy", "datetime", "updatedDate", "streamId", "fileId", "uploadUri", "timestamp",
    "resourceId",
}  # fmt: skip


def _masked(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, ids) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_masked(v, ids) for v in value]
    if isinstance(value, str):
        for name, text in sorted(ids.items(), key=lambda kv: -len(kv[1])):  # longest first
            value = value.replace(text, f"<{name}>")
    return value


def _outcome(response: httpx.Response, ids: dict[str, str]) -> tuple[Any, ...]:
    """The answer with the probed ids (and what changes on every call) masked."""
    body = response.json() if response.content else None
    if response.status_code >= 400:
        return response.status_code, body.get("errorCode"), _masked(body.get("message"), ids)
    return response.status_code, _masked(body, ids)


class Matrix:
    def __init__(self, world: World, a: Tenant, credential: str, *, control: bool) -> None:
        self.world = world
        self.http = world.api.http
        self.a = a
        self.b = world.b
        self.credential = credential
        self.control = control
        self.calls = 0

    async def _send(self, probe: Probe, ids: Ids) -> httpx.Response:
        response = await probe.send(self.http, ids, self.credential)
        self.calls += 1
        assert response.status_code < 500, (probe.route, ids, response.text)
        if probe.cleanup is not None:
            for method, path in probe.cleanup(ids, response):
                await self.http.request(
                    method, path, headers={"Authorization": f"Bearer {self.world.a_key}"}
                )
        return response

    async def compare(
        self, probe: Probe, foreign: Ids, nowhere: Ids, changed: list[str], *, cross_org: bool
    ) -> None:
        """B's ids and ids that exist nowhere must get the same answer, and no data."""
        got = await self._send(probe, foreign)
        ref = await self._send(probe, nowhere)
        where = f"{probe.method} {probe.url(foreign)} with B's {changed}"
        mine = {s: foreign[s] for s in changed}
        theirs = {s: nowhere[s] for s in changed}
        assert _outcome(got, mine) == _outcome(ref, theirs), (
            f"{where}: B's ids answer {got.status_code} {got.text[:300]}, unknown ids answer "
            f"{ref.status_code} {ref.text[:300]}"
        )
        if cross_org:
            assert got.status_code == 404, (where, got.text)
            assert got.json()["errorCode"] == "ORGANIZATION_NOT_FOUND", (where, got.text)
        elif not set(changed) <= probe.owned:
            assert got.status_code >= 400, (where, got.status_code, got.text[:300])
        leaks = leaked(got, self.b, probe.sent(foreign))
        assert not leaks, f"{where}: the answer holds B's {leaks}: {got.text[:500]}"

    async def run(self, probe: Probe) -> None:
        a, b = self.a.ids(), self.b.ids()
        here = unknown(self.a.org).ids()
        nowhere = unknown("orgnowhere").ids()
        slots = probe.all_slots()
        for slot in slots:
            foreign = {**a, slot: b[slot]}
            ref = {**a, slot: (nowhere if slot == "org" else here)[slot]}
            await self.compare(probe, foreign, ref, [slot], cross_org=slot == "org")
        others = [s for s in slots if s != "org"]
        if others:  # every id B's at once, inside A's organization
            foreign = {**a, **{s: b[s] for s in others}}
            ref = {**a, **{s: here[s] for s in others}}
            await self.compare(probe, foreign, ref, others, cross_org=False)
        # everything B's: B's organization and B's ids
        await self.compare(probe, {**a, **b}, {**a, **nowhere}, slots, cross_org=True)
        if self.control and probe.control:
            ids = {**a, **{s: here[s] for s in probe.fresh}}
            response = await self._send(probe, ids)
            assert response.status_code < 300, (
                f"control {probe.method} {probe.url(ids)} with A's own ids failed: "
                f"{response.status_code} {response.text[:300]}"
            )


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("route", sorted(probes_by_route()), ids=_route_id)
async def test_an_org_reaches_nothing_of_another(world: World, route: tuple[str, str]) -> None:
    probes = probes_by_route()[route]
    a = await world.sandbox(fresh=not all(p.reads_only for p in probes))
    token = await world.token(world.a_key, a.user)
    for credential, control in ((token, False), (world.a_key, True)):
        matrix = Matrix(world, a, credential, control=control)
        for probe in probes:
            await matrix.run(probe)
    await world.assert_b_untouched()
