"""Search API wire shapes: ``sortCriteria``, ``facets`` and ``groupBy`` in; facets out.

Requests (push-api.md §12.2):

* ``sortCriteria``: comma-separated keys, case-insensitive: ``relevancy``, ``qre``, ``nosort``,
  ``date [ascending|descending]`` (also ``dateascending`` / ``datedescending``) and
  ``@field [ascending|descending]``. An omitted direction is descending for ``date`` and
  ascending for a field. Anything else is a 400.
* ``facets``: ``specific`` (``currentValues`` with ``state: selected`` filter the results),
  ``numericalRange`` and ``dateRange`` (``currentValues`` are the ranges to count, selected ones
  filter; with none, ranges are generated unless ``generateAutomaticRanges`` is false).
  ``hierarchical`` is refused (400). Values in ``currentValues`` are converted to the field's
  type: dates as Coveo writes them (``2024/01/31@10:00:00``), ISO 8601, epoch milliseconds or
  the query language's relative forms.
* ``groupBy`` (legacy): ``field`` (``@author``), ``maximumNumberOfValues`` (10),
  ``sortCriteria``, ``allowedValues`` (``*`` and ``?`` wildcards), ``queryOverride``,
  ``advancedQueryOverride``, ``constantQueryOverride``, ``rangeValues`` and
  ``generateAutomaticRanges``. Computed fields are not supported: ``computedFields`` is
  ignored (``computedFieldResults`` is always empty) and a computed-field sort is a 400.

In responses, DATE values read ``2024/01/31@10:00:00`` (UTC), numbers as numbers in ranges and
as text in values; a requested range echoes its ``start`` and ``end`` as they were sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from openpush.domain.dates import parse_date
from openpush.domain.fields import FieldDefinition, FieldType, FieldValue
from openpush.errors import InvalidRequestError, QuerySyntaxError
from openpush.index.base import (
    FacetBucket,
    FacetRange,
    FacetRequest,
    FacetResult,
    FieldFilter,
    SortKey,
)
from openpush.search.query import format_number, is_date_spec, resolve_date

__all__ = [
    "WireFacet",
    "facet_json",
    "group_by_json",
    "parse_facets",
    "parse_group_by",
    "parse_names",
    "parse_sort",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LEGACY_SORTS = {"dateascending": ("date", False), "datedescending": ("date", True)}
_DIRECTIONS = {"ascending": False, "descending": True}
_FACET_ORDERS = {
    "automatic": "occurrences",
    "score": "occurrences",
    "occurrences": "occurrences",
    "alphanumeric": "alpha_ascending",
    "alphanumericdescending": "alpha_descending",
    "alphanumericnatural": "natural_ascending",
    "alphanumericnaturaldescending": "natural_descending",
}
_GROUP_BY_ORDERS = {
    "score": "occurrences",
    "occurrences": "occurrences",
    "chisquare": "occurrences",
    "nosort": "occurrences",
    "alphaascending": "alpha_ascending",
    "alphadescending": "alpha_descending",
    "alphaascendingnatural": "natural_ascending",
    "alphadescendingnatural": "natural_descending",
}
_RANGE_TYPES = {"numericalrange", "daterange"}


def _invalid(message: str) -> InvalidRequestError:
    return InvalidRequestError(message)


# -- sort and field lists --------------------------------------------------------------------


def parse_sort(raw: Any) -> tuple[SortKey, ...]:
    """``sortCriteria`` as sort keys (the combination rules are checked by the service)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return (SortKey(),)
    if not isinstance(raw, str):
        raise _invalid("sortCriteria must be a string")
    keys = []
    for part in raw.split(","):
        words = part.lower().split()
        if not words:
            raise _invalid(f"invalid sortCriteria {raw!r}: empty key")
        keys.append(_sort_key(words, raw))
    return tuple(keys)


def _sort_key(words: list[str], raw: str) -> SortKey:
    name, rest = words[0], words[1:]
    if name in _LEGACY_SORTS and not rest:
        return SortKey(*_LEGACY_SORTS[name])
    if len(rest) > 1 or (rest and rest[0] not in _DIRECTIONS):
        raise _invalid(f"invalid sortCriteria {raw!r}: expected ascending or descending")
    if name in {"relevancy", "qre", "nosort"}:
        if rest:
            raise _invalid(f"invalid sortCriteria {raw!r}: {name} takes no direction")
        return SortKey(name, True)
    if name == "date":
        return SortKey("date", _DIRECTIONS[rest[0]] if rest else True)
    if name.startswith("@") and len(name) > 1:
        return SortKey(name[1:], _DIRECTIONS[rest[0]] if rest else False)
    raise _invalid(f"invalid sortCriteria {raw!r}: unknown key {name!r}")


def parse_names(raw: Any, key: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [s for s in raw.split(",") if s]
    if not isinstance(raw, list):
        raise InvalidRequestError(f"{key} must be an array of field names")
    return tuple(str(v) for v in raw)


# -- facets in ---------------------------------------------------------------------------


@dataclass(slots=True)
class WireFacet:
    """One facet or groupBy as asked, with what its answer needs to echo."""

    request: FacetRequest
    kind: FieldType | None
    selected: set[FieldValue] = field(default_factory=set)
    selected_ranges: set[FacetRange] = field(default_factory=set)
    echoes: dict[FacetRange, tuple[Any, Any]] = field(default_factory=dict)
    labels: dict[FacetRange, str] = field(default_factory=dict)
    descending: bool = False

    def is_selected(self, value: FieldValue | None) -> bool:
        if self.kind is FieldType.DATE and isinstance(value, int | float):
            value = int(value) // 1000 * 1000  # DATE values are shown to the second
        return value in self.selected

    def filter(self) -> FieldFilter | None:
        """The filter the selected values or ranges make, or None."""
        ranges = set(self.selected_ranges)
        values = set(self.selected)
        if self.kind is FieldType.DATE and self.request.kind == "values":
            ranges |= {FacetRange(int(v), int(v) + 1000) for v in values}  # type: ignore[arg-type]
            values = set()
        if not values and not ranges:
            return None
        return FieldFilter(
            self.request.field,
            values=tuple(sorted(values, key=str)),
            ranges=tuple(sorted(ranges, key=lambda r: (r.start, r.end))),
            owner=self.request.id,
        )


def _field_name(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip("@ "):
        raise _invalid(f"{where} needs a 'field'")
    return raw.strip().lstrip("@").lower()


def _integer(raw: Any, default: int, where: str) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise _invalid(f"{where} must be a non-negative integer")
    return raw


def typed_value(raw: Any, kind: FieldType | None, where: str) -> FieldValue:
    """A value sent by the client, in the field's type."""
    try:
        if kind in (FieldType.LONG, FieldType.LONG_64):
            number = float(raw)
            if number != int(number):
                raise ValueError(raw)
            return int(number)
        if kind is FieldType.DOUBLE:
            return float(raw)
        if kind is FieldType.DATE:
            return _date_ms(raw)
    except (TypeError, ValueError, OverflowError, QuerySyntaxError):
        raise _invalid(f"{where}: {raw!r} is not a valid {kind} value") from None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _invalid(f"{where}: {raw!r} is not a value")
    return raw if isinstance(raw, str) else format_number(raw)


def _number(raw: Any, kind: FieldType | None, where: str) -> int | float:
    """A range bound: epoch ms on a DATE field, else a number (whole numbers as ``int``)."""
    value = typed_value(raw, kind if kind is FieldType.DATE else FieldType.DOUBLE, where)
    assert not isinstance(value, str)
    return int(value) if float(value).is_integer() else value


def _date_ms(raw: Any) -> int:
    if isinstance(raw, str) and is_date_spec(raw.strip()):
        return resolve_date(raw.strip(), int(time.time() * 1000))
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError(raw)
    return parse_date(raw)


def parse_facets(
    raw: Any, fields: Mapping[str, FieldDefinition]
) -> tuple[list[WireFacet], list[FieldFilter]]:
    """``facets`` as facet requests and the filters their selected values make."""
    if raw is None:
        return [], []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise _invalid("facets must be an array of objects")
    wires, filters, seen = [], [], set()
    for index, spec in enumerate(raw):
        wire = _facet(spec, fields, f"facets[{index}]")
        if wire.request.id in seen:
            raise _invalid(f"facets[{index}]: facetId {wire.request.id!r} is used twice")
        seen.add(wire.request.id)
        wires.append(wire)
        selection = wire.filter()
        if selection is not None:
            filters.append(selection)
    return wires, filters


def _facet(spec: dict[str, Any], fields: Mapping[str, FieldDefinition], where: str) -> WireFacet:
    name = _field_name(spec.get("field"), where)
    facet_id = str(spec.get("facetId") or name)
    definition = fields.get(name)
    kind = FieldType(definition.type) if definition else None
    facet_type = str(spec.get("type") or "specific")
    current = spec.get("currentValues") or []
    if not isinstance(current, list) or not all(isinstance(v, dict) for v in current):
        raise _invalid(f"{where}: currentValues must be an array of objects")
    if facet_type.lower() in _RANGE_TYPES:
        return _range_facet(spec, facet_id, name, kind, current, where)
    if facet_type.lower() != "specific":
        raise _invalid(f"{where}: facet type {facet_type!r} is not supported")
    order_name = str(spec.get("sortCriteria") or "automatic")
    order = _FACET_ORDERS.get(order_name.lower())
    if order is None:
        raise _invalid(f"{where}: unknown sortCriteria {order_name!r}")
    selected = {
        typed_value(v.get("value"), kind, where)
        for v in current
        if str(v.get("state", "idle")).lower() == "selected"
    }
    if kind is FieldType.DATE:
        selected = {int(v) // 1000 * 1000 for v in selected}  # type: ignore[call-overload]
    request = FacetRequest(
        facet_id,
        name,
        count=_integer(spec.get("numberOfValues"), 8, f"{where}.numberOfValues"),
        order=order,
        include=() if kind is FieldType.DATE else tuple(sorted(selected, key=str)),
        allowed=_allowed(spec.get("allowedValues"), where),
    )
    return WireFacet(request, kind, selected=selected)


def _allowed(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _invalid(f"{where}: allowedValues must be an array")
    return tuple(str(v) for v in raw)


def _range_facet(
    spec: dict[str, Any],
    facet_id: str,
    name: str,
    kind: FieldType | None,
    current: list[dict[str, Any]],
    where: str,
) -> WireFacet:
    wire = WireFacet(FacetRequest(facet_id, name, kind="ranges"), kind)
    if kind is FieldType.STRING:
        raise _invalid(f"{where}: a range facet needs a numeric or DATE field, not STRING")
    ranges = []
    for value in current:
        wanted = FacetRange(
            _number(value.get("start"), kind, where),
            _number(value.get("end"), kind, where),
            bool(value.get("endInclusive", False)),
        )
        ranges.append(wanted)
        wire.echoes[wanted] = (value.get("start"), value.get("end"))
        if str(value.get("state", "idle")).lower() == "selected":
            wire.selected_ranges.add(wanted)
    order = str(spec.get("sortCriteria") or "ascending").lower()
    if order not in _DIRECTIONS:
        raise _invalid(f"{where}: sortCriteria must be ascending or descending")
    wire.descending = _DIRECTIONS[order]
    count = _integer(spec.get("numberOfValues"), 8, f"{where}.numberOfValues")
    generate = not ranges and spec.get("generateAutomaticRanges") is not False
    wire.request = FacetRequest(
        facet_id, name, kind="ranges", count=count if generate else 0, ranges=tuple(ranges)
    )
    return wire


def parse_group_by(
    raw: Any, fields: Mapping[str, FieldDefinition]
) -> tuple[list[WireFacet], dict[str, tuple[str | None, str | None, str | None]]]:
    """``groupBy`` as facet requests, and each one's query overrides."""
    if raw is None:
        return [], {}
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw):
        raise _invalid("groupBy must be an array of objects")
    wires, overrides = [], {}
    for index, spec in enumerate(raw):
        where = f"groupBy[{index}]"
        wire = _group_by(spec, fields, where, f"\x1fgroupBy{index}")
        wires.append(wire)
        parts = tuple(
            spec.get(key) if isinstance(spec.get(key), str) else None
            for key in ("queryOverride", "advancedQueryOverride", "constantQueryOverride")
        )
        overrides[wire.request.id] = (parts[0], parts[1], parts[2])
    return wires, overrides


def _group_by(
    spec: dict[str, Any], fields: Mapping[str, FieldDefinition], where: str, facet_id: str
) -> WireFacet:
    name = _field_name(spec.get("field"), where)
    definition = fields.get(name)
    kind = FieldType(definition.type) if definition else None
    order_name = str(spec.get("sortCriteria") or "occurrences")
    order = _GROUP_BY_ORDERS.get(order_name.lower())
    if order is None:
        raise _invalid(f"{where}: sortCriteria {order_name!r} is not supported")
    count = _integer(spec.get("maximumNumberOfValues"), 10, f"{where}.maximumNumberOfValues")
    range_values = spec.get("rangeValues") or []
    if range_values or spec.get("generateAutomaticRanges") is True:
        if not isinstance(range_values, list) or not all(isinstance(r, dict) for r in range_values):
            raise _invalid(f"{where}: rangeValues must be an array of objects")
        wire = _range_facet({}, facet_id, name, kind, range_values, where)
        wire.request = FacetRequest(
            facet_id, name, kind="ranges", count=count, ranges=wire.request.ranges
        )
        pairs = zip(wire.request.ranges, range_values, strict=True)
        wire.labels = {r: str(v["label"]) for r, v in pairs if v.get("label")}
        return wire
    request = FacetRequest(
        facet_id, name, count=count, order=order, allowed=_allowed(spec.get("allowedValues"), where)
    )
    return WireFacet(request, kind)


# -- facets out --------------------------------------------------------------------------


def wire_value(value: FieldValue | None, kind: FieldType | None) -> str:
    if kind is FieldType.DATE and isinstance(value, int | float):
        moment = _EPOCH + timedelta(milliseconds=int(value))
        return f"{moment:%Y/%m/%d@%H:%M:%S}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    return "" if value is None else str(value)


def _range_end(value: int | float, kind: FieldType | None) -> Any:
    return wire_value(value, kind) if kind is FieldType.DATE else value


def _range_json(wire: WireFacet, bucket: FacetBucket) -> dict[str, Any]:
    wanted = bucket.range
    assert wanted is not None
    start, end = wire.echoes.get(
        wanted, (_range_end(wanted.start, wire.kind), _range_end(wanted.end, wire.kind))
    )
    return {
        "start": start,
        "end": end,
        "endInclusive": wanted.end_inclusive,
        "state": "selected" if wanted in wire.selected_ranges else "idle",
        "numberOfResults": bucket.count,
    }


def facet_json(wire: WireFacet, result: FacetResult, total: int) -> dict[str, Any]:
    """One entry of the response's ``facets``."""
    if wire.request.kind == "ranges":
        buckets = sorted(
            result.buckets,
            key=lambda b: b.range.start if b.range else 0,
            reverse=wire.descending,
        )
        values = [_range_json(wire, bucket) for bucket in buckets]
    else:
        values = [
            {
                "value": wire_value(bucket.value, wire.kind),
                "state": "selected" if wire.is_selected(bucket.value) else "idle",
                "numberOfResults": bucket.count,
            }
            for bucket in result.buckets
        ]
    score = min(result.with_value / total, 1.0) if total else 0.0
    return {
        "facetId": wire.request.id,
        "field": wire.request.field,
        "moreValuesAvailable": result.more,
        "values": values,
        "indexScore": round(score, 6),
    }


def group_by_json(wire: WireFacet, result: FacetResult) -> dict[str, Any]:
    """One entry of the response's ``groupByResults``."""
    values = []
    for bucket in result.buckets:
        if bucket.range is not None:
            text = (
                f"{wire_value(bucket.range.start, wire.kind)}.."
                f"{wire_value(bucket.range.end, wire.kind)}"
            )
            lookup = wire.labels.get(bucket.range, text)
        else:
            text = lookup = wire_value(bucket.value, wire.kind)
        values.append(
            {
                "value": text,
                "numberOfResults": bucket.count,
                "score": bucket.count,
                "lookupValue": lookup,
                "valueType": "Standard",
                "computedFieldResults": [],
            }
        )
    return {"field": wire.request.field, "values": values, "globalComputedFieldResults": []}
