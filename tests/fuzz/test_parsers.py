"""Property-based tests of the parsers that read untrusted input.

Whatever bytes or JSON values they are given, the item parser, the batch-file parser, the
content codecs and the query parser either succeed or raise the errors they document: never
anything else (a ``KeyError``, a ``RecursionError``, an ``ijson`` or ``zlib`` error leaking
out would become a 500 or a crashed pipeline round). Where a round trip exists, it holds.

``tests/unit`` has the example-based tests and the properties of well-formed input (random
batches, random query trees); these add the garbage.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import lzma
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpush.domain.items import (
    CompressionType,
    ItemDocument,
    item_from_object,
    parse_item_json,
)
from openpush.errors import (
    ContentDecodingError,
    InvalidItemError,
    InvalidRequestError,
    QuerySyntaxError,
)
from openpush.pipeline.batchfile import MalformedBatchFileError, entries, scan
from openpush.pipeline.content import decode_base64, decompress, extract
from openpush.search.query import combine, parse, to_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- generated JSON ------------------------------------------------------------------------

RESERVED = [
    "documentId", "data", "compressedBinaryData", "compressedBinaryDataFileId",
    "compressionType", "fileExtension", "parentId", "permissions", "orderingId",
]  # fmt: skip


def _cased(name: str) -> st.SearchStrategy[str]:
    """``name`` in a random letter case (keys are case-insensitive)."""
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(
            c.upper() if u else c.lower() for c, u in zip(name, upper, strict=True)
        )
    )


keys = st.one_of(
    st.sampled_from(RESERVED).flatmap(_cased),
    st.text(max_size=12),
    st.sampled_from(["title", "author", "Title", "tags", "date", "size", ""]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["https://x.test/1", "file://a/b", "ZLIB", "deflate", ".html", "eJwDAAAAAAE="]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20,
)
json_objects = st.dictionaries(keys, json_values, max_size=8)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # integers of any size, as connectors send them


# -- items -----------------------------------------------------------------------------------

ITEM_ERRORS = (InvalidRequestError, InvalidItemError)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=200), json_objects.map(_json), json_values.map(_json)),
    document_id=st.one_of(st.none(), st.sampled_from(["https://x.test/1", "no scheme", ""])),
    compression=st.one_of(st.none(), st.sampled_from(["ZLIB", "gzip", "bogus", ""])),
)
def test_item_bodies_parse_or_fail_with_documented_errors(
    body: bytes, document_id: str | None, compression: str | None
) -> None:
    try:
        item = parse_item_json(
            body, document_id=document_id, compression_type=compression, max_depth=16
        )
    except ITEM_ERRORS:
        return
    assert isinstance(item, ItemDocument)
    assert item.document_id
    assert ItemDocument.from_dict(json.loads(_json(item.to_dict()))) == item


@FUZZ
@given(value=json_values)
def test_batch_entries_become_items_or_fail_with_documented_errors(value: Any) -> None:
    with contextlib.suppress(*ITEM_ERRORS):
        item_from_object(value)


metadata = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
        lambda k: k not in {r.lower() for r in RESERVED}
    ),
    st.one_of(
        st.text(max_size=20),
        st.integers(min_value=-(2**60), max_value=2**60),
        st.booleans(),
        st.lists(st.text(max_size=8), max_size=3),
    ),
    max_size=6,
)


@FUZZ
@given(meta=metadata, data=st.text(max_size=100), ordering=st.integers(0, 2**80))
def test_a_well_formed_item_keeps_what_it_was_given(
    meta: dict[str, Any], data: str, ordering: int
) -> None:
    body = {"documentId": "https://x.test/item", "data": data, "orderingId": ordering, **meta}
    item = parse_item_json(_json(body), document_id=None)
    assert item.data == data
    assert item.ordering_id == ordering
    assert {k.lower(): v for k, v in item.metadata.items()} == meta
    assert ItemDocument.from_dict(json.loads(_json(item.to_dict()))) == item


# -- batch files -----------------------------------------------------------------------------

SECTIONS = ("addOrUpdate", "delete")
section_keys = st.sampled_from([*SECTIONS, "partialUpdate", "members"]).flatmap(_cased)
batch_objects = st.dictionaries(
    st.one_of(section_keys, st.text(max_size=6)),
    st.one_of(st.lists(json_values, max_size=4), json_values),
    max_size=4,
)


def _mangled(raw: bytes, cut: int, junk: bytes) -> bytes:
    position = cut % (len(raw) + 1)
    return raw[:position] + junk + raw[position:]


batch_files = st.one_of(
    st.binary(max_size=120),
    batch_objects.map(_json),
    json_values.map(_json),
    st.builds(_mangled, batch_objects.map(_json), st.integers(0, 10_000), st.binary(max_size=4)),
    st.builds(lambda raw, n: raw[: n % (len(raw) + 1)], batch_objects.map(_json), st.integers()),
)


@FUZZ
@given(raw=batch_files, bare=st.booleans(), depth=st.one_of(st.none(), st.integers(1, 6)))
def test_batch_files_scan_or_fail_as_malformed_and_entries_match_the_scan(
    raw: bytes, bare: bool, depth: int | None
) -> None:
    stream = io.BytesIO(raw)
    try:
        found = scan(
            stream, SECTIONS, bare_section="addOrUpdate" if bare else None, max_depth=depth
        )
    except MalformedBatchFileError:
        return
    read = list(entries(stream, found))
    assert len(read) == found.total
    assert [e.ordinal for e in read] == list(range(found.total))
    assert [e.section for e in read] == sorted(
        (e.section for e in read), key=SECTIONS.index
    )  # addOrUpdate entries before delete entries
    if found.total:
        start = found.total // 2
        assert list(entries(stream, found, start=start)) == read[start:]


# -- codecs ----------------------------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    CompressionType.UNCOMPRESSED: lambda data: data,
    CompressionType.DEFLATE: _raw_deflate,
    CompressionType.ZLIB: zlib.compress,
    CompressionType.GZIP: gzip.compress,
    CompressionType.LZMA: lzma.compress,
}
kinds = st.sampled_from([None, *CompressionType])


@FUZZ
@given(
    data=st.binary(min_size=1, max_size=2000) | st.text(min_size=1, max_size=300).map(str.encode),
    kind=st.sampled_from(list(CompressionType)),
    room=st.integers(-5, 5),
)
def test_codecs_round_trip_up_to_the_output_cap(
    data: bytes, kind: CompressionType, room: int
) -> None:
    encoded = ENCODERS[kind](data)
    cap = max(len(data) + room, 0)
    if len(data) <= cap:
        assert decompress(encoded, kind, max_output=cap) == data
    else:
        try:
            decompress(encoded, kind, max_output=cap)
        except ContentDecodingError:
            return
        raise AssertionError("output over the cap was returned")


@pytest.mark.parametrize(
    "kind", [k for k in CompressionType if k is not CompressionType.UNCOMPRESSED]
)
def test_empty_content_round_trips(kind: CompressionType) -> None:
    assert decompress(ENCODERS[kind](b""), kind, max_output=10) == b""


@FUZZ
@given(raw=st.binary(max_size=300), kind=kinds, ratio=st.sampled_from([0, 1.5, 100]))
def test_codecs_given_garbage_raise_only_content_decoding_errors(
    raw: bytes, kind: CompressionType | None, ratio: float
) -> None:
    try:
        out = decompress(raw, kind, max_output=4096, max_ratio=ratio)
    except ContentDecodingError:
        return
    assert isinstance(out, bytes) and len(out) <= 4096


@FUZZ
@given(
    data=st.binary(max_size=300),
    kind=st.sampled_from(list(CompressionType)),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
)
def test_corrupted_compressed_data_raises_only_content_decoding_errors(
    data: bytes, kind: CompressionType, flips: list[tuple[int, int]]
) -> None:
    encoded = bytearray(ENCODERS[kind](data))
    for position, mask in flips:
        if encoded:
            encoded[position % len(encoded)] ^= mask
    with contextlib.suppress(ContentDecodingError):
        decompress(bytes(encoded), kind, max_output=1 << 20)


@FUZZ
@given(data=st.binary(max_size=300), gaps=st.lists(st.integers(0, 500), max_size=3))
def test_base64_round_trips_with_whitespace_and_without_padding(
    data: bytes, gaps: list[int]
) -> None:
    text = base64.b64encode(data).decode().rstrip("=")
    for gap in gaps:
        position = gap % (len(text) + 1)
        text = text[:position] + "\n " + text[position:]
    assert decode_base64(text, max_output=len(data)) == data


@FUZZ
@given(text=st.text(max_size=120) | st.text(alphabet="AZaz09+/=\n -_", max_size=60))
def test_base64_garbage_raises_only_content_decoding_errors(text: str) -> None:
    with contextlib.suppress(ContentDecodingError):
        decode_base64(text, max_output=64)


@FUZZ
@given(
    content=st.binary(max_size=400) | st.text(max_size=200).map(str.encode),
    extension=st.sampled_from(
        [None, ".txt", ".html", ".htm", ".xhtml", ".md", ".json", ".csv", ".xml", ".pdf", ""]
    ),
)
def test_text_extraction_never_raises(content: bytes, extension: str | None) -> None:
    extracted = extract(content, extension)
    assert isinstance(extracted.text, str)


# -- queries ---------------------------------------------------------------------------------

query_texts = st.text(max_size=60) | st.text(alphabet='@a=<>.*()"\\ -$[]{},:~!', max_size=30)


@FUZZ
@given(text=query_texts)
def test_any_text_without_query_syntax_parses(text: str) -> None:
    parse(text, enable_query_syntax=False)


@FUZZ
@given(
    parts=st.fixed_dictionaries(
        {}, optional=dict.fromkeys(["q", "aq", "cq", "dq", "lq"], query_texts)
    ),
    syntax=st.booleans(),
)
def test_combined_expressions_parse_or_name_the_failing_part(
    parts: dict[str, str], syntax: bool
) -> None:
    try:
        tree = combine(**parts, enable_query_syntax=syntax)
    except QuerySyntaxError as exc:
        assert exc.message.split(":", 1)[0] in parts, exc.message
        return
    if syntax and "lq" not in parts:  # free text (lq, q without syntax) has no text form
        assert parse(to_text(tree)) == tree
