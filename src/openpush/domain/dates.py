"""Date values as a Coveo Date field reads them, converted to epoch milliseconds (UTC).

:func:`parse_date` accepts (push-api.md §2.2.3, clients.md §7):

* numbers, and strings of digits, as **epoch milliseconds** (no seconds heuristic: a Date field
  stores and returns milliseconds, so a number is taken at face value); booleans are refused;
* ISO-8601 with ``Z``, an offset (``+00:00``, ``-05:00``, ``+0000``, ``+05``), fractions of any
  length (truncated to microseconds), a space or ``T`` separator, date only, or no zone at all
  (naive values, as the Python client sends them, are UTC);
* ``2002/01/31 11:53:12`` (slashes, naive -> UTC);
* RFC 822 / 1123 / 850 and asctime (``1 Sep 85 09:54:48 GMT``,
  ``Sun, 06 Nov 1994 08:49:37 GMT``, ``Mon, 01-Jan-70 12:00:00 GMT``,
  ``Sunday, 06-Nov-94 08:49:37 GMT``, ``Sun Nov 27 08:49:37 1994``) via :mod:`email.utils`;
* ``Sunday, 02/17/02 20:01:03 EST`` (US month/day/year) and ``Nov 29 2002 7:30PM``.

Two-digit years follow :mod:`email.utils` / ``%y``: 00-68 -> 20xx, 69-99 -> 19xx. Zone names
known to the last two forms: UT, UTC, GMT, Z and the US zones (EST/EDT, CST/CDT, MST/MDT,
PST/PDT); an unknown name there makes the value unparseable. The RFC 822 family follows
:mod:`email.utils`, which reads a missing or unknown zone as UTC.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

__all__ = ["parse_date"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_ISO_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2}[.,]\d{6})\d+")
_SLASHED = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(.*)")
_WEEKDAY = re.compile(r"[A-Za-z]+,\s*")
_ZONE_SUFFIX = re.compile(r"\s*([A-Za-z]{1,4}|[+-]\d{2}:?\d{2})$")
_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip
_FORMATS = (
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%y %H:%M",
    "%m/%d/%Y %H:%M",
    "%b %d %Y %I:%M%p",
    "%b %d %Y %I:%M %p",
    "%b %d %Y %I:%M:%S%p",
    "%b %d %Y %I:%M:%S %p",
    "%b %d %Y %H:%M:%S",
    "%b %d %Y %H:%M",
    "%b %d %Y",
    "%d %b %Y",
)


def parse_date(value: str | int | float) -> int:
    """Return ``value`` in milliseconds since the Unix epoch (UTC); ValueError if unparseable."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a date")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"{type(value).__name__} is not a date")
    text = " ".join(value.split())
    if _INTEGER.fullmatch(text):
        return int(text)
    for parser in (_parse_iso, _parse_slashed, _parse_email, _parse_custom):
        parsed = parser(text)
        if parsed is not None:
            return _to_ms(parsed)
    raise ValueError(f"unrecognised date {value!r}")


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def _parse_iso(text: str) -> datetime | None:
    if not text[:4].isdigit():
        return None
    text = _ISO_FRACTION.sub(r"\1", text)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_slashed(text: str) -> datetime | None:
    match = _SLASHED.fullmatch(text)
    if match is None:
        return None
    year, month, day, rest = match.groups()
    return _parse_iso(f"{year}-{int(month):02d}-{int(day):02d}{rest}")


def _parse_email(text: str) -> datetime | None:
    try:
        parts = parsedate_tz(text)
        if parts is None:
            return None
        year, month, day, hour, minute, second = parts[:6]
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        return moment - timedelta(seconds=parts[9] or 0)
    except (ValueError, IndexError, TypeError, OverflowError):
        return None


def _parse_custom(text: str) -> datetime | None:
    text = _WEEKDAY.sub("", text, count=1)
    zone = UTC
    match = _ZONE_SUFFIX.search(text)
    if match is not None and match.group(1).upper() not in {"AM", "PM"}:
        found = _zone(match.group(1))
        if found is None:
            return None
        zone, text = found, text[: match.start()]
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    return None


def _zone(name: str) -> timezone | None:
    if name[0] in "+-":
        digits = name[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        return timezone(timedelta(minutes=-minutes if name[0] == "-" else minutes))
    hours = _ZONES.get(name.upper())
    return None if hours is None else timezone(timedelta(hours=hours))
