"""Facet counts as tantivy aggregations over ``fx``, on the very query the results come from.

The caller passes each facet's query (scope, visibility and the filters that apply to that
facet), so a count never includes an item the user may not see. Values facets are terms
aggregations (counts per raw value; an item with several values counts once per value);
ranges facets are range aggregations, one per range because tantivy refuses overlapping ranges
in one. Generated ranges first read the smallest and largest value (a stats aggregation).
Facets that share a query are answered by one ``aggregate`` call: one pass over the matches.

Terms are counted per segment and merged. With ``segment_size`` at ten times the values asked
for (at least 1,000), the counts are exact unless a field has more distinct values than that in
one segment; the counts can then be too low, never too high.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import tantivy
from tantivy import Occur, Query

from openpush.domain.fields import FieldType, FieldValue
from openpush.index.base import FacetBucket, FacetRange, FacetRequest, FacetResult
from openpush.index.tantivy.compile import wildcard_regex
from openpush.search.facets import generate_ranges, order_buckets, wildcard_matcher

__all__ = ["FacetCounter", "FacetJob"]

_SCAN = 10_000  # values read for the alphabetical orders and for allowed-value filters
_SLACK = 10  # extra values read for the occurrences order, so ties at the cut sort by value
_NUMERIC = frozenset({FieldType.LONG, FieldType.LONG_64, FieldType.DOUBLE, FieldType.DATE})

Aggregations = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FacetJob:
    """A facet, the query its counts come from, and its field's type (None if unknown)."""

    facet: FacetRequest
    query: Query
    kind: FieldType | None


def _and(query: Query, other: Query) -> Query:
    return Query.boolean_query([(Occur.Must, query), (Occur.Must, other)])


class FacetCounter:
    """Counts facets on one searcher, one aggregation pass per distinct query."""

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema) -> None:
        self._searcher = searcher
        self._schema = schema

    def count(self, jobs: Sequence[FacetJob]) -> list[FacetResult]:
        """The results of ``jobs``, in order."""
        results: list[FacetResult | None] = [None] * len(jobs)
        ranges: dict[int, list[FacetRange]] = {}
        first: dict[int, Aggregations] = {}
        for i, job in enumerate(jobs):
            if job.facet.kind == "ranges" and not job.facet.ranges:
                first[i] = {"s": {"stats": {"field": f"fx.{job.facet.field}"}}}
            else:
                ranges[i] = list(job.facet.ranges)
        for i, stats in self._run(jobs, first).items():
            ranges[i] = self._generated(jobs[i], stats["s"])
        specs = {
            i: self._values_spec(jobs[i])
            if jobs[i].facet.kind == "values"
            else _ranges_spec(jobs[i], ranges[i])
            for i in ranges
        }
        for i, result in self._run(jobs, specs).items():
            job = jobs[i]
            if job.facet.kind == "values":
                results[i] = self._read_values(job, result)
            else:
                results[i] = _read_ranges(job, ranges[i], result, generated=i in first)
        return [
            result if result is not None else FacetResult(job.facet.id, job.facet.field, [])
            for result, job in zip(results, jobs, strict=True)
        ]

    def _run(
        self, jobs: Sequence[FacetJob], specs: dict[int, Aggregations]
    ) -> dict[int, Aggregations]:
        """Each job's aggregations, answered with one ``aggregate`` call per distinct query."""
        groups: dict[int, list[int]] = {}
        for i in specs:
            groups.setdefault(id(jobs[i].query), []).append(i)
        answers: dict[int, Aggregations] = {}
        for members in groups.values():
            merged = {f"f{i}_{name}": agg for i in members for name, agg in specs[i].items()}
            if not merged:
                continue
            found = self._searcher.aggregate(jobs[members[0]].query, merged)
            for i in members:
                prefix = f"f{i}_"
                answers[i] = {k[len(prefix) :]: v for k, v in found.items() if k.startswith(prefix)}
        return answers

    # -- values ------------------------------------------------------------------------

    def _values_spec(self, job: FacetJob) -> Aggregations:
        facet, kind = job.facet, job.kind
        column = f"fx.{facet.field}"
        scan = facet.order != "occurrences" or bool(facet.allowed and kind in _NUMERIC)
        size = _SCAN if scan else max(facet.count, 0) + _SLACK
        terms: dict[str, Any] = {
            "field": column,
            "size": size,
            "segment_size": max(size * 10, 1000),
        }
        if facet.allowed and kind not in _NUMERIC:
            patterns = "|".join(wildcard_regex(p, single="?") for p in facet.allowed)
            terms["include"] = f"(?i)(?:{patterns})"
        if facet.order != "occurrences":
            terms["order"] = {"_key": "asc"}
        return {"t": {"terms": terms}, "n": {"value_count": {"field": column}}}

    def _read_values(self, job: FacetJob, result: Aggregations) -> FacetResult:
        facet = job.facet
        wanted = max(facet.count, 0)
        raw = result["t"]
        buckets = [FacetBucket(int(b["doc_count"]), value=b["key"]) for b in raw["buckets"]]
        if facet.allowed and job.kind in _NUMERIC:
            allowed = wildcard_matcher(facet.allowed)
            buckets = [b for b in buckets if b.value is not None and allowed(b.value)]
        ordered = order_buckets(buckets, facet.order)
        more = len(ordered) > wanted or int(raw.get("sum_other_doc_count") or 0) > 0
        chosen = ordered[:wanted]
        shown = {b.value for b in chosen}
        for value in facet.include:
            if value not in shown:
                count = self._count_value(job.query, f"fx.{facet.field}", value)
                chosen.append(FacetBucket(count, value=value))
                shown.add(value)
        with_value = int(result["n"]["value"] or 0)
        return FacetResult(facet.id, facet.field, chosen, more=more, with_value=with_value)

    def _count_value(self, query: Query, column: str, value: FieldValue) -> int:
        narrowed = _and(query, Query.term_query(self._schema, column, value))
        return int(self._searcher.search(narrowed, 1, count=True).count or 0)

    # -- ranges ------------------------------------------------------------------------

    @staticmethod
    def _generated(job: FacetJob, stats: dict[str, Any]) -> list[FacetRange]:
        if not stats.get("count") or stats.get("min") is None:
            return []
        return generate_ranges(
            float(stats["min"]),
            float(stats["max"]),
            job.facet.count,
            integral=job.kind is not FieldType.DOUBLE,
            dates=job.kind is FieldType.DATE,
        )


def _ranges_spec(job: FacetJob, ranges: list[FacetRange]) -> Aggregations:
    column = f"fx.{job.facet.field}"
    step = _step(job.kind)
    aggs: Aggregations = {"n": {"value_count": {"field": column}}}
    for i, wanted in enumerate(ranges):
        bounds = _bounds(wanted, step)
        if bounds["from"] < bounds["to"]:
            aggs[f"r{i}"] = {"range": {"field": column, "ranges": [bounds]}}
    return aggs


def _read_ranges(
    job: FacetJob, ranges: list[FacetRange], result: Aggregations, *, generated: bool
) -> FacetResult:
    buckets = []
    for i, wanted in enumerate(ranges):
        count = _range_count(result[f"r{i}"]["buckets"]) if f"r{i}" in result else 0
        if count or not generated:
            buckets.append(FacetBucket(count, range=wanted))
    with_value = int(result["n"]["value"] or 0)
    return FacetResult(job.facet.id, job.facet.field, buckets, with_value=with_value)


def _step(kind: FieldType | None) -> Callable[[float], float]:
    """The next representable value of the field's type, to make an end inclusive."""
    if kind is FieldType.DOUBLE:
        return lambda value: math.nextafter(value, math.inf)
    return lambda value: math.floor(value) + 1


def _bounds(wanted: FacetRange, step: Callable[[float], float]) -> dict[str, float]:
    end = step(wanted.end) if wanted.end_inclusive else wanted.end
    return {"from": float(wanted.start), "to": float(end)}


def _range_count(buckets: list[dict[str, Any]]) -> int:
    """The count of the one bucket with both ends (tantivy adds the open ones around it)."""
    for bucket in buckets:
        if "from" in bucket and "to" in bucket:
            return int(bucket["doc_count"])
    return 0
