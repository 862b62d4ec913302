"""Tests for openpush.domain.items: the item body parser and the queue form of an item."""

from __future__ import annotations

import json

import pytest

from openpush.domain.items import (
    MAX_ITEM_BODY_BYTES,
    CompressionType,
    ItemDocument,
    item_from_object,
    parse_compression_type,
    parse_item_json,
)
from openpush.errors import (
    InvalidItemError,
    InvalidJsonError,
    InvalidParameterError,
    MissingParameterError,
    PayloadTooLargeError,
)

URI = "https://x/1"


def parse(body: object, **kwargs: object) -> ItemDocument:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    kwargs.setdefault("document_id", URI)
    return parse_item_json(raw, **kwargs)  # type: ignore[arg-type]


def permissions_module():
    return pytest.importorskip("openpush.domain.permissions")


# -- compressionType ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UNCOMPRESSED", CompressionType.UNCOMPRESSED),
        ("Uncompressed", CompressionType.UNCOMPRESSED),
        ("Deflate", CompressionType.DEFLATE),
        ("GZip", CompressionType.GZIP),
        ("lzma", CompressionType.LZMA),
        ("ZLib", CompressionType.ZLIB),
        (" zlib ", CompressionType.ZLIB),
        (None, None),
        ("", None),
    ],
)
def test_parse_compression_type(raw, expected):
    assert parse_compression_type(raw) is expected


def test_bad_compression_type():
    with pytest.raises(InvalidParameterError, match="BROTLI"):
        parse_compression_type("BROTLI")


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}"])
def test_empty_body_is_a_metadata_only_item(body):
    item = parse_item_json(body, document_id=URI)
    assert item == ItemDocument(document_id=URI, metadata={})


def test_body_over_6_mb():
    with pytest.raises(PayloadTooLargeError):
        parse_item_json(b" " * (MAX_ITEM_BODY_BYTES + 1), document_id=URI)


@pytest.mark.parametrize("body", [b"{", b'{"a": }', b"\xff\xfe{", b'{"a": NaN}', b"[" * 100_000])
def test_invalid_json(body):
    with pytest.raises(InvalidJsonError, match="invalid JSON"):
        parse_item_json(body, document_id=URI)


def test_invalid_json_reports_the_position():
    with pytest.raises(InvalidJsonError, match=r"line 2 column 7"):
        parse_item_json(b'{"a": 1,\n "b": }', document_id=URI)


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_body_must_be_an_object(body):
    with pytest.raises(InvalidJsonError, match="object"):
        parse_item_json(body, document_id=URI)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": "a", "Data": "b"}',
        b'{"title": "a", "TITLE": "b"}',
        b'{"permanentid": "a", "permanentId": "b"}',
        b'{"x": {"k": 1, "K": 2}}',
        b'{"a": 1, "a": 2}',
    ],
)
def test_duplicate_keys_are_refused_case_insensitively(body):
    with pytest.raises(InvalidJsonError, match="duplicate key"):
        parse_item_json(body, document_id=URI)


def test_duplicate_keys_in_a_decoded_object():
    with pytest.raises(InvalidJsonError, match="duplicate key 'Data'"):
        item_from_object({"documentId": URI, "data": "a", "Data": "b"})


def test_reserved_keys_are_case_insensitive():
    item = parse(
        {
            "DATA": "text",
            "FileExtension": ".html",
            "PARENTID": "https://x/0",
            "orderingid": 7,
            "DocumentId": URI,
        }
    )
    assert (item.data, item.file_extension, item.parent_id, item.ordering_id) == (
        "text",
        ".html",
        "https://x/0",
        7,
    )
    assert item.metadata == {}


def test_metadata_keys_are_lower_cased_and_nulls_dropped():
    item = parse({"Title": "T", "MyField": 1, "gone": None, "flag": True, "ratio": 0.5})
    assert item.metadata == {"title": "T", "myfield": 1, "flag": True, "ratio": 0.5}


def test_metadata_arrays_and_dictionaries():
    item = parse({"tags": ["a", None, 2, True], "dict": {"": "default", "en": "x", "fr": None}})
    assert item.metadata == {"tags": ["a", 2, True], "dict": {"": "default", "en": "x"}}


@pytest.mark.parametrize(
    "value", [{"a": {"b": 1}}, {"a": [1]}, [[1]], [{"a": 1}]], ids=["dict", "list", "nl", "ld"]
)
def test_sub_objects_are_refused(value):
    with pytest.raises(InvalidJsonError, match="sub-objects are not allowed \\(key 'Meta'\\)"):
        parse({"Meta": value})


@pytest.mark.parametrize(
    "carriers",
    [
        {"data": "a", "compressedBinaryData": "YQ=="},
        {"data": "a", "compressedBinaryDataFileId": "f"},
        {"compressedBinaryData": "YQ==", "compressedBinaryDataFileId": "f"},
    ],
)
def test_two_content_carriers(carriers):
    with pytest.raises(InvalidJsonError, match="content carrier"):
        parse(carriers)


def test_a_null_carrier_is_absent():
    item = parse({"data": None, "compressedBinaryData": "YQ=="})
    assert (item.data, item.compressed_binary_data) == (None, "YQ==")


@pytest.mark.parametrize(
    "body",
    [
        {"data": 1},
        {"compressedBinaryData": ["x"]},
        {"compressedBinaryDataFileId": 3},
        {"fileExtension": 1},
        {"parentId": {}},
        {"documentId": 5},
    ],
)
def test_reserved_value_types(body):
    with pytest.raises(InvalidItemError, match="must be a string"):
        parse(body, document_id=None if "documentId" in body else URI)


@pytest.mark.parametrize(("raw", "expected"), [("html", ".html"), (".txt", ".txt"), ("", None)])
def test_file_extension_gets_its_dot(raw, expected):
    assert parse({"fileExtension": raw}).file_extension == expected


@pytest.mark.parametrize(("raw", "expected"), [(0, 0), (2**70, 2**70), ("123", 123)])
def test_ordering_id(raw, expected):
    assert parse({"orderingId": raw}).ordering_id == expected


@pytest.mark.parametrize("raw", [-1, 1.5, True, "12a", "-3", "", "9" * 5000])
def test_bad_ordering_id(raw):
    with pytest.raises(InvalidItemError, match="orderingId"):
        parse({"orderingId": raw})


# -- documentId --------------------------------------------------------------------------------


def test_document_id_from_the_body_when_the_query_has_none():
    assert parse({"documentId": URI}, document_id=None).document_id == URI
    assert parse({"documentId": URI}, document_id="").document_id == URI


def test_document_id_in_body_must_match_the_query():
    assert parse({"documentId": URI}).document_id == URI
    with pytest.raises(InvalidParameterError, match="differs"):
        parse({"documentId": "https://x/2"})


def test_document_id_missing_everywhere():
    with pytest.raises(MissingParameterError, match="documentId"):
        parse({"title": "x"}, document_id=None)


def test_document_id_needs_a_scheme():
    with pytest.raises(InvalidParameterError, match="scheme"):
        parse({}, document_id="folder/file.txt")


def test_batch_item_needs_a_document_id():
    with pytest.raises(InvalidItemError, match="documentId"):
        item_from_object({"data": "x"})


def test_batch_item_not_an_object():
    with pytest.raises(InvalidJsonError):
        item_from_object(["x"])  # type: ignore[arg-type]


# -- compressionType in body and query ---------------------------------------------------------


def test_compression_type_body_wins_over_query():
    item = parse(
        {"compressedBinaryData": "eJw=", "compressionType": "GZIP"}, compression_type="ZLIB"
    )
    assert item.compression_type is CompressionType.GZIP


def test_compression_type_from_query_only():
    item = parse({"compressedBinaryData": "eJw="}, compression_type="Deflate")
    assert item.compression_type is CompressionType.DEFLATE


def test_compression_type_absent():
    assert parse({"compressedBinaryData": "eJw="}).compression_type is None


def test_bad_compression_type_in_body():
    with pytest.raises(InvalidParameterError):
        parse({"compressionType": "zip"})


# -- bodies as the official clients send them (clients.md §7) -----------------------------------


def test_js_client_body():
    body = {"permanentid": "p" * 60, "title": "T", "data": "d", "tags": ["a"], "documentId": URI}
    item = parse(body)
    assert item.data == "d"
    assert item.metadata == {"permanentid": "p" * 60, "title": "T", "tags": ["a"]}
    assert item.permissions is None


def test_python_client_body():
    builder_module = pytest.importorskip("push_api_clientpy")
    permissions_module()
    doc = (
        builder_module.DocumentBuilder(URI, "Title")
        .withData("hello")
        .withAuthor("bob")
        .withDate("2020-01-01")
        .withFileExtension(".txt")
        .withMetadataValue("tags", ["a", "b"])
        .marshal()
    )
    item = parse(doc)
    assert item.metadata["permanentid"] == doc["permanentId"]
    assert item.metadata["date"] == "2020-01-01T00:00:00"
    assert item.metadata["tags"] == ["a", "b"]
    assert item.data == "hello"
    assert item.file_extension == ".txt"
    assert item.permissions is not None
    (level,) = item.permissions.levels
    (pset,) = level.sets
    assert pset.allow_anonymous is True
    assert (pset.allowed, pset.denied) == ((), ())


def test_python_client_compressed_body():
    builder_module = pytest.importorskip("push_api_clientpy")
    permissions_module()
    doc = (
        builder_module.DocumentBuilder(URI, "Title")
        .withCompressedBinaryData("eJzLSM3JyQcABiwCFQ==", "ZLIB")
        .marshal()
    )
    item = parse(doc)
    assert item.compressed_binary_data == "eJzLSM3JyQcABiwCFQ=="
    assert item.compression_type is CompressionType.ZLIB
    assert item.data is None


def test_java_client_body():
    permissions_module()
    body = {
        "uri": URI,
        "documentId": URI,
        "title": "T",
        "permanentId": "abc",
        "clickableUri": URI,
        "author": "me",
        "date": "2015-01-01T00:00:00.000-05:00",
        "modifiedDate": "2015-01-01T00:00:00.000-05:00",
        "parentId": "https://x/0",
        "fileExtension": ".pdf",
        "compressedBinaryData": "JVBERi0=",
        "permissions": [
            {"allowAnonymous": True, "allowedPermissions": [], "deniedPermissions": []}
        ],
    }
    raw = json.dumps(body).encode()
    item = parse_item_json(raw, document_id=URI, compression_type="UNCOMPRESSED")
    assert "uri" not in item.metadata
    assert item.metadata["permanentid"] == "abc"
    assert item.metadata["clickableuri"] == URI
    assert item.metadata["modifieddate"] == "2015-01-01T00:00:00.000-05:00"
    assert item.compression_type is CompressionType.UNCOMPRESSED
    assert item.parent_id == "https://x/0"
    assert item.permissions is not None and item.permissions.levels[0].sets[0].allow_anonymous


def test_java_client_raw_document_id():
    raw_uri = "https://x/y?a=1&b=2"
    assert parse({"documentId": raw_uri}, document_id=raw_uri).document_id == raw_uri


def test_null_permissions_are_absent():
    assert parse({"permissions": None}).permissions is None


def test_bad_permissions_are_an_item_error():
    permissions_module()
    with pytest.raises(InvalidItemError):
        parse({"permissions": "everyone"})


# -- queue form --------------------------------------------------------------------------------


def test_to_dict_round_trip_minimal():
    item = ItemDocument(document_id=URI, metadata={})
    assert item.to_dict() == {"document_id": URI, "metadata": {}}
    assert ItemDocument.from_dict(item.to_dict()) == item


def test_to_dict_round_trip_full():
    permissions_module()
    body = {
        "title": "T",
        "tags": ["a", 1],
        "dict": {"en": "x"},
        "compressedBinaryData": "eJw=",
        "compressionType": "lzma",
        "fileExtension": "md",
        "parentId": URI,
        "orderingId": 2**65,
        "permissions": [
            {
                "allowAnonymous": False,
                "allowedPermissions": [{"identity": "g", "identityType": "Group"}],
            }
        ],
    }
    item = parse(body)
    stored = json.loads(json.dumps(item.to_dict()))
    assert ItemDocument.from_dict(stored) == item
    assert stored["compression_type"] == "LZMA"
    assert "data" not in stored


def test_to_dict_round_trip_without_permissions():
    item = parse({"data": "x", "compressedBinaryDataFileId": None, "orderingId": 3})
    assert ItemDocument.from_dict(json.loads(json.dumps(item.to_dict()))) == item


def test_decimal_numbers_from_a_streaming_parser_become_floats():
    from decimal import Decimal

    item = item_from_object({"documentId": URI, "price": Decimal("1.5"), "l": [Decimal("2")]})
    assert item.metadata == {"price": 1.5, "l": [2.0]}


def test_non_json_values_are_refused():
    with pytest.raises(InvalidItemError, match="unsupported value for metadata 'x'"):
        item_from_object({"documentId": URI, "x": object()})


def test_bad_compression_type_in_query_even_when_the_body_has_one():
    with pytest.raises(InvalidParameterError):
        parse({"compressionType": "GZIP"}, compression_type="brotli")
