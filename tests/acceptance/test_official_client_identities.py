"""Security identities pushed with Coveo's official Python client, against a real openpush.

The client (``coveo-push-api-client.py``, unmodified, redirected as in test_official_client.py)
creates a SECURED source, pushes a group with members, a user, an alias to an email identity,
disables an identity, disables old identities, and pushes items whose permissions name the group
and users of the provider. The provider itself is created with openpush's
``POST /rest/organizations/{org}/securityproviders`` (the client has no call for it). Search
tokens then check who sees what: group members do, others do not, the alias sees what the user
sees, and a disabled identity no longer grants anything.

Identity pushes are asynchronous; each test waits until the security cache
(``GET /rest/organizations/{org}/securitycache/entities/{provider}``) shows the orderingId the
client's call was given (or the expected state) before it searches.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from push_api_clientpy import (
    AliasMapping,
    DocumentBuilder,
    GroupSecurityIdentityBuilder,
    IdentityModel,
    SecurityIdentityAliasModel,
    SecurityIdentityDelete,
    SecurityIdentityDeleteOptions,
    SecurityIdentityModel,
    UserSecurityIdentityBuilder,
)

from tests.acceptance.conftest import EMAIL_PROVIDER, OpenpushServer
from tests.acceptance.test_official_client import official_source

pytestmark = pytest.mark.acceptance

P = "ClientPushProvider"
GROUP = "Engineers"
ALICE_EMAIL = "alice@example.com"

ENG_DOC = "https://example.com/wiki/engineering-roadmap"  # allowed: the group
ENG_NOT_BOB = "https://example.com/wiki/bob-surprise"  # allowed: the group; denied: bob
DAVE_DOC = "https://example.com/wiki/dave-notes"  # allowed: the user dave of P
PUBLIC_DOC = "https://example.com/wiki/welcome"  # the client's default: allowAnonymous
DOCS = (ENG_DOC, ENG_NOT_BOB, DAVE_DOC, PUBLIC_DOC)


def user(name: str) -> IdentityModel:
    return IdentityModel(AdditionalInfo={}, Name=name, Type="USER")


def group(name: str) -> IdentityModel:
    return IdentityModel(AdditionalInfo={}, Name=name, Type="GROUP")


class World:
    """A server, the client's Source and session, the source id and identity receipts."""

    def __init__(self, server: OpenpushServer) -> None:
        self.server = server
        self.source, self.session = official_source(server)
        self.source_id = ""

    # -- client calls (every one must answer 202 with openpush's receipt) ------------------

    def accepted(self, response: requests.Response, what: str) -> int:
        assert response.status_code == 202, (what, response.request.method,
                                              response.request.url, response.text)  # fmt: skip
        return int(response.json()["orderingId"])

    def push_identity(
        self,
        identity: IdentityModel,
        members: list[IdentityModel] | None = None,
        well_knowns: list[IdentityModel] | None = None,
    ) -> int:
        model = SecurityIdentityModel(
            Identity=identity, WellKnowns=well_knowns or [], Members=members or []
        )
        response = self.source.createOrUpdateSecurityIdentity(P, model)
        return self.accepted(response, f"createOrUpdateSecurityIdentity {identity.Name}")

    def push_alias(self, identity: IdentityModel, email: str) -> int:
        mapping = AliasMapping(AdditionalInfo={}, Name=email, Type="USER", Provider=EMAIL_PROVIDER)
        model = SecurityIdentityAliasModel(Identity=identity, WellKnowns=[], Mappings=[mapping])
        response = self.source.createOrUpdateSecurityIdentityAlias(P, model)
        return self.accepted(response, f"createOrUpdateSecurityIdentityAlias {identity.Name}")

    def disable(self, identity: IdentityModel) -> int:
        response = self.source.deleteSecurityIdentity(P, SecurityIdentityDelete(identity))
        return self.accepted(response, f"deleteSecurityIdentity {identity.Name}")

    # -- observing the outcome through openpush's own endpoints ----------------------------

    def entities(self) -> dict[str, dict[str, Any]]:
        response = self.server.http.get(
            self.server.url(f"/rest/organizations/{self.server.org}/securitycache/entities/{P}"),
            params={"perPage": 1000},
        )
        assert response.status_code == 200, response.text
        return {e["name"].casefold(): e for e in response.json()["items"]}

    def wait_identities(self, expected: dict[str, tuple[str, int]], timeout: float = 15.0) -> None:
        """Wait until each name has the state and at least the orderingId given."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.entities()

            def done(name: str, state: str, ordering: int) -> bool:
                entity = current.get(name.casefold())
                return (
                    entity is not None
                    and entity["state"] == state
                    and int(entity["orderingID"]) >= ordering
                )

            if all(done(name, *want) for name, want in expected.items()):
                return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"identities did not reach {expected} within {timeout}s: {current}\n"
                    f"server stderr:\n{self.server.stderr()[-4000:]}"
                )
            time.sleep(0.05)

    def token(self, name: str, provider: str) -> str:
        response = self.server.http.post(
            self.server.url("/rest/search/v2/token"),
            json={"userIds": [{"name": name, "provider": provider, "type": "User"}]},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def sees(self, name: str | None, provider: str = P) -> set[str]:
        """The URIs a user finds (None: anonymous, the admin key without a token)."""
        if name is None:
            response = self.server.http.post(
                self.server.url("/rest/search/v2"), json={"numberOfResults": 100}
            )
        else:
            response = requests.post(
                self.server.url("/rest/search/v2"),
                headers={"Authorization": f"Bearer {self.token(name, provider)}"},
                json={"numberOfResults": 100},
                timeout=10,
            )
        assert response.status_code == 200, response.text
        body = response.json()
        found = {r["uri"] for r in body["results"]}
        assert body["totalCount"] == len(found), body
        return found


def documents() -> list[DocumentBuilder]:
    def secured(uri: str, title: str) -> DocumentBuilder:
        return DocumentBuilder(uri, title).withData(f"{title}.").withAllowAnonymousUsers(False)

    return [
        secured(ENG_DOC, "Engineering roadmap").withAllowedPermissions(
            GroupSecurityIdentityBuilder(GROUP, P)
        ),
        secured(ENG_NOT_BOB, "Bob's birthday surprise")
        .withAllowedPermissions(GroupSecurityIdentityBuilder(GROUP, P))
        .withDeniedPermissions(UserSecurityIdentityBuilder("bob", P)),
        secured(DAVE_DOC, "Dave's notes").withAllowedPermissions(
            UserSecurityIdentityBuilder("dave", P)
        ),
        DocumentBuilder(PUBLIC_DOC, "Welcome").withData("Welcome to the wiki."),
    ]


def set_up(server: OpenpushServer) -> World:
    """Source, provider, identities (alice, bob, carol in the group; dave alone; an alias
    alice → alice@example.com; carol disabled) and the items, all applied."""
    world = World(server)
    created = world.source.create("official-client-identities", "SECURED")
    assert created.status_code == 201, created.text
    world.source_id = created.json()["id"]

    provider = server.http.post(
        server.url(f"/rest/organizations/{server.org}/securityproviders"),
        json={
            "id": P,
            "displayName": "Provider of the official-client test",
            "nodeRequired": False,
            "type": "EXPANDED",
            "referencedBy": [{"id": world.source_id, "type": "SOURCE"}],
            "cascadingSecurityProviders": {
                "EmailSecurityProvider": {"id": EMAIL_PROVIDER, "type": "EMAIL"}
            },
        },
    )
    assert provider.status_code == 201, provider.text

    orderings = {
        name: world.push_identity(user(name)) for name in ("alice", "bob", "carol", "dave")
    }
    orderings[GROUP] = world.push_identity(
        group(GROUP), members=[user("alice"), user("bob"), user("carol")]
    )
    orderings["alice"] = world.push_alias(user("alice"), ALICE_EMAIL)
    orderings["carol"] = world.disable(user("carol"))
    world.wait_identities(
        {
            **{name: ("UP_TO_DATE", orderings[name]) for name in ("alice", "bob", "dave", GROUP)},
            "carol": ("DISABLED", orderings["carol"]),
        }
    )

    for builder in documents():
        response = world.source.addOrUpdateDocument(world.source_id, builder)
        assert response.status_code == 202, response.text
    server.wait_for_all(world.source_id, DOCS, "indexed")
    return world


def test_client_identities_decide_who_sees_the_items(openpush: OpenpushServer) -> None:
    world = set_up(openpush)
    assert world.sees("alice") == {ENG_DOC, ENG_NOT_BOB, PUBLIC_DOC}
    assert world.sees("bob") == {ENG_DOC, PUBLIC_DOC}  # denied by name on ENG_NOT_BOB
    assert world.sees("dave") == {DAVE_DOC, PUBLIC_DOC}  # not in the group
    # the alias makes the email identity alice
    assert world.sees(ALICE_EMAIL, EMAIL_PROVIDER) == {ENG_DOC, ENG_NOT_BOB, PUBLIC_DOC}
    # carol is a member of the group, but disabled: she holds nothing
    assert world.sees("carol") == {PUBLIC_DOC}
    assert world.sees("stranger@example.com", EMAIL_PROVIDER) == {PUBLIC_DOC}
    assert world.sees("mallory") == {PUBLIC_DOC}  # never pushed to P
    assert world.sees(None) == {PUBLIC_DOC}

    # every call went through the client's session to the local server, with the client's paths
    base = openpush.url(f"/push/v1/organizations/{openpush.org}/providers/{P}")
    sent = world.session.sent
    assert sent.count(("PUT", f"{base}/permissions")) == 5, sent
    assert sent.count(("PUT", f"{base}/mappings")) == 1, sent
    assert sent.count(("DELETE", f"{base}/permissions")) == 1, sent


def test_client_delete_old_identities_disables_what_was_not_pushed_again(
    openpush: OpenpushServer,
) -> None:
    world = set_up(openpush)
    assert world.sees("bob") == {ENG_DOC, PUBLIC_DOC}
    assert world.sees("dave") == {DAVE_DOC, PUBLIC_DOC}

    # a refresh: push again what still exists (the group, now without carol but still listing
    # bob; alice and her alias), then disable everything older than the refresh's first push
    threshold = world.push_identity(group(GROUP), members=[user("alice"), user("bob")])
    world.push_identity(user("alice"))
    alice = world.push_alias(user("alice"), ALICE_EMAIL)
    response = world.source.deleteOldSecurityIdentities(
        P, SecurityIdentityDeleteOptions(QueueDelay=0, OrderingID=threshold)
    )
    world.accepted(response, "deleteOldSecurityIdentities")
    assert "queueDelay=0" in response.request.url, response.request.url
    assert f"orderingId={threshold}" in response.request.url, response.request.url
    world.wait_identities(
        {
            GROUP: ("UP_TO_DATE", threshold),
            "alice": ("UP_TO_DATE", alice),
            "bob": ("DISABLED", 0),
            "carol": ("DISABLED", 0),
            "dave": ("DISABLED", 0),
        }
    )

    # bob is still listed in the group, but disabled: he grants nothing any more
    assert world.sees("bob") == {PUBLIC_DOC}
    assert world.sees("dave") == {PUBLIC_DOC}
    assert world.sees("alice") == {ENG_DOC, ENG_NOT_BOB, PUBLIC_DOC}
    assert world.sees(ALICE_EMAIL, EMAIL_PROVIDER) == {ENG_DOC, ENG_NOT_BOB, PUBLIC_DOC}
    assert world.sees(None) == {PUBLIC_DOC}

    sent = world.session.sent
    base = openpush.url(f"/push/v1/organizations/{openpush.org}/providers/{P}")
    assert ("DELETE", f"{base}/permissions/olderthan") in sent, sent
