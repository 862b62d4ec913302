"""Both search indexes give the same answers: random queries, filters, facets and sorts.

One random corpus (multi-valued fields, missing values, accents, punctuation, permission
tokens above 2**63) is written to the embedded tantivy index and to the PostgreSQL index;
random expressions of the query language, with field sorts, facet selections, every kind of
facet and the permission filter, must give the same totals, pages and facet buckets. Only
the relevancy order differs by design (``ts_rank`` is not BM25): ranked searches must find the
same items, in whatever order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from openpush.domain.fields import FieldDefinition, FieldType, merged_fields
from openpush.index.base import (
    FacetRange,
    FacetRequest,
    FieldFilter,
    IndexDocument,
    IndexResult,
    IndexSearch,
    SearchIndex,
    SortKey,
    Visibility,
)
from openpush.index.postgres import PostgresIndex
from openpush.index.tantivy.engine import TantivyIndex
from openpush.search.binding import bind
from openpush.search.query import parse
from openpush.security import acl
from tests.pgserver import fresh_database

pytestmark = pytest.mark.postgres

FIELDS = merged_fields(
    [
        FieldDefinition("views", FieldType.LONG),
        FieldDefinition("price", FieldType.DOUBLE),
        FieldDefinition("tags", FieldType.STRING, facet=True),
        FieldDefinition("cat", FieldType.STRING, facet=True, sort=True),
        FieldDefinition("when", FieldType.DATE),
    ]
)
WORDS = ["fox", "foxes", "Dog", "running", "runs", "café", "naïve", "v1.0.2", "report"]
WORDS += ["reports", "co-op", "e-mail", "x@y.com", "Hello", "WORLD"]
TAGS = ["Red", "red", "blue", "Blue Sky", "a;b", "é", "x*y", "10"]
DAY = 86_400_000
SECRET = 2**63 + 5
FACETS = [
    FacetRequest("t", "tags", count=3),
    FacetRequest("c", "cat", order="alpha_descending", count=4),
    FacetRequest("n", "cat", order="natural_ascending", count=2),
    FacetRequest("v", "views", kind="ranges", count=4),
    FacetRequest("w", "when", kind="ranges", count=3),
    FacetRequest(
        "p", "price", kind="ranges", ranges=(FacetRange(0, 2.25, True), FacetRange(2, 10))
    ),
    FacetRequest("a", "tags", allowed=("r*", "b?ue"), include=("é",)),
    FacetRequest("q", "views", query=bind(parse("fox OR @price>1"), FIELDS)),
]
SORTS = [
    (SortKey("views", descending=False),),
    (SortKey("price"), SortKey("cat", descending=False)),
    (SortKey("date"),),
    (SortKey("cat"),),
    (SortKey("when", descending=False), SortKey("views")),
]
VISIBILITY = Visibility(
    frozenset({"s1"}),
    frozenset({"s2"}),
    acl.AnyExpr((acl.AnyOf(frozenset({1})), acl.Not(acl.AnyOf(frozenset({SECRET}))))),
)


def corpus(rng: random.Random) -> list[IndexDocument]:
    documents = []
    for n in range(120):
        fields: dict[str, list[Any]] = {}
        if rng.random() < 0.7:
            fields["tags"] = rng.sample(TAGS, rng.randint(1, 3))
        if rng.random() < 0.7:
            fields["cat"] = [rng.choice(TAGS)]
        if rng.random() < 0.8:
            fields["views"] = [rng.randint(-5, 50) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.8:
            fields["price"] = [rng.choice([0.5, 1.0, 2.25, 9.99, 10.0, -3.5])]
        if rng.random() < 0.8:
            fields["when"] = [1_700_000_000_000 + rng.randint(0, 10) * DAY]
        documents.append(
            IndexDocument(
                org_id="o",
                source_id=rng.choice(["s1", "s2", "s3"]),
                document_id=f"https://d/{n:03d}",
                title=" ".join(rng.sample(WORDS, 2)),
                body=" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8))),
                date_ms=1_700_000_000_000 + rng.randint(0, 5) * 1000,
                fields=fields,
                raw={"n": n},
                acl=frozenset(rng.sample([1, 2, 3, SECRET], rng.randint(0, 2))),
            )
        )
    return documents


def expression(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.4:
        return rng.choice(
            [
                rng.choice(WORDS).lower(),
                f'"{rng.choice(WORDS)} {rng.choice(WORDS)}"',
                rng.choice(["fo*", "*un*", "rep*", "na?ve"]),
                f'@tags=="{rng.choice(TAGS)}"',
                f'@tags="{rng.choice(TAGS)}"',
                f'@tags*="{rng.choice(["r*", "?ed", "*sky", "x*y"])}"',
                f"@views>{rng.randint(-5, 50)}",
                f"@views=={rng.randint(0, 10)}..{rng.randint(10, 40)}",
                f"@views<>({rng.randint(0, 5)},{rng.randint(0, 50)})",
                f"@price<={rng.choice([1, 2.25, 9.99])}",
                f"@price=={rng.choice([1, 2.25, 9.99, 10])}",
                f"@when>=2023/11/{rng.randint(14, 24)}",
                f'@cat=="{rng.choice(TAGS)}"',
                rng.choice(["@tags", "@cat", "@nosuch==x", "@nosuch"]),
            ]
        )
    if roll < 0.6:
        return f"({expression(rng, depth + 1)} OR {expression(rng, depth + 1)})"
    if roll < 0.8:
        return f"{expression(rng, depth + 1)} {expression(rng, depth + 1)}"
    return f"NOT {expression(rng, depth + 1)}"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchIndex, ...]]:
    documents = corpus(random.Random(5))
    with fresh_database() as url:
        path: Path = tmp_path_factory.mktemp("parity")
        both = (TantivyIndex(path), PostgresIndex.connect(url, pool_size=2))
        for index in both:
            writer = index.writer()
            for document in documents:
                writer.upsert(document)
            writer.commit()
        yield both
        for index in both:
            index.close()


def answer(result: IndexResult) -> tuple[Any, ...]:
    facets = [
        (f.id, [(b.count, b.value, b.range) for b in f.buckets], f.more, f.with_value)
        for f in result.facets
    ]
    return result.total, [hit.document_id for hit in result.hits], facets


@pytest.mark.parametrize("seed", range(8))
def test_random_searches_answer_alike(indexes: tuple[SearchIndex, ...], seed: int) -> None:
    rng = random.Random(seed)
    for n in range(25):
        text = expression(rng)
        search = IndexSearch(
            org_id="o",
            query=bind(parse(text), FIELDS),
            visibility=VISIBILITY if n % 2 else None,
            first=rng.randint(0, 5),
            count=20,
            sort=rng.choice(SORTS),
            fields=FIELDS,
            filters=[FieldFilter("tags", values=("red", "blue"), owner="t")] if n % 3 else [],
            facets=FACETS,
        )
        embedded, postgres = (answer(index.search(search)) for index in indexes)
        assert postgres == embedded, text
        ranked = replace(search, first=0, count=200, sort=(SortKey(),), facets=[])
        embedded, postgres = (index.search(ranked) for index in indexes)
        assert postgres.total == embedded.total, text
        assert sorted(h.document_id for h in postgres.hits) == sorted(
            h.document_id for h in embedded.hits
        ), text
