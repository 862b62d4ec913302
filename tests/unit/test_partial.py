"""Tests for openpush.domain.partial: parsing and applying Stream API partial updates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from openpush.domain.partial import (
    PartialOperator,
    PartialUpdate,
    apply_partial_update,
    parse_operator,
    parse_partial_update,
)
from openpush.errors import InvalidItemError

DOC = "product://1009281"
Op = PartialOperator


def entry(operator: str, field: str = "colors", value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"documentId": DOC, "operator": operator, "field": field, "value": value, **extra}


def apply(
    metadata: dict[str, Any], operator: Op, value: Any, field: str = "colors"
) -> dict[str, Any]:
    return apply_partial_update(metadata, PartialUpdate(DOC, operator, field, value))


def refused(obj: object) -> str:
    with pytest.raises(InvalidItemError) as info:
        parse_partial_update(obj)
    return info.value.message


# -- operator names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fieldValueReplace", Op.FIELD_VALUE_REPLACE),
        ("FIELDVALUEREPLACE", Op.FIELD_VALUE_REPLACE),
        ("field_value_replace", Op.FIELD_VALUE_REPLACE),
        ("FIELD_VALUE_REPLACE", Op.FIELD_VALUE_REPLACE),
        ("arrayAppend", Op.ARRAY_APPEND),
        ("ArrayAppend", Op.ARRAY_APPEND),
        ("ARRAY_APPEND", Op.ARRAY_APPEND),
        ("ARRAYAPPEND", Op.ARRAY_APPEND),
        ("arrayremove", Op.ARRAY_REMOVE),
        ("DICTIONARYPUT", Op.DICTIONARY_PUT),
        ("dictionary_put", Op.DICTIONARY_PUT),
        (" dictionaryRemove ", Op.DICTIONARY_REMOVE),
        ("DICTIONARY_REMOVE", Op.DICTIONARY_REMOVE),
    ],
)
def test_parse_operator(name: str, expected: PartialOperator) -> None:
    assert parse_operator(name) is expected


def test_operator_wire_values() -> None:
    assert [op.value for op in PartialOperator] == [
        "fieldValueReplace", "arrayAppend", "arrayRemove", "dictionaryPut", "dictionaryRemove",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "name", ["", "replace", "array-append", "fieldValue", None, 3, ["arrayAppend"]]
)
def test_unknown_operator_lists_the_valid_names(name: object) -> None:
    with pytest.raises(InvalidItemError) as info:
        parse_operator(name)
    message = info.value.message
    assert repr(name) in message
    for op in PartialOperator:
        assert op.value in message


# -- parsing -----------------------------------------------------------------------------------


def test_parse_the_documented_example() -> None:
    update = parse_partial_update(
        {
            "documentId": DOC,
            "operator": "fieldValueReplace",
            "field": "pricingoffsetid",
            "value": "19|1238501677|1790792721860",
        }
    )
    assert update == PartialUpdate(
        document_id=DOC,
        operator=Op.FIELD_VALUE_REPLACE,
        field="pricingoffsetid",
        value="19|1238501677|1790792721860",
    )


def test_entry_keys_are_case_insensitive() -> None:
    update = parse_partial_update(
        {"DocumentId": DOC, "OPERATOR": "ARRAYAPPEND", "Field": "Colors", "VALUE": ["red"]}
    )
    assert update == PartialUpdate(DOC, Op.ARRAY_APPEND, "Colors", ["red"])


def test_unknown_entry_keys_are_ignored() -> None:
    update = parse_partial_update(entry("fieldValueReplace", value=1, uri="x", extra={"a": 1}))
    assert update.value == 1


def test_keys_that_differ_only_by_case_are_refused() -> None:
    message = refused({**entry("arrayAppend", value=[1]), "Field": "other"})
    assert "'Field' twice" in message


@pytest.mark.parametrize(
    ("operator", "value", "normalised"),
    [
        ("fieldValueReplace", None, None),
        ("fieldValueReplace", [1, "a"], [1, "a"]),
        ("fieldValueReplace", {"a": 1}, {"a": 1}),
        ("fieldValueReplace", 0, 0),
        ("arrayAppend", ["a", "b"], ["a", "b"]),
        ("arrayAppend", [], []),
        ("arrayAppend", "a", ["a"]),
        ("arrayAppend", 4.5, [4.5]),
        ("arrayRemove", False, [False]),
        ("arrayRemove", [1, 2], [1, 2]),
        ("dictionaryPut", {"fr": "rouge"}, {"fr": "rouge"}),
        ("dictionaryPut", {}, {}),
        ("dictionaryRemove", "fr", ["fr"]),
        ("dictionaryRemove", ["fr", "en"], ["fr", "en"]),
        ("dictionaryRemove", [], []),
    ],
)
def test_values_by_operator(operator: str, value: Any, normalised: Any) -> None:
    assert parse_partial_update(entry(operator, value=value)).value == normalised


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("arrayAppend", None, "must be an array (or a single value), not null"),
        ("arrayAppend", {"a": 1}, "must be an array (or a single value), not an object"),
        ("arrayRemove", None, "must be an array (or a single value), not null"),
        ("dictionaryPut", ["a"], "must be an object, not an array"),
        ("dictionaryPut", "a", "must be an object, not a string"),
        ("dictionaryPut", None, "must be an object, not null"),
        ("dictionaryRemove", None, "must be a key or an array of keys"),
        ("dictionaryRemove", 3, "must be a key or an array of keys"),
        ("dictionaryRemove", ["a", 1], "must be a key or an array of keys"),
        ("dictionaryRemove", {"a": 1}, "must be a key or an array of keys"),
    ],
)
def test_wrong_value_types_are_refused(operator: str, value: Any, expected: str) -> None:
    message = refused(entry(operator, value=value))
    assert expected in message
    assert DOC in message
    assert operator in message
    assert "'colors'" in message


@pytest.mark.parametrize("operator", [op.value for op in PartialOperator])
def test_value_key_is_required(operator: str) -> None:
    obj = entry(operator)
    del obj["value"]
    message = refused(obj)
    assert "'value' is missing" in message
    assert DOC in message


@pytest.mark.parametrize("obj", [None, [], "x", 1, [entry("arrayAppend", value=[1])]])
def test_entry_must_be_an_object(obj: object) -> None:
    assert "must be a JSON object" in refused(obj)


@pytest.mark.parametrize("document_id", [None, "", "   ", 5, ["a"]])
def test_document_id_must_be_a_non_empty_string(document_id: object) -> None:
    obj = entry("arrayAppend", value=[1])
    obj["documentId"] = document_id
    assert "non-empty string 'documentId'" in refused(obj)


def test_document_id_is_required() -> None:
    obj = entry("arrayAppend", value=[1])
    del obj["documentId"]
    assert "'documentId'" in refused(obj)


def test_operator_is_required() -> None:
    obj = entry("arrayAppend", value=[1])
    del obj["operator"]
    message = refused(obj)
    assert "'operator' is missing" in message
    assert DOC in message


def test_unknown_operator_in_an_entry_names_the_document() -> None:
    message = refused(entry("append", value=[1]))
    assert DOC in message
    assert "'append'" in message
    assert "arrayAppend" in message


@pytest.mark.parametrize("field", [None, "", " ", 3, ["colors"]])
def test_field_must_be_a_non_empty_string(field: object) -> None:
    message = refused(entry("arrayAppend", field=field, value=[1]))  # type: ignore[arg-type]
    assert "'field' must be a non-empty string" in message
    assert "arrayAppend" in message


def test_field_is_required() -> None:
    obj = entry("arrayAppend", value=[1])
    del obj["field"]
    assert "'field' must be a non-empty string" in refused(obj)


@pytest.mark.parametrize(
    "field",
    [
        "documentId", "DOCUMENTID", "data", "Data", "compressedBinaryData",
        "compressedBinaryDataFileId", "compressionType", "fileExtension", "parentId",
        "permissions", "Permissions", "orderingId",
    ],
)  # fmt: skip
def test_reserved_fields_are_refused(field: str) -> None:
    message = refused(entry("fieldValueReplace", field=field, value="x"))
    assert "reserved item key" in message
    assert repr(field) in message


# -- fieldValueReplace -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "value", "expected"),
    [
        ({}, "red", {"colors": "red"}),
        ({"colors": "blue"}, "red", {"colors": "red"}),
        ({"colors": ["a", "b"]}, "red", {"colors": "red"}),
        ({"colors": {"fr": "bleu"}}, ["x"], {"colors": ["x"]}),
        ({"colors": "blue", "size": 3}, None, {"size": 3}),
        ({"size": 3}, None, {"size": 3}),
        ({"colors": "blue"}, [], {"colors": []}),
        ({"colors": "blue"}, 0, {"colors": 0}),
    ],
)
def test_field_value_replace(
    metadata: dict[str, Any], value: Any, expected: dict[str, Any]
) -> None:
    assert apply(metadata, Op.FIELD_VALUE_REPLACE, value) == expected


# -- arrayAppend -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "value", "expected"),
    [
        ({}, ["red"], {"colors": ["red"]}),
        ({}, "red", {"colors": ["red"]}),
        ({}, [], {}),
        ({"colors": "blue"}, ["red", "green"], {"colors": ["blue", "red", "green"]}),
        ({"colors": 1}, [2], {"colors": [1, 2]}),
        ({"colors": "blue"}, [], {"colors": ["blue"]}),
        ({"colors": ["blue"]}, ["blue", "red"], {"colors": ["blue", "blue", "red"]}),
        ({"colors": ["blue"]}, [], {"colors": ["blue"]}),
    ],
)
def test_array_append(metadata: dict[str, Any], value: Any, expected: dict[str, Any]) -> None:
    assert apply(metadata, Op.ARRAY_APPEND, value) == expected


def test_array_append_to_a_dictionary_is_refused() -> None:
    with pytest.raises(InvalidItemError, match="dictionary field"):
        apply({"colors": {"fr": "rouge"}}, Op.ARRAY_APPEND, ["red"])


# -- arrayRemove -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "value", "expected"),
    [
        ({}, ["red"], {}),
        ({"colors": ["red", "blue", "red"]}, ["red"], {"colors": ["blue"]}),
        ({"colors": ["red", "blue", "green"]}, ["red", "green", "pink"], {"colors": ["blue"]}),
        ({"colors": ["red", "blue"]}, "red", {"colors": ["blue"]}),
        ({"colors": ["red", "red"]}, ["red"], {}),
        ({"colors": ["red"]}, ["Red"], {"colors": ["red"]}),
        ({"colors": ["red"]}, [], {"colors": ["red"]}),
        ({"colors": "red"}, ["red"], {}),
        ({"colors": "red"}, ["blue"], {"colors": "red"}),
        ({"colors": [1, 1.0, 2]}, [1], {"colors": [2]}),
        ({"colors": [1, True, 0, False]}, [True, 0], {"colors": [1, False]}),
    ],
)
def test_array_remove(metadata: dict[str, Any], value: Any, expected: dict[str, Any]) -> None:
    assert apply(metadata, Op.ARRAY_REMOVE, value) == expected


def test_array_remove_keeps_value_types() -> None:
    result = apply({"colors": [1, True, 0, False]}, Op.ARRAY_REMOVE, [True, 0])
    assert [type(v) for v in result["colors"]] == [int, bool]


def test_array_remove_from_a_dictionary_is_refused() -> None:
    with pytest.raises(InvalidItemError, match="dictionary field"):
        apply({"colors": {"fr": "rouge"}}, Op.ARRAY_REMOVE, ["fr"])


# -- dictionaryPut -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "value", "expected"),
    [
        ({}, {"fr": "rouge"}, {"colors": {"fr": "rouge"}}),
        ({}, {}, {}),
        (
            {"colors": {"fr": "rouge", "en": "red"}},
            {"en": "RED", "de": "rot"},
            {"colors": {"fr": "rouge", "en": "RED", "de": "rot"}},
        ),
        ({"colors": {"fr": "rouge"}}, {}, {"colors": {"fr": "rouge"}}),
    ],
)
def test_dictionary_put(metadata: dict[str, Any], value: Any, expected: dict[str, Any]) -> None:
    assert apply(metadata, Op.DICTIONARY_PUT, value) == expected


@pytest.mark.parametrize(
    ("current", "kind"), [("red", "a string"), (["red"], "an array"), (1, "a number")]
)
def test_dictionary_put_on_a_non_dictionary_is_refused(current: Any, kind: str) -> None:
    with pytest.raises(InvalidItemError) as info:
        apply({"colors": current}, Op.DICTIONARY_PUT, {"fr": "rouge"})
    assert f"the field holds {kind}, not a dictionary" in info.value.message
    assert DOC in info.value.message
    assert "dictionaryPut" in info.value.message


# -- dictionaryRemove --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "value", "expected"),
    [
        ({}, ["fr"], {}),
        ({"colors": {"fr": "rouge", "en": "red"}}, ["fr"], {"colors": {"en": "red"}}),
        ({"colors": {"fr": "rouge", "en": "red"}}, "fr", {"colors": {"en": "red"}}),
        ({"colors": {"fr": "rouge"}}, ["de", "it"], {"colors": {"fr": "rouge"}}),
        ({"colors": {"fr": "rouge", "en": "red"}}, ["fr", "en"], {}),
        ({"colors": {"fr": "rouge"}}, ["FR"], {"colors": {"fr": "rouge"}}),
        ({"colors": {"fr": "rouge"}}, [], {"colors": {"fr": "rouge"}}),
    ],
)
def test_dictionary_remove(metadata: dict[str, Any], value: Any, expected: dict[str, Any]) -> None:
    assert apply(metadata, Op.DICTIONARY_REMOVE, value) == expected


@pytest.mark.parametrize("current", ["red", ["fr"], 0])
def test_dictionary_remove_on_a_non_dictionary_is_refused(current: Any) -> None:
    with pytest.raises(InvalidItemError, match="not a dictionary"):
        apply({"colors": current}, Op.DICTIONARY_REMOVE, ["fr"])


# -- field matching and purity -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["colors", "Colors", "COLORS"])
def test_fields_match_existing_keys_case_insensitively(field: str) -> None:
    result = apply({"Colors": ["red"], "size": 1}, Op.ARRAY_APPEND, ["blue"], field=field)
    assert result == {"Colors": ["red", "blue"], "size": 1}


def test_a_new_field_uses_the_update_spelling() -> None:
    assert apply({"size": 1}, Op.FIELD_VALUE_REPLACE, "x", field="NewField") == {
        "size": 1,
        "NewField": "x",
    }


def test_removal_matches_case_insensitively() -> None:
    assert apply({"COLORS": "red", "size": 1}, Op.FIELD_VALUE_REPLACE, None) == {"size": 1}


def test_an_exact_spelling_wins_over_another_case() -> None:
    result = apply({"Colors": "a", "colors": "b"}, Op.FIELD_VALUE_REPLACE, "c")
    assert result == {"Colors": "a", "colors": "c"}


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        (Op.FIELD_VALUE_REPLACE, None),
        (Op.FIELD_VALUE_REPLACE, ["z"]),
        (Op.ARRAY_APPEND, ["z"]),
        (Op.ARRAY_REMOVE, ["a"]),
        (Op.DICTIONARY_PUT, {"k": "v"}),
        (Op.DICTIONARY_REMOVE, ["fr"]),
    ],
)
def test_input_is_never_mutated(operator: Op, value: Any) -> None:
    field = "tags" if operator in (Op.DICTIONARY_PUT, Op.DICTIONARY_REMOVE) else "colors"
    metadata = {"colors": ["a", "b"], "tags": {"fr": "x", "en": "y"}, "size": 1}
    snapshot = copy.deepcopy(metadata)
    update = PartialUpdate(DOC, operator, field, value)
    update_snapshot = copy.deepcopy(update)
    result = apply_partial_update(metadata, update)
    assert metadata == snapshot
    assert update == update_snapshot
    assert result is not metadata
    if isinstance(result.get(field), list | dict):  # a changed container is a new object
        assert result[field] is not metadata[field]


def test_appended_list_is_a_copy_of_the_update_value() -> None:
    values = ["red"]
    result = apply({}, Op.ARRAY_APPEND, values)
    result["colors"].append("blue")
    assert values == ["red"]


def test_apply_normalises_a_directly_built_update() -> None:
    assert apply({}, Op.ARRAY_APPEND, "red") == {"colors": ["red"]}
    assert apply({"colors": {"fr": "x", "en": "y"}}, Op.DICTIONARY_REMOVE, "fr") == {
        "colors": {"en": "y"}
    }
    with pytest.raises(InvalidItemError, match="must be an object"):
        apply({}, Op.DICTIONARY_PUT, ["x"])


def test_parse_then_apply() -> None:
    metadata = {"colors": ["red"], "price": 10}
    for obj in [
        entry("ARRAY_APPEND", field="Colors", value="blue"),
        entry("arrayremove", field="colors", value=["red"]),
        entry("FIELDVALUEREPLACE", field="PRICE", value=12.5),
        entry("dictionaryPut", field="names", value={"fr": "chemise"}),
    ]:
        metadata = apply_partial_update(metadata, parse_partial_update(obj))
    assert metadata == {"colors": ["blue"], "price": 12.5, "names": {"fr": "chemise"}}
