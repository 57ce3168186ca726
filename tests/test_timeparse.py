"""Time expressions in queries resolve to the right UTC periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from habitus.core.recall.timeparse import parse_time, strip_time

pytestmark = pytest.mark.fast

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday


def d(y: int, m: int, day: int) -> datetime:
    return datetime(y, m, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("what did I fix yesterday", d(2026, 11, 17), d(2026, 11, 18)),
        ("errors today", d(2026, 11, 18), d(2026, 11, 19)),
        ("the day before yesterday", d(2026, 11, 16), d(2026, 11, 17)),
        ("decisions last week", d(2026, 11, 9), d(2026, 11, 16)),
        ("what changed last month", d(2026, 10, 1), d(2026, 11, 1)),
        ("deploys last year", d(2025, 1, 1), d(2026, 1, 1)),
        ("the bug on Monday", d(2026, 11, 16), d(2026, 11, 17)),
        ("meeting last Wednesday", d(2026, 11, 11), d(2026, 11, 12)),
        ("what happened on 8 May 2023", d(2023, 5, 8), d(2023, 5, 9)),
        ("what happened on May 8, 2023", d(2023, 5, 8), d(2023, 5, 9)),
        ("release of 2024-02-29", d(2024, 2, 29), d(2024, 3, 1)),
        ("trips in June 2023", d(2023, 6, 1), d(2023, 7, 1)),
        ("what did we ship in 2022", d(2022, 1, 1), d(2023, 1, 1)),
        ("in March", d(2026, 3, 1), d(2026, 4, 1)),
        ("in December", d(2025, 12, 1), d(2026, 1, 1)),
        # The month (week, year) up to now, not the calendar one before.
        ("plants I bought in the last month", d(2026, 10, 19), NOW + timedelta(seconds=1)),
        ("over the past week", d(2026, 11, 11), NOW + timedelta(seconds=1)),
        # A weekday said of no date in particular is passed over for a later one that is.
        ("the rota on a Sunday, and the call last Monday", d(2026, 11, 16), d(2026, 11, 17)),
    ],
)
def test_periods(query: str, start: datetime, end: datetime) -> None:
    found = parse_time(query, NOW)
    assert found is not None, query
    assert (found.start, found.end) == (start, end)


def test_relative_spans_include_now() -> None:
    found = parse_time("memories from the last 3 days", NOW)
    assert found and found.start == d(2026, 11, 15) and NOW in found
    ago = parse_time("the crash two weeks ago", NOW)
    assert ago and d(2026, 11, 4) in ago and d(2026, 10, 20) not in ago


@pytest.mark.parametrize(
    "query",
    [
        "may I use pytest fixtures here",
        "how to parse the config file",
        "getUserName returns None",
        "march through the list",
        "error 2022 in the log",
        "who works the night shift on a Sunday",
        "what do we deploy every Friday",
    ],
)
def test_no_false_periods(query: str) -> None:
    assert parse_time(query, NOW) is None


def test_strip_time_keeps_the_rest() -> None:
    found = parse_time("what did I fix yesterday in the parser", NOW)
    assert (
        strip_time("what did I fix yesterday in the parser", found)
        == "what did I fix in the parser"
    )
    assert strip_time("yesterday", parse_time("yesterday", NOW)) == "yesterday"
