"""Tests for openpush.domain.dates.parse_date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from openpush.domain.dates import parse_date


def ms(*args: int, tz: timezone = UTC) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1000)  # type: ignore[misc]


EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the three official clients (clients.md §7)
        ("2020-01-01T00:00:00.000Z", ms(2020, 1, 1)),
        ("2020-01-01T00:00:00", ms(2020, 1, 1)),
        ("2015-01-01T00:00:00.000-05:00", ms(2015, 1, 1, tz=EST)),
        # other ISO-8601 shapes
        ("2017-11-08T12:18:41.666Z", ms(2017, 11, 8, 12, 18, 41) + 666),
        ("2017-11-08T12:18:41.666+00:00", ms(2017, 11, 8, 12, 18, 41) + 666),
        ("2014-05-16T00:51:37.000+0000", ms(2014, 5, 16, 0, 51, 37)),
        ("2020-01-01T05:00:00+05:00", ms(2020, 1, 1)),
        ("2020-01-01T00:00:00z", ms(2020, 1, 1)),
        ("2020-01-01T00:00:00.123456789Z", ms(2020, 1, 1) + 123),
        ("2020-01-01", ms(2020, 1, 1)),
        ("  2020-01-01T00:00:00Z  ", ms(2020, 1, 1)),
        ("1969-12-31T23:59:59Z", -1000),
        # the formats a Coveo Date field recognises (push-api.md §2.2.3)
        ("2002/01/31 11:53:12", ms(2002, 1, 31, 11, 53, 12)),
        ("2002/1/31", ms(2002, 1, 31)),
        ("2002-01-31 11:53:12.999Z", ms(2002, 1, 31, 11, 53, 12) + 999),
        ("1 Sep 85 09:54:48 GMT", ms(1985, 9, 1, 9, 54, 48)),
        ("Sun, 06 Nov 1994 08:49:37 GMT", ms(1994, 11, 6, 8, 49, 37)),
        ("Sun, 06 Nov 1994 08:49:37 -0500", ms(1994, 11, 6, 8, 49, 37, tz=EST)),
        ("Mon, 01-Jan-70 12:00:00 GMT", 12 * 3600 * 1000),
        ("Sunday, 06-Nov-94 08:49:37 GMT", ms(1994, 11, 6, 8, 49, 37)),
        ("Sunday, 02/17/02 20:01:03 EST", ms(2002, 2, 17, 20, 1, 3, tz=EST)),
        (
            "02/17/2002 20:01:03 +05:30",
            ms(2002, 2, 17, 20, 1, 3, tz=timezone(timedelta(hours=5.5))),
        ),
        ("Sun Nov 27 08:49:37 1994", ms(1994, 11, 27, 8, 49, 37)),
        ("Nov 29 2002 7:30PM", ms(2002, 11, 29, 19, 30)),
        ("Nov 29 2002 7:30 am", ms(2002, 11, 29, 7, 30)),
        ("Nov 29 2002", ms(2002, 11, 29)),
    ],
)
def test_parse_date_strings(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1376092475000, 1376092475000),
        (0, 0),
        (1.5e12, 1_500_000_000_000),
        ("1376092475000", 1376092475000),
        (-5, -5),
    ],
)
def test_numbers_are_epoch_milliseconds(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "hello",
        "2020-13-01",
        "2020-02-30T00:00:00",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "2002/02/31 11:53:12",
        "Nov 29 2002 7:30PM XYZ",
        "31/31/02 20:01:03",
        True,
        float("nan"),
        float("inf"),
        None,
        [2020],
    ],
)
def test_unparseable(value):
    with pytest.raises(ValueError):
        parse_date(value)
