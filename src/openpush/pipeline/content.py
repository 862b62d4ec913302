"""Item content: base64, bounded decompression and text extraction.

Text extraction (:func:`extract`) converts ``.txt`` (and no extension), ``.html`` / ``.htm`` /
``.xhtml`` (tags, scripts and styles dropped, entities unescaped, ``<title>`` kept apart),
``.md`` / ``.markdown`` (markup stripped, first ``# heading`` as title), ``.json`` (string
values only), ``.csv`` and ``.xml`` (tags dropped). Text that is not UTF-8 is read as Latin-1
with a warning. Other types are not converted: the item is indexed by its metadata, with a
warning. Whitespace is collapsed except for ``.txt``.

Decompression never decodes more than ``max_output`` bytes plus one chunk (stack-notes.md §7): the
decoders run with ``max_length`` and follow ``unconsumed_tail``, so a zip bomb is refused after
producing ``max_output`` bytes instead of exhausting memory. Codecs (push-api.md §2.2.2):

* ``None`` means ZLIB, Coveo's documented default.
* ``ZLIB`` / ``DEFLATE``: the declared wrapper is tried first and the other one on failure (the
  docs label a zlib sample "Deflate").
* ``GZIP``: several members are decoded one after another; zero padding after the last is ignored.
* ``LZMA``: ``.lzma`` (alone) and ``.xz`` containers, concatenated streams included.
* Data after the end of a zlib / deflate stream is ignored, as :func:`zlib.decompress` does.
"""

from __future__ import annotations

import binascii
import csv
import io
import json
import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from typing import Protocol

from openpush.domain.items import CompressionType
from openpush.errors import ContentDecodingError

__all__ = ["ExtractedContent", "decode_base64", "decompress", "extract"]

CHUNK_SIZE = 256 * 1024
_WBITS = {CompressionType.ZLIB: 15, CompressionType.DEFLATE: -15, CompressionType.GZIP: 31}
_FALLBACK = {
    CompressionType.ZLIB: CompressionType.DEFLATE,
    CompressionType.DEFLATE: CompressionType.ZLIB,
}
_WHITESPACE = re.compile(rb"\s+")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


def decompress(
    raw: bytes, compression: CompressionType | None, *, max_output: int, max_ratio: float = 0
) -> bytes:
    """Decompress ``raw`` without ever producing more than ``max_output`` bytes.

    ``max_ratio`` > 0 also refuses output larger than ``max_ratio`` times the input.
    """
    kind = compression or CompressionType.ZLIB
    limit = max_output
    if max_ratio > 0:
        limit = min(limit, int(max_ratio * max(len(raw), 1)))
    if kind is CompressionType.UNCOMPRESSED:
        _check_size(len(raw), max_output, limit)
        return raw
    if kind is CompressionType.LZMA:
        return _run(raw, kind, max_output, limit, _lzma_decoder, multi=True)
    factory = _zlib_factory(_WBITS[kind])
    fallback = _FALLBACK.get(kind)
    if fallback is None:
        return _run(raw, kind, max_output, limit, factory, multi=True)
    try:
        return _run(raw, kind, max_output, limit, factory, multi=False)
    except _CorruptError as exc:
        error = exc  # the declared wrapper failed: try the other one before reporting
    try:
        return _run(raw, kind, max_output, limit, _zlib_factory(_WBITS[fallback]), multi=False)
    except _CorruptError:
        raise ContentDecodingError(f"{kind} content cannot be decompressed: {error}") from None


def decode_base64(text: str, *, max_output: int) -> bytes:
    """Decode base64 (whitespace, missing padding tolerated) into at most ``max_output`` bytes."""
    try:
        compact = _WHITESPACE.sub(b"", text.encode("ascii"))
    except UnicodeEncodeError:
        raise ContentDecodingError("base64 content has non-ASCII characters") from None
    if not _BASE64.fullmatch(compact):
        raise ContentDecodingError("base64 content has characters outside the base64 alphabet")
    stripped = compact.rstrip(b"=")
    if len(stripped) % 4 == 1:
        raise ContentDecodingError("base64 content has an impossible length")
    decoded_size = len(stripped) * 3 // 4
    if decoded_size > max_output:
        raise ContentDecodingError(f"decoded content exceeds {max_output} bytes")
    padded = stripped + b"=" * (-len(stripped) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise ContentDecodingError(f"invalid base64 content: {exc}") from None


class _CorruptError(Exception):
    """The stream is not valid for the codec tried (internal; becomes ContentDecodingError)."""


def _zlib_factory(wbits: int) -> Callable[[], _Decoder]:
    return lambda: zlib.decompressobj(wbits)


def _lzma_decoder() -> _Decoder:
    return lzma.LZMADecompressor(lzma.FORMAT_AUTO)


def _run(
    raw: bytes,
    kind: CompressionType,
    max_output: int,
    limit: int,
    factory: Callable[[], _Decoder],
    *,
    multi: bool,
) -> bytes:
    out = bytearray()
    data = raw
    try:
        while True:
            decoder = factory()
            _drain(decoder, data, out, max_output, limit)
            data = decoder.unused_data
            if not multi or not data.strip(b"\0"):
                return bytes(out)
    except (zlib.error, lzma.LZMAError, EOFError) as exc:
        if multi:
            raise ContentDecodingError(f"{kind} content cannot be decompressed: {exc}") from None
        raise _CorruptError(str(exc)) from None


def _drain(decoder: _Decoder, data: bytes, out: bytearray, max_output: int, limit: int) -> None:
    """Feed ``data`` to ``decoder`` until its stream ends, appending bounded chunks to ``out``."""
    pending = data
    while not decoder.eof:
        chunk = decoder.decompress(pending, min(CHUNK_SIZE, limit - len(out) + 1))
        out += chunk
        _check_size(len(out), max_output, limit)
        pending = getattr(decoder, "unconsumed_tail", b"")
        if not chunk and not pending and not decoder.eof:
            raise EOFError("compressed data is truncated")


def _check_size(size: int, max_output: int, limit: int) -> None:
    if size > max_output:
        raise ContentDecodingError(f"decompressed content exceeds {max_output} bytes")
    if size > limit:
        raise ContentDecodingError(f"decompressed content exceeds the ratio cap ({limit} bytes)")


@dataclass(frozen=True, slots=True)
class ExtractedContent:
    """Indexable text of an item's content, its title when the content has one, and warnings."""

    text: str
    title: str | None
    filetype: str
    warnings: tuple[str, ...] = ()


def extract(content: bytes, file_extension: str | None) -> ExtractedContent:
    """Convert ``content`` to text according to ``file_extension`` (``None`` means ``.txt``)."""
    extension = (file_extension or ".txt").lower()
    if not extension.startswith("."):
        extension = f".{extension}"
    filetype = extension[1:]
    converter = _CONVERTERS.get(extension)
    if converter is None:
        warning = f"content of type {extension} is not converted; the item is indexed by its "
        return ExtractedContent("", None, filetype, (warning + "metadata only",))
    text, warnings = _decode_text(content)
    body, title, more = converter(text)
    return ExtractedContent(body, title, filetype, warnings + more)


_Converted = tuple[str, str | None, tuple[str, ...]]
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul",
})  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_MD_RULES = tuple(
    (re.compile(pattern, re.MULTILINE), replacement)
    for pattern, replacement in (
        (r"^\s{0,3}(```|~~~).*$", ""),  # code fence markers (the code itself is kept)
        (r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$", ""),  # link reference definitions
        (r"!\[([^\]]*)\]\([^)]*\)", r"\1"),  # images -> alt text
        (r"\[([^\]]*)\]\([^)]*\)", r"\1"),  # inline links -> text
        (r"\[([^\]]*)\]\[[^\]]*\]", r"\1"),  # reference links -> text
        (r"<(https?://[^>]+)>", r"\1"),  # autolinks
        (r"</?[A-Za-z][^>]*>", " "),  # inline HTML
        (r"^\s{0,3}#{1,6}\s*|\s+#+\s*$", ""),  # ATX heading markers
        (r"^\s{0,3}(>\s?)+", ""),  # block quotes
        (r"^\s*([-*+]|\d+[.)])\s+", ""),  # list markers
        (r"^\s{0,3}([-*_=]\s*){3,}$", ""),  # rules and setext underlines
        (r"(\*\*|~~|\*|`+)(?=\S)(.+?)(?<=\S)\1", r"\2"),  # emphasis, inline code
        (r"(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2"),  # emphasis, not in_snake_case
    )
)
_MD_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)(\s+#+)?\s*$", re.MULTILINE)


def _decode_text(content: bytes) -> tuple[str, tuple[str, ...]]:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16"), ()
        except UnicodeDecodeError:
            pass
    try:
        return content.decode("utf-8-sig"), ()
    except UnicodeDecodeError:
        return content.decode("latin-1"), ("content is not valid UTF-8; it was read as Latin-1",)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _plain(text: str) -> _Converted:
    return text, None, ()


class _TagStripper(HTMLParser):
    """Collects the text of an HTML or XML document, and its ``<title>`` when asked to."""

    def __init__(self, *, html: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.parts: list[str] = []
        self.title: list[str] | None = None
        self.skip_depth = 0
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS and self.html:
            self.skip_depth += 1
        elif tag == "title" and self.html and self.title is None:
            self.in_title, self.title = True, []
        if tag in _BLOCK_TAGS or not self.html:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self.html:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "title":
            self.in_title = False
        if tag in _BLOCK_TAGS or not self.html:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_title and self.title is not None:
            self.title.append(data)
        else:
            self.parts.append(data)


def _markup(text: str, *, html: bool) -> _Converted:
    parser = _TagStripper(html=html)
    parser.feed(text)
    parser.close()
    title = _collapse("".join(parser.title)) if parser.title is not None else ""
    return _collapse("".join(parser.parts)), title or None, ()


def _markdown(text: str) -> _Converted:
    match = _MD_TITLE.search(text)
    title = _collapse(_strip_markdown(match.group(1))) if match else None
    return _collapse(_strip_markdown(text)), title or None, ()


def _strip_markdown(text: str) -> str:
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return text


def _json(text: str) -> _Converted:
    try:
        stack: list[object] = [json.loads(text)]
    except (ValueError, RecursionError):
        return _collapse(text), None, ("content is not valid JSON; it was indexed as plain text",)
    strings: list[str] = []
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return _collapse(" ".join(strings)), None, ()


def _csv(text: str) -> _Converted:
    try:
        rows = [" ".join(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error:
        return _collapse(text), None, ("content is not valid CSV; it was indexed as plain text",)
    return _collapse(" ".join(rows)), None, ()


_CONVERTERS: dict[str, Callable[[str], _Converted]] = {
    ".txt": _plain,
    ".html": partial(_markup, html=True),
    ".htm": partial(_markup, html=True),
    ".xhtml": partial(_markup, html=True),
    ".xml": partial(_markup, html=False),
    ".md": _markdown,
    ".markdown": _markdown,
    ".json": _json,
    ".csv": _csv,
}
