"""Coveo query expressions: parsing, precedence, values, errors, combine, dates, round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpush.errors import QuerySyntaxError
from openpush.search.query import (
    And,
    DateValue,
    FieldExpr,
    ListValue,
    MatchAll,
    Node,
    Not,
    NumberValue,
    Or,
    Phrase,
    RangeValue,
    StringValue,
    Term,
    Wildcard,
    all_of,
    any_of,
    combine,
    is_date_spec,
    parse,
    resolve_date,
    to_text,
)


def T(text: str) -> Term:
    return Term(text)


def F(field: str, op: str = "exists", value: object = None) -> FieldExpr:
    return FieldExpr(field, op, value)  # type: ignore[arg-type]


def S(text: str) -> StringValue:
    return StringValue(text)


def N(number: float) -> NumberValue:
    return NumberValue(number)


def D(spec: str) -> DateValue:
    return DateValue(spec)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).astimezone(UTC).timestamp() * 1000)


# -- parsing -----------------------------------------------------------------------------------

FREE_TEXT = [
    ("", MatchAll()),
    ("   \t", MatchAll()),
    ("hello", T("hello")),
    ("hello world", And((T("hello"), T("world")))),
    ("well-known", T("well-known")),
    ("bob@example.com", T("bob@example.com")),
    ('"hello world"', Phrase(("hello", "world"))),
    ('"  spaced   out "', Phrase(("spaced", "out"))),
    ('"single"', Phrase(("single",))),
    ('"say \\"hi\\""', Phrase(("say", '"hi"'))),
    ('"back\\\\slash"', Phrase(("back\\slash",))),
    ('"kept\\n"', Phrase(("kept\\n",))),
    ('""', MatchAll()),
    ('a ""', T("a")),
    ('ab"cd"', And((T("ab"), Phrase(("cd",))))),
    ("cov*", Wildcard("cov*")),
    ("*ment", Wildcard("*ment")),
    ("a and b or c not d", And(tuple(T(w) for w in ("a", "and", "b", "or", "c", "not", "d")))),
    ("ANDROID ORANGE NOTE", And((T("ANDROID"), T("ORANGE"), T("NOTE")))),
]

BOOLEAN = [
    ("a AND b", And((T("a"), T("b")))),
    ("a OR b", Or((T("a"), T("b")))),
    ("a b OR c", And((T("a"), Or((T("b"), T("c")))))),
    ("a OR b c", And((Or((T("a"), T("b"))), T("c")))),
    ("a AND b OR c", And((T("a"), Or((T("b"), T("c")))))),
    ("a OR b AND c OR d", And((Or((T("a"), T("b"))), Or((T("c"), T("d")))))),
    ("a OR b OR c", Or((T("a"), T("b"), T("c")))),
    ("(a b) OR c", Or((And((T("a"), T("b"))), T("c")))),
    ("(a OR b) OR c", Or((T("a"), T("b"), T("c")))),
    ("a (b (c OR d))", And((T("a"), T("b"), Or((T("c"), T("d")))))),
    ("((a))", T("a")),
    ("(a)(b)", And((T("a"), T("b")))),
    ("NOT a", Not(T("a"))),
    ("NOT a OR b", Or((Not(T("a")), T("b")))),
    ("a OR NOT b", Or((T("a"), Not(T("b"))))),
    ("a NOT b", And((T("a"), Not(T("b"))))),
    ("NOT (a OR b)", Not(Or((T("a"), T("b"))))),
    ("NOT NOT a", Not(Not(T("a")))),
    ("NOT(a)", Not(T("a"))),
    ("-a b", And((Not(T("a")), T("b")))),
    ("-a OR b", Or((Not(T("a")), T("b")))),
    ("--a", Not(Not(T("a")))),
    ("-(a b)", Not(And((T("a"), T("b"))))),
    ('-"a b"', Not(Phrase(("a", "b")))),
    ("-@author==bob", Not(F("author", "==", S("bob")))),
    ("-cov*", Not(Wildcard("cov*"))),
    ("a - b", And((T("a"), T("-"), T("b")))),
    ("(a -)", And((T("a"), T("-")))),
    ('a OR ""', MatchAll()),
]

FIELDS = [
    ("@author", F("author")),
    ("@Author", F("author")),
    ("(@author)", F("author")),
    ("@author bob", And((F("author"), T("bob")))),
    ("@author==Alice", F("author", "==", S("Alice"))),
    ("@title=coveo", F("title", "=", S("coveo"))),
    ("@filetype<>pdf", F("filetype", "<>", S("pdf"))),
    ("@size>10", F("size", ">", N(10))),
    ("@size>=10", F("size", ">=", N(10))),
    ("@size<10", F("size", "<", N(10))),
    ("@size<=10", F("size", "<=", N(10))),
    ("@uri*=*coveo*", F("uri", "*=", S("*coveo*"))),
    ("@a == b", F("a", "==", S("b"))),
    ("@a <= 5", F("a", "<=", N(5))),
    ('@source=="My push source"', F("source", "==", S("My push source"))),
    ('@t=="say \\"hi\\""', F("t", "==", S('say "hi"'))),
    ('@t==""', F("t", "==", S(""))),
    ("@size>-1.5", F("size", ">", N(-1.5))),
    ("@size==0", F("size", "==", N(0))),
    ("@zip==01234", F("zip", "==", S("01234"))),
    ("@v==1.0.2", F("v", "==", S("1.0.2"))),
    ("@a==AND", F("a", "==", S("AND"))),
    ("@a==b@c", F("a", "==", S("b@c"))),
    ("@a*=12", F("a", "*=", S("12"))),
    ("@a*=now", F("a", "*=", S("now"))),
    ('@a=="now"', F("a", "==", S("now"))),
    ('@a=="10"', F("a", "==", S("10"))),
    ("@a==now", F("a", "==", D("now"))),
    ("@date>=2024/01/31", F("date", ">=", D("2024/01/31"))),
    ("@date>2024-01-31", F("date", ">", D("2024-01-31"))),
    ("@date>2024/01/31@12:00:00", F("date", ">", D("2024/01/31@12:00:00"))),
    ("@date<2024-01-31T12:00:00Z", F("date", "<", D("2024-01-31T12:00:00Z"))),
    ("@date>now-7d", F("date", ">", D("now-7d"))),
    ("@date>=today", F("date", ">=", D("today"))),
    ("@date<yesterday", F("date", "<", D("yesterday"))),
    ("@date<now+2h", F("date", "<", D("now+2h"))),
    ("@size=10..20", F("size", "=", RangeValue(N(10), N(20)))),
    ("@size==10 .. 20", F("size", "==", RangeValue(N(10), N(20)))),
    ("@size<>-5..-1.5", F("size", "<>", RangeValue(N(-5), N(-1.5)))),
    ("@date=2024/01/01..2024/12/31", F("date", "=", RangeValue(D("2024/01/01"), D("2024/12/31")))),
    ("@date=now-7d..now", F("date", "=", RangeValue(D("now-7d"), D("now")))),
    ("@filetype==(pdf,doc, txt)", F("filetype", "==", ListValue((S("pdf"), S("doc"), S("txt"))))),
    ('@author==( "Alice A" , bob )', F("author", "==", ListValue((S("Alice A"), S("bob"))))),
    ("@n=(1,2.5)", F("n", "=", ListValue((N(1), N(2.5))))),
    ("@n==(x)", F("n", "==", ListValue((S("x"),)))),
    ("@uri*=(*a*,b*)", F("uri", "*=", ListValue((S("*a*"), S("b*"))))),
    ("@a==b(c)", And((F("a", "==", S("b")), T("c")))),
    ("@a==b c", And((F("a", "==", S("b")), T("c")))),
    (
        "report @author==alice OR @author==bob -@filetype==pdf",
        And(
            (
                T("report"),
                Or((F("author", "==", S("alice")), F("author", "==", S("bob")))),
                Not(F("filetype", "==", S("pdf"))),
            )
        ),
    ),
]

PARSE_CASES = FREE_TEXT + BOOLEAN + FIELDS


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse(text: str, expected: Node) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_to_text_reparses_to_the_same_tree(text: str, expected: Node) -> None:
    assert parse(to_text(expected)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", MatchAll()),
        ("single", T("single")),
        (
            'a "b c" OR -d @x==1 (e',
            And(tuple(T(w) for w in ["a", '"b', 'c"', "OR", "-d", "@x==1", "(e"])),
        ),
        ("NOT", T("NOT")),
    ],
)
def test_parse_without_query_syntax(text: str, expected: Node) -> None:
    assert parse(text, enable_query_syntax=False) == expected


# -- errors ------------------------------------------------------------------------------------

ERRORS = [
    ("(a b", "'(' is never closed", 0),
    ("a (b", "'(' is never closed", 2),
    ("((a)", "'(' is never closed", 0),
    ("(", "'(' is never closed", 0),
    ("a b)", "')' has no matching '('", 3),
    (")", "')' has no matching '('", 0),
    ("(a))", "')' has no matching '('", 3),
    ("()", "empty parentheses", 0),
    ('"abc', "unterminated quoted string", 0),
    ('a "b\\"', "unterminated quoted string", 2),
    ('@t=="x', "unterminated quoted string", 4),
    ("@size>", "operator > needs a value", 5),
    ("@size>  ", "operator > needs a value", 5),
    ("(@size>=)", "operator >= needs a value", 6),
    ("@", "'@' must be followed by a field name", 0),
    ("@ author", "'@' must be followed by a field name", 0),
    ("a @1x", "'@' must be followed by a field name", 2),
    ("@a.b", "unexpected '.' after field name @a", 2),
    ("@a~=b", "unexpected '~' after field name @a", 2),
    ("AND a", "AND must be preceded by an expression", 0),
    ("OR", "OR must be preceded by an expression", 0),
    ("a AND", "AND must be followed by an expression", 2),
    ("a OR", "OR must be followed by an expression", 2),
    ("NOT", "NOT must be followed by an expression", 0),
    ("a NOT ", "NOT must be followed by an expression", 2),
    ("a OR OR b", "OR must be followed by an expression", 2),
    ("a AND OR b", "AND must be followed by an expression", 2),
    ("(a OR) b", "OR must be followed by an expression", 3),
    ("-AND", "AND must be preceded by an expression", 1),
    ("@f==()", "empty value list", 4),
    ("@f==( )", "empty value list", 4),
    ("@f==(a,", "'(' is never closed", 4),
    ("@f==(a", "'(' is never closed", 4),
    ("@f==(a,)", "expected a value", 7),
    ("@f==(,a)", "expected a value", 5),
    ("@f==(a b)", "expected ',' or ')' in a value list", 7),
    ("@f==,", "expected a value", 4),
    ("@size=10..", "a range needs an upper bound", 8),
    ("@size=10.. )", "a range needs an upper bound", 8),
    ("@size<abc", "operator < needs a number or a date", 6),
    ('@size>"10"', "operator > needs a number or a date", 6),
    ("@size<(1,2)", "operator < needs a number or a date", 6),
    ("@size>1..2", "operator > needs a number or a date", 6),
    ("@size=a..b", "a range needs numbers or dates", 6),
    ("@size=1..now", "both ends of a range must be numbers, or both dates", 6),
    ("@uri*=1..2", "a range needs numbers or dates", 6),
    ("@d==2024/02/30", "invalid date '2024/02/30'", 4),
    ("@d>2024-13-01", "invalid date", 3),
    ("@d>2024-01-01T24:00", "invalid date", 3),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_errors_carry_message_and_position(text: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    assert message in caught.value.message
    assert caught.value.position == position


# -- to_text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (MatchAll(), ""),
        (And((T("a"), Or((T("b"), T("c"))))), "a AND (b OR c)"),
        (Or((And((T("a"), T("b"))), Not(T("c")))), "(a AND b) OR NOT c"),
        (Not(And((T("a"), T("b")))), "NOT (a AND b)"),
        (Not(MatchAll()), 'NOT ""'),
        (Phrase(("say", '"hi"', "c:\\")), '"say \\"hi\\" c:\\\\"'),
        (F("author"), "@author"),
        (F("source", "==", S("My source")), '@source=="My source"'),
        (F("a", "==", S("now")), '@a=="now"'),
        (F("a", "==", S("10")), '@a=="10"'),
        (F("a", "==", S("")), '@a==""'),
        (F("a", "=", S("=x")), '@a="=x"'),
        (F("a", "=", S("x.")), '@a="x."'),
        (F("a", "=", S("a..b")), '@a="a..b"'),
        (F("a", "==", S("plain")), "@a==plain"),
        (F("a", ">", N(10)), "@a>10"),
        (F("a", ">", N(1e-05)), "@a>0.00001"),
        (F("a", ">", N(1.5e20)), "@a>150000000000000000000.0"),
        (F("a", ">", N(-0.0)), "@a>-0.0"),
        (F("d", "=", RangeValue(D("now-1mo"), D("now"))), "@d=now-1mo..now"),
        (F("f", "==", ListValue((S("pdf"), S("a b"), N(3)))), '@f==(pdf,"a b",3)'),
    ],
)
def test_to_text(node: Node, text: str) -> None:
    assert to_text(node) == text
    assert parse(text) == node


# -- combine -----------------------------------------------------------------------------------

A_FIELD = F("x", "==", N(1))
C_FIELD = F("source", "==", S("web"))


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({}, MatchAll()),
        ({"q": "  ", "aq": "", "cq": None}, MatchAll()),
        ({"q": "a"}, T("a")),
        ({"aq": "@x==1"}, A_FIELD),
        ({"q": "a", "aq": "@x==1"}, And((T("a"), A_FIELD))),
        ({"q": "a b", "aq": "@x==1"}, And((T("a"), T("b"), A_FIELD))),
        ({"q": "a", "aq": "@x==1", "cq": "@source==web"}, And((T("a"), A_FIELD, C_FIELD))),
        ({"q": "a", "dq": "d"}, Or((T("a"), T("d")))),
        (
            {"q": "a", "aq": "@x==1", "dq": "d", "cq": "@source==web"},
            And((Or((And((T("a"), A_FIELD)), T("d"))), C_FIELD)),
        ),
        ({"dq": "d"}, T("d")),
        ({"dq": "d", "cq": "@source==web"}, And((T("d"), C_FIELD))),
        ({"cq": "@source==web"}, C_FIELD),
        ({"q": "a", "lq": "long text"}, And((T("a"), T("long"), T("text")))),
        ({"lq": 'broken "quote ( OR'}, And((T("broken"), T('"quote'), T("("), T("OR")))),
        ({"q": "a", "aq": "@x==1", "lq": "l"}, And((T("a"), T("l"), A_FIELD))),
        (
            {"q": '"a b"', "aq": "@x==1", "enable_query_syntax": False},
            And((T('"a'), T('b"'), A_FIELD)),
        ),
        ({"q": T("a"), "cq": C_FIELD}, And((T("a"), C_FIELD))),
        ({"q": MatchAll(), "dq": "d"}, T("d")),
    ],
)
def test_combine(parts: dict[str, object], expected: Node) -> None:
    assert combine(**parts) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["q", "aq", "cq", "dq"])
def test_combine_names_the_part_that_does_not_parse(name: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        combine(**{name: "ok (broken"})
    assert caught.value.message == f"{name}: unbalanced parentheses: '(' is never closed"
    assert caught.value.position == 3


# -- dates -------------------------------------------------------------------------------------

NOW = "2024-03-15T10:30:45.123+00:00"
END_OF_MONTH = "2024-03-31T08:00:00+00:00"


@pytest.mark.parametrize(
    ("spec", "now", "expected"),
    [
        ("now", NOW, NOW),
        ("today", NOW, "2024-03-15T00:00:00+00:00"),
        ("yesterday", NOW, "2024-03-14T00:00:00+00:00"),
        ("now-7d", NOW, "2024-03-08T10:30:45.123+00:00"),
        ("now+2h", NOW, "2024-03-15T12:30:45.123+00:00"),
        ("now-30m", NOW, "2024-03-15T10:00:45.123+00:00"),
        ("now-30min", NOW, "2024-03-15T10:00:45.123+00:00"),
        ("now-45s", NOW, "2024-03-15T10:30:00.123+00:00"),
        ("now-2w", NOW, "2024-03-01T10:30:45.123+00:00"),
        ("now-1mo", NOW, "2024-02-15T10:30:45.123+00:00"),
        ("now+1y", NOW, "2025-03-15T10:30:45.123+00:00"),
        ("today-1d+2h", NOW, "2024-03-14T02:00:00+00:00"),
        ("yesterday-1y", NOW, "2023-03-14T00:00:00+00:00"),
        ("now-1mo", END_OF_MONTH, "2024-02-29T08:00:00+00:00"),
        ("now-13mo", END_OF_MONTH, "2023-02-28T08:00:00+00:00"),
        ("now+1y", "2024-02-29T00:00:00+00:00", "2025-02-28T00:00:00+00:00"),
        ("2024/01/31", NOW, "2024-01-31T00:00:00+00:00"),
        ("2024-01-31", NOW, "2024-01-31T00:00:00+00:00"),
        ("2024/1/5", NOW, "2024-01-05T00:00:00+00:00"),
        ("2024/01/31@12:00:00", NOW, "2024-01-31T12:00:00+00:00"),
        ("2024-01-31T12:00", NOW, "2024-01-31T12:00:00+00:00"),
        ("2024-01-31T12:00:00.5Z", NOW, "2024-01-31T12:00:00.500+00:00"),
        ("2024-01-31T12:00:00+02:00", NOW, "2024-01-31T10:00:00+00:00"),
        ("2024-01-31T12:00:00-0500", NOW, "2024-01-31T17:00:00+00:00"),
        ("1969-12-31T23:59:59Z", NOW, "1969-12-31T23:59:59+00:00"),
    ],
)
def test_resolve_date(spec: str, now: str, expected: str) -> None:
    assert resolve_date(spec, ms(now)) == ms(expected)


@pytest.mark.parametrize(
    "spec",
    [
        "2024/02/30",
        "2024/13/01",
        "2024-01-31T25:00",
        "2024-01-31T12:00+24:00",
        "later",
        "now-1q",
        "now-20000y",
        "Today",
    ],
)
def test_resolve_date_rejects(spec: str) -> None:
    with pytest.raises(QuerySyntaxError, match="invalid date"):
        resolve_date(spec, ms(NOW))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", True),
        ("now-1d+3h", True),
        ("2024/1/31", True),
        ("2024/02/30", True),
        ("2024-01/31", False),
        ("now-1M", False),
        ("now-d", False),
        ("Today", False),
        ("2024", False),
        ("tomorrow", False),
    ],
)
def test_is_date_spec(text: str, expected: bool) -> None:
    assert is_date_spec(text) is expected


# -- node construction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Term(""),
        lambda: Term("two words"),
        lambda: Phrase(()),
        lambda: Phrase(("a b",)),
        lambda: Wildcard("nostar"),
        lambda: And((T("a"),)),
        lambda: Or(()),
        lambda: FieldExpr("Author", "exists"),
        lambda: FieldExpr("a", "~=", S("x")),
        lambda: FieldExpr("a", "exists", S("x")),
        lambda: FieldExpr("a", "=="),
        lambda: FieldExpr("a", ">", S("x")),
        lambda: FieldExpr("a", "*=", N(1)),
        lambda: NumberValue(float("nan")),
        lambda: NumberValue(True),
        lambda: DateValue("soon"),
        lambda: RangeValue(S("a"), S("b")),
        lambda: ListValue(()),
        lambda: any_of(),
    ],
)
def test_invalid_nodes_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_all_of_and_any_of_flatten_and_simplify() -> None:
    a, b, c = T("a"), T("b"), T("c")
    assert all_of() == MatchAll()
    assert all_of(a, MatchAll()) == a
    assert all_of(And((a, b)), c) == And((a, b, c))
    assert any_of(a) == a
    assert any_of(Or((a, b)), c) == Or((a, b, c))
    assert any_of(a, MatchAll()) == MatchAll()


# -- properties ----------------------------------------------------------------------------------

words = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.,:'-]{0,8}", fullmatch=True).filter(
    lambda w: w not in {"AND", "OR", "NOT"}
)
phrase_words = st.text(min_size=1, max_size=6).filter(lambda w: not any(c.isspace() for c in w))
field_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
strings = st.builds(StringValue, st.text(max_size=10))
numbers = st.builds(NumberValue, st.integers() | st.floats(allow_nan=False, allow_infinity=False))
relative_dates = st.from_regex(
    r"(now|today|yesterday)([+-][0-9]{1,3}(mo|min|[ywdhms])){0,2}", fullmatch=True
)
absolute_dates = st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%Y/%m/%d"))
dates = st.builds(DateValue, relative_dates | absolute_dates)
scalars = strings | numbers | dates
ranges = st.builds(RangeValue, numbers, numbers) | st.builds(RangeValue, dates, dates)
lists = st.lists(scalars, min_size=1, max_size=4).map(lambda xs: ListValue(tuple(xs)))
string_lists = st.lists(strings, min_size=1, max_size=3).map(lambda xs: ListValue(tuple(xs)))

fields = st.one_of(
    st.builds(FieldExpr, field_names, st.just("exists")),
    st.builds(FieldExpr, field_names, st.sampled_from(["==", "=", "<>"]), scalars | ranges | lists),
    st.builds(FieldExpr, field_names, st.sampled_from(["<", "<=", ">", ">="]), numbers | dates),
    st.builds(FieldExpr, field_names, st.just("*="), strings | string_lists),
)
leaves = st.one_of(
    st.builds(Term, words),
    st.lists(phrase_words, min_size=1, max_size=3).map(lambda ws: Phrase(tuple(ws))),
    st.from_regex(r"[a-z]{0,3}\*[a-z*]{0,3}", fullmatch=True).map(Wildcard),
    fields,
)
trees = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: all_of(*xs)),
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: any_of(*xs)),
        kids.map(Not),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_round_trip_of_random_trees(tree: Node) -> None:
    assert parse(to_text(tree)) == tree


symbols = list('ab()"\\,*- ')
tokens = ["AND", "OR", "NOT", "@f", "@g", "==", "=", "<", ">=", "*=", "..", "10", "-2.5", "x*"]
query_pieces = st.sampled_from(symbols) | st.sampled_from([*tokens, "now-1d", "2024/01/31"])
query_texts = st.one_of(
    st.lists(query_pieces, max_size=14).map("".join),
    st.lists(query_pieces, max_size=10).map(" ".join),
    st.text(max_size=20),
)


@settings(max_examples=600, deadline=None)
@given(query_texts)
def test_any_text_parses_or_fails_cleanly_and_parsing_is_idempotent(text: str) -> None:
    try:
        tree = parse(text)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        return
    assert parse(to_text(tree)) == tree
