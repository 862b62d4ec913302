"""Schemathesis against the served OpenAPI document, in process, as the bootstrap admin.

Every operation of ``/openapi.json`` gets generated requests, valid and invalid ones (the
coverage phase's boundary values and a few random examples), with real ids for the
organization, a stream-enabled source and a security provider so that requests get past
the lookups. The checks: no 5xx, every response conforms to the document (status, content
type, headers, body schema), and no request that breaks the document is accepted.

The budget is small and the generation deterministic, so CI runs the same cases every time
(about a minute). For a deeper, random run: ``FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 pytest
tests/fuzz/test_openapi.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis

from openpush.api.app import create_app
from openpush.domain.identities import SecurityProvider
from openpush.domain.sources import Source, SourceType, SourceVisibility
from openpush.runtime import Runtime
from tests.api.conftest import ADMIN_KEY, ORG, make_settings

SOURCE = f"{ORG}-fuzzsource"
PROVIDER = "fuzz-provider"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
RANDOM = bool(os.environ.get("FUZZ_RANDOM"))

#: What an invalid request may be answered with (Coveo answers 412 for invalid parameters).
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415"]


def _config() -> Any:
    return schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
            "parameters": {
                "organizationId": ORG,
                "sourceId": SOURCE,
                "providerId": PROVIDER,
            },
            "generation": {
                "max-examples": EXAMPLES,
                "mode": "all",
                "deterministic": not RANDOM,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "response_headers_conformance": {"enabled": True},
                "negative_data_rejection": {"enabled": True, "expected-statuses": REJECTIONS},
                "positive_data_acceptance": {"enabled": False},
                "use_after_free": {"enabled": False},
                "ensure_resource_availability": {"enabled": False},
                "ignored_auth": {"enabled": False},
                "missing_required_header": {"enabled": False},
                "unsupported_method": {"enabled": False},
                # Starlette's 405 lists the methods of the first route matching the path, not
                # of all of them (one route per method): a known Starlette limitation
                "allow_header_conformance": {"enabled": False},
            },
        }
    )


class _App:
    """The ASGI app under test, bound once the module's server exists (``server`` fixture).

    Schemathesis needs the schema, hence an app, when the module is imported; the real
    app needs a data directory, which only a fixture gives.
    """

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "the server fixture did not run"
        await self.target(scope, receive, send)


APP = _App()


def _served_document() -> Any:
    """The schema as ``GET /openapi.json`` serves it (routes only: no data is touched)."""
    settings = make_settings(Path("/nonexistent/openpush-fuzz"))
    app = create_app(SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config())
    loaded.app = APP
    return loaded


schema = _served_document()


@pytest.fixture(scope="module", autouse=True)
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    runtime = Runtime.open(make_settings(tmp_path_factory.mktemp("fuzz")))
    runtime.store.catalog.create_source(
        Source(
            org_id=ORG,
            id=SOURCE,
            name="fuzzed",
            source_type=SourceType.PUSH,
            visibility=SourceVisibility.SECURED,
            stream_enabled=True,
        )
    )
    runtime.store.identities.save_provider(SecurityProvider(org_id=ORG, id=PROVIDER))
    APP.target = create_app(runtime)
    try:
        yield
    finally:
        APP.target = None
        runtime.close()


@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case: Any) -> None:
    case.call_and_validate()


def test_the_served_document_describes_credentials_errors_and_bodies() -> None:
    document = schema.raw_schema
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # never sent: 400/412 instead
            if (method, path) != ("get", "/health"):
                assert responses["412"]["content"]["application/json"]["schema"] == error
            for status, response in responses.items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                assert body != {"type": "string"}, (method, path, status)
    create_source = document["paths"]["/rest/organizations/{organizationId}/sources"]["post"]
    assert "requestBody" in create_source
    assert document["paths"]["/health"]["get"]["security"] == []
