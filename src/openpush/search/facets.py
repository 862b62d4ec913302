"""Facet policies that do not depend on the engine: value orders and generated ranges.

Value orders (``FacetRequest.order``):

* ``occurrences``: most items first, ties by value (ascending);
* ``alpha_ascending`` / ``alpha_descending``: case-insensitive, then by the exact value;
* ``natural_ascending`` / ``natural_descending``: like alpha, but runs of digits compare as
  numbers (``item2`` before ``item10``).

Generated ranges (a range facet that asks for none): about ``count`` ranges of one "nice"
width covering the smallest to the largest value (one more when the aligned start falls below
it). Numbers use widths of 1, 2, 2.5 or 5 times a power of ten (whole numbers for integer
fields) and start at a multiple of the width. Dates use the first of 1 s, 1 min, 5 min, 15 min,
1 h, 6 h, 1 day, 1 week or 30 days that is wide enough, else a nice number of 365-day years,
aligned on the epoch in UTC. Every range includes its start and excludes its end; ranges
without items are dropped by the engine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from openpush.domain.fields import FieldValue
from openpush.index.base import FacetBucket, FacetRange

__all__ = ["ORDERS", "generate_ranges", "order_buckets", "wildcard_matcher"]

ORDERS = frozenset(
    {
        "occurrences",
        "alpha_ascending",
        "alpha_descending",
        "natural_ascending",
        "natural_descending",
    }
)
_DIGITS = re.compile(r"(\d+)")
_SECOND = 1000
_DAY = 86_400 * _SECOND
_DATE_WIDTHS = (
    _SECOND,
    60 * _SECOND,
    300 * _SECOND,
    900 * _SECOND,
    3600 * _SECOND,
    6 * 3600 * _SECOND,
    _DAY,
    7 * _DAY,
    30 * _DAY,
)


def _exact(value: FieldValue | None) -> tuple[int, Any]:
    return (1, value) if isinstance(value, str) else (0, value)


def _alpha(value: FieldValue | None) -> tuple[Any, ...]:
    text = str(value)
    return (text.casefold(), _exact(value))


def _natural(value: FieldValue | None) -> tuple[Any, ...]:
    if not isinstance(value, str):
        return ((0, value),)
    parts = tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in _DIGITS.split(value)
        if part
    )
    return (*parts, (2, value))


def order_buckets(buckets: Iterable[FacetBucket], order: str) -> list[FacetBucket]:
    """``buckets`` (values) sorted by ``order`` (one of :data:`ORDERS`)."""
    items = list(buckets)
    if order == "occurrences":
        return sorted(items, key=lambda b: (-b.count, _exact(b.value)))
    key: Callable[[FieldValue | None], tuple[Any, ...]] = (
        _natural if order.startswith("natural") else _alpha
    )
    return sorted(items, key=lambda b: key(b.value), reverse=order.endswith("descending"))


def wildcard_matcher(patterns: Iterable[str]) -> Callable[[FieldValue], bool]:
    """Whether a value matches one of ``patterns`` (``*`` any run, ``?`` one character).

    Case-insensitive; numbers are matched as their text.
    """
    regex = "|".join(
        ".*".join(".".join(re.escape(p) for p in part.split("?")) for part in pattern.split("*"))
        for pattern in patterns
    )
    compiled = re.compile(f"(?:{regex})", re.IGNORECASE | re.DOTALL)
    return lambda value: compiled.fullmatch(str(value)) is not None


def generate_ranges(
    low: float, high: float, count: int, *, integral: bool, dates: bool
) -> list[FacetRange]:
    """About ``count`` ranges of one nice width from ``low`` to ``high`` (see the module doc)."""
    if count <= 0 or not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return []
    raw = (high - low) / count
    if dates:
        width: float = _date_width(raw)
    else:
        width = _nice_width(raw)
        if integral:
            width = max(1, math.ceil(width))
    start = math.floor(low / width) * width
    ranges = []
    while start <= high:
        end = start + width
        ranges.append(FacetRange(_tidy(start, integral), _tidy(end, integral)))
        start = end
    return ranges


def _nice_width(raw: float) -> float:
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _date_width(raw: float) -> int:
    for width in _DATE_WIDTHS:
        if width >= raw:
            return width
    years = math.ceil(raw / (365 * _DAY))
    return math.ceil(_nice_width(years)) * 365 * _DAY


def _tidy(value: float, integral: bool) -> int | float:
    if integral:
        return int(value)
    return round(value, 12)
