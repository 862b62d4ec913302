"""The PostgreSQL search index on its own: writers, isolation, trimming, parameters, ranking.

The API suite (``OPENPUSH_TEST_STATE=postgres``) checks that it behaves as the embedded index
does; these tests pin what only a shared index has to get right: several writers at once,
nothing visible before a commit, every organization apart, the permission filter evaluated
by PostgreSQL exactly as :func:`openpush.security.acl.matches` decides, and values that reach
the database only as bound parameters.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpush.domain.fields import FieldDefinition, FieldType, merged_fields
from openpush.index.base import (
    FacetRequest,
    FieldFilter,
    IndexDocument,
    IndexSearch,
    SortKey,
    Visibility,
)
from openpush.index.postgres import PostgresIndex
from openpush.search.binding import bind
from openpush.search.query import parse
from openpush.security import acl
from tests.pgserver import fresh_database

pytestmark = pytest.mark.postgres

FIELDS = merged_fields(
    [FieldDefinition("views", FieldType.LONG), FieldDefinition("tags", FieldType.STRING)]
)
SHARED = Visibility(frozenset({"docs", "wiki"}), frozenset(), acl.MATCH_NONE)


def doc(
    document_id: str,
    *,
    org: str = "acme",
    source: str = "docs",
    title: str = "",
    body: str = "",
    fields: dict[str, list[Any]] | None = None,
    tokens: frozenset[int] = frozenset(),
) -> IndexDocument:
    return IndexDocument(
        org_id=org,
        source_id=source,
        document_id=document_id,
        title=title,
        body=body,
        date_ms=0,
        fields=fields or {},
        raw={"sysuri": document_id},
        acl=tokens,
    )


def write(index: PostgresIndex, *documents: IndexDocument) -> None:
    writer = index.writer()
    for document in documents:
        writer.upsert(document)
    writer.commit()


def request(q: str = "", *, org: str = "acme", **options: Any) -> IndexSearch:
    options.setdefault("visibility", SHARED)
    options.setdefault("count", 1000)
    return IndexSearch(org_id=org, query=bind(parse(q), FIELDS), fields=FIELDS, **options)


def found(index: PostgresIndex, q: str = "", **options: Any) -> list[str]:
    return [hit.document_id for hit in index.search(request(q, **options)).hits]


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def index(database: str) -> Iterator[PostgresIndex]:
    opened = PostgresIndex.connect(database, pool_size=4)
    yield opened
    opened.close()


# -- writers -------------------------------------------------------------------------------


def test_nothing_is_visible_before_commit_and_everything_after(
    index: PostgresIndex, database: str
) -> None:
    other = PostgresIndex.connect(database, pool_size=2)  # another process
    try:
        writer = index.writer()
        writer.upsert(doc("https://x/1", body="pending words"))
        assert found(index, "pending") == found(other, "pending") == []
        writer.commit()
        assert found(index, "pending") == found(other, "pending") == ["https://x/1"]
        writer.delete("acme", "docs", "https://x/1")
        assert found(other, "pending") == ["https://x/1"]
        other.refresh()  # nothing to do: commits are visible at once
        writer.commit()
        assert found(other, "pending") == []
    finally:
        other.close()


def test_the_last_buffered_change_of_an_item_wins(index: PostgresIndex) -> None:
    writer = index.writer()
    writer.upsert(doc("https://x/1", body="first"))
    writer.upsert(doc("https://x/1", body="second"))
    writer.upsert(doc("https://x/2", body="second"))
    writer.delete("acme", "docs", "https://x/2")
    writer.commit()
    assert found(index, "first") == []
    assert found(index, "second") == ["https://x/1"]
    writer.upsert(doc("https://x/3", body="dropped"))
    writer.rollback()
    writer.commit()
    assert found(index, "dropped") == []


def test_delete_source_drops_that_source_of_that_organization_only(index: PostgresIndex) -> None:
    write(
        index,
        doc("https://x/1", body="kept"),
        doc("https://x/2", source="wiki", body="kept"),
        doc("https://x/1", org="globex", body="kept"),
    )
    writer = index.writer()
    writer.upsert(doc("https://x/3", body="kept"))  # buffered before: dropped with its source
    writer.delete_source("acme", "docs")
    writer.upsert(doc("https://x/4", body="kept"))  # buffered after: written
    writer.commit()
    assert sorted(found(index, "kept")) == ["https://x/2", "https://x/4"]
    assert found(index, "kept", org="globex") == ["https://x/1"]


def test_two_writers_commit_the_same_items_at_once(database: str) -> None:
    """Rows are written in uid order: concurrent commits wait for each other, never deadlock."""
    indexes = [PostgresIndex.connect(database, pool_size=2) for _ in range(2)]
    documents = [doc(f"https://x/{n:03d}", body=f"shared words {n}") for n in range(300)]
    barrier = threading.Barrier(2, timeout=30)

    def run(index: PostgresIndex, seed: int) -> None:
        for _ in range(3):
            writer = index.writer()
            order = documents[:]
            random.Random(seed).shuffle(order)
            for document in order:
                writer.upsert(replace(document, title=f"writer{seed}"))
            barrier.wait()
            writer.commit()

    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(run, ix, n) for n, ix in enumerate(indexes)]:
                future.result(60)
        result = indexes[0].search(request("shared", count=1000))
        assert result.total == len(documents)
        assert {hit.title for hit in result.hits} <= {"writer0", "writer1"}
    finally:
        for ix in indexes:
            ix.close()


def test_writers_on_different_sources_do_not_lose_each_others_items(database: str) -> None:
    indexes = [PostgresIndex.connect(database, pool_size=2) for _ in range(3)]
    sources = ("docs", "wiki", "news")

    def run(index: PostgresIndex, source: str) -> None:
        for chunk in range(5):
            write(
                index,
                *(doc(f"https://x/{chunk}-{n}", source=source, body="many") for n in range(40)),
            )

    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(run, ix, s) for ix, s in zip(indexes, sources, strict=True)]
            for future in futures:
                future.result(60)
        everywhere = Visibility(frozenset(sources), frozenset(), acl.MATCH_NONE)
        assert indexes[0].search(request("many", visibility=everywhere)).total == 3 * 5 * 40
    finally:
        for ix in indexes:
            ix.close()


# -- organizations and visibility ------------------------------------------------------------


def test_every_search_is_scoped_to_its_organization(index: PostgresIndex) -> None:
    write(
        index,
        doc("https://x/1", body="secret plans", fields={"tags": ["a"]}),
        doc("https://x/1", org="globex", body="secret plans", fields={"tags": ["b"]}),
    )
    facet = FacetRequest("t", "tags")
    for org, tag in (("acme", "a"), ("globex", "b")):
        result = index.search(request("secret", org=org, facets=[facet]))
        assert result.total == 1
        assert [b.value for b in result.facets[0].buckets] == [tag]
    assert found(index, "secret", org="initech") == []
    assert index.search(request(org="acme", visibility=None)).total == 1


def test_sources_neither_shared_nor_secured_are_never_visible(index: PostgresIndex) -> None:
    write(index, doc("https://x/1", source="private", body="hidden", tokens=frozenset({1})))
    assert found(index, "hidden") == []
    secured = Visibility(frozenset(), frozenset({"docs"}), acl.MATCH_ALL)
    assert found(index, "hidden", visibility=secured) == []
    assert found(index, "hidden", visibility=None) == ["https://x/1"]


TOKENS = [1, 2, 3, 2**63 - 1, 2**63, 2**64 - 1, 12_345_678_901_234_567_890, 42]
CORPUS = [
    doc(
        f"https://x/{n:02d}",
        tokens=frozenset(t for t in TOKENS if random.Random(n * 31 + t).random() < 0.4),
    )
    for n in range(40)
]


def expressions() -> st.SearchStrategy[acl.Expr]:
    leaves = st.one_of(
        st.frozensets(st.sampled_from(TOKENS), min_size=1, max_size=4).map(acl.AnyOf),
        st.sampled_from([acl.MATCH_ALL, acl.MATCH_NONE]),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda c: acl.AllOf(tuple(c))),
            st.lists(children, min_size=1, max_size=3).map(lambda c: acl.AnyExpr(tuple(c))),
            children.map(acl.Not),
        ),
        max_leaves=8,
    )


@pytest.fixture
def trimmed(index: PostgresIndex) -> PostgresIndex:
    write(index, *CORPUS)
    return index


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(expr=expressions())
def test_the_permission_filter_holds_exactly_where_matches_says(
    trimmed: PostgresIndex, expr: acl.Expr
) -> None:
    visibility = Visibility(frozenset(), frozenset({"docs"}), expr)
    expected = sorted(d.document_id for d in CORPUS if acl.matches(expr, d.acl))
    result = trimmed.search(request(visibility=visibility, sort=(SortKey("nosort"),)))
    assert [hit.document_id for hit in result.hits] == expected
    assert result.total == len(expected)


# -- parameters only -------------------------------------------------------------------------

EVIL = "x'); DROP TABLE index_documents; --"


def test_values_and_names_reach_the_database_only_as_parameters(
    index: PostgresIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(index, doc("https://x/1", body="safe", fields={"tags": [EVIL]}))
    statements: list[tuple[str, Any]] = []
    execute = psycopg.Connection.execute

    def spy(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        text = query if isinstance(query, str) else query.as_string(self)
        statements.append((text, params))
        return execute(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    queries = [
        f'"{EVIL}"',
        f'@tags=="{EVIL}"',
        f'@tags="{EVIL}"',
        f'@tags*="{EVIL}*"',
        f'@author<>"{EVIL}"',
        "x'*",
    ]
    for q in queries:
        index.search(request(q))
    index.search(
        request(
            org=EVIL,
            visibility=Visibility(frozenset({EVIL}), frozenset({EVIL}), acl.MATCH_ALL),
        )
    )
    index.search(
        request(
            filters=[FieldFilter(EVIL, values=(EVIL,)), FieldFilter("tags", values=(EVIL,))],
            facets=[
                FacetRequest("a", EVIL, allowed=(EVIL,), include=(EVIL,)),
                FacetRequest("b", "tags", order="alpha_ascending"),
                FacetRequest("c", EVIL, kind="ranges"),
            ],
            sort=(SortKey(EVIL),),
        )
    )
    assert statements
    for text, params in statements:
        assert "DROP" not in text, text
    assert any(EVIL in str(params) for _, params in statements)
    assert found(index, f'@tags=="{EVIL}"') == ["https://x/1"]
    assert found(index, "safe") == ["https://x/1"]  # the table is still there


# -- text and ranking ------------------------------------------------------------------------


def test_more_and_better_matches_rank_higher_and_ties_go_by_uid(index: PostgresIndex) -> None:
    write(
        index,
        doc("https://x/once", body="a fox"),
        doc(
            "https://x/thrice",
            body="a fox, a fox and another fox in a meadow " + "with grass " * 200,
            fields={"tags": ["many", "values", "here"] * 10},
        ),
        doc("https://x/title", title="Fox", body="other animals in a meadow"),
        doc("https://x/tie-b", body="the quick fox"),
        doc("https://x/tie-a", body="the quick fox"),
        doc("https://x/none", body="no such animal"),
    )
    ranked = found(index, "fox")
    assert ranked.index("https://x/thrice") < ranked.index("https://x/once")
    assert ranked.index("https://x/title") < ranked.index("https://x/once")
    assert ranked.index("https://x/tie-a") == ranked.index("https://x/tie-b") - 1
    assert "https://x/none" not in ranked
    assert found(index, "fox") == ranked  # deterministic
    scores = [hit.score for hit in index.search(request("fox")).hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_words_are_analysed_as_the_embedded_index_does(index: PostgresIndex) -> None:
    write(
        index,
        doc("https://x/1", title="Release notes v1.0.2", body="Straße, naïve COOPERATION"),
        doc("https://x/2", body="the cooperative coordinates", fields={"tags": ["Blue Sky"]}),
    )
    assert found(index, "strasse naive") == ["https://x/1"]
    assert found(index, "v1") == ["https://x/1"]
    assert found(index, '"notes v1"') == ["https://x/1"]
    assert found(index, '"v1 straße"') == []  # a phrase does not span the title and the body
    assert sorted(found(index, "the")) == ["https://x/2"]  # no stop words
    assert sorted(found(index, "cooper*")) == ["https://x/1", "https://x/2"]
    assert found(index, "*ordin*") == ["https://x/2"]
    assert found(index, "@tags=sky") == ["https://x/2"]
    assert found(index, '@tags=="blue sky"') == ["https://x/2"]
    assert found(index, "@tags*=b?ue*") == ["https://x/2"]


def test_nul_characters_do_not_fail_a_commit(index: PostgresIndex) -> None:
    write(
        index, doc("https://x/\x00", title="a\x00b", body="nul\x00here", fields={"tags": ["\x00"]})
    )
    assert index.search(request("nul")).total == 1
    writer = index.writer()
    writer.delete("acme", "docs", "https://x/\x00")
    writer.commit()
    assert index.search(request("nul")).total == 0


def test_the_runtime_opens_the_postgres_index_on_the_store_pool(
    database: str, tmp_path: Path
) -> None:
    from openpush.index.tantivy.engine import TantivyIndex
    from openpush.runtime import Runtime
    from openpush.settings import Settings

    runtime = Runtime.open(Settings(data_dir=tmp_path, database=database, worker=False))
    try:
        assert isinstance(runtime.index, PostgresIndex)
        assert runtime.index._db is runtime.store.db  # type: ignore[attr-defined]
    finally:
        runtime.close()
    runtime = Runtime.open(
        Settings(data_dir=tmp_path, database=database, worker=False, index="tantivy")
    )
    try:
        assert isinstance(runtime.index, TantivyIndex)
    finally:
        runtime.close()


async def test_a_process_without_a_worker_drops_a_deleted_sources_items(
    database: str, tmp_path: Path
) -> None:
    """An API process (no worker) writes the shared index itself when a source is deleted."""
    import httpx

    from openpush.api.app import create_app
    from openpush.runtime import Runtime
    from openpush.settings import Settings

    settings = Settings(
        data_dir=tmp_path, database=database, worker=False, bootstrap_org="acme",
        bootstrap_api_key="key",
    )  # fmt: skip
    runtime = Runtime.open(settings)
    try:
        assert runtime.worker is None
        transport = httpx.ASGITransport(app=create_app(runtime))
        headers = {"Authorization": "Bearer key"}
        async with httpx.AsyncClient(transport=transport, base_url="http://op.test") as http:
            r = await http.post(
                "/rest/organizations/acme/sources",
                headers=headers,
                json={"name": "docs", "sourceType": "PUSH", "sourceVisibility": "SHARED"},
            )
            source = r.json()["id"]
            index = runtime.index
            assert isinstance(index, PostgresIndex)
            write(index, doc("https://x/1", source=source, body="gone"))
            everywhere = Visibility(frozenset({source}), frozenset(), acl.MATCH_NONE)
            assert found(index, "gone", visibility=everywhere) == ["https://x/1"]
            r = await http.delete(f"/rest/organizations/acme/sources/{source}", headers=headers)
            assert r.status_code == 204, r.text
            assert found(index, "gone", visibility=everywhere) == []
    finally:
        runtime.close()


def test_a_large_load_refreshes_the_statistics_so_rare_words_use_the_word_index(
    database: str, index: PostgresIndex
) -> None:
    def plan(word: str) -> str:
        with psycopg.connect(database) as conn:
            rows = conn.execute(
                "EXPLAIN SELECT count(*) FROM index_documents AS d"
                " WHERE d.org_id = 'acme' AND d.words @@ %s::tsquery",
                (f"'b:{word}'",),
            ).fetchall()
        return "\n".join(row[0] for row in rows)

    def analysed_rows() -> float:
        with psycopg.connect(database) as conn:
            row = conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'index_documents'::regclass"
            ).fetchone()
        assert row is not None
        return float(row[0])

    write(index, *(doc(f"https://x/{n}", body=f"common word{n % 500}") for n in range(600)))
    assert analysed_rows() < 0  # not yet: 600 rows are below the first refresh
    assert "rows=4 " not in plan("word7")
    write(index, *(doc(f"https://y/{n}", body=f"common word{n % 500}") for n in range(600)))
    assert analysed_rows() == 1200  # ANALYZE ran after the commit that crossed 1,000
    # with statistics the planner knows a word is in 4 of 1,200 items (without them it
    # guesses, and on a large table walks every row instead of the GIN index of words)
    assert "rows=4 " in plan("word7"), plan("word7")
    assert sorted(found(index, "word7")) == [f"https://{h}/{n}" for h in "xy" for n in (507, 7)]
