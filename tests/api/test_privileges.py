"""The privilege evaluator and /oauth/check_token, answered from the caller's real credentials."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ADMIN_KEY, ORG, Api
from tests.api.privileged import key_with

EVALUATE = "/rest/privilege/evaluate"
GRANTED = "OPERATION_GRANTED"
NOT_ALLOWED = "OPERATION_NOT_ALLOWED"


def field_request(kind: str, org: str | None = ORG, target: str = "*") -> dict[str, Any]:
    """The body the JavaScript client sends before listing or creating fields."""
    body: dict[str, Any] = {
        "requestedPrivilege": {
            "owner": "PLATFORM",
            "targetDomain": "FIELD",
            "type": kind,
            "targetId": target,
        }
    }
    if org is not None:
        body["organizationId"] = org
    return body


async def evaluate(api: Api, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.http.post(EVALUATE, headers=api.auth(key), json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


# the key's privileges -> approved for (VIEW, CREATE, EDIT) on PLATFORM/FIELD/*
FIELD_CASES = [
    ((), (False, False, False)),
    (("PLATFORM/FIELD/VIEW",), (True, False, False)),
    (("PLATFORM/FIELD/CREATE",), (False, True, False)),
    (("PLATFORM/FIELD/EDIT",), (True, True, True)),
    (("PLATFORM/FIELD/VIEW", "PLATFORM/FIELD/CREATE"), (True, True, False)),
    (("PLATFORM/ORGANIZATION/EDIT",), (True, True, True)),
    (("PLATFORM/SOURCE/EDIT", "PLATFORM/SECURITY_PROVIDER/EDIT"), (False, False, False)),
    (("PLATFORM/FIELD/EDIT/price",), (False, False, False)),
    (("SEARCH_API/EXECUTE_QUERY/ENABLE",), (False, False, False)),
]


@pytest.mark.parametrize(("held", "expected"), FIELD_CASES, ids=lambda v: ",".join(map(str, v)))
async def test_field_privileges_are_evaluated_from_the_keys_privileges(
    api: Api, held: tuple[str, ...], expected: tuple[bool, bool, bool]
) -> None:
    key = key_with(api.runtime, "evaluated-key", *held)
    for kind, approved in zip(("VIEW", "CREATE", "EDIT"), expected, strict=True):
        answer = await evaluate(api, key, field_request(kind))
        assert answer["approved"] is approved, (held, kind, answer)
        assert answer["evaluationReport"] == (GRANTED if approved else NOT_ALLOWED)
        assert answer["organizationId"] == ORG
        assert answer["requestedPrivilege"]["type"] == kind


@pytest.mark.parametrize(
    ("requested", "approved"),
    [
        ({"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "s1"}, True),
        ({"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "VIEW", "targetId": "s2"}, True),
        ({"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "s2"}, False),
        ({"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "*"}, False),
        ({"targetDomain": "IMPERSONATE_SEARCH_API", "owner": "SEARCH_API"}, True),
        ({"targetDomain": "EXECUTE_QUERY", "owner": "SEARCH_API", "type": "ENABLE"}, False),
    ],
)
async def test_target_ids_and_defaults_are_honoured(
    api: Api, requested: dict[str, str], approved: bool
) -> None:
    key = key_with(
        api.runtime,
        "scoped-key",
        "PLATFORM/SOURCE/EDIT/s1",
        "PLATFORM/SOURCE/VIEW",
        "SEARCH_API/IMPERSONATE_SEARCH_API/ENABLE",
    )
    answer = await evaluate(api, key, {"organizationId": ORG, "requestedPrivilege": requested})
    assert answer["approved"] is approved, answer


async def test_organization_id_defaults_to_the_callers(api: Api) -> None:
    answer = await evaluate(api, ADMIN_KEY, field_request("EDIT", org=None))
    assert (answer["approved"], answer["organizationId"]) == (True, ORG)


@pytest.mark.parametrize("other", ["nosuchorg", "globex"])
async def test_another_organization_is_never_approved_and_reveals_nothing(
    api: Api, other: str
) -> None:
    key_with(api.runtime, "globex-admin", "PLATFORM/ORGANIZATION/EDIT", org="globex")
    answer = await evaluate(api, ADMIN_KEY, field_request("VIEW", org=other))
    assert answer["approved"] is False
    # the same answer whether the organization exists or not
    assert (
        answer["evaluationReport"]
        == "OPERATION_FORBIDDEN_FOR_AUTHENTICATION_BOUND_TO_DIFFERENT_ORGANIZATION"
    )


@pytest.mark.parametrize(
    "requested", [None, "FIELD", {"owner": "PLATFORM"}, {"targetDomain": "FIELD", "type": 3}]
)
async def test_a_malformed_privilege_request_is_not_approved(api: Api, requested: Any) -> None:
    answer = await evaluate(
        api, ADMIN_KEY, {"organizationId": ORG, "requestedPrivilege": requested}
    )
    assert answer["approved"] is False
    assert answer["evaluationReport"] == "OPERATION_FORBIDDEN_INVALID_PRIVILEGE_REQUEST"


async def test_a_search_token_holds_no_platform_privilege(api: Api) -> None:
    token = await api.token("alice@example.com")
    answer = await evaluate(api, token, field_request("VIEW"))
    assert (answer["approved"], answer["evaluationReport"]) == (False, NOT_ALLOWED)


async def test_evaluation_needs_valid_credentials(api: Api) -> None:
    r = await api.http.post(EVALUATE, json=field_request("VIEW"))
    assert (r.status_code, r.json()["errorCode"]) == (401, "UNAUTHORIZED")
    r = await api.http.post(EVALUATE, headers=api.auth("garbage"), json=field_request("VIEW"))
    assert (r.status_code, r.json()["errorCode"]) == (401, "INVALID_TOKEN")
    r = await api.http.post(
        EVALUATE, headers={**api.auth(), "Content-Type": "application/json"}, content=b"{nope"
    )
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_JSON")


# -- /oauth/check_token -------------------------------------------------------------------


async def test_check_token_describes_an_api_key_without_its_secret(api: Api) -> None:
    key = key_with(api.runtime, "push-secret-value", "PLATFORM/SOURCE/EDIT")
    # platform-client posts the token as a multipart form field, with the same Bearer token
    r = await api.http.post(
        "/oauth/check_token", headers=api.auth(key), files={"token": (None, key)}
    )
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["active"] is True
    assert info["tokenType"] == "API_KEY"
    assert info["organizationId"] == ORG
    assert info["user_name"] == info["apiKeyId"] == "k-push-secret-value"
    assert info["exp"] is None
    assert info["privileges"] == [
        {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "EDIT", "targetId": "*"}
    ]
    assert info["authentication"]["username"] == "k-push-secret-value"
    assert info["displayName"] == "test key"
    assert key not in r.text.replace("k-push-secret-value", "")


@pytest.mark.parametrize("style", ["query", "urlencoded", "bearer-only"])
async def test_check_token_reads_the_token_wherever_it_is_sent(api: Api, style: str) -> None:
    if style == "query":
        r = await api.http.post("/oauth/check_token", params={"token": ADMIN_KEY})
    elif style == "urlencoded":
        r = await api.http.post("/oauth/check_token", data={"token": ADMIN_KEY})
    else:
        r = await api.http.post("/oauth/check_token", headers=api.auth())
    assert r.status_code == 200, r.text
    assert r.json()["organizationId"] == ORG
    assert r.json()["privileges"][0]["targetDomain"] == "ORGANIZATION"


async def test_check_token_describes_a_search_token(api: Api) -> None:
    token = await api.token("alice@example.com")
    r = await api.http.post("/oauth/check_token", params={"token": token})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["tokenType"] == "SEARCH_TOKEN"
    assert info["organizationId"] == ORG
    assert info["user_name"] == "alice@example.com"
    assert info["userIds"] == [
        {"name": "alice@example.com", "provider": "Email Security Provider", "type": "User"}
    ]
    assert info["exp"] > 0
    assert info["authentication"]["email"] == "alice@example.com"
    assert "privileges" not in info


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "xx00000000-0000-0000-0000-000000000000"])
async def test_check_token_refuses_an_unknown_token(api: Api, token: str) -> None:
    r = await api.http.post("/oauth/check_token", files={"token": (None, token)})
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"errorCode", "message"}
    assert r.json()["errorCode"] == "INVALID_TOKEN"


async def test_check_token_refuses_a_disabled_key_and_needs_a_token(api: Api) -> None:
    key = key_with(api.runtime, "soon-disabled", "PLATFORM/SOURCE/VIEW")
    stored = api.runtime.store.catalog.get_api_key(ORG, "k-soon-disabled")
    assert stored is not None
    stored.enabled = False
    api.runtime.store.catalog.update_api_key(stored)
    r = await api.http.post("/oauth/check_token", params={"token": key})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_TOKEN")
    r = await api.http.post("/oauth/check_token")
    assert (r.status_code, r.json()["errorCode"]) == (412, "MISSING_PARAMETER")
