"""Streaming reader of container files (push-api.md §2.5, §4.2-4.4, §7.6).

A container file may be 256 MB, so it is never loaded whole. It is read twice with ijson's
yajl2_c backend:

1. :func:`scan` walks every parse event once. It proves the file is well-formed JSON from the
   first byte to the last (so a truncated upload is refused before any item is applied), finds
   which top-level keys are sections and counts their entries. Memory is O(1) in the file size:
   only the current event (at most one decoded string) is alive.
2. :func:`entries` seeks back to the start and decodes the entries one at a time, in processing
   order (every entry of the first section, then the next section...), with
   ``ijson.items(stream, "<key>.item", use_float=True)``: numbers come back as ``int`` or
   ``float``, never ``Decimal`` (stack-notes.md §3).

File-level choices:

* Top-level keys match a section name case-insensitively (``AddOrUpdate``, ``ADDORUPDATE``);
  only ASCII keys can match, so no exotic Unicode case folding can turn a key into a section.
* A section whose value is ``null`` is empty; any other non-array value is malformed. Other
  top-level keys are ignored and listed in :attr:`BatchScan.ignored_keys` for a warning.
* A key that repeats (same spelling or another spelling of the same section) contributes all of
  its arrays. ijson selects values by prefix, so one ``items`` pass over a spelling reads every
  array of that spelling in file order; spellings are read in order of first appearance. Only a
  file that interleaves two spellings *and* repeats one of them is read out of file order.
* ijson prefixes join keys with dots and do not escape them, so a top-level key spelled exactly
  ``"<section key>.item"`` would be read as if it were an entry of that section. Such a file is
  refused rather than silently misread.
* ``max_depth`` caps how deeply objects and arrays nest in the file (the top-level value is at
  depth 1, an entry of a section at 3): a deeper file is malformed, so that decoding an entry
  never builds an arbitrarily deep structure.
* A leading UTF-8 byte order mark is skipped (some Windows tools write one; yajl refuses it).
* With ``use_float=True`` yajl refuses integers beyond +/-(2**63 - 1) ("integer overflow"),
  which an orderingId may be (up to 40 digits, as in single pushes). Such a file is scanned
  again with ``use_float=False`` (integers of any size, fractions as ``Decimal``) and its
  entries are decoded the same way, their ``Decimal`` values turned into ``float``: slower,
  for the rare file that needs it (:attr:`BatchScan.big_numbers`).
* ijson reports no byte offset for a syntax error, so errors name the section and entry being
  read and how many bytes the parser had consumed when it failed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, BinaryIO, NamedTuple

import ijson

from openpush.errors import InvalidRequestError

__all__ = ["BatchScan", "Entry", "MalformedBatchFileError", "entries", "scan"]

_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {
    "start_map": "an object",
    "start_array": "an array",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


class MalformedBatchFileError(InvalidRequestError):
    """A container file that is not a usable batch: bad JSON, wrong shape or empty."""


@dataclass(frozen=True, slots=True)
class BatchScan:
    """What :func:`scan` learnt about a file; :func:`entries` needs it to read the file back.

    ``keys`` and ``counts`` hold every requested section (an absent one has no spellings and a
    count of 0), in processing order. A spelling that repeats is listed once.
    """

    keys: dict[str, list[str]]
    counts: dict[str, int]
    ignored_keys: list[str]
    bare: bool
    big_numbers: bool = False  # an integer beyond 64 bits: decode without use_float

    @property
    def total(self) -> int:
        """The number of entries over all sections."""
        return sum(self.counts.values())


class Entry(NamedTuple):
    """One decoded entry of a section; ``ordinal`` is what a resume passes as ``start``.

    A named tuple: one is built per entry of files with hundreds of thousands of them.
    """

    section: str
    index: int
    ordinal: int
    value: Any


def scan(
    stream: BinaryIO,
    sections: Sequence[str],
    *,
    bare_section: str | None = None,
    max_depth: int | None = None,
) -> BatchScan:
    """Validate the whole file and find its sections, in one pass and constant memory.

    ``sections`` are the canonical names in processing order. When ``bare_section`` is given a
    top-level array is accepted as that section's entries (``bare=True``). ``max_depth``
    refuses a file nesting objects and arrays deeper than that (the top-level value is 1).
    """
    by_folded = _section_index(sections, bare_section)
    try:
        return _scan(stream, by_folded, sections, bare_section, max_depth, big_numbers=False)
    except _IntegerOverflow:
        return _scan(stream, by_folded, sections, bare_section, max_depth, big_numbers=True)


class _IntegerOverflow(Exception):
    """The file holds an integer beyond 64 bits: scan it again without ``use_float``."""


def _scan(
    stream: BinaryIO,
    by_folded: dict[str, str],
    sections: Sequence[str],
    bare_section: str | None,
    max_depth: int | None,
    *,
    big_numbers: bool,
) -> BatchScan:
    _seek_start(stream)
    state = _ScanState(by_folded, sections, max_depth)
    first: tuple[str, Any] | None = None
    try:
        events = ijson.basic_parse(stream, use_float=not big_numbers)
        first = next(events)
        if first[0] == "start_array" and bare_section is not None:
            state.count_bare(events, bare_section)
        elif first[0] == "start_map":
            state.walk_object(events)
        else:
            expected = "an object or an array" if bare_section is not None else "an object"
            raise MalformedBatchFileError(
                f"the top level of a batch file must be {expected}, not {_JSON_TYPES[first[0]]}"
            )
        for _ in events:  # pragma: no cover - yajl raises on trailing content itself
            raise MalformedBatchFileError("trailing content after the top-level JSON value")
    except ijson.JSONError as exc:
        if first is None and "premature EOF" in _reason(exc):
            raise MalformedBatchFileError("the file is empty") from None
        if not big_numbers and "integer overflow" in _reason(exc):
            raise _IntegerOverflow from None
        raise MalformedBatchFileError(_syntax_message(exc, state.where(), stream)) from None
    state.check_prefix_collisions()
    return replace(state.result(), big_numbers=big_numbers)


def entries(stream: BinaryIO, scan: BatchScan, *, start: int = 0) -> Iterator[Entry]:
    """Decode the entries of a scanned file one at a time, in processing order.

    The first ``start`` ordinals are skipped without being yielded (a resume after a crash);
    whole sections before ``start`` are not even decoded. Raises
    :class:`MalformedBatchFileError` if the file no longer matches ``scan``.
    """
    ordinal = 0
    for section, count in scan.counts.items():
        if count == 0 or ordinal + count <= start:
            ordinal += count
            continue
        # In a bare file only the bare section has entries, so "item" is never read twice.
        prefixes = ["item"] if scan.bare else [f"{key}.item" for key in scan.keys[section]]
        index = 0
        for prefix in prefixes:
            for value in _items(stream, prefix, big_numbers=scan.big_numbers):
                if ordinal >= start:
                    yield Entry(section=section, index=index, ordinal=ordinal, value=value)
                index += 1
                ordinal += 1
        if index != count:
            raise MalformedBatchFileError(
                f"section {section!r} holds {index} entries but the scan counted {count}; "
                "the file changed while it was being read"
            )


def _items(stream: BinaryIO, prefix: str, *, big_numbers: bool = False) -> Iterator[Any]:
    """``ijson.items`` from the start of the JSON text, with errors made domain errors."""
    _seek_start(stream)
    try:
        if big_numbers:
            for value in ijson.items(stream, prefix, use_float=False):
                yield _floats(value)
        else:
            yield from ijson.items(stream, prefix, use_float=True)
    except ijson.JSONError as exc:
        where = f"while reading the entries at {prefix!r}"
        raise MalformedBatchFileError(_syntax_message(exc, where, stream)) from None


def _floats(value: Any) -> Any:
    """``value`` with every ``Decimal`` (a JSON fraction) made a ``float``, as use_float does."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    return value


def _section_index(sections: Sequence[str], bare_section: str | None) -> dict[str, str]:
    """Lower-cased name -> canonical name; refuses section lists that cannot work."""
    by_folded: dict[str, str] = {}
    for name in sections:
        if not name or "." in name or not name.isascii() or name.lower() in by_folded:
            raise ValueError(f"invalid or repeated section name {name!r}")
        by_folded[name.lower()] = name
    if bare_section is not None and bare_section not in sections:
        raise ValueError(f"bare_section {bare_section!r} is not one of {list(sections)}")
    return by_folded


def _seek_start(stream: BinaryIO) -> None:
    """Position the stream on the first JSON byte, past a UTF-8 byte order mark if any."""
    stream.seek(0)
    if stream.read(len(_BOM)) != _BOM:
        stream.seek(0)


def _reason(exc: ijson.JSONError) -> str:
    """yajl's first message line; the context lines after it echo raw bytes of the file."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip().splitlines()[0] if text.strip() else "invalid JSON"


def _syntax_message(exc: ijson.JSONError, where: str, stream: BinaryIO) -> str:
    """The parser's reason plus where it happened (ijson gives no exact byte offset)."""
    reason = _reason(exc)
    consumed = _tell(stream)
    read = f"; the parser had read {consumed} bytes" if consumed is not None else ""
    return f"malformed batch file {where}: {reason}{read}"


def _tell(stream: BinaryIO) -> int | None:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return None


class _ScanState:
    """The counters of one :func:`scan` pass (a class only to keep each step small)."""

    __slots__ = (
        "_by_folded", "_done", "_entry", "_key", "_max_depth", "bare", "counts", "ignored", "keys",
    )  # fmt: skip

    def __init__(
        self, by_folded: dict[str, str], sections: Sequence[str], max_depth: int | None = None
    ) -> None:
        self._by_folded = by_folded
        self._max_depth = max_depth if max_depth is not None else 1 << 62
        self.keys: dict[str, list[str]] = {name: [] for name in sections}
        self.counts: dict[str, int] = dict.fromkeys(sections, 0)
        self.ignored: list[str] = []
        self.bare = False
        self._key: str | None = None  # the top-level key whose value is being read
        self._entry: str | None = None  # the section of the array being read, if any
        self._done = False  # the top-level value is complete; only trailing content is left

    def where(self) -> str:
        """A human description of the parse position, for error messages."""
        if self._done:
            return "after the end of the top-level value"
        if self._entry is not None:
            array = "the top-level array" if self._key is None else f"the {self._key!r} array"
            started = self.counts[self._entry]
            if started == 0:
                return f"at the start of {array}"
            return f"in {array} at or after entry {started} (counting from 1)"
        if self._key is not None:
            return f"after the top-level key {self._key!r}"
        return "at the top level"

    def count_bare(self, events: Iterator[tuple[str, Any]], section: str) -> None:
        """Count the values of a top-level array."""
        self.bare = True
        self._entry = section
        depth = 1
        for event, _ in events:
            if depth == 1 and event != "end_array":
                self.counts[section] += 1
            if event in ("start_map", "start_array"):
                depth += 1
                self._check_depth(depth)
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    break
        self._entry = None
        self._done = True

    def walk_object(self, events: Iterator[tuple[str, Any]]) -> None:
        """Walk a top-level object: classify its keys, count the entries of its sections."""
        depth = 1  # inside the top-level object
        counts = self.counts
        for event, value in events:
            if depth == 1:
                if event == "map_key":
                    self._top_level_key(value)
                    continue
                if event == "end_map":
                    self._done = True
                    break
                self._section_value(event)
            elif depth == 2 and self._entry is not None and event not in ("end_array", "end_map"):
                counts[self._entry] += 1
            if event in ("start_map", "start_array"):
                depth += 1
                self._check_depth(depth)
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 1:
                    self._entry = None

    def _check_depth(self, depth: int) -> None:
        if depth > self._max_depth:
            raise MalformedBatchFileError(
                f"objects and arrays nest deeper than {self._max_depth} levels {self.where()}"
            )

    def _top_level_key(self, key: str) -> None:
        self._key = key
        section = self._by_folded.get(key.lower()) if key.isascii() else None
        if section is None:
            self.ignored.append(key)
        elif key not in self.keys[section]:
            self.keys[section].append(key)

    def _section_value(self, event: str) -> None:
        """The start of a top-level value: a section must be an array or null."""
        assert self._key is not None
        section = self._by_folded.get(self._key.lower()) if self._key.isascii() else None
        if section is None or event == "null":
            return
        if event != "start_array":
            raise MalformedBatchFileError(
                f"the section {self._key!r} must be an array, not {_JSON_TYPES[event]}"
            )
        self._entry = section

    def check_prefix_collisions(self) -> None:
        """Refuse an ignored key that ijson's dotted prefixes would confuse with a section."""
        prefixes = {f"{key}.item" for spellings in self.keys.values() for key in spellings}
        for key in self.ignored:
            if key in prefixes:
                raise MalformedBatchFileError(
                    f"the top-level key {key!r} cannot be told apart from the entries of the "
                    f"section {key.removesuffix('.item')!r}; rename or remove it"
                )

    def result(self) -> BatchScan:
        return BatchScan(
            keys=self.keys, counts=self.counts, ignored_keys=self.ignored, bare=self.bare
        )
