"""Limit checks, per-organization settings and the in-memory rate limiter, without HTTP."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from openpush.api.throttle import Throttle
from openpush.domain.identities import (
    IdentityRef,
    IdentityUpdate,
    check_identity_limits,
    identity_size,
)
from openpush.domain.items import (
    ItemDocument,
    base64_size,
    check_item_limits,
    check_json_depth,
    parse_item_json,
)
from openpush.domain.permissions import IdentityType
from openpush.errors import (
    DailyQuotaExceededError,
    InvalidJsonError,
    InvalidParameterError,
    ItemLimitError,
    PayloadTooLargeError,
    TooManyRequestsError,
)
from openpush.pipeline.batchfile import MalformedBatchFileError, scan
from openpush.settings import Settings, load_settings

LIMITS = {"max_content_bytes": 10, "max_metadata_value_bytes": 10, "max_dictionary_pairs": 2}


def item(**fields: object) -> ItemDocument:
    fields.setdefault("metadata", {})
    return ItemDocument(document_id="https://x/1", **fields)  # type: ignore[arg-type]


# -- items ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 99, 100, 1000])
def test_base64_size_is_the_decoded_size(size: int) -> None:
    data = bytes(range(256)) * 4
    assert base64_size(base64.b64encode(data[:size]).decode()) == size
    assert base64_size(base64.encodebytes(data[:size]).decode()) == size  # with line breaks


def test_item_limits() -> None:
    check_item_limits(item(data="x" * 10, metadata={"a": "y" * 10}), **LIMITS)
    check_item_limits(item(compressed_binary_data=base64.b64encode(bytes(10)).decode()), **LIMITS)
    for bad, words in [
        (item(data="é" * 6), "data is 12 bytes"),
        (item(compressed_binary_data=base64.b64encode(bytes(11)).decode()), "decodes to 11"),
        (item(metadata={"a": "y" * 11}), "'a' is 11 bytes"),
        (item(metadata={"a": ["12345", "123456"]}), "'a' is 11 bytes"),
        (item(metadata={"a": {"k1": "1234", "k2": "12345"}}), "'a' is 13 bytes"),
        (item(metadata={"a": {"a": 1, "b": 2, "c": 3}}), "3 key/value pairs"),
        (item(metadata={"n": 12345678901}), "'n' is 11 bytes"),
    ]:
        with pytest.raises(ItemLimitError, match=words):
            check_item_limits(bad, **LIMITS)


def test_json_depth() -> None:
    check_json_depth({"a": [{"b": []}]}, 4)
    check_json_depth("scalar", 0)
    with pytest.raises(InvalidJsonError, match="deeper than 3"):
        check_json_depth({"a": [{"b": []}]}, 3)
    with pytest.raises(InvalidJsonError, match="deeper than 2"):
        parse_item_json(b'{"permissions": [[1]]}', document_id="https://x/1", max_depth=2)
    with pytest.raises(PayloadTooLargeError):
        parse_item_json(b'{"data": "xx"}', document_id="https://x/1", max_bytes=10)


# -- identities -------------------------------------------------------------------------------


def ref(name: str, **info: str) -> IdentityRef:
    return IdentityRef("P", name, IdentityType.USER, tuple(sorted(info.items())))


def test_identity_size_counts_name_type_and_additional_info() -> None:
    assert identity_size(ref("alice")) == 5 + 4
    assert identity_size(ref("é", employee="42")) == 2 + 4 + 8 + 2


def test_identity_limits() -> None:
    limits = {"max_identity_bytes": 20, "max_relationships": 2}
    check_identity_limits(IdentityUpdate(ref("g"), (ref("a"), ref("b"))), **limits)
    with pytest.raises(InvalidParameterError, match="declares 3"):
        check_identity_limits(IdentityUpdate(ref("g"), (ref("a"),), (ref("b"), ref("c"))), **limits)
    with pytest.raises(InvalidParameterError, match="21 bytes"):
        check_identity_limits(IdentityUpdate(ref("g"), (ref("m" * 17),)), **limits)
    with pytest.raises(InvalidParameterError, match="the limit is 20"):
        check_identity_limits(ref("x", k="v" * 20), **limits)


# -- batch files ------------------------------------------------------------------------------


def test_scan_refuses_a_file_nested_deeper_than_max_depth() -> None:
    body = json.dumps({"addOrUpdate": [{"documentId": "x", "p": [[1]]}]}).encode()
    assert scan(io.BytesIO(body), ["addOrUpdate"], max_depth=5).total == 1
    with pytest.raises(MalformedBatchFileError, match="deeper than 4 levels"):
        scan(io.BytesIO(body), ["addOrUpdate"], max_depth=4)
    bare = b"[[[[1]]]]"
    with pytest.raises(MalformedBatchFileError, match="deeper than 3"):
        scan(io.BytesIO(bare), ["addOrUpdate"], bare_section="addOrUpdate", max_depth=3)


# -- per-organization settings ----------------------------------------------------------------


def test_org_limits_override_only_their_organization() -> None:
    settings = Settings(
        org_limits=json.dumps({"small": {"max_request_bytes": 100, "max_decompression_ratio": 5}})
    )
    small = settings.for_org("small")
    assert (small.max_request_bytes, small.max_decompression_ratio) == (100, 5.0)
    assert isinstance(small.max_decompression_ratio, float)
    assert settings.for_org("other") is settings
    assert Settings().for_org("small") == Settings()
    assert settings.largest("max_request_bytes") == settings.max_request_bytes
    bigger = Settings(org_limits='{"big": {"file_container_max_bytes": 1073741824}}')
    assert bigger.largest("file_container_max_bytes") == 1073741824


def test_org_limits_from_the_environment_and_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text('{"acme": {"daily_item_quota": 7}}')
    settings = load_settings(environ={"OPENPUSH_ORG_LIMITS": f"@{path}"})
    assert settings.for_org("acme").daily_item_quota == 7


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "keyed by organization"),
        ('{"acme": 5}', "must be an object"),
        ('{"acme": {"port": 1}}', "'port' is not a limit"),
        ('{"acme": {"max_request_bytes": -1}}', "number >= 0"),
        ('{"acme": {"max_request_bytes": 1.5}}', "number >= 0"),
        ('{"acme": {"max_request_bytes": true}}', "number >= 0"),
        ('{"acme": {"max_request_bytes": "1"}}', "number >= 0"),
    ],
)
def test_bad_org_limits_stop_the_server_at_start_up(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        load_settings(environ={"OPENPUSH_ORG_LIMITS": value})


# -- throttle (the limiters themselves: tests/contract/test_rate_limiter.py) ------------------


def test_the_throttle_rounds_retry_after_up_and_names_the_quota() -> None:
    now = [86_400.0 * 365]
    throttle = Throttle(
        Settings(key_requests_per_second=0.4, key_request_burst=1, daily_item_quota=2),
        clock=lambda: now[0],
    )
    throttle.check("acme", "k1")
    with pytest.raises(TooManyRequestsError) as refused:
        throttle.check("acme", "k1")
    assert refused.value.retry_after == 3  # 2.5 s
    throttle.check("acme", None)  # a search token: organization bucket only
    throttle.reserve("acme", 2)
    with pytest.raises(DailyQuotaExceededError) as over:
        throttle.reserve("acme", 1)
    assert over.value.retry_after == 86_400
    assert over.value.error_code == "TOO_MANY_DOCUMENTS_DAILY"
