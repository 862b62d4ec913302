"""Tests for openpush.domain.fields: definitions, system fields and value conversion."""

from __future__ import annotations

import pytest

from openpush.domain.fields import (
    DEFAULT_FIELDS,
    FieldDefinition,
    FieldType,
    coerce_value,
    validate_field_name,
)
from openpush.errors import InvalidParameterError


def field(kind: FieldType = FieldType.STRING, **options: object) -> FieldDefinition:
    return FieldDefinition("f", kind, **options)  # type: ignore[arg-type]


# -- definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "title", "my_field_2", "a" * 255])
def test_valid_field_names(name):
    assert validate_field_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "1a", "_a", "a-b", "a b", "é", "a" * 256, None])
def test_invalid_field_names(name):
    with pytest.raises(InvalidParameterError, match="field name"):
        validate_field_name(name)


def test_defaults_for_string():
    definition = FieldDefinition("f")
    assert definition.type is FieldType.STRING
    assert (definition.facet, definition.sort, definition.multi_value_facet) == (
        False,
        False,
        False,
    )
    assert definition.multi_value_facet_tokenizers == ";"
    assert (definition.include_in_query, definition.include_in_results) == (True, True)
    assert (definition.merge_with_lexicon, definition.key_value, definition.system) == (
        False,
        False,
        False,
    )
    assert definition.description == ""


@pytest.mark.parametrize(
    "kind", [FieldType.LONG, FieldType.LONG_64, FieldType.DOUBLE, FieldType.DATE]
)
def test_defaults_for_other_types(kind):
    definition = field(kind)
    assert (definition.facet, definition.sort) == (True, True)


def test_type_given_as_a_string():
    assert FieldDefinition("f", "LONG_64").type is FieldType.LONG_64  # type: ignore[arg-type]


def test_explicit_options_win():
    definition = field(facet=True, sort=True)
    assert (definition.facet, definition.sort) == (True, True)
    assert field(FieldType.LONG, sort=False).sort is False


@pytest.mark.parametrize(
    "options",
    [
        {"kind": FieldType.LONG, "facet": False},
        {"kind": FieldType.DOUBLE, "multi_value_facet": True},
        {"kind": FieldType.DATE, "merge_with_lexicon": True},
        {"kind": "VECTOR"},
    ],
)
def test_invalid_definitions(options):
    with pytest.raises(InvalidParameterError):
        field(**options)


def test_invalid_name_in_definition():
    with pytest.raises(InvalidParameterError):
        FieldDefinition("Title")


def test_default_fields():
    expected = {
        "title",
        "author",
        "date",
        "filetype",
        "size",
        "source",
        "sourcetype",
        "permanentid",
        "uri",
        "clickableuri",
        "printableuri",
        "language",
        "indexeddate",
        "documenttype",
        "filename",
        "topparentid",
        "attachmentparentid",
        "urihash",
        "collection",
    }
    assert expected <= set(DEFAULT_FIELDS)
    assert all(definition.system for definition in DEFAULT_FIELDS.values())
    assert all(name == definition.name for name, definition in DEFAULT_FIELDS.items())
    assert DEFAULT_FIELDS["date"].type is FieldType.DATE
    assert DEFAULT_FIELDS["indexeddate"].type is FieldType.DATE
    assert DEFAULT_FIELDS["size"].type is FieldType.LONG_64
    assert DEFAULT_FIELDS["permanentid"].type is FieldType.STRING
    assert DEFAULT_FIELDS["source"].facet and DEFAULT_FIELDS["sourcetype"].facet
    assert DEFAULT_FIELDS["language"].multi_value_facet
    for name in ("title", "author", "uri", "clickableuri", "printableuri", "filetype"):
        assert DEFAULT_FIELDS[name].type is FieldType.STRING
    with pytest.raises(TypeError):
        DEFAULT_FIELDS["x"] = FieldDefinition("x")  # type: ignore[index]


# -- coerce_value ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", ["text"]),
        ("", [""]),
        (42, ["42"]),
        (1.5, ["1.5"]),
        (True, ["True"]),
        (False, ["False"]),
        (["a", 1, None, False], ["a", "1", "False"]),
        (None, []),
        ([], []),
    ],
)
def test_string(value, expected):
    assert coerce_value(field(), value) == expected


def test_string_multi_value_facet_splits_on_tokenizers():
    multi = field(multi_value_facet=True, multi_value_facet_tokenizers=";,")
    assert coerce_value(multi, "a; b,c;;") == ["a", "b", "c"]
    assert coerce_value(multi, ["x;y", "z"]) == ["x", "y", "z"]
    assert coerce_value(field(), "a;b") == ["a;b"]
    assert coerce_value(field(multi_value_facet=True, multi_value_facet_tokenizers=""), "a;b") == [
        "a;b"
    ]
    assert coerce_value(field(multi_value_facet=True, multi_value_facet_tokenizers="]"), "a]b") == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, [42]),
        (-(2**31), [-(2**31)]),
        (2**31 - 1, [2**31 - 1]),
        (3.0, [3]),
        ("42", [42]),
        (" -7 ", [-7]),
        ("4.2e1", [42]),
        ("12.000", [12]),
        ([1, "2"], [1, 2]),
    ],
)
def test_long(value, expected):
    assert coerce_value(field(FieldType.LONG), value) == expected


@pytest.mark.parametrize(
    "value", [2**31, -(2**31) - 1, 1.5, "1.5", "abc", "1_000", "١٢", True, "", "1e999999999", "nan"]
)
def test_long_refused(value):
    with pytest.raises(ValueError):
        coerce_value(field(FieldType.LONG), value)


def test_long_64():
    long64 = field(FieldType.LONG_64)
    assert coerce_value(long64, 2**63 - 1) == [2**63 - 1]
    assert coerce_value(long64, str(-(2**63))) == [-(2**63)]
    assert coerce_value(long64, 2**31) == [2**31]
    for bad in (2**63, -(2**63) - 1, False):
        with pytest.raises(ValueError):
            coerce_value(long64, bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.5, [1.5]), (2, [2.0]), ("3.25", [3.25]), ("-1e3", [-1000.0]), (".5", [0.5])],
)
def test_double(value, expected):
    result = coerce_value(field(FieldType.DOUBLE), value)
    assert result == expected
    assert all(isinstance(number, float) for number in result)


@pytest.mark.parametrize("value", [True, "x", "inf", "nan", "1e400", 10**400, float("inf")])
def test_double_refused(value):
    with pytest.raises(ValueError):
        coerce_value(field(FieldType.DOUBLE), value)


def test_date():
    date = field(FieldType.DATE)
    assert coerce_value(date, "2020-01-01T00:00:00.000Z") == [1577836800000]
    assert coerce_value(date, 1577836800000) == [1577836800000]
    assert coerce_value(date, ["2020-01-01", "Sun, 06 Nov 1994 08:49:37 GMT"]) == [
        1577836800000,
        784111777000,
    ]
    for bad in ("soon", True):
        with pytest.raises(ValueError, match="DATE"):
            coerce_value(date, bad)


def test_dictionaries_only_for_key_value_fields():
    assert coerce_value(field(key_value=True), {"en": "x"}) == []
    assert coerce_value(field(key_value=True), "plain") == ["plain"]
    with pytest.raises(ValueError, match="dictionary"):
        coerce_value(field(), {"en": "x"})


@pytest.mark.parametrize("value", [[{"a": 1}], [[1]], object()])
def test_nested_values_refused(value):
    with pytest.raises(ValueError):
        coerce_value(field(), value)
