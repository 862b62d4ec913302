"""Tests for openpush.pipeline.content: base64, bounded decompression, text extraction."""

from __future__ import annotations

import base64
import gzip
import lzma
import tracemalloc
import zlib

import pytest

from openpush.domain.items import CompressionType
from openpush.errors import ContentDecodingError
from openpush.pipeline.content import ExtractedContent, decode_base64, decompress, extract

PAYLOAD = b"The quick brown fox jumps over the lazy dog. " * 500
MB = 1024 * 1024


def raw_deflate(data: bytes, level: int = 6) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


COMPRESSORS = {
    CompressionType.UNCOMPRESSED: lambda data: data,
    CompressionType.DEFLATE: raw_deflate,
    CompressionType.GZIP: gzip.compress,
    CompressionType.LZMA: lzma.compress,
    CompressionType.ZLIB: zlib.compress,
}


# -- decompress --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CompressionType))
def test_round_trip(kind):
    assert decompress(COMPRESSORS[kind](PAYLOAD), kind, max_output=MB) == PAYLOAD


def test_default_is_zlib():
    assert decompress(zlib.compress(PAYLOAD), None, max_output=MB) == PAYLOAD


def test_deflate_accepts_zlib_headers():
    assert decompress(zlib.compress(PAYLOAD), CompressionType.DEFLATE, max_output=MB) == PAYLOAD


def test_zlib_accepts_raw_deflate():
    assert decompress(raw_deflate(PAYLOAD), CompressionType.ZLIB, max_output=MB) == PAYLOAD
    assert decompress(raw_deflate(PAYLOAD), None, max_output=MB) == PAYLOAD


def test_documented_deflate_sample():
    sample = (
        "eJyzySjJzbHjUgACm4zUxBQoUx+JnZSfUglhQlQZ2rlWJOYW5KQCVRkiSRTYhWRkFisAUWKeQipEiZ6NfoEdF6eN"
        "PsQQoA6QdQDMhB8E"
    )
    raw = decode_base64(sample, max_output=MB)
    html = decompress(raw, CompressionType.DEFLATE, max_output=MB)
    assert html.startswith(b"<html>") and b"This is an example." in html


def test_lzma_alone_and_xz_formats():
    for fmt in (lzma.FORMAT_ALONE, lzma.FORMAT_XZ):
        packed = lzma.compress(PAYLOAD, format=fmt)
        assert decompress(packed, CompressionType.LZMA, max_output=MB) == PAYLOAD


def test_multi_member_gzip():
    packed = gzip.compress(b"first ") + gzip.compress(b"second") + b"\0" * 8
    assert decompress(packed, CompressionType.GZIP, max_output=MB) == b"first second"


def test_concatenated_xz_streams():
    packed = lzma.compress(b"one ") + lzma.compress(b"two")
    assert decompress(packed, CompressionType.LZMA, max_output=MB) == b"one two"


def test_gzip_trailing_garbage():
    with pytest.raises(ContentDecodingError, match="GZIP"):
        decompress(gzip.compress(b"x") + b"garbage", CompressionType.GZIP, max_output=MB)


def test_empty_uncompressed():
    assert decompress(b"", CompressionType.UNCOMPRESSED, max_output=0) == b""


@pytest.mark.parametrize(
    "kind",
    [CompressionType.DEFLATE, CompressionType.GZIP, CompressionType.LZMA, CompressionType.ZLIB],
)
@pytest.mark.parametrize("mangle", ["garbage", "truncated", "empty"])
def test_corrupt_data_names_the_codec(kind, mangle):
    packed = COMPRESSORS[kind](PAYLOAD)
    data = {
        "garbage": b"not compressed at all",
        "truncated": packed[: len(packed) // 2],
        "empty": b"",
    }
    with pytest.raises(ContentDecodingError, match=str(kind)):
        decompress(data[mangle], kind, max_output=MB)


@pytest.mark.parametrize("kind", list(CompressionType))
def test_output_cap(kind):
    packed = COMPRESSORS[kind](PAYLOAD)
    with pytest.raises(ContentDecodingError, match=f"exceeds {len(PAYLOAD) - 1} bytes"):
        decompress(packed, kind, max_output=len(PAYLOAD) - 1)
    assert decompress(packed, kind, max_output=len(PAYLOAD)) == PAYLOAD


def test_ratio_cap():
    packed = zlib.compress(bytes(100_000))
    with pytest.raises(ContentDecodingError, match="ratio"):
        decompress(packed, CompressionType.ZLIB, max_output=10 * MB, max_ratio=10)
    assert (
        len(decompress(packed, CompressionType.ZLIB, max_output=10 * MB, max_ratio=1000)) == 100_000
    )


def _stream(compressor, megabytes: int = 200) -> bytes:
    block = bytes(MB)
    parts = [compressor.compress(block) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bombs() -> dict[CompressionType, bytes]:
    """200 MB of zeros for each codec, compressed without ever holding the 200 MB."""
    return {
        CompressionType.ZLIB: _stream(zlib.compressobj(1)),
        CompressionType.DEFLATE: _stream(zlib.compressobj(1, zlib.DEFLATED, -15)),
        CompressionType.GZIP: _stream(zlib.compressobj(1, zlib.DEFLATED, 31)),
        CompressionType.LZMA: _stream(lzma.LZMACompressor(preset=0)),
    }


@pytest.mark.parametrize(
    "kind",
    [CompressionType.DEFLATE, CompressionType.GZIP, CompressionType.LZMA, CompressionType.ZLIB],
)
@pytest.mark.parametrize("caps", [{"max_output": MB}, {"max_output": 300 * MB, "max_ratio": 20}])
def test_zip_bomb_is_refused_with_little_memory(bombs, kind, caps):
    bomb = bombs[kind]
    assert len(bomb) < 2 * MB
    tracemalloc.start()
    try:
        with pytest.raises(ContentDecodingError, match="exceeds"):
            decompress(bomb, kind, **caps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * MB


# -- base64 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8", b"hello"),
        ("aGVs\nbG8=\r\n", b"hello"),
        (" aG Vs bG 8= ", b"hello"),
        ("", b""),
        ("+/8=", b"\xfb\xff"),
    ],
)
def test_decode_base64(text, expected):
    assert decode_base64(text, max_output=MB) == expected


@pytest.mark.parametrize("text", ["aGVsbG8*", "é", "aGVsb", "a===", "aG=Vs", "-_8="])
def test_bad_base64(text):
    with pytest.raises(ContentDecodingError, match="base64"):
        decode_base64(text, max_output=MB)


def test_base64_size_cap_before_decoding():
    text = base64.b64encode(bytes(1000)).decode()
    assert len(decode_base64(text, max_output=1000)) == 1000
    with pytest.raises(ContentDecodingError, match="exceeds 999 bytes"):
        decode_base64(text, max_output=999)


# -- extract -----------------------------------------------------------------------------------


def test_plain_text():
    assert extract("héllo\nworld".encode(), None) == ExtractedContent(
        "héllo\nworld", None, "txt", ()
    )
    assert extract(b"\xef\xbb\xbfbom", ".TXT").text == "bom"
    assert extract("utf16".encode("utf-16"), ".txt").text == "utf16"


def test_latin1_fallback_warns():
    result = extract(b"caf\xe9", ".txt")
    assert result.text == "café"
    assert result.warnings and "Latin-1" in result.warnings[0]


@pytest.mark.parametrize("extension", [".html", ".htm", ".xhtml", "HTML"])
def test_html(extension):
    page = (
        b"<!DOCTYPE html><html><head><title> My  &amp; Page </title>"
        b"<style>p { color: red }</style><script>var x = '<p>no</p>';</script></head>"
        b"<body><h1>Head</h1><p>Hello&nbsp;<b>wor</b>ld &lt;3</p><div>Two\n\n  lines</div>"
        b"<noscript>hidden</noscript><!-- comment --></body></html>"
    )
    result = extract(page, extension)
    assert result.title == "My & Page"
    assert result.text == "Head Hello world <3 Two lines"
    assert result.filetype == extension.lower().lstrip(".")


def test_html_without_title():
    assert extract(b"<p>x</p>", ".html").title is None


def test_markdown():
    text = (
        b"# The _Title_ #\n\nSome **bold**, *it* and `code` with snake_case_name.\n\n"
        b"- [a link](http://x) and ![alt](img.png)\n> quoted\n\n---\n\n"
        b"```python\nprint(1)\n```\n\n## Second\n[ref]: http://y\n"
    )
    result = extract(text, ".md")
    assert result.title == "The Title"
    assert result.text == (
        "The Title Some bold, it and code with snake_case_name. "
        "a link and alt quoted print(1) Second"
    )
    assert extract(b"no heading", ".markdown") == ExtractedContent("no heading", None, "markdown")


def test_json_keeps_string_values_only():
    result = extract(
        b'{"key": "alpha", "n": 1, "list": ["beta", {"deep": "gamma"}], "t": true}', ".json"
    )
    assert result.text == "alpha beta gamma"


def test_invalid_json_is_plain_text_with_warning():
    result = extract(b"{not json", ".json")
    assert result.text == "{not json"
    assert result.warnings


def test_csv():
    result = extract(b'name,comment\n"Smith, J","said ""hi"""\n', ".csv")
    assert result.text == 'name comment Smith, J said "hi"'
    assert result.filetype == "csv"


def test_xml():
    result = extract(b'<?xml version="1.0"?><root><a>x</a><b attr="1">y &amp; z</b></root>', ".xml")
    assert result == ExtractedContent("x y & z", None, "xml")


@pytest.mark.parametrize("extension", [".pdf", ".docx", ".PNG"])
def test_unconverted_types(extension):
    result = extract(b"%PDF-1.4 binary", extension)
    assert result.text == ""
    assert result.filetype == extension.lower()[1:]
    assert result.warnings == (
        f"content of type {extension.lower()} is not converted; "
        "the item is indexed by its metadata only",
    )


def test_csv_over_the_field_limit_is_plain_text_with_warning():
    result = extract(b"a," + b"x" * 200_000, ".csv")
    assert result.text.startswith("a,xxx")
    assert result.warnings == ("content is not valid CSV; it was indexed as plain text",)


def test_broken_utf16_falls_back_to_latin1():
    result = extract(b"\xff\xfe\x00\xd8", ".txt")
    assert result.text == "ÿþ\x00Ø"
    assert "Latin-1" in result.warnings[0]
