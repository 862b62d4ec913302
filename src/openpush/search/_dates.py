"""Date values in query expressions: which bare values are dates, and which instant they name.

Coveo's own query grammar (the search UI's magic box, ``Date.ts``) accepts ``YYYY/MM/DD`` and the
relative forms ``now``, ``today`` and ``yesterday`` followed by an offset ``[+-]N(s|m|h|d|mo|y)``.
openpush accepts a superset of that:

* absolute: ``2024/01/31`` or ``2024-01-31`` (one separator throughout), optionally followed by
  ``@`` or ``T`` and ``HH:MM[:SS[.ffffff]]`` and a zone (``Z``, ``+02:00``, ``-0500``).
  A date without a zone is UTC;
* relative: ``now``, ``today`` (00:00 UTC of the current day) or ``yesterday`` (00:00 UTC of the
  day before), followed by any number of offsets ``[+-]N<unit>``. The units are ``s``, ``m`` or
  ``min`` (minutes), ``h``, ``d``, ``w``, ``mo`` (calendar months; the day is clamped to the
  month's end) and ``y`` (calendar years). Units are lower-case only, so ``M`` is not a month.

Recognising a spec (``is_date_spec``) needs no clock; resolving it (``resolve_date``) takes the
current time explicitly so that a whole query resolves against one instant.

A date is as precise as it is written, and ``resolve_span`` gives the span it covers: a day for
``2024/01/31``, ``today`` or ``yesterday-1w`` (no time of day and no offset below a day), a
minute for ``2024/01/31@10:00``, a second for ``2024/01/31@10:00:00``, and a millisecond for
a fraction, ``now`` or any offset in hours, minutes or seconds. Field comparisons use it, so
``@date==2024/01/31`` matches the whole day and ``@date>2024/01/31`` starts the day after.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

from openpush.errors import QuerySyntaxError

__all__ = ["date_error", "is_date_spec", "resolve_date", "resolve_span"]

_ABSOLUTE = re.compile(
    r"(?P<year>\d{4})(?P<sep>[-/])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    r"(?:[@T](?P<hour>\d{1,2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?"
)
_RELATIVE = re.compile(r"(?P<base>now|today|yesterday)(?P<offsets>(?:[+-]\d+(?:mo|min|[ywdhms]))*)")
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<amount>\d+)(?P<unit>mo|min|[ywdhms])")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_FIXED_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_MONTHS_PER_UNIT = {"mo": 1, "y": 12}
_DAY_MS = 86_400_000
_SUB_DAY_UNITS = frozenset({"s", "m", "min", "h"})


def is_date_spec(text: str) -> bool:
    """Whether ``text`` has the shape of an absolute or relative date (validity not checked)."""
    return _RELATIVE.fullmatch(text) is not None or _ABSOLUTE.fullmatch(text) is not None


def resolve_date(spec: str, now_ms: int) -> int:
    """The instant ``spec`` names, in epoch milliseconds, with ``now_ms`` as the current time.

    Raises ``QuerySyntaxError`` (position 0, relative to the spec) when ``spec`` is not a date or
    names no representable instant (``2024/02/30``, ``now-20000y``).
    """
    try:
        instant = _resolve(spec, now_ms)
    except (ValueError, OverflowError) as exc:
        raise QuerySyntaxError(f"invalid date {spec!r}: {exc}", 0) from exc
    return (instant - _EPOCH) // _MILLISECOND


def resolve_span(spec: str, now_ms: int) -> tuple[int, int]:
    """``[start, end)`` in epoch milliseconds: the instant ``spec`` names, as wide as its precision.

    Raises ``QuerySyntaxError`` as :func:`resolve_date` does.
    """
    start = resolve_date(spec, now_ms)
    return start, start + _precision_ms(spec)


def _precision_ms(spec: str) -> int:
    relative = _RELATIVE.fullmatch(spec)
    if relative is not None:
        units = {offset["unit"] for offset in _OFFSET.finditer(relative["offsets"])}
        if relative["base"] == "now" or units & _SUB_DAY_UNITS:
            return 1
        return _DAY_MS
    absolute = _ABSOLUTE.fullmatch(spec)
    if absolute is None or absolute["fraction"]:
        return 1
    if absolute["hour"] is None:
        return _DAY_MS
    return 60_000 if absolute["second"] is None else 1000


def date_error(spec: str) -> str | None:
    """Why an absolute date spec names no real instant (``2024/13/01``), else None.

    Relative specs are not checked: whether ``now-5000y`` is representable depends on the clock.
    """
    if _ABSOLUTE.fullmatch(spec) is None:
        return None
    try:
        resolve_date(spec, 0)
    except QuerySyntaxError as exc:
        return exc.message
    return None


def _resolve(spec: str, now_ms: int) -> datetime:
    relative = _RELATIVE.fullmatch(spec)
    if relative is not None:
        instant = _base(relative["base"], now_ms)
        for offset in _OFFSET.finditer(relative["offsets"]):
            instant = _shift(instant, offset)
        return instant
    absolute = _ABSOLUTE.fullmatch(spec)
    if absolute is None:
        raise ValueError("not a date")
    return _absolute(absolute)


def _base(base: str, now_ms: int) -> datetime:
    now = _EPOCH + timedelta(milliseconds=now_ms)
    if base == "now":
        return now
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if base == "today" else midnight - timedelta(days=1)


def _shift(instant: datetime, offset: re.Match[str]) -> datetime:
    amount = int(offset["amount"]) * (-1 if offset["sign"] == "-" else 1)
    unit = offset["unit"]
    if unit in _MONTHS_PER_UNIT:
        return _add_months(instant, amount * _MONTHS_PER_UNIT[unit])
    return instant + amount * _FIXED_UNITS[unit]


def _add_months(instant: datetime, months: int) -> datetime:
    year, month_index = divmod(instant.year * 12 + instant.month - 1 + months, 12)
    month = month_index + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def _absolute(match: re.Match[str]) -> datetime:
    fraction = (match["fraction"] or "").ljust(6, "0")
    return datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"] or 0),
        int(match["minute"] or 0),
        int(match["second"] or 0),
        int(fraction),
        tzinfo=_zone(match["zone"]),
    )


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    offset = timedelta(hours=int(text[1:3]), minutes=int(text[-2:]))
    return timezone(sign * offset)
