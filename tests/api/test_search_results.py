"""Results end to end: sorting and paging, facets and groupBy under trimming, result shape.

Two sources are pushed once per module: a SHARED one for sorting (values with ties, missing
values, DOUBLE values that are sometimes integral, multi-valued items, several index segments)
and a SECURED one where user A sees some items and user B others, for facets. Every expectation
is computed in Python from the pushed values.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from tests.api.conftest import ORG
from tests.api.search_corpus import FIELDS, CorpusApi, corpus_client, corpus_runtime

__all__ = ["corpus_client", "corpus_runtime"]

BASE_MS = 1_700_000_000_000
CATEGORIES = ["b", "a", "C", "a b", "é", "A", "b"]


def sort_item(i: int) -> dict[str, Any]:
    body: dict[str, Any] = {"title": f"Item {i}", "data": f"common words {i}", "date": 0}
    body["date"] = BASE_MS + (i % 9) * 1000
    if i % 10:
        body["views"] = i % 7
    if i % 6:
        body["price"] = (i % 5) * 1.5
    if i % 4:
        body["category"] = CATEGORIES[i % len(CATEGORIES)]
    if i % 3 == 0:
        body["scores"] = [i % 4, 10 - i % 5]
    elif i % 3 == 1:
        body["scores"] = i % 6
    return body


SORT_ITEMS = {f"https://s/{i:02d}": sort_item(i) for i in range(45)}

USERS = ("a@x.com", "b@x.com")
SECURED_ITEMS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}
for _i in range(30):
    _who = (("a@x.com",), ("b@x.com",), ("a@x.com", "b@x.com"), ())[_i % 4]
    SECURED_ITEMS[f"https://t/{_i:02d}"] = (
        _who,
        {
            "title": f"Secured {_i}",
            "data": "quarterly figures" if _i % 5 else "other text",
            "author": ["Ann", "Bob", "Cyd", "Dee", "Eve"][_i % 5 if _i < 20 else (_i * 3) % 5],
            "category": ["red", "green", "blue"][(_i * 7) % 3],
            "tags": ["x", "y", "z"][: 1 + _i % 3],
            "views": _i * 10,
            "published": f"2024-0{1 + _i % 6}-1{_i % 10}T08:00:00Z",
        },
    )


def permissions(users: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "allowAnonymous": False,
            "allowedPermissions": [{"identity": u, "identityType": "User"} for u in users],
            "deniedPermissions": [],
        }
    ]


@pytest.fixture(scope="module")
def corpus(corpus_client: CorpusApi) -> CorpusApi:
    api = corpus_client
    api.create_fields(FIELDS)
    shared = api.create_source("sorting", "SHARED")
    secured = api.create_source("secured", "SECURED")
    api.shared, api.secured = shared, secured  # type: ignore[attr-defined]
    order = list(SORT_ITEMS)
    random.Random(7).shuffle(order)  # index order must not be uid order
    for start in range(0, len(order), 15):  # three commits: three segments
        for uri in order[start : start + 15]:
            api.push(shared, uri, SORT_ITEMS[uri])
        api.drain()
    for uri, (users, body) in SECURED_ITEMS.items():
        api.push(secured, uri, {**body, "permissions": permissions(users)})
    api.drain()
    return api


# -- sorting and paging ------------------------------------------------------------------


def sort_value(value: Any, descending: bool) -> Any:
    """An item's value for a sort: its largest in descending order, else its smallest."""
    if not isinstance(value, list):
        return value
    return max(value) if descending else min(value)


def expected_order(criteria: str, corpus: CorpusApi) -> list[str]:
    """The URIs of the sorting source in ``criteria`` order, computed in Python."""
    uris = sorted(SORT_ITEMS, key=lambda uri: f"{ORG}\x1f{corpus.shared}\x1f{uri}")  # type: ignore[attr-defined]
    for part in reversed(criteria.split(",")):
        name, direction = part.split()
        key = "date" if name == "date" else name.lstrip("@")
        having = [u for u in uris if key in SORT_ITEMS[u]]
        missing = [u for u in uris if key not in SORT_ITEMS[u]]
        descending = direction == "descending"
        having.sort(key=lambda u: sort_value(SORT_ITEMS[u][key], descending), reverse=descending)
        uris = having + missing
    return uris


def page_through(corpus: CorpusApi, size: int, **body: Any) -> list[str]:
    uris: list[str] = []
    for start in range(0, 60, size):
        result = corpus.search(
            aq="@source==sorting", firstResult=start, numberOfResults=size, **body
        )
        assert result["totalCount"] == len(SORT_ITEMS)
        uris.extend(r["uri"] for r in result["results"])
    return uris


SORTS = [
    "date ascending",
    "date descending",
    "@views descending",
    "@views ascending",
    "@price ascending",
    "@price descending",
    "@category ascending",
    "@category descending,@views ascending",
    "date ascending,@views descending",
    "@views descending,@price ascending",
    "@views ascending,@category descending,@price descending",
    "@scores ascending",
    "@scores descending,date ascending",
]


@pytest.mark.parametrize("criteria", SORTS)
@pytest.mark.parametrize("size", [1, 7, 45])
def test_pages_follow_the_sort_without_overlap_or_gap(
    corpus: CorpusApi, criteria: str, size: int
) -> None:
    assert page_through(corpus, size, sortCriteria=criteria) == expected_order(criteria, corpus)


@pytest.mark.parametrize("criteria", ["relevancy", "nosort", "qre"])
def test_ranked_pages_are_stable(corpus: CorpusApi, criteria: str) -> None:
    whole = page_through(corpus, 45, sortCriteria=criteria, q="common")
    assert sorted(whole) == sorted(SORT_ITEMS)
    assert page_through(corpus, 4, sortCriteria=criteria, q="common") == whole


def test_sort_applies_after_trimming(corpus: CorpusApi) -> None:
    token = corpus.token("a@x.com")
    visible = sorted(
        (u for u, (users, _) in SECURED_ITEMS.items() if "a@x.com" in users),
        key=lambda u: (-SECURED_ITEMS[u][1]["views"], u),
    )
    pages = []
    for start in range(0, 30, 4):
        result = corpus.search(
            token,
            view_all=False,
            aq="@source==secured",
            sortCriteria="@views descending",
            firstResult=start,
            numberOfResults=4,
        )
        assert result["totalCount"] == len(visible)
        pages.extend(r["uri"] for r in result["results"])
    assert pages == visible


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ("relevancy,date ascending", "cannot be combined"),
        ("date ascending,date descending", "appears twice"),
        ("@nosuchfield ascending", "unknown field @nosuchfield"),
        ("@author ascending", "@author is not sortable"),
        ("@views upward", "expected ascending or descending"),
        ("views ascending", "unknown key 'views'"),
        ("date ascending,", "empty key"),
        ("nosort descending", "takes no direction"),
    ],
)
def test_an_invalid_sort_is_a_400(corpus: CorpusApi, criteria: str, message: str) -> None:
    r = corpus.raw_search(sortCriteria=criteria)
    assert r.status_code == 400, r.text
    assert r.json()["errorCode"] == "INVALID_REQUEST"
    assert message in r.json()["message"]


def test_sort_criteria_are_case_insensitive_and_accept_the_legacy_forms(corpus: CorpusApi) -> None:
    expected = expected_order("date descending", corpus)
    assert page_through(corpus, 45, sortCriteria="DateDescending") == expected
    assert page_through(corpus, 45, sortCriteria="DATE Descending") == expected
    assert page_through(corpus, 45, sortCriteria="date") == expected
    assert page_through(corpus, 45, sortCriteria="@Views") == expected_order(
        "@views ascending", corpus
    )


# -- facets and groupBy under trimming -----------------------------------------------------


def visible_to(user: str) -> list[dict[str, Any]]:
    return [body for users, body in SECURED_ITEMS.values() if user in users]


def counts(items: list[dict[str, Any]], name: str) -> Counter[str]:
    counter: Counter[str] = Counter()
    for body in items:
        values = body[name] if isinstance(body[name], list) else [body[name]]
        counter.update(str(v) for v in values)
    return counter


def by_occurrences(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


FACETS = [
    {"facetId": "author", "field": "author", "numberOfValues": 100},
    {"facetId": "cat", "field": "category", "type": "specific", "numberOfValues": 100},
    {"facetId": "tags", "field": "tags", "numberOfValues": 100},
    {
        "facetId": "views",
        "field": "views",
        "type": "numericalRange",
        "currentValues": [
            {"start": 0, "end": 100, "endInclusive": False, "state": "idle"},
            {"start": 100, "end": 200, "endInclusive": True, "state": "idle"},
            {"start": 50, "end": 250, "endInclusive": False, "state": "idle"},
        ],
    },
    {
        "facetId": "published",
        "field": "published",
        "type": "dateRange",
        "currentValues": [
            {"start": "2024/01/01@00:00:00", "end": "2024/03/01@00:00:00", "state": "idle"},
            {"start": "2024/03/01@00:00:00", "end": "2024/07/01@00:00:00", "state": "idle"},
        ],
    },
]


def expected_facets(items: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    views = [b["views"] for b in items]
    published = [ms(b["published"]) for b in items]
    march = ms("2024-03-01T00:00:00Z")
    return {
        "author": by_occurrences(counts(items, "author")),
        "cat": by_occurrences(counts(items, "category")),
        "tags": by_occurrences(counts(items, "tags")),
        "views": [  # ranges come back in ascending order of their start
            (0, 100, sum(0 <= v < 100 for v in views)),
            (50, 250, sum(50 <= v < 250 for v in views)),
            (100, 200, sum(100 <= v <= 200 for v in views)),
        ],
        "published": [
            ("2024/01/01@00:00:00", "2024/03/01@00:00:00", sum(p < march for p in published)),
            ("2024/03/01@00:00:00", "2024/07/01@00:00:00", sum(p >= march for p in published)),
        ],
    }


def answered_facets(result: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    answer: dict[str, list[tuple[Any, ...]]] = {}
    for facet in result["facets"]:
        rows: list[tuple[Any, ...]] = []
        for value in facet["values"]:
            if "start" in value:
                rows.append((value["start"], value["end"], value["numberOfResults"]))
            else:
                rows.append((value["value"], value["numberOfResults"]))
        answer[facet["facetId"]] = rows
    return answer


def test_facet_counts_cover_exactly_the_items_each_user_may_see(corpus: CorpusApi) -> None:
    answers = {}
    for user in USERS:
        token = corpus.token(user)
        result = corpus.search(
            token, view_all=False, aq="@source==secured", facets=FACETS, numberOfResults=0
        )
        items = visible_to(user)
        assert result["totalCount"] == len(items)
        answers[user] = answered_facets(result)
        assert answers[user] == expected_facets(items), user
    assert answers["a@x.com"] != answers["b@x.com"]


def test_facets_count_only_what_the_query_matches(corpus: CorpusApi) -> None:
    token = corpus.token("a@x.com")
    result = corpus.search(
        token, view_all=False, q="quarterly", aq="@source==secured", facets=FACETS
    )
    items = [b for b in visible_to("a@x.com") if "quarterly" in b["data"]]
    assert answered_facets(result) == expected_facets(items)


def test_group_by_counts_under_trimming(corpus: CorpusApi) -> None:
    group_by = [
        {"field": "@author"},
        {"field": "@category", "sortCriteria": "alphaDescending", "maximumNumberOfValues": 2},
        {"field": "@tags", "allowedValues": ["x", "Z*"]},
        {"field": "@author", "queryOverride": "other", "sortCriteria": "AlphaAscending"},
        {"field": "@views", "rangeValues": [{"start": 0, "end": 150, "label": "low"}]},
    ]
    for user in USERS:
        token = corpus.token(user)
        result = corpus.search(
            token, view_all=False, q="quarterly", aq="@source==secured", groupBy=group_by
        )
        items = [b for b in visible_to(user) if "quarterly" in b["data"]]
        others = [b for b in visible_to(user) if "other" in b["data"]]
        groups = result["groupByResults"]
        assert [g["field"] for g in groups] == ["author", "category", "tags", "author", "views"]
        assert all(g["globalComputedFieldResults"] == [] for g in groups)

        def pairs(group: dict[str, Any]) -> list[tuple[str, int]]:
            return [(v["value"], v["numberOfResults"]) for v in group["values"]]

        assert pairs(groups[0]) == by_occurrences(counts(items, "author"))[:10]
        categories = sorted(counts(items, "category").items(), reverse=True)
        assert pairs(groups[1]) == categories[:2]
        tags = counts(items, "tags")
        assert pairs(groups[2]) == by_occurrences(Counter({k: tags[k] for k in ("x", "z")}))
        assert pairs(groups[3]) == sorted(counts(others, "author").items())
        low = sum(b["views"] < 150 for b in items)
        assert pairs(groups[4]) == [("0..150", low)]
        assert groups[4]["values"][0]["lookupValue"] == "low"
        value = groups[0]["values"][0]
        assert value["valueType"] == "Standard"
        assert value["lookupValue"] == value["value"]
        assert value["score"] == value["numberOfResults"]
        assert value["computedFieldResults"] == []


def test_a_selected_value_filters_results_and_the_other_facets(corpus: CorpusApi) -> None:
    token = corpus.token("b@x.com")
    facets = [
        {
            "facetId": "cat",
            "field": "category",
            "currentValues": [{"value": "red", "state": "selected"}],
        },
        {"facetId": "author", "field": "author", "numberOfValues": 100},
    ]
    result = corpus.search(
        token, view_all=False, aq="@source==secured", facets=facets, numberOfResults=100
    )
    items = visible_to("b@x.com")
    red = [b for b in items if b["category"] == "red"]
    assert result["totalCount"] == len(red)
    assert {r["title"] for r in result["results"]} == {b["title"] for b in red}
    cat, author = result["facets"]
    # the facet's own selection does not hide its other values
    assert [(v["value"], v["numberOfResults"]) for v in cat["values"]] == by_occurrences(
        counts(items, "category")
    )
    assert {v["value"]: v["state"] for v in cat["values"]}["red"] == "selected"
    assert {v["state"] for v in cat["values"] if v["value"] != "red"} == {"idle"}
    assert [(v["value"], v["numberOfResults"]) for v in author["values"]] == by_occurrences(
        counts(red, "author")
    )


def test_a_selected_range_filters_results(corpus: CorpusApi) -> None:
    token = corpus.token("a@x.com")
    facets = [
        {
            "facetId": "views",
            "field": "views",
            "type": "numericalRange",
            "currentValues": [
                {"start": 100, "end": 200, "endInclusive": True, "state": "selected"},
                {"start": 0, "end": 50, "endInclusive": False, "state": "idle"},
            ],
        }
    ]
    result = corpus.search(
        token, view_all=False, aq="@source==secured", facets=facets, numberOfResults=100
    )
    chosen = [b for b in visible_to("a@x.com") if 100 <= b["views"] <= 200]
    assert {r["title"] for r in result["results"]} == {b["title"] for b in chosen}
    values = result["facets"][0]["values"]
    assert [(v["start"], v["end"], v["endInclusive"], v["state"]) for v in values] == [
        (0, 50, False, "idle"),
        (100, 200, True, "selected"),
    ]


def test_generated_ranges_cover_every_visible_value(corpus: CorpusApi) -> None:
    token = corpus.token("a@x.com")
    facets = [
        {"facetId": "v", "field": "views", "type": "numericalRange", "numberOfValues": 4},
        {"facetId": "d", "field": "published", "type": "dateRange", "numberOfValues": 3},
    ]
    result = corpus.search(token, view_all=False, aq="@source==secured", facets=facets)
    items = visible_to("a@x.com")
    views, published = result["facets"]
    assert sum(v["numberOfResults"] for v in views["values"]) == len(items)
    for value in views["values"]:
        inside = [b for b in items if value["start"] <= b["views"] < value["end"]]
        assert value["numberOfResults"] == len(inside) > 0
    assert sum(v["numberOfResults"] for v in published["values"]) == len(items)
    for value in published["values"]:
        assert value["start"].count("/") == 2 and "@" in value["start"]


def test_facets_on_fields_that_are_not_facets_have_no_values(corpus: CorpusApi) -> None:
    facets = [
        {"facetId": "note", "field": "note"},
        {"facetId": "nope", "field": "nosuchfield"},
    ]
    result = corpus.search(facets=facets, groupBy=[{"field": "@note"}])
    assert [(f["facetId"], f["values"], f["moreValuesAvailable"]) for f in result["facets"]] == [
        ("note", [], False),
        ("nope", [], False),
    ]
    assert result["groupByResults"] == [
        {"field": "note", "values": [], "globalComputedFieldResults": []}
    ]


def test_facet_value_orders_and_truncation(corpus: CorpusApi) -> None:
    def values(**facet: Any) -> tuple[list[str], bool]:
        spec = {"facetId": "a", "field": "author", **facet}
        result = corpus.search(aq="@source==secured", facets=[spec])
        answer = result["facets"][0]
        return [v["value"] for v in answer["values"]], answer["moreValuesAvailable"]

    every = counts([body for _, body in SECURED_ITEMS.values()], "author")
    assert values(numberOfValues=2) == ([k for k, _ in by_occurrences(every)][:2], True)
    assert values(numberOfValues=5) == ([k for k, _ in by_occurrences(every)], False)
    assert values(sortCriteria="alphanumeric") == (sorted(every), False)
    assert values(sortCriteria="alphanumericDescending") == (sorted(every, reverse=True), False)
    assert values(allowedValues=["a*", "?ob"]) == (["Ann", "Bob"], False)


@pytest.mark.parametrize(
    ("facets", "message"),
    [
        ([{"field": "author", "type": "hierarchical"}], "not supported"),
        ([{"field": "author", "sortCriteria": "sideways"}], "unknown sortCriteria"),
        ([{"field": "author"}, {"field": "author"}], "used twice"),
        ([{"type": "specific"}], "needs a 'field'"),
        ([{"field": "views", "type": "numericalRange", "currentValues": [{"start": "x"}]}], "x"),
        ([{"field": "author", "type": "numericalRange"}], "needs a numeric or DATE field"),
        ("author", "facets must be an array"),
    ],
)
def test_invalid_facets_are_a_400(corpus: CorpusApi, facets: Any, message: str) -> None:
    r = corpus.raw_search(facets=facets)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]


def test_computed_field_group_by_sorts_are_refused(corpus: CorpusApi) -> None:
    r = corpus.raw_search(groupBy=[{"field": "@author", "sortCriteria": "ComputedFieldAscending"}])
    assert r.status_code == 400


# -- result shape --------------------------------------------------------------------------


def test_fields_to_include_and_exclude(corpus: CorpusApi) -> None:
    def raw(**body: Any) -> dict[str, Any]:
        result = corpus.search(aq="@source==sorting", sortCriteria="@views descending", **body)
        return dict(result["results"][0]["raw"])

    assert set(raw(fieldsToInclude=["@views", "Title", "nosuch"])) == {"views", "title"}
    excluded = raw(fieldsToExclude=["views", "@title"])
    assert "views" not in excluded and "title" not in excluded and "date" in excluded
    assert set(raw(fieldsToInclude=["title"], fieldsToExclude=["title"])) == {"title"}


def test_excerpt_and_highlights(corpus: CorpusApi) -> None:
    result = corpus.search(q="quarterly", aq="@source==secured", numberOfResults=1)
    hit = result["results"][0]
    assert "quarterly" in hit["excerpt"]
    for span in hit["excerptHighlights"]:
        text = hit["excerpt"][span["offset"] : span["offset"] + span["length"]]
        assert text.lower() == "quarterly"
    assert hit["excerptHighlights"]
    assert hit["titleHighlights"] == []
    titled = corpus.search(q="secured", aq="@source==secured", numberOfResults=1)["results"][0]
    assert titled["titleHighlights"] == [{"offset": 0, "length": 7}]


def test_durations_and_search_uid(corpus: CorpusApi) -> None:
    first_answer = corpus.search(q="common")
    second_answer = corpus.search(q="common")
    for answer in (first_answer, second_answer):
        assert answer["totalCount"] == answer["totalCountFiltered"]
        durations = [answer[k] for k in ("indexDuration", "requestDuration", "duration")]
        assert all(isinstance(d, int) and d >= 0 for d in durations)
        assert durations == sorted(durations)
    assert first_answer["searchUid"] != second_answer["searchUid"]


def test_view_all_content_needs_the_privilege(corpus: CorpusApi) -> None:
    token = corpus.token("a@x.com")
    r = corpus.raw_search(token, view_all=True)
    assert r.status_code == 403
    everything = corpus.search(aq="@source==secured", numberOfResults=100)
    assert everything["totalCount"] == len(SECURED_ITEMS)
    assert corpus.search(token, view_all=False, aq="@source==secured")["totalCount"] == len(
        visible_to("a@x.com")
    )
