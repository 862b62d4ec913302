"""Tests for openpush.pipeline.batchfile: the two-pass streaming reader of container files."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpush.errors import InvalidRequestError
from openpush.pipeline.batchfile import BatchScan, Entry, MalformedBatchFileError, entries, scan

ITEMS = ("addOrUpdate", "delete")
STREAM = ("addOrUpdate", "delete", "partialUpdate")
IDENTITIES = ("members", "mappings", "deleted")


def stream_of(body: object) -> io.BytesIO:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return io.BytesIO(raw)


def read(
    body: object, sections: tuple[str, ...] = ITEMS, **kwargs: Any
) -> tuple[BatchScan, list[Entry]]:
    stream = stream_of(body)
    result = scan(stream, sections, **kwargs)
    return result, list(entries(stream, result))


def values(body: object, sections: tuple[str, ...] = ITEMS, **kwargs: Any) -> list[tuple[str, Any]]:
    return [(entry.section, entry.value) for entry in read(body, sections, **kwargs)[1]]


def malformed(body: object, sections: tuple[str, ...] = ITEMS, **kwargs: Any) -> str:
    with pytest.raises(MalformedBatchFileError) as info:
        scan(stream_of(body), sections, **kwargs)
    return info.value.message


# -- keys and sections -------------------------------------------------------------------------


def test_canonical_keys() -> None:
    result, found = read(
        {"addOrUpdate": [{"documentId": "a://1"}], "delete": [{"documentId": "a://2"}]}
    )
    assert result == BatchScan(
        keys={"addOrUpdate": ["addOrUpdate"], "delete": ["delete"]},
        counts={"addOrUpdate": 1, "delete": 1},
        ignored_keys=[],
        bare=False,
    )
    assert result.total == 2
    assert found == [
        Entry(section="addOrUpdate", index=0, ordinal=0, value={"documentId": "a://1"}),
        Entry(section="delete", index=0, ordinal=1, value={"documentId": "a://2"}),
    ]


@pytest.mark.parametrize("key", ["AddOrUpdate", "ADDORUPDATE", "addorupdate", "aDdOrUpDaTe"])
def test_keys_match_sections_case_insensitively(key: str) -> None:
    result, found = read({key: [{"n": 1}, {"n": 2}], "Delete": [{"n": 3}]})
    assert result.keys == {"addOrUpdate": [key], "delete": ["Delete"]}
    assert result.counts == {"addOrUpdate": 2, "delete": 1}
    assert [(e.section, e.index, e.ordinal, e.value) for e in found] == [
        ("addOrUpdate", 0, 0, {"n": 1}),
        ("addOrUpdate", 1, 1, {"n": 2}),
        ("delete", 0, 2, {"n": 3}),
    ]


def test_identity_sections_with_old_spellings() -> None:
    body = {"Deleted": [{"name": "u"}], "Members": [{"identity": {}}], "Mappings": []}
    result, found = read(body, IDENTITIES)
    assert result.keys == {"members": ["Members"], "mappings": ["Mappings"], "deleted": ["Deleted"]}
    assert result.counts == {"members": 1, "mappings": 0, "deleted": 1}
    assert [e.section for e in found] == ["members", "deleted"]


def test_non_ascii_lookalike_is_not_a_section() -> None:
    # LATIN SMALL LETTER LONG S upper-cases to "S": Java's equalsIgnoreCase would match it.
    key = "MEMBER\u017f"
    result = scan(stream_of({key: [{}]}), IDENTITIES)
    assert result.ignored_keys == [key]
    assert result.total == 0


@pytest.mark.parametrize(
    ("body", "counts"),
    [
        ({}, {"addOrUpdate": 0, "delete": 0}),
        ({"addOrUpdate": [{}]}, {"addOrUpdate": 1, "delete": 0}),
        ({"delete": [{}, {}]}, {"addOrUpdate": 0, "delete": 2}),
        ({"addOrUpdate": [], "delete": []}, {"addOrUpdate": 0, "delete": 0}),
        ({"addOrUpdate": None, "delete": [{}]}, {"addOrUpdate": 0, "delete": 1}),
    ],
)
def test_missing_empty_and_null_sections(body: dict[str, Any], counts: dict[str, int]) -> None:
    result, found = read(body)
    assert result.counts == counts
    assert len(found) == result.total == sum(counts.values())


def test_null_section_keeps_its_spelling() -> None:
    result, found = read({"AddOrUpdate": None})
    assert result.keys["addOrUpdate"] == ["AddOrUpdate"]
    assert found == []


def test_ignored_keys_are_reported_in_file_order() -> None:
    body = {"zeta": [1, 2], "addOrUpdate": [{}], "meta": {"addOrUpdate": [{"no": 1}]}, "x": None}
    result, found = read(body)
    assert result.ignored_keys == ["zeta", "meta", "x"]
    assert [e.value for e in found] == [{}]


def test_sections_of_a_stream_update_file() -> None:
    body = {
        "partialUpdate": [{"documentId": "p://1", "operator": "arrayAppend"}],
        "delete": [{"documentId": "p://2"}],
        "addOrUpdate": [{"documentId": "p://3"}],
    }
    assert [s for s, _ in values(body, STREAM)] == ["addOrUpdate", "delete", "partialUpdate"]


# -- processing order and resume ---------------------------------------------------------------


def test_add_or_update_entries_come_before_delete_entries() -> None:
    body = {"delete": [{"d": 1}, {"d": 2}], "addOrUpdate": [{"a": 1}, {"a": 2}]}
    assert values(body) == [
        ("addOrUpdate", {"a": 1}),
        ("addOrUpdate", {"a": 2}),
        ("delete", {"d": 1}),
        ("delete", {"d": 2}),
    ]


def test_several_spellings_of_one_section_are_all_read() -> None:
    raw = b'{"addOrUpdate": [1, 2], "delete": [9], "AddOrUpdate": [3], "ADDORUPDATE": null}'
    result, found = read(raw)
    assert result.keys == {
        "addOrUpdate": ["addOrUpdate", "AddOrUpdate", "ADDORUPDATE"],
        "delete": ["delete"],
    }
    assert [(e.section, e.index, e.ordinal, e.value) for e in found] == [
        ("addOrUpdate", 0, 0, 1),
        ("addOrUpdate", 1, 1, 2),
        ("addOrUpdate", 2, 2, 3),
        ("delete", 0, 3, 9),
    ]


def test_a_repeated_key_contributes_every_array_in_file_order() -> None:
    raw = b'{"delete": [1], "addOrUpdate": [2], "delete": [3, 4], "delete": null}'
    result, found = read(raw)
    assert result.keys == {"addOrUpdate": ["addOrUpdate"], "delete": ["delete"]}
    assert result.counts == {"addOrUpdate": 1, "delete": 3}
    assert [e.value for e in found] == [2, 1, 3, 4]


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4, 5, 6, 99])
def test_start_skips_the_first_ordinals(start: int) -> None:
    body = {"delete": [{"d": 0}, {"d": 1}], "addOrUpdate": [{"a": 0}, {"a": 1}, {"a": 2}]}
    stream = stream_of(body)
    result = scan(stream, ITEMS)
    everything = list(entries(stream, result))
    resumed = list(entries(stream, result, start=start))
    assert resumed == everything[start:]
    assert [e.ordinal for e in resumed] == list(range(start, 5))


def test_entries_can_be_read_again() -> None:
    stream = stream_of({"addOrUpdate": [{"a": 1}], "delete": [{"d": 1}]})
    result = scan(stream, ITEMS)
    assert list(entries(stream, result)) == list(entries(stream, result))


# -- bare arrays -------------------------------------------------------------------------------


def test_bare_top_level_array() -> None:
    result, found = read(
        [{"documentId": "a://1"}, {"documentId": "a://2"}], bare_section="addOrUpdate"
    )
    assert result.bare is True
    assert result.counts == {"addOrUpdate": 2, "delete": 0}
    assert result.keys == {"addOrUpdate": [], "delete": []}
    assert [(e.section, e.index, e.ordinal) for e in found] == [
        ("addOrUpdate", 0, 0),
        ("addOrUpdate", 1, 1),
    ]


def test_bare_section_may_be_a_later_section() -> None:
    result, found = read([[1], {"x": [2]}, 3], bare_section="delete")
    assert result.counts == {"addOrUpdate": 0, "delete": 3}
    assert [(e.section, e.ordinal, e.value) for e in found] == [
        ("delete", 0, [1]),
        ("delete", 1, {"x": [2]}),
        ("delete", 2, 3),
    ]


def test_empty_bare_array() -> None:
    result, found = read([], bare_section="addOrUpdate")
    assert result.bare is True
    assert result.total == 0
    assert found == []


def test_object_is_still_accepted_when_bare_section_is_given() -> None:
    result, found = read({"delete": [{}]}, bare_section="addOrUpdate")
    assert result.bare is False
    assert [e.section for e in found] == ["delete"]


def test_bare_array_start_resume() -> None:
    stream = stream_of([1, 2, 3])
    result = scan(stream, ITEMS, bare_section="addOrUpdate")
    assert [e.value for e in entries(stream, result, start=2)] == [3]


# -- values ------------------------------------------------------------------------------------


def test_ints_stay_ints_and_other_numbers_are_floats() -> None:
    raw = (
        b'{"addOrUpdate": [{"i": 42, "n": -7, "big": 9223372036854775807,'
        b' "f": 1.5, "e": 1e3, "z": 2.0}]}'
    )
    (value,) = [v for _, v in values(raw)]
    assert value == {"i": 42, "n": -7, "big": 2**63 - 1, "f": 1.5, "e": 1000.0, "z": 2.0}
    assert [type(value[k]) for k in ("i", "n", "big", "f", "e", "z")] == [
        int, int, int, float, float, float,
    ]  # fmt: skip


def test_unicode_is_decoded() -> None:
    body = {"addOrUpdate": [{"title": "Größe 東京 🚀", "é": "\u0000nul", "escaped": "\\u00e9"}]}
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert values(raw) == [("addOrUpdate", body["addOrUpdate"][0])]
    assert values(json.dumps(body, ensure_ascii=True).encode()) == values(raw)


def test_nested_values_are_preserved() -> None:
    entry = {
        "documentId": "a://1",
        "permissions": [
            {
                "allowAnonymous": False,
                "allowedPermissions": [{"identity": "u", "identityType": "User"}],
            }
        ],
        "dict": {"a": {"b": [1, [2, {"c": None}]]}},
        "flags": [True, False, None],
        "addOrUpdate": [{"not": "a section"}],
    }
    assert values({"addOrUpdate": [entry]}) == [("addOrUpdate", entry)]


def test_non_object_entries_are_yielded_as_is() -> None:
    assert values({"addOrUpdate": [1, "two", None, [3], True]}) == [
        ("addOrUpdate", 1),
        ("addOrUpdate", "two"),
        ("addOrUpdate", None),
        ("addOrUpdate", [3]),
        ("addOrUpdate", True),
    ]


def test_utf8_byte_order_mark_is_skipped() -> None:
    raw = b"\xef\xbb\xbf" + json.dumps({"delete": [{"documentId": "a://1"}]}).encode()
    assert values(raw) == [("delete", {"documentId": "a://1"})]


def test_reads_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"Delete": [{"d": 1}], "AddOrUpdate": [{"a": 1}]}), encoding="utf-8")
    with path.open("rb") as stream:
        result = scan(stream, ITEMS)
        assert [e.value for e in entries(stream, result)] == [{"a": 1}, {"d": 1}]


# -- malformed files ---------------------------------------------------------------------------


def test_malformed_is_an_invalid_request() -> None:
    assert issubclass(MalformedBatchFileError, InvalidRequestError)


@pytest.mark.parametrize("raw", [b"", b"   \n\t "])
def test_empty_file(raw: bytes) -> None:
    assert malformed(raw) == "the file is empty"


def test_empty_file_after_a_byte_order_mark() -> None:
    assert malformed(b"\xef\xbb\xbf") == "the file is empty"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"addOrUpdate": [{"a": 1}, {"a": 2', "in the 'addOrUpdate' array at or after entry 2"),
        (b'{"addOrUpdate": [', "at the start of the 'addOrUpdate' array"),
        (b"{", "at the top level"),
        (b'{"delete": [], "other": {"x": [1, 2', "after the top-level key 'other'"),
        (b'[{"a": 1}, {"a":', "in the top-level array at or after entry 2"),
    ],
)
def test_truncated_file(raw: bytes, expected: str) -> None:
    message = malformed(raw, bare_section="addOrUpdate")
    assert expected in message
    assert "premature EOF" in message
    assert f"the parser had read {len(raw)} bytes" in message


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b'{"addOrUpdate": [{"a": 1},]}',
        b'{"addOrUpdate": [{"a": NaN}]}',
        b"{'addOrUpdate': []}",
        b'{"addOrUpdate": [{"a": "\xff"}]}',
        b'{"addOrUpdate": [{"a": 1 "b": 2}]}',
    ],
)
def test_garbage(raw: bytes) -> None:
    assert malformed(raw).startswith("malformed batch file ")


@pytest.mark.parametrize("tail", [b" x", b" {}", b"]", b' {"delete": []}'])
def test_trailing_garbage(tail: bytes) -> None:
    message = malformed(b'{"addOrUpdate": [{"a": 1}]}' + tail)
    assert "after the end of the top-level value" in message
    assert "trailing garbage" in message


def test_integers_beyond_64_bits_are_read_whole_and_fractions_stay_floats() -> None:
    raw = b'{"addOrUpdate": [{"big": 123456789012345678901234567890, "f": 1.5, "n": [2, 0.25]}]}'
    scanned = scan(io.BytesIO(raw), STREAM)
    assert scanned.big_numbers
    (entry,) = entries(io.BytesIO(raw), scanned)
    assert entry.value == {"big": 123456789012345678901234567890, "f": 1.5, "n": [2, 0.25]}
    assert [type(v) for v in (entry.value["f"], entry.value["n"][1])] == [float, float]
    largest_64 = b'{"addOrUpdate": [{"i": 9223372036854775807}]}'
    assert not scan(io.BytesIO(largest_64), STREAM).big_numbers  # the fast path


def test_trailing_whitespace_is_fine() -> None:
    assert values(b'{"delete": [1]}  \n\r\n\t') == [("delete", 1)]


def test_garbage_deep_inside_a_huge_section_names_the_entry() -> None:
    good = ",".join(json.dumps({"documentId": f"a://{i}", "data": "x" * 100}) for i in range(2000))
    message = malformed(f'{{"addOrUpdate": [{good}, {{"documentId": tru}}]}}'.encode())
    assert "in the 'addOrUpdate' array at or after entry 2001" in message


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ([{}], "an array"),
        ("text", "a string"),
        (3, "a number"),
        (None, "null"),
        (True, "a boolean"),
    ],
)
def test_top_level_must_be_an_object(body: object, kind: str) -> None:
    assert malformed(body) == f"the top level of a batch file must be an object, not {kind}"


def test_top_level_may_be_an_array_only_with_a_bare_section() -> None:
    message = malformed("text", bare_section="addOrUpdate")
    assert message == "the top level of a batch file must be an object or an array, not a string"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({}, "an object"),
        ({"item": {}}, "an object"),
        ("x", "a string"),
        (0, "a number"),
        (False, "a boolean"),
    ],
)
def test_section_must_be_an_array(value: object, kind: str) -> None:
    message = malformed({"addOrUpdate": [], "DELETE": value})
    assert message == f"the section 'DELETE' must be an array, not {kind}"


def test_repeated_section_must_also_be_an_array() -> None:
    assert "must be an array" in malformed(b'{"delete": [], "delete": {"item": 1}}')


def test_key_that_collides_with_an_ijson_prefix_is_refused() -> None:
    message = malformed({"addOrUpdate": [{}], "addOrUpdate.item": {"documentId": "evil://1"}})
    assert "'addOrUpdate.item'" in message


def test_dotted_key_without_a_matching_section_is_only_ignored() -> None:
    result, found = read({"AddOrUpdate": [{}], "addOrUpdate.item": 1, "delete.x": [2]})
    assert result.ignored_keys == ["addOrUpdate.item", "delete.x"]
    assert [e.value for e in found] == [{}]


def test_file_changed_between_the_passes() -> None:
    result = scan(stream_of({"addOrUpdate": [1, 2, 3]}), ITEMS)
    with pytest.raises(MalformedBatchFileError, match="changed"):
        list(entries(stream_of({"addOrUpdate": [1, 2]}), result))
    with pytest.raises(MalformedBatchFileError, match="premature EOF"):
        list(entries(io.BytesIO(b'{"addOrUpdate": [1, 2'), result))


@pytest.mark.parametrize(
    ("sections", "bare"),
    [(("addOrUpdate", "AddOrUpdate"), None), (("a.b",), None), (("",), None), (ITEMS, "merge")],
)
def test_invalid_section_lists_are_programming_errors(
    sections: tuple[str, ...], bare: str | None
) -> None:
    with pytest.raises(ValueError, match="section"):
        scan(stream_of({}), sections, bare_section=bare)


# -- memory ------------------------------------------------------------------------------------


def _write_big_file(path: Path, entries_count: int, data_size: int) -> None:
    filler = "x" * data_size
    with path.open("w", encoding="utf-8") as out:
        out.write('{"delete": [')
        out.write(",".join(json.dumps({"documentId": f"a://{i}"}) for i in range(500)))
        out.write('], "addOrUpdate": [')
        for i in range(entries_count):
            item = {
                "documentId": f"https://example.com/{i}",
                "title": f"Item {i}",
                "size": i,
                "score": i / 7,
                "tags": ["a", "b", "c"],
                "data": filler,
            }
            out.write(("," if i else "") + json.dumps(item))
        out.write("]}")


def test_memory_is_bounded_by_one_entry(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    _write_big_file(path, entries_count=60_000, data_size=900)
    assert path.stat().st_size > 55_000_000
    seen = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            result = scan(stream, ITEMS)
            for entry in entries(stream, result):
                seen += 1
                last = entry
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.counts == {"addOrUpdate": 60_000, "delete": 500}
    assert seen == 60_500
    assert last.section == "delete" and last.ordinal == 60_499
    assert peak < 10 * 1024 * 1024, f"peak traced memory {peak} bytes"


# -- property ----------------------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.integers(min_value=10**18, max_value=10**40)  # beyond 64 bits: the slower decoding
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
_ENTRY = st.dictionaries(st.text(), _JSON, max_size=5)


@st.composite
def _spelling(draw: st.DrawFn, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))


@st.composite
def _batch(draw: st.DrawFn) -> tuple[list[tuple[str, Any]], dict[str, list[Any]]]:
    """Top-level (key, value) pairs in file order, and the expected entries per section."""
    pairs: list[tuple[str, Any]] = []
    expected: dict[str, list[Any]] = {}
    for name in STREAM:
        if draw(st.booleans()):
            expected[name] = draw(st.lists(_ENTRY, max_size=5))
            pairs.append((draw(_spelling(name)), expected[name]))
        else:
            expected[name] = []
    ignored = draw(st.lists(st.tuples(st.text().filter(_not_a_section), _JSON), max_size=2))
    order = draw(st.permutations(pairs + ignored))
    return order, expected


def _not_a_section(key: str) -> bool:
    return key.lower() not in {name.lower() for name in STREAM} and not key.endswith(".item")


def _typed(value: Any) -> Any:
    """A structure that compares types too, so 1 != 1.0 != True."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


@settings(max_examples=150, deadline=None)
@given(_batch())
def test_property_entries_match_what_was_written(
    batch: tuple[list[tuple[str, Any]], dict[str, list[Any]]],
) -> None:
    pairs, expected = batch
    raw = ("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}").encode()
    stream = io.BytesIO(raw)
    result = scan(stream, STREAM)
    assert result.counts == {name: len(items) for name, items in expected.items()}
    found = list(entries(stream, result))
    wanted = [(name, item) for name in STREAM for item in expected[name]]
    assert [(e.section, _typed(e.value)) for e in found] == [(s, _typed(v)) for s, v in wanted]
    assert [e.ordinal for e in found] == list(range(len(wanted)))
    for name in STREAM:
        assert [e.index for e in found if e.section == name] == list(range(len(expected[name])))
