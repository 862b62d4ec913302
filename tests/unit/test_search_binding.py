"""Pure parts of search: binding to field types, date spans, sort criteria, facet policies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openpush.api.search_wire import parse_sort
from openpush.domain.fields import FieldDefinition, FieldType, merged_fields
from openpush.errors import InvalidRequestError, QuerySyntaxError
from openpush.index.base import FacetBucket, FacetRange, SortKey
from openpush.search.binding import bind
from openpush.search.facets import generate_ranges, order_buckets, wildcard_matcher
from openpush.search.planning import check_sort, parse_part
from openpush.search.query import (
    DateValue,
    FieldExpr,
    ListValue,
    NumberValue,
    RangeValue,
    StringValue,
    parse,
    resolve_span,
    to_text,
)

FIELDS = merged_fields(
    [
        FieldDefinition("views", FieldType.LONG),
        FieldDefinition("price", FieldType.DOUBLE),
        FieldDefinition("published", FieldType.DATE),
        FieldDefinition("category", facet=True, sort=True),
    ]
)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).astimezone(UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('@views=="42"', NumberValue(42)),
        ("@views==(1, 2.5)", ListValue((NumberValue(1), NumberValue(2.5)))),
        ('@price==" 1e3 "', NumberValue(1000.0)),
        ("@published==5", DateValue("1970-01-01T00:00:00.005Z")),
        ('@published=="2024-01-31"', DateValue("2024-01-31")),
        (
            "@published==0..5",
            RangeValue(
                DateValue("1970-01-01T00:00:00.000Z"), DateValue("1970-01-01T00:00:00.005Z")
            ),
        ),
        ("@category==12", StringValue("12")),
        ("@category==now", StringValue("now")),
        ("@category==(a,7)", ListValue((StringValue("a"), StringValue("7")))),
        ("@unknown==abc", StringValue("abc")),
    ],
)
def test_bind_converts_values_to_the_field_type(text: str, value: object) -> None:
    node = bind(parse(text), FIELDS)
    assert isinstance(node, FieldExpr)
    assert node.value == value


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("a @views==abc", "@views is a LONG field: 'abc' is not a number", 2),
        ("@views==now", "'now' is a date, not a number", 0),
        ("@views*=1*", "operator *= needs a STRING field", 0),
        ("(b @category>5)", "@category is a STRING field: operator > needs a numeric", 3),
        ("@category==1..2", "a range needs a numeric or DATE field", 0),
        ('@published=="soon"', "'soon' is not a date", 0),
        ("NOT @price==(1,x)", "'x' is not a number", 4),
    ],
)
def test_bind_refuses_what_cannot_match(text: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        bind(parse(text), FIELDS)
    assert message in caught.value.message
    assert caught.value.position == position


def test_parse_part_names_the_part_and_quotes_from_the_position() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_part("aq", "@views==1 @views>", FIELDS)
    assert caught.value.message == 'aq: operator > needs a value (position 16, at ">")'
    with pytest.raises(QuerySyntaxError) as caught:
        parse_part("q", "a AND", FIELDS)
    assert caught.value.message.endswith('(position 2, at "AND")')
    long = "x" * 40 + " )"
    with pytest.raises(QuerySyntaxError) as caught:
        parse_part("q", long, FIELDS)
    assert caught.value.message.endswith('(position 41, at ")")')


def test_value_lists_hold_ranges_and_print_back() -> None:
    node = parse("@views==(1..5, 10, 20 .. 30)")
    assert node == FieldExpr(
        "views",
        "==",
        ListValue(
            (
                RangeValue(NumberValue(1), NumberValue(5)),
                NumberValue(10),
                RangeValue(NumberValue(20), NumberValue(30)),
            )
        ),
    )
    assert to_text(node) == "@views==(1..5,10,20..30)"
    assert parse(to_text(node)) == node


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("2024/01/31", "2024-01-31T00:00:00+00:00", "2024-02-01T00:00:00+00:00"),
        ("2024/01/31@10:00", "2024-01-31T10:00:00+00:00", "2024-01-31T10:01:00+00:00"),
        ("2024/01/31@10:00:00", "2024-01-31T10:00:00+00:00", "2024-01-31T10:00:01+00:00"),
        (
            "2024-01-31T10:00:00.250Z",
            "2024-01-31T10:00:00.250+00:00",
            "2024-01-31T10:00:00.251+00:00",
        ),
        ("today", "2024-03-15T00:00:00+00:00", "2024-03-16T00:00:00+00:00"),
        ("yesterday-1w", "2024-03-07T00:00:00+00:00", "2024-03-08T00:00:00+00:00"),
        ("today+2h", "2024-03-15T02:00:00+00:00", "2024-03-15T02:00:00.001+00:00"),
        ("now", "2024-03-15T10:30:45+00:00", "2024-03-15T10:30:45.001+00:00"),
    ],
)
def test_a_date_spans_its_precision(spec: str, start: str, end: str) -> None:
    assert resolve_span(spec, ms("2024-03-15T10:30:45+00:00")) == (ms(start), ms(end))


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (None, (SortKey(),)),
        ("", (SortKey(),)),
        ("relevancy", (SortKey("relevancy", True),)),
        ("date ascending", (SortKey("date", False),)),
        ("DateDescending", (SortKey("date", True),)),
        ("date", (SortKey("date", True),)),
        ("@Views", (SortKey("views", False),)),
        (
            "date ascending, @views descending",
            (SortKey("date", False), SortKey("views", True)),
        ),
    ],
)
def test_parse_sort(text: str | None, keys: tuple[SortKey, ...]) -> None:
    assert parse_sort(text) == keys


@pytest.mark.parametrize(
    "text", ["date up", "@views ascending descending", "views", "a,", "nosort ascending", "@"]
)
def test_parse_sort_refuses(text: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_sort(text)


@pytest.mark.parametrize(
    "keys",
    [
        (SortKey("nosort"), SortKey("date")),
        (SortKey("date"), SortKey("date", False)),
        (SortKey("author"),),
        (SortKey("nosuch"),),
    ],
)
def test_check_sort_refuses(keys: tuple[SortKey, ...]) -> None:
    with pytest.raises(InvalidRequestError):
        check_sort(keys, FIELDS)


def test_check_sort_accepts_field_and_date_combinations() -> None:
    check_sort((SortKey("date", False), SortKey("views"), SortKey("category")), FIELDS)
    check_sort((SortKey("title"),), FIELDS)


def test_facet_value_orders() -> None:
    buckets = [
        FacetBucket(2, "b"),
        FacetBucket(5, "item10"),
        FacetBucket(2, "A"),
        FacetBucket(1, "item2"),
    ]
    values = lambda order: [b.value for b in order_buckets(buckets, order)]  # noqa: E731
    assert values("occurrences") == ["item10", "A", "b", "item2"]
    assert values("alpha_ascending") == ["A", "b", "item10", "item2"]
    assert values("alpha_descending") == ["item2", "item10", "b", "A"]
    assert values("natural_ascending") == ["A", "b", "item2", "item10"]
    assert values("natural_descending") == ["item10", "item2", "b", "A"]


def test_wildcard_matcher() -> None:
    match = wildcard_matcher(["a*", "b?c", "x.y"])
    assert [match(v) for v in ("Apple", "bxc", "bxxc", "x.y", "xzy", 12)] == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("low", "high", "count", "integral", "dates", "expected"),
    [
        (0, 997, 8, True, False, [(0, 200), (200, 400), (400, 600), (600, 800), (800, 1000)]),
        (3, 7, 8, True, False, [(3, 4), (4, 5), (5, 6), (6, 7), (7, 8)]),
        (0.5, 2.75, 4, False, False, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
        (5, 5, 4, False, False, [(5.0, 6.0)]),
        (10, 1, 4, True, False, []),
    ],
)
def test_generated_ranges(
    low: float, high: float, count: int, integral: bool, dates: bool, expected: list[tuple]
) -> None:
    ranges = generate_ranges(low, high, count, integral=integral, dates=dates)
    assert [(r.start, r.end) for r in ranges] == expected
    assert all(not r.end_inclusive for r in ranges)


def test_generated_date_ranges_are_whole_days_or_weeks() -> None:
    day = 86_400_000
    ranges = generate_ranges(
        ms("2024-01-01T10:00:00+00:00"),
        ms("2024-01-20T00:00:00+00:00"),
        5,
        integral=True,
        dates=True,
    )
    widths = {r.end - r.start for r in ranges}
    assert widths == {7 * day}
    assert all(isinstance(r, FacetRange) for r in ranges)
    assert ranges[0].start <= ms("2024-01-01T10:00:00+00:00") < ranges[-1].end
