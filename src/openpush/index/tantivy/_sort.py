"""Exact field sorts on tantivy: several keys, missing values last, ties broken by uid.

tantivy-py orders a search by one top-level fast field, while field values live in the ``fx``
JSON fast field, so field sorts are computed with aggregations. The order is the sort keys,
then the item's uid (``fx._uid``, written by the index writer): a total order, so pages never
overlap or skip while the index does not change. ``FieldSorter.page`` works one key at a time:

1. the items with a value for the key come first, the items without one after them, ordered
   by the remaining keys;
2. among the items with a value, the key's distinct values are listed in sort order with their
   item counts, just far enough to cover the page: by a terms aggregation ordered by value
   (strings, integers), by tantivy's own sorted search (the top-level ``date``), or by a
   top-hits aggregation (doubles, whose terms order puts integral values apart, and pages
   deeper than the 65,000 buckets an aggregation may return);
3. a value held by one item places that item; the items sharing a value are ordered by the
   next keys, recursively, on the query narrowed to that value.

The items placed by a value they alone hold are found with one terms aggregation on the uid.
If an item has several values for a key, counts per value no longer add up to positions: the
query is then sorted in Python, each item by its smallest value in ascending order and its
largest in descending order (as Elasticsearch does). That is linear in the matches and limited
to what one aggregation may return; beyond it the sort is refused.

Aggregations never read ``docvalue_fields``: tantivy panics when a segment lacks the column.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import tantivy
from tantivy import Occur, Query

from openpush.errors import InvalidRequestError

__all__ = ["MAX_BUCKETS", "UID_COLUMN", "FieldSorter", "Kind", "Ref", "SortColumn"]

UID_COLUMN = "fx._uid"
MAX_BUCKETS = 65_000  # tantivy's default limit on the buckets of one aggregation request
_SIGN = 1 << 63
_MASK = (1 << 64) - 1

#: A uid, or the address of an item indexed before uids were written to ``fx``.
Ref = str | tantivy.DocAddress
RangeQuery = Callable[[str, Any, bool, Any, bool], Query]
#: Sort values around a page, each with its item when the engine gave it (``(value, ref)``).
Window = list[tuple[Any, "Ref | None"]]
Kind = Literal["date", "integer", "double", "string", "uid"]


@dataclass(frozen=True, slots=True)
class SortColumn:
    """A fast column to sort by: ``date`` (top level), ``fx.<field>`` or :data:`UID_COLUMN`."""

    column: str
    descending: bool = False
    kind: Kind = "string"


@dataclass(frozen=True, slots=True)
class _Bucket:
    value: Any
    start: int
    count: int
    ref: Ref | None = None  # the item, when the window already found it


class _PythonSortError(Exception):
    """Positions cannot be counted per value (several values per item, or too deep)."""


def _and(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in queries])


def _decode(sort_value: int, kind: Kind) -> int | float:
    """A top-hits sort value (tantivy's order-preserving u64) as the column's number."""
    if kind != "double":
        return sort_value - _SIGN
    bits = sort_value ^ _SIGN if sort_value & _SIGN else ~sort_value & _MASK
    number: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return number


class FieldSorter:
    """Pages of one searcher's matches in field order; see the module docstring."""

    def __init__(
        self, searcher: tantivy.Searcher, schema: tantivy.Schema, range_query: RangeQuery
    ) -> None:
        self._searcher = searcher
        self._schema = schema
        self._range = range_query

    def sort(
        self, query: Query, columns: Sequence[SortColumn], skip: int, take: int
    ) -> tuple[int, list[Ref]]:
        """The number of items of ``query`` and those at ``[skip, skip + take)`` in order."""
        if columns and columns[0].kind == "date":
            window, total = self._date_window(query, columns[0], skip, take, count=True)
            return total, self.page(query, columns, skip, take, total, window)
        return self.count(query), self.page(query, columns, skip, take)

    def page(
        self,
        query: Query,
        columns: Sequence[SortColumn],
        skip: int,
        take: int,
        total: int | None = None,
        window: Window | None = None,
    ) -> list[Ref]:
        """The items at positions ``[skip, skip + take)`` of ``query`` in ``columns`` order.

        For a ``date`` first column, ``total`` (the items of ``query``) and ``window`` (its
        sorted search) may come from the caller.
        """
        if take <= 0:
            return []
        if not columns:
            return self._index_order(query, skip, take)
        column, rest = columns[0], columns[1:]
        present = query
        if column.kind != "date":
            present = _and(query, Query.exists_query(column.column))
        try:
            refs, total_present = self._present(present, column, rest, skip, take, total, window)
        except _PythonSortError:
            return self._sorted_in_python(query, columns)[skip : skip + take]
        end = skip + take
        if end > total_present and column.kind != "date":
            missing = Query.boolean_query(
                [(Occur.Must, query), (Occur.MustNot, Query.exists_query(column.column))]
            )
            start = max(skip, total_present)
            refs.extend(self.page(missing, rest, start - total_present, end - start))
        return refs

    def count(self, query: Query) -> int:
        return int(self._searcher.search(query, 1, count=True).count or 0)

    # -- the items that have a value ----------------------------------------------------

    def _present(
        self,
        present: Query,
        column: SortColumn,
        rest: Sequence[SortColumn],
        skip: int,
        take: int,
        total: int | None,
        window: Window | None,
    ) -> tuple[list[Ref], int]:
        """The page's items among those with a value, and how many items have one."""
        deep = skip + take > MAX_BUCKETS
        if column.kind == "date":
            if window is None or total is None:
                window, total = self._date_window(present, column, skip, take, count=total is None)
        elif column.kind == "double" or (column.kind == "integer" and deep):
            window, total = self._hits_window(present, column, skip, take)
        elif deep:
            raise _PythonSortError
        else:
            window = None
        if window is None:
            buckets, total = self._buckets_by_terms(present, column, skip, take)
        elif skip >= total:
            return [], total
        else:
            buckets = self._buckets_of_window(
                present, column, skip, min(take, total - skip), window
            )
        take = min(take, total - skip)
        unresolved = [b.value for b in buckets if b.count == 1 and b.ref is None]
        refs_of = (
            {v: v for v in unresolved}
            if column.kind == "uid"
            else self._refs_by_value(present, column, unresolved)
        )
        refs: list[Ref] = []
        for bucket in buckets:
            low = max(skip, bucket.start) - bucket.start
            high = min(skip + take, bucket.start + bucket.count) - bucket.start
            if bucket.count == 1:
                refs.append(bucket.ref if bucket.ref is not None else refs_of[bucket.value])
            else:
                narrowed = _and(present, self._equals(column, bucket.value))
                refs.extend(self.page(narrowed, rest, low, high - low, bucket.count))
        return refs, total

    def _counts(self, column: SortColumn) -> dict[str, Any]:
        """Aggregations counting items (``d``: every item has one date) and values (``n``)."""
        counts: dict[str, Any] = {"d": {"value_count": {"field": "date"}}}
        if column.kind not in ("date", "uid"):
            counts["n"] = {"value_count": {"field": column.column}}
        return counts

    @staticmethod
    def _items(result: dict[str, Any]) -> int:
        """The item count of ``_counts``; raises when some item has several values."""
        items = int(result["d"]["value"] or 0)
        if "n" in result and int(result["n"]["value"] or 0) > items:
            raise _PythonSortError
        return items

    def _buckets_by_terms(
        self, present: Query, column: SortColumn, skip: int, take: int
    ) -> tuple[list[_Bucket], int]:
        size = skip + take
        order = {"_key": "desc" if column.descending else "asc"}
        terms = {"field": column.column, "size": size, "segment_size": size, "order": order}
        result = self._searcher.aggregate(present, {"b": {"terms": terms}, **self._counts(column)})
        total = self._items(result)
        buckets, position = [], 0
        for raw in result["b"]["buckets"]:
            count = int(raw["doc_count"])
            if position + count > skip:
                buckets.append(_Bucket(raw["key"], position, count))
            position += count
            if position >= size:
                break
        return buckets, total

    def _date_window(
        self, present: Query, column: SortColumn, skip: int, take: int, *, count: bool
    ) -> tuple[Window, int]:
        """The dates (and items) around ``[skip, skip + take)``: see ``_buckets_of_window``."""
        lead = 1 if skip > 0 else 0
        order = tantivy.Order.Desc if column.descending else tantivy.Order.Asc
        found = self._searcher.search(
            present,
            take + lead + 1,
            count=count,
            order_by_field="date",
            offset=skip - lead,
            order=order,
        )
        return list(found.hits), int(found.count or 0)

    def _hits_window(
        self, present: Query, column: SortColumn, skip: int, take: int
    ) -> tuple[Window, int]:
        """The values around ``[skip, skip + take)`` by a top-hits aggregation (no items).

        Counted first: tantivy panics when ``from`` is past the last match.
        """
        total = self._items(self._searcher.aggregate(present, self._counts(column)))
        if skip >= total:
            return [], total
        lead = 1 if skip > 0 else 0
        order = "desc" if column.descending else "asc"
        hits = {"size": take + lead + 1, "from": skip - lead, "sort": [{column.column: order}]}
        result = self._searcher.aggregate(present, {"h": {"top_hits": hits}})
        found = [(_decode(hit["sort"][0], column.kind), None) for hit in result["h"]["hits"]]
        return found, total

    def _buckets_of_window(
        self, present: Query, column: SortColumn, skip: int, take: int, window: Window
    ) -> list[_Bucket]:
        """Buckets from the values at positions ``[skip, skip + take)``, in order.

        ``window`` starts one position early (unless ``skip`` is 0) and goes one further:
        when the value before (after) the page differs from its first (last) value, that
        value's items start (end) inside the page and need no counting. Only otherwise are
        they counted.
        """
        lead = 1 if skip > 0 else 0
        before, inside, after = window[:lead], window[lead : lead + take], window[lead + take :]
        runs: list[list[Any]] = []  # [value, index of its first position, positions, ref]
        for index, (value, ref) in enumerate(inside):
            if runs and runs[-1][0] == value:
                runs[-1][2] += 1
            else:
                runs.append([value, index, 1, ref])
        first, last = runs[0][0], runs[-1][0]
        if not before or before[0][0] != first:
            start = skip
        else:
            better = (first, False, None, True) if column.descending else (None, True, first, False)
            start = self.count(_and(present, self._range(column.column, *better)))
        ends_inside = not after or after[0][0] != last
        buckets = []
        for value, index, seen, ref in runs:
            bucket_start = start if index == 0 else skip + index
            count = seen + (skip - start if index == 0 else 0)
            if value == last and not ends_inside:
                count = self.count(_and(present, self._equals(column, value)))
            buckets.append(_Bucket(value, bucket_start, count, ref if count == 1 else None))
        return buckets

    def _equals(self, column: SortColumn, value: Any) -> Query:
        return Query.term_query(self._schema, column.column, value)

    def _refs_by_value(
        self, present: Query, column: SortColumn, values: list[Any]
    ) -> dict[Any, Ref]:
        """The item holding each of ``values`` (each held by exactly one item of ``present``)."""
        if not values:
            return {}
        query = _and(present, Query.term_set_query(self._schema, column.column, values))
        value_of = {"terms": {"field": column.column, "size": 1}}
        uids = {"terms": {"field": UID_COLUMN, "size": len(values)}, "aggs": {"v": value_of}}
        found = self._searcher.aggregate(query, {"u": uids})["u"]["buckets"]
        refs: dict[Any, Ref] = {}
        for bucket in found:
            held = bucket["v"]["buckets"]
            if held:
                refs[held[0]["key"]] = bucket["key"]
        for value in values:
            if value not in refs:  # an item indexed without a uid
                narrowed = _and(present, self._equals(column, value))
                refs[value] = self._searcher.search(narrowed, 1).hits[0][1]
        return refs

    # -- fallbacks ----------------------------------------------------------------------

    def _index_order(self, query: Query, skip: int, take: int) -> list[Ref]:
        """Items indexed without a uid, in index order (stable while the index is)."""
        result = self._searcher.search(Query.const_score_query(query, 0.0), take, offset=skip)
        return [address for _, address in result.hits]

    def _sorted_in_python(self, query: Query, columns: Sequence[SortColumn]) -> list[Ref]:
        """Every item of ``query`` ordered in Python (smallest or largest value per key)."""
        keyed = [c for c in columns if c.kind != "uid"]
        total = self.count(query)
        if total * (1 + len(keyed)) > MAX_BUCKETS:
            raise InvalidRequestError(
                f"this sort would order {total} items in memory (some have several values "
                "for a sort key, or the page is too deep); narrow the query"
            )
        if total == 0:
            return []
        aggs = {f"k{i}": _extreme(c) for i, c in enumerate(keyed)}
        spec = {"terms": {"field": UID_COLUMN, "size": total}, "aggs": aggs}
        found = self._searcher.aggregate(query, {"u": spec})["u"]["buckets"]
        rows = [[_extreme_value(b[f"k{i}"]) for i in range(len(keyed))] + [b["key"]] for b in found]
        for position in reversed(range(len(keyed))):
            with_value = [row for row in rows if row[position] is not None]
            without = [row for row in rows if row[position] is None]
            with_value.sort(
                key=lambda row: _sortable(row[position]), reverse=keyed[position].descending
            )
            rows = with_value + without
        return [row[-1] for row in rows]


def _extreme(column: SortColumn) -> dict[str, Any]:
    """A sub-aggregation giving an item's smallest (ascending) or largest (descending) value."""
    if column.kind == "double":
        return {"max" if column.descending else "min": {"field": column.column}}
    order = {"_key": "desc" if column.descending else "asc"}
    return {"terms": {"field": column.column, "size": 1, "order": order}}


def _extreme_value(result: dict[str, Any]) -> Any:
    if "buckets" in result:
        return result["buckets"][0]["key"] if result["buckets"] else None
    return result.get("value")


def _sortable(value: Any) -> tuple[int, Any]:
    """Numbers before strings, so a column that changed type still sorts."""
    return (1, value) if isinstance(value, str) else (0, value)
