"""The embedded index trims selective queries item by item exactly as its permission filter does.

One random corpus of permission models (one and two levels, several sets, denials, anonymous,
items over the 16 token slots, items in a shared source) is written to a tantivy index and
searched through two handles on it: one with the default candidate limit and one that always
runs the permission filter (``candidate_limit=0``). Random users and selective queries must
give the same totals, the same pages in the same order with the same scores, and every hit
must be allowed by the filter itself (``acl.matches``) on the item's own tokens.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tantivy

from openpush.domain.fields import FieldDefinition, FieldType, merged_fields
from openpush.domain.permissions import (
    IdentityType,
    PermissionIdentity,
    PermissionLevel,
    PermissionModel,
    PermissionSet,
)
from openpush.index.base import (
    FacetRequest,
    FieldFilter,
    IndexDocument,
    IndexResult,
    IndexSearch,
    SortKey,
    Visibility,
)
from openpush.index.tantivy import _candidates
from openpush.index.tantivy.engine import TantivyIndex, build_schema
from openpush.search.query import MatchAll, parse
from openpush.security import acl
from openpush.security.evaluate import ANONYMOUS, identity_key

PROVIDER = "P"
GROUPS = [f"g{n}" for n in range(12)]
USERS = [f"u{n}" for n in range(12)]
RARE = [f"rare{n}" for n in range(30)]
COMMON = ["alpha", "beta", "gamma"]
TAGS = ["red", "green", "blue", "Blue"]
FIELDS = merged_fields(
    [
        FieldDefinition("tags", FieldType.STRING, facet=True, sort=True),
        FieldDefinition("views", FieldType.LONG, facet=True, sort=True),
    ]
)
FACETS = [
    FacetRequest("t", "tags", count=3),
    FacetRequest("v", "views", kind="ranges", count=3),
    FacetRequest("o", "tags", query=parse(COMMON[0])),  # its own query: the whole filter
]


def model(rng: random.Random) -> PermissionModel:
    def pset(wide: bool = False) -> PermissionSet:
        names = rng.sample(GROUPS + USERS, 14 if wide else rng.randint(0, 3))
        allowed = tuple(
            PermissionIdentity(n, IdentityType.GROUP if n in GROUPS else IdentityType.USER)
            for n in names
        )
        denied = (PermissionIdentity(rng.choice(USERS)),) if rng.random() < 0.2 else ()
        return PermissionSet(rng.random() < 0.05, allowed, denied)

    wide = rng.random() < 0.1  # more tokens than the index keeps in fast fields
    levels = [PermissionLevel(tuple(pset(wide) for _ in range(rng.choice((1, 1, 2)))))]
    if rng.random() < 0.3:
        levels.insert(0, PermissionLevel((pset(),)))
    return PermissionModel(tuple(levels))


def corpus(rng: random.Random) -> list[tuple[IndexDocument, tuple[int, ...]]]:
    documents = []
    for n in range(600):
        encoding = acl.encode_model(model(rng), default_provider=PROVIDER)
        words = rng.sample(RARE, 2) + rng.sample(COMMON, rng.randint(0, 3))
        document = IndexDocument(
            org_id="o",
            source_id=rng.choice(["shared", "sec1", "sec2", "sec2"]),
            document_id=f"https://d/{n:04d}",
            title=" ".join(rng.sample(words, 1)),
            body=" ".join(rng.choices(words, k=rng.randint(1, 6))),
            date_ms=1_700_000_000_000,
            fields={"tags": rng.sample(TAGS, rng.randint(0, 2)), "views": [rng.randint(0, 9)]},
            raw={"n": n},
            acl=encoding.tokens,
        )
        documents.append((document, encoding.shape))
    return documents


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TantivyIndex, TantivyIndex, dict[str, frozenset[int]], set[tuple[int, ...]]]]:
    path: Path = tmp_path_factory.mktemp("candidates")
    documents = corpus(random.Random(11))
    checked = TantivyIndex(path)
    checked.candidate_cost = 0  # decide candidates however small the filter
    writer = checked.writer()
    for document, _ in documents:
        writer.upsert(document)
    writer.commit()
    filtered = TantivyIndex(path, candidate_limit=0)
    tokens = {document.document_id: document.acl for document, _ in documents}
    assert sum(len(t) > _candidates.SLOTS for t in tokens.values()) > 20
    yield checked, filtered, tokens, {shape for _, shape in documents}
    filtered.close()
    checked.close()


def user(rng: random.Random) -> frozenset[Any]:
    names = rng.sample(GROUPS + USERS, rng.randint(0, 8))
    keys = {identity_key(PROVIDER, name) for name in names}
    return frozenset(keys | ({ANONYMOUS} if rng.random() < 0.5 else set()))


def query(rng: random.Random) -> str:
    return rng.choice(
        [
            rng.choice(RARE),
            f"{rng.choice(RARE)} OR {rng.choice(RARE)}",
            f"{rng.choice(RARE)} {rng.choice(COMMON)}",
            f"({rng.choice(RARE)} OR {rng.choice(RARE)}) NOT {rng.choice(COMMON)}",
            f'"{rng.choice(RARE)} {rng.choice(COMMON)}"',
            rng.choice(COMMON),
        ]
    )


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[tuple[TantivyIndex, bool]]:
    """(index, decided its matches one by one) for every trimmed search from here on."""
    taken: list[tuple[TantivyIndex, bool]] = []
    decide = TantivyIndex._decide_candidates

    def recorded(self: TantivyIndex, *args: Any) -> Any:
        found = decide(self, *args)
        taken.append((self, found is not None))
        return found

    monkeypatch.setattr(TantivyIndex, "_decide_candidates", recorded)
    return taken


def answer(index: TantivyIndex, search: IndexSearch) -> tuple[int, list[tuple[str, float]]]:
    result = index.search(search)
    return result.total, [(hit.document_id, hit.score) for hit in result.hits]


@pytest.mark.parametrize("seed", range(6))
def test_selective_searches_answer_as_the_filter_does(
    indexed: Any, plans: list[tuple[TantivyIndex, bool]], seed: int
) -> None:
    checked, filtered, tokens, shapes = indexed
    rng = random.Random(seed)
    for n in range(40):
        expr = acl.visibility_filter(user(rng), shapes)
        shared = frozenset({"shared"}) if n % 3 == 0 else frozenset()
        text = query(rng)
        search = IndexSearch(
            org_id="o",
            query=parse(text),
            visibility=Visibility(shared, frozenset({"sec1", "sec2"}), expr),
            first=rng.choice([0, 0, 3]),
            count=rng.choice([5, 50]),
            sort=rng.choice([(SortKey(),), (SortKey("nosort"),)]),
        )
        expected = answer(filtered, search)
        assert answer(checked, search) == expected, text
        everything = checked.search(replace(search, first=0, count=1000))
        assert everything.total == expected[0] == len(everything.hits)
        for hit in everything.hits:
            assert hit.source_id in shared or acl.matches(expr, tokens[hit.document_id]), text
    decided = [taken for index, taken in plans if index is checked]
    assert sum(decided) >= len(decided) * 0.8  # most took the item-by-item way


def test_broad_searches_run_the_filter_and_sorts_and_facets_restrict_it(
    indexed: Any, plans: list[tuple[TantivyIndex, bool]]
) -> None:
    checked, _, _, shapes = indexed
    visibility = Visibility(
        frozenset(),
        frozenset({"sec1", "sec2"}),
        acl.visibility_filter(frozenset({identity_key(PROVIDER, "g1")}), shapes),
    )
    search = IndexSearch("o", parse(RARE[0]), visibility)
    checked.search(search)
    checked.search(replace(search, query=MatchAll()))  # no bound: everything may match
    checked.search(replace(search, sort=(SortKey("date"),)))  # field sorts: restricted
    checked.search(replace(search, facets=[FacetRequest("f", "tags")]))  # facets: restricted
    limit, checked.candidate_limit = checked.candidate_limit, 5
    try:
        checked.search(search)  # more than 5 items hold the word
    finally:
        checked.candidate_limit = limit
    assert [taken for _, taken in plans] == [True, False, False]


def test_an_index_written_before_the_candidate_fields_still_opens_and_trims(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tantivy.Index(build_schema(candidates=False), path=str(tmp_path), reuse=True)
    with caplog.at_level(logging.WARNING, logger="openpush"):
        index = TantivyIndex(tmp_path)
    assert not index.checks_candidates
    assert "predates per-item permission fields" in caplog.text
    writer = index.writer()
    for n, tokens in enumerate([{1}, {2}, {1, 2}]):
        writer.upsert(
            IndexDocument("o", "s", f"d{n}", "word", "word", 0, {}, {}, frozenset(tokens))
        )
    writer.commit()
    visibility = Visibility(frozenset(), frozenset({"s"}), acl.any_of([2]))
    result = index.search(IndexSearch("o", parse("word"), visibility))
    assert sorted(hit.document_id for hit in result.hits) == ["d1", "d2"]
    assert result.total == 2
    index.close()


def test_words_that_go_together_more_than_expected_fall_back_to_the_filter(
    tmp_path: Path, plans: list[tuple[TantivyIndex, bool]]
) -> None:
    """``x`` and ``y`` are each in half the items, so ``x y`` should match a quarter: it
    matches half, more than the limit, and the search must still count them all."""
    index = TantivyIndex(tmp_path, candidate_limit=6)
    index.candidate_cost = 0
    writer = index.writer()
    for n in range(20):
        text = "x y" if n < 10 else "z"
        writer.upsert(IndexDocument("o", "s", f"d{n}", text, text, 0, {}, {}, frozenset({1})))
    writer.commit()
    visibility = Visibility(frozenset(), frozenset({"s"}), acl.any_of([1]))
    assert index.search(IndexSearch("o", parse("x y"), visibility, count=20)).total == 10
    assert index.search(IndexSearch("o", parse("z"), visibility, count=3)).total == 10
    assert [taken for _, taken in plans] == [False, False]
    index.candidate_limit = 10
    result = index.search(IndexSearch("o", parse("x y"), visibility, count=20))
    assert (result.total, len(result.hits)) == (10, 10)
    assert [taken for _, taken in plans] == [False, False, True]
    index.close()


def test_a_small_filter_runs_rather_than_deciding_many_matches(
    tmp_path: Path, plans: list[tuple[TantivyIndex, bool]]
) -> None:
    """Deciding a match costs about as much as ``candidate_cost`` postings of the filter: a
    filter over few postings is cheaper to run than deciding as many matches as it has."""
    index = TantivyIndex(tmp_path)
    writer = index.writer()
    for n in range(40):
        tokens = frozenset({1} if n < 4 else {2})
        writer.upsert(IndexDocument("o", "s", f"d{n}", "word", "word", 0, {}, {}, tokens))
    writer.commit()
    small = Visibility(frozenset(), frozenset({"s"}), acl.any_of([1]))  # 4 postings
    large = Visibility(frozenset(), frozenset({"s"}), acl.any_of([2]))  # 36 postings
    search = IndexSearch("o", parse("word"), small, count=50)  # 40 matches
    assert index.search(search).total == 4
    index.candidate_cost = 0.5
    assert index.search(search).total == 4  # 40 * 0.5 > 4: still the filter
    assert index.search(replace(search, visibility=large)).total == 36  # 40 * 0.5 <= 36
    assert [taken for _, taken in plans] == [False, False, True]
    index.close()


def test_estimates_bound_the_matches(tmp_path: Path) -> None:
    index = TantivyIndex(tmp_path)
    writer = index.writer()
    texts = ["red fox", "red dog", "red", "blue fox", "Foxes running"]
    for n, text in enumerate(texts):
        writer.upsert(IndexDocument("o", "s", f"d{n}", text, "", 0, {}, {}, frozenset()))
    writer.commit()
    estimate = index._compiler.estimate
    for text in ["red", "fox", "red fox", "red OR blue", '"red fox"', "red (fox OR dog)"]:
        found = estimate(parse(text))
        matches = index.search(IndexSearch("o", parse(text), None, count=10)).total
        assert found is not None and found[0] >= matches, text
    assert estimate(parse("red")) == (3, 3.0)  # title 3, body 0
    assert estimate(parse("fox")) == (3, 3.0)  # stemmed: fox, fox, foxes
    assert estimate(parse("red fox")) == (3, pytest.approx(3 * 3 / 5))  # independent parts
    assert estimate(parse("red OR blue")) == (4, 4.0)
    assert estimate(parse('"red fox"')) == (3, 3.0)  # its rarest word
    for broad in ["", "NOT red", "fo*", "@views>2"]:
        assert estimate(parse(broad)) is None, broad
    assert estimate(parse("red NOT blue")) == (3, 3.0)  # the negation adds no bound
    index.close()


def facet_answer(result: IndexResult) -> tuple[Any, ...]:
    facets = [(f.id, [(b.count, b.value, b.range) for b in f.buckets]) for f in result.facets]
    return result.total, [hit.document_id for hit in result.hits], facets


@pytest.mark.parametrize("seed", range(4))
def test_facets_and_field_sorts_count_as_the_whole_filter_does(
    indexed: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Searches with facets or field sorts run a filter cut down to the tokens the query's
    matches hold: the same totals, pages and facet counts as the whole filter."""
    checked, filtered, _, shapes = indexed
    restricted = []
    restrict = TantivyIndex._restricted_visibility

    def recorded(self: TantivyIndex, *args: Any) -> Any:
        found = restrict(self, *args)
        if self is checked:
            restricted.append(found is not None)
        return found

    monkeypatch.setattr(TantivyIndex, "_restricted_visibility", recorded)
    rng = random.Random(100 + seed)
    for n in range(25):
        search = IndexSearch(
            org_id="o",
            query=parse(query(rng)),
            visibility=Visibility(
                frozenset({"shared"}) if n % 3 == 0 else frozenset(),
                frozenset({"sec1", "sec2"}),
                acl.visibility_filter(user(rng), shapes),
            ),
            first=rng.choice([0, 2]),
            count=rng.choice([3, 50]),
            sort=rng.choice(
                [(SortKey(),), (SortKey("views"), SortKey("tags", False)), (SortKey("date"),)]
            ),
            fields=FIELDS,
            filters=[FieldFilter("tags", values=("red",), owner="t")] if n % 2 else [],
            facets=FACETS if n % 4 != 1 else [],
        )
        assert facet_answer(checked.search(search)) == facet_answer(filtered.search(search))
    assert sum(restricted) >= len(restricted) * 0.8
