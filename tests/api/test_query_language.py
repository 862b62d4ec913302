"""The query language end to end: each operator on each field type, nesting, errors.

A fixed corpus of eight items is pushed through the HTTP API once; every row of the tables
is one search (``viewAllContent``, so only the expression decides) and the exact set of items
it must return.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.search_corpus import FIELDS, CorpusApi, corpus_client, corpus_runtime

__all__ = ["corpus_client", "corpus_runtime"]

NOW_MS = int(time.time() * 1000)
TWO_DAYS_AGO = datetime.fromtimestamp(NOW_MS / 1000 - 2 * 86400, tz=UTC).isoformat()

ITEMS: dict[int, dict[str, Any]] = {
    1: {
        "title": "Quarterly report",
        "data": "the quick brown fox",
        "author": "Alice Smith",
        "category": "Finance",
        "tags": ["red", "blue"],
        "views": 10,
        "big": 5_000_000_000,
        "price": 9.99,
        "published": "2024-01-15T10:00:00Z",
    },
    2: {
        "title": "Annual report",
        "data": "a lazy dog sleeps",
        "author": "Bob Jones",
        "category": "Finance",
        "tags": ["blue"],
        "views": 250,
        "big": -3,
        "price": 20.0,
        "published": "2024-01-31T23:59:59Z",
    },
    3: {
        "title": "Team offsite",
        "data": "quick planning notes",
        "author": "alice smith",
        "category": "HR",
        "tags": ["green"],
        "views": 0,
        "price": 0.5,
        "published": "2023-12-31T12:00:00Z",
    },
    4: {
        "title": "Budget draft",
        "data": "numbers and more numbers",
        "author": "Carol",
        "category": "Engineering",
        "views": 42,
        "price": 100,
        "published": "2024-02-01T00:00:00Z",
    },
    5: {
        "title": "Fox sighting",
        "data": "brown fox jumps",
        "author": "Dave",
        "views": 7,
        "published": TWO_DAYS_AGO,
        "note": "https://example.com/a/b (draft)",
    },
    6: {"title": "Untitled", "data": "an item with no fields"},
    7: {
        "title": "Release notes v1.0.2",
        "data": "version notes",
        "category": "Engineering",
        "tags": ["red"],
        "views": 1000,
        "big": 9_000_000_000_000_000_000,
        "price": 19.5,
        "published": "2022-06-01",
    },
    8: {
        "title": "Wildcard test",
        "data": "cooperation coordinates",
        "author": "Zed",
        "category": "Ops",
        "views": 10,
        "price": 9.99,
        "published": "2024/01/15 10:00:00",
        "note": "C:\\temp\\*.txt",
    },
}
EVERYTHING = set(ITEMS)


@pytest.fixture(scope="module")
def corpus(corpus_client: CorpusApi) -> CorpusApi:
    corpus_client.create_fields(FIELDS)
    source = corpus_client.create_source("corpus", "SHARED")
    for number, body in ITEMS.items():
        corpus_client.push(source, f"https://q/{number}", body)
    corpus_client.drain()
    return corpus_client


def found(corpus: CorpusApi, **body: Any) -> set[int]:
    result = corpus.search(numberOfResults=100, **body)
    uris = {int(r["uri"].rsplit("/", 1)[1]) for r in result["results"]}
    assert result["totalCount"] == len(uris)
    return uris


FREE_TEXT = [
    ("quick", {1, 3}),
    ("fox", {1, 5}),
    ('"brown fox"', {1, 5}),
    ('"fox brown"', set()),
    ("quick fox", {1}),
    ("quick AND fox", {1}),
    ("quick OR fox", {1, 3, 5}),
    ("quick NOT fox", {3}),
    ("quick -fox", {3}),
    ("NOT fox", EVERYTHING - {1, 5}),
    ("(quick OR lazy) brown", {1}),
    # OR binds tighter than AND: (lazy OR fox) AND brown, not lazy OR (fox AND brown)
    ("lazy OR fox brown", {1, 5}),
    # NOT binds to what follows it: (NOT fox) OR quick
    ("NOT fox OR quick", EVERYTHING - {5}),
    ("NOT (fox OR quick)", EVERYTHING - {1, 3, 5}),
    ("coop*", {8}),
    ("coord*", {8}),
    ("REPORT", {1, 2}),
    ("reports", {1, 2}),
    ("", EVERYTHING),
]

STRING_FIELDS = [
    ('@author=="Alice Smith"', {1, 3}),
    ('@author=="ALICE SMITH"', {1, 3}),
    ("@author==alice", set()),
    ("@author=alice", {1, 3}),
    ('@author="alice smith"', {1, 3}),
    ('@author="smith alice"', set()),
    ("@author<>Carol", {1, 2, 3, 5, 8}),
    ("NOT @author==Carol", EVERYTHING - {4}),
    ("@author", {1, 2, 3, 4, 5, 8}),
    ("NOT @author", {6, 7}),
    ("-@author", {6, 7}),
    ("@category==(Finance,HR)", {1, 2, 3}),
    ("@category<>(Finance,HR)", {4, 7, 8}),
    ("@category*=eng*", {4, 7}),
    ("@category*=?R", {3}),
    ("@category*=(fin*,ops)", {1, 2, 8}),
    ("@note*=https://example.com/*", {5}),
    ('@note*="*(draft)"', {5}),
    ('@note*="c:\\\\temp\\\\*"', {8}),
    ("@tags==blue", {1, 2}),
    ("@tags<>blue", {3, 7}),
    ("@tags", {1, 2, 3, 7}),
    ("@title=report", {1, 2}),
    ('@title=="Release notes v1.0.2"', {7}),
    ("@nosuchfield==x", set()),
    ("NOT @nosuchfield==x", EVERYTHING),
    ("@nosuchfield", set()),
]

NUMERIC_FIELDS = [
    ("@views==10", {1, 8}),
    ("@views=10", {1, 8}),
    ('@views=="42"', {4}),
    ("@views<>10", {2, 3, 4, 5, 7}),
    ("@views>10", {2, 4, 7}),
    ("@views>=10", {1, 2, 4, 7, 8}),
    ("@views<10", {3, 5}),
    ("@views<=10", {1, 3, 5, 8}),
    ("@views>9.5", {1, 2, 4, 7, 8}),
    ("@views==7..42", {1, 4, 5, 8}),
    ("@views<>7..42", {2, 3, 7}),
    ("@views==(0,1000)", {3, 7}),
    ("@views==(0..7,250)", {2, 3, 5}),
    ("@views", EVERYTHING - {6}),
    ("@big>4294967296", {1, 7}),
    ("@big<0", {2}),
    ("@big==9000000000000000000", {7}),
    ("@price==9.99", {1, 8}),
    ("@price==20", {2}),
    ("@price==100", {4}),
    ("@price>=19.5", {2, 4, 7}),
    ("@price==0.5..19.5", {1, 3, 7, 8}),
    ("@price<1", {3}),
    ("@price<>9.99", {2, 3, 4, 7}),
]

DATE_FIELDS = [
    ("@published==2024/01/15", {1, 8}),
    ("@published==2024-01-15", {1, 8}),
    ("@published==2024/01/15@10:00:00", {1, 8}),
    ("@published==2024/01/15@10:00", {1, 8}),
    ("@published==2024/01/15@10:00:01", set()),
    ("@published==2024-01-15T12:00:00+02:00", {1, 8}),
    ('@published=="2024-01-31"', {2}),
    ("@published==1705312800000", {1, 8}),
    ("@published>2024/01/15", {2, 4, 5}),
    ("@published>=2024/01/15", {1, 2, 4, 5, 8}),
    ("@published<2024/01/01", {3, 7}),
    ("@published<=2024/01/31", {1, 2, 3, 7, 8}),
    ("@published=2024/01/01..2024/01/31", {1, 2, 8}),
    ("@published==(2022/06/01, 2024/02/01)", {4, 7}),
    ("@published==(2022/06/01, 2024/01/01..2024/01/20)", {1, 7, 8}),
    ("@published<>2024/01/15", {2, 3, 4, 5, 7}),
    ("@published>now-7d", {5}),
    ("@published=now-7d..now", {5}),
    ("@published>=today-3d", {5}),
    ("@published<now-30d", EVERYTHING - {5, 6}),
    ("@published>now", set()),
]

NESTING = [
    ("(@category==Finance OR @category==HR) @views>=10", {1, 2}),
    ("@category==Engineering (@views>100 OR @price<50)", {7}),
    ("NOT (@category==Finance OR @tags==red)", {3, 4, 5, 6, 8}),
    ("fox @views<10", {5}),
    ("report OR @author==Zed", {1, 2, 8}),
    ("(fox OR @tags==green) AND NOT @views==7", {1, 3}),
    ("((report)) (@views>100 OR (@price<10 AND @author=alice))", {1, 2}),
    ("@views>=10 @views<=250 -@category==Ops", {1, 2, 4}),
]

TABLE = FREE_TEXT + STRING_FIELDS + NUMERIC_FIELDS + DATE_FIELDS + NESTING


@pytest.mark.parametrize(("expression", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_expression(corpus: CorpusApi, expression: str, expected: set[int]) -> None:
    assert found(corpus, q=expression) == expected
    assert found(corpus, aq=expression) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({"q": "quick", "aq": "@views>=10"}, {1}),
        ({"q": "quick", "dq": "@author==Zed"}, {1, 3, 8}),
        ({"q": "quick", "dq": "@author==Zed", "cq": "@views>=10"}, {1, 8}),
        ({"cq": "@category==Finance"}, {1, 2}),
        ({"dq": "@category==HR"}, {3}),
        ({"q": "quick", "lq": "brown"}, {1}),
        ({"q": "quick fox", "enableQuerySyntax": False}, {1}),
        ({"q": '"quick', "enableQuerySyntax": False}, {1, 3}),
        ({"q": "@views==10", "enableQuerySyntax": False}, set()),
        ({"q": "fox OR quick", "enableQuerySyntax": False}, set()),
    ],
)
def test_parts_combine_as_coveo_does(
    corpus: CorpusApi, parts: dict[str, Any], expected: set[int]
) -> None:
    assert found(corpus, **parts) == expected


@pytest.mark.parametrize(
    ("part", "text", "message", "position"),
    [
        ("q", "(quick", "'(' is never closed", 0),
        ("q", "quick AND", "AND must be followed by an expression", 6),
        ("q", "quick)", "')' has no matching '('", 5),
        ("aq", "@views>", "operator > needs a value", 6),
        ("aq", "fox @views==abc", "@views is a LONG field: 'abc' is not a number", 4),
        ("aq", "@author>5", "@author is a STRING field: operator > needs a numeric", 0),
        ("aq", "@author==1..5", "@author is a STRING field: a range needs a numeric", 0),
        ("aq", "@price*=9*", "@price is a DOUBLE field: operator *= needs a STRING field", 0),
        ("aq", "@views==now", "@views is a LONG field: 'now' is a date, not a number", 0),
        ("aq", '@published=="soon"', "@published is a DATE field: 'soon' is not a date", 0),
        ("aq", "@published==2024/02/30", "invalid date '2024/02/30'", 12),
        ("cq", '@author=="open', "unterminated quoted string", 9),
        ("dq", "@views==(1,", "'(' is never closed", 8),
        ("q", "a @", "'@' must be followed by a field name", 2),
    ],
)
def test_syntax_errors_are_400_with_the_position(
    corpus: CorpusApi, part: str, text: str, message: str, position: int
) -> None:
    r = corpus.raw_search(**{part: text})
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"errorCode", "message"}
    assert body["errorCode"] == "INVALID_QUERY_SYNTAX"
    assert body["message"].startswith(f"{part}: ")
    assert message in body["message"]
    assert f"(position {position}, at " in body["message"]
    rest = text[position:]
    assert (f'"{rest}' if rest else "at the end") in body["message"]


def test_a_token_filter_that_does_not_parse_is_a_400_naming_it(corpus: CorpusApi) -> None:
    token = corpus.token("u@x.com", search_filter="@views>")
    r = corpus.raw_search(token, view_all=False, q="fox")
    assert r.status_code == 400
    assert r.json()["message"].startswith("filter: operator > needs a value (position 6")


def test_the_token_filter_is_anded_with_every_part(corpus: CorpusApi) -> None:
    token = corpus.token("u@x.com", search_filter="@category==Finance")
    result = corpus.search(token, view_all=False, q="report", dq="@author==Zed")
    assert {r["uri"] for r in result["results"]} == {"https://q/1", "https://q/2"}
