"""Query latency on a large index: openpush's ``TantivyIndex.search`` next to raw tantivy.

Usage::

    .venv/bin/python bench/search_latency.py [--items 1000000] [--queries 100] [--seed 1]
        [--json] [--keep]

1. index: ``--items`` documents with about 300 bytes of Zipf-distributed text, a title and
   the fields a connector would push: ``author`` (2,000 values), ``category`` (20),
   ``tags`` (multi-value, 50), ``views`` (LONG), ``price`` (DOUBLE) and ``published`` (DATE,
   three years), bulk loaded with openpush's index writer (the values typed as the pipeline
   types them);
2. queries, ``--queries`` per class: ``term`` (one word, three frequency bands), ``phrase`` (two
   words that occur together), ``field filter`` (a word AND ``@category==X`` AND
   ``@views>N`` AND ``@published>date``), ``faceted`` (a word and four facets: author and
   category values, views ranges, generated published ranges), ``sort: date`` (a word, date
   descending) and ``sort: field`` (a word, ``@views descending``);
3. each query runs as the service runs it, ``TantivyIndex.search`` on the ``IndexSearch`` that
   ``run_search`` builds for a view-all query (trimming is measured by
   ``identity_trimming.py``), and as the raw engine equivalent in the same run: tantivy-py
   ``Query`` objects built by hand against the same index, ``searcher.search`` for the top 10
   and their stored documents, ``searcher.aggregate`` for the facets. For ``sort: field`` the
   raw side is a top-hits aggregation (tantivy-py cannot sort a search by a JSON field) and
   for ``sort: date`` tantivy's sorted search; neither breaks ties by uid as openpush does.

Totals and facet counts of both sides are compared on every query. A benchmark, not a test:
nothing is asserted. Progress goes to stderr; ``--json`` prints one JSON document instead of
the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import tantivy
from _stats import log, machine, peak_rss_mb, summary
from tantivy import Occur, Query

from openpush.domain.fields import FieldDefinition, FieldType, merged_fields
from openpush.index.base import (
    FacetRange,
    FacetRequest,
    IndexDocument,
    IndexSearch,
    SortKey,
    Visibility,
)
from openpush.index.tantivy.engine import TantivyIndex
from openpush.search.planning import QueryParts, build_query
from openpush.security.acl import MATCH_NONE

ORG = "bench"
SOURCE_ID = "bench-source"
VOCABULARY = 20_000
COMMIT_EVERY = 200_000
WARMUP = 10  # queries per class run (both sides) before the timed ones
START_MS = 1_600_000_000_000
SPAN_MS = 3 * 365 * 86_400_000
FIELDS = merged_fields(
    [
        FieldDefinition("category", facet=True, sort=True),
        FieldDefinition("tags", facet=True, multi_value_facet=True),
        FieldDefinition("views", FieldType.LONG),
        FieldDefinition("price", FieldType.DOUBLE),
        FieldDefinition("published", FieldType.DATE),
    ]
)
VIEW_RANGES = ((0, 1000), (1000, 10_000), (10_000, 100_000), (100_000, 1_000_000))


# -- corpus and index ---------------------------------------------------------------------------


class Corpus:
    """Documents with Zipf text and fields; the same seed gives the same corpus."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ei")]
        words: set[str] = set()
        while len(words) < VOCABULARY:
            words.add("".join(rng.choices(syllables, k=rng.choice((2, 2, 3, 3, 3, 4)))))
        self.vocab = sorted(words)
        rng.shuffle(self.vocab)  # rank (frequency) independent of length
        self.cw = list(itertools.accumulate(1.0 / r for r in range(1, VOCABULARY + 1)))
        self.authors = [
            f"{w.capitalize()} {v.capitalize()}"
            for w, v in zip(self.vocab[5000:7000], self.vocab[7000:9000], strict=True)
        ]
        self.author_cw = list(itertools.accumulate(1.0 / r for r in range(1, 2001)))
        self.categories = [w.capitalize() for w in self.vocab[9000:9020]]
        self.category_cw = list(itertools.accumulate(1.0 / r for r in range(1, 21)))
        self.tags = self.vocab[9100:9150]
        self.rng = random.Random(seed + 1)
        self._pool: list[str] = []
        self._next = 0

    def words(self, k: int) -> list[str]:
        """``k`` Zipf-distributed words, drawn in bulk (one bisection each, no per-call setup)."""
        if len(self._pool) - self._next < k:
            self._pool = self.rng.choices(self.vocab, cum_weights=self.cw, k=max(k, 200_000))
            self._next = 0
        start, self._next = self._next, self._next + k
        return self._pool[start : self._next]

    def document(self, n: int) -> IndexDocument:
        rng = self.rng
        title = " ".join(self.words(rng.randint(3, 7))).capitalize()
        author = rng.choices(self.authors, cum_weights=self.author_cw)[0]
        published = START_MS + rng.randrange(SPAN_MS)
        fields: dict[str, list[Any]] = {
            "title": [title],
            "author": [author],
            "category": [rng.choices(self.categories, cum_weights=self.category_cw)[0]],
            "tags": rng.sample(self.tags, rng.randint(1, 3)),
            "views": [int(rng.paretovariate(1.2) * 10)],
            "price": [round(rng.uniform(1, 500), 2)],
            "published": [published],
            "date": [published],
        }
        return IndexDocument(
            org_id=ORG,
            source_id=SOURCE_ID,
            document_id=f"https://bench.test/doc/{n}",
            title=title,
            body=" ".join(self.words(rng.randint(38, 52))),
            date_ms=published,
            fields=fields,
            raw={"title": title, "author": author, "date": published},
            acl=frozenset(),
        )


def load_index(
    path: Path, corpus: Corpus, items: int
) -> tuple[TantivyIndex, dict[str, Any], list[str]]:
    index = TantivyIndex(path, writer_heap_mb=512)
    writer = index.writer()
    bodies: list[str] = []  # a sample, for phrases that exist
    started = time.monotonic()
    for n in range(items):
        doc = corpus.document(n)
        if n % max(items // 2000, 1) == 0:
            bodies.append(doc.body)
        writer.upsert(doc, new=True)
        if (n + 1) % COMMIT_EVERY == 0 or n + 1 == items:
            writer.commit()
            rate = (n + 1) / (time.monotonic() - started)
            log(f"index: {n + 1:,} of {items:,} documents committed ({rate:,.0f} docs/s)")
    loaded = time.monotonic()
    writer._writer.wait_merging_threads()  # the bench owns this writer; no merges while timing
    index.refresh(force=True)
    searcher = index.index.searcher()
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return (
        index,
        {
            "docs": searcher.num_docs,
            "segments": searcher.num_segments,
            "load_seconds": loaded - started,
            "docs_per_second": items / (loaded - started),
            "merge_wait_seconds": time.monotonic() - loaded,
            "index_mb": size / 2**20,
        },
        bodies,
    )


# -- queries ------------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str
    word: str
    aq: str = ""
    phrase: tuple[str, ...] = ()
    category: str = ""
    views: int = 0
    published: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    facets: dict[str, Any] = field(default_factory=dict)


CLASSES = ("term", "phrase", "field filter", "faceted", "sort: date", "sort: field")


def make_cases(corpus: Corpus, bodies: list[str], per_class: int, seed: int) -> list[Case]:
    rng = random.Random(seed + 2)

    def ranked(low: int, high: int) -> str:
        return corpus.vocab[rng.randrange(low, high)]

    cases = []
    for i in range(per_class):
        band = ((10, 100), (100, 1000), (1000, 5000))[i % 3]
        cases.append(Case("term", ranked(*band)))
        words = rng.choice(bodies).split()
        start = rng.randrange(len(words) - 1)
        pair = (words[start], words[start + 1])
        cases.append(Case("phrase", "", phrase=pair))
        category = corpus.categories[min(int(rng.paretovariate(1.0)) - 1, 19)]
        views = rng.choice((5, 20, 100))
        day = START_MS // 86_400_000 + rng.randrange(SPAN_MS // 2 // 86_400_000)
        text = dt.datetime.fromtimestamp(day * 86_400, dt.UTC).strftime("%Y/%m/%d")
        # ">day" is after the whole day: from the next midnight (UTC) on
        after = (day + 1) * 86_400_000
        aq = f"@category=={category} @views>{views} @published>{text}"
        filtered = Case("field filter", ranked(10, 1000), aq=aq, category=category, views=views)
        filtered.published = after
        cases.append(filtered)
        cases.append(Case("faceted", ranked(10, 1000)))
        cases.append(Case("sort: date", ranked(10, 1000)))
        cases.append(Case("sort: field", ranked(10, 1000)))
    return cases


class Runner:
    """openpush's search and the raw engine's, for each class; both return a total."""

    def __init__(self, index: TantivyIndex) -> None:
        self.index = index
        self.schema = index.schema
        self.visibility = Visibility(frozenset({SOURCE_ID}), frozenset(), MATCH_NONE)
        self.analyzer = index._compiler  # the analyser openpush indexes with

    # openpush

    def openpush(self, case: Case) -> int:
        text = f'"{" ".join(case.phrase)}"' if case.phrase else case.word
        query = build_query(QueryParts(q=text, aq=case.aq), "", FIELDS)
        request = IndexSearch(ORG, query, self.visibility, fields=FIELDS)
        if case.kind == "faceted":
            request.facets = [
                FacetRequest("author", "author", count=10),
                FacetRequest("category", "category", count=10),
                FacetRequest(
                    "views",
                    "views",
                    kind="ranges",
                    ranges=tuple(FacetRange(*r) for r in VIEW_RANGES),
                ),
                FacetRequest("published", "published", kind="ranges", count=6),
            ]
        elif case.kind == "sort: date":
            request.sort = (SortKey("date", True),)
        elif case.kind == "sort: field":
            request.sort = (SortKey("views", True),)
        result = self.index.search(request)
        if result.facets:
            case.facets["openpush"] = {
                f.id: sorted((str(b.value), b.count) for b in f.buckets if b.value is not None)
                for f in result.facets
                if f.id in ("author", "category")
            }
        return result.total

    # raw tantivy

    def _words(self, text: str) -> list[str]:
        return self.analyzer.words(text)

    def _text(self, words: list[str]) -> Query:
        options = []
        for name in ("title", "body"):
            if len(words) == 1:
                query = Query.term_query(self.schema, name, words[0])
            else:
                query = Query.phrase_query(self.schema, name, words)
            options.append(Query.boost_query(query, 2.0) if name == "title" else query)
        return Query.boolean_query([(Occur.Should, q) for q in options])

    def _scoped(self, *queries: Query) -> Query:
        scope = [
            Query.const_score_query(Query.term_query(self.schema, "org", ORG), 0.0),
            Query.const_score_query(Query.term_set_query(self.schema, "source", [SOURCE_ID]), 0.0),
        ]
        return Query.boolean_query([(Occur.Must, q) for q in (*queries, *scope)])

    def raw(self, case: Case) -> int:
        searcher = self.index._searcher
        words = self._words(" ".join(case.phrase) if case.phrase else case.word)
        parts = [self._text(words)]
        if case.kind == "field filter":
            parts.append(Query.term_query(self.schema, "fl.category", case.category.lower()))
            parts.append(self.index.index.parse_query(f"fx.views:>{case.views}"))
            parts.append(self.index.index.parse_query(f"fx.published:>={case.published}"))
        query = self._scoped(*parts)
        if case.kind == "sort: date":
            found = searcher.search(
                query, 10, count=True, order_by_field="date", order=tantivy.Order.Desc
            )
        elif case.kind == "sort: field":
            hits = {"size": 10, "sort": [{"fx.views": "desc"}]}
            searcher.aggregate(query, {"h": {"top_hits": hits}})
            found = searcher.search(query, 1, count=True)
            return int(found.count or 0)
        else:
            found = searcher.search(query, 10, count=True)
        for _, address in found.hits:
            stored = searcher.doc(address).to_dict()
            orjson.loads(stored["rawb"][0])
        if case.kind == "faceted":
            case.facets["raw"] = self._facets(searcher, query)
        return int(found.count or 0)

    def _facets(self, searcher: tantivy.Searcher, query: Query) -> dict[str, Any]:
        aggs: dict[str, Any] = {
            "author": {"terms": {"field": "fx.author", "size": 20, "segment_size": 1000}},
            "category": {"terms": {"field": "fx.category", "size": 20, "segment_size": 1000}},
            "published": {"stats": {"field": "fx.published"}},
        }
        for i, (low, high) in enumerate(VIEW_RANGES):
            aggs[f"v{i}"] = {"range": {"field": "fx.views", "ranges": [{"from": low, "to": high}]}}
        result = searcher.aggregate(query, aggs)
        stats = result["published"]
        if stats.get("count"):
            width = max((stats["max"] - stats["min"]) / 6, 1)
            low = stats["min"]
            ranges = {
                f"p{i}": {
                    "range": {
                        "field": "fx.published",
                        "ranges": [{"from": low + i * width, "to": low + (i + 1) * width}],
                    }
                }
                for i in range(6)
            }
            searcher.aggregate(query, ranges)
        return {name: _top(result[name]["buckets"], 10) for name in ("author", "category")}


def _top(buckets: list[dict[str, Any]], count: int) -> list[tuple[str, int]]:
    """The ``count`` most frequent values (ties by value), sorted by value."""
    pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
    return sorted(sorted(pairs, key=lambda kv: (-kv[1], kv[0]))[:count])


def run_queries(runner: Runner, cases: list[Case]) -> None:
    sides: dict[str, Callable[[Case], int]] = {"openpush": runner.openpush, "raw": runner.raw}
    warm = [c for kind in CLASSES for c in [x for x in cases if x.kind == kind][:WARMUP]]
    for case in warm:
        for run in sides.values():
            run(case)
    for i, case in enumerate(cases):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))  # no side always first
        for name in order:
            started = time.perf_counter()
            case.totals[name] = sides[name](case)
            case.seconds[name] = time.perf_counter() - started
        if i % 100 == 99:
            log(f"queries: {i + 1} of {len(cases)}")


def by_class(cases: list[Case]) -> dict[str, dict[str, Any]]:
    out = {}
    for kind in CLASSES:
        mine = [c for c in cases if c.kind == kind]
        ours = summary([c.seconds["openpush"] for c in mine])
        raw = summary([c.seconds["raw"] for c in mine])
        out[kind] = {
            "queries": len(mine),
            "openpush_ms": ours,
            "raw_ms": raw,
            "ratio_p50": ours["p50"] / raw["p50"],
            "ratio_p95": ours["p95"] / raw["p95"],
            "total_mean": sum(c.totals["openpush"] for c in mine) / len(mine),
            "totals_equal": sum(c.totals["openpush"] == c.totals["raw"] for c in mine),
            "facets_equal": sum(
                c.facets.get("openpush") == c.facets.get("raw") for c in mine if c.facets
            ),
        }
    return out


# -- report -------------------------------------------------------------------------------------


def report(data: dict[str, Any]) -> str:
    idx, m = data["index"], data["machine"]
    lines = [
        f"search latency, {m['date']}, {m['cpus']} CPUs, Python {m['python']}, tantivy "
        f"{m['tantivy']}, load {' '.join(m['loadavg'])}",
        f"index: {idx['docs']:,} items in {idx['segments']} segments, {idx['index_mb']:.0f} MB; "
        f"loaded in {idx['load_seconds']:.1f} s ({idx['docs_per_second']:,.0f} docs/s), merges "
        f"waited {idx['merge_wait_seconds']:.1f} s",
        "",
        f"{'class':<14} {'openpush p50 / p95':>20} {'raw p50 / p95':>20} {'ratio p50 / p95':>16}"
        f" {'mean total':>11} {'checks':>8}",
    ]
    for kind, c in data["classes"].items():
        ours, raw = c["openpush_ms"], c["raw_ms"]
        checks = f"{c['totals_equal']}/{c['queries']}"
        lines.append(
            f"{kind:<14} {ours['p50']:>8.2f} / {ours['p95']:>7.2f} ms "
            f"{raw['p50']:>8.2f} / {raw['p95']:>7.2f} ms "
            f"{c['ratio_p50']:>6.2f} / {c['ratio_p95']:>5.2f}x {c['total_mean']:>11,.0f} "
            f"{checks:>8}"
        )
    faceted = data["classes"]["faceted"]
    lines += [
        "",
        "checks: totals equal on both sides (per class above); faceted: author and category "
        f"counts equal on {faceted['facets_equal']} of {faceted['queries']} queries",
        "raw: hand-built tantivy-py queries on the same index (top 10 + stored documents; "
        "facets by searcher.aggregate; 'sort: field' by a top-hits aggregation)",
        f"peak RSS {data['peak_rss_mb']:.0f} MB",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    data: dict[str, Any] = {"machine": machine(), "options": vars(args)}
    log(f"index: loading {args.items:,} documents")
    corpus = Corpus(args.seed)
    index, data["index"], bodies = load_index(workdir / "index", corpus, args.items)
    cases = make_cases(corpus, bodies, args.queries, args.seed)
    log(f"queries: {len(cases)} ({args.queries} per class), both sides, after a warm-up")
    run_queries(Runner(index), cases)
    data["classes"] = by_class(cases)
    data["peak_rss_mb"] = peak_rss_mb()
    index.close()
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="indexed items (1000000)")
    parser.add_argument("--queries", type=int, default=100, help="queries per class (100)")
    parser.add_argument("--seed", type=int, default=1, help="seed (1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the report")
    parser.add_argument("--keep", action="store_true", help="keep the index directory")
    args = parser.parse_args(argv)
    if min(args.items, args.queries) < 1:
        parser.error("sizes must be positive")
    workdir = Path(tempfile.mkdtemp(prefix="openpush-search-bench-"))
    args.workdir = str(workdir)
    try:
        data = run(args, workdir)
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        print(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
