"""Time expressions in recall queries: "yesterday", "last week", "3 days ago", "in May 2023".

`parse_time(query, now)` finds the first expression that names a period and returns it as a
half-open UTC range `[start, end)` together with the words that expressed it. Recall uses the
range to favour memories whose timestamp (`created_at`, i.e. when the event happened) falls in
it; it is a preference, not a filter, because people misremember dates. Explicit `since`/`until`
arguments remain hard filters.

Relative expressions are resolved against `now` (the caller's clock). Weeks start on Monday.
Nothing here needs a network or a locale: English month and day names only.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["TimeRange", "parse_time", "strip_time"]


@dataclass(frozen=True)
class TimeRange:
    """A half-open period `[start, end)` named in a query by `text`."""

    start: datetime
    end: datetime
    text: str

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_DAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple of": 2,
    "few": 3,
    "a few": 3,
    "several": 3,
}
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}

_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_RE = "|".join(_DAYS)
_NUM_RE = r"\d+|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
_UNIT_RE = r"(day|week|fortnight|month|year)s?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    (
        "dmy",
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I
        ),
    ),
    ("mdy", re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)),
    ("my", re.compile(rf"\b({_MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})\b", re.I)),
    ("ago", re.compile(rf"\b({_NUM_RE})\s+{_UNIT_RE}\s+ago\b", re.I)),
    (
        "lastn",
        re.compile(
            rf"\b(?:in\s+the\s+|over\s+the\s+|during\s+the\s+)?(?:last|past)\s+({_NUM_RE})\s+{_UNIT_RE}\b",
            re.I,
        ),
    ),
    # "in the last month" is the month up to now; "last month" (below) the calendar month.
    (
        "rolling",
        re.compile(r"\b(?:in|over|during|within)\s+the\s+(?:last|past)\s+"
                   r"(week|fortnight|month|year)\b", re.I),
    ),
    ("daybefore", re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b", re.I)),
    (
        "today",
        re.compile(r"\b(today|tonight|this\s+morning|this\s+afternoon|this\s+evening)\b", re.I),
    ),
    ("yesterday", re.compile(r"\b(yesterday|last\s+night)\b", re.I)),
    ("relunit", re.compile(r"\b(this|last|past|previous)\s+(week|month|year)\b", re.I)),
    ("weekday", re.compile(rf"\b(?:(last|this|on)\s+)?({_DAY_RE})\b", re.I)),
    ("recent", re.compile(r"\b(recently|lately|the other day)\b", re.I)),
    ("year", re.compile(r"\b(?:in|during|since|of)\s+((?:19|20)\d{2})\b", re.I)),
    ("month", re.compile(rf"\b(?:in|during|last|this|since)\s+({_MONTH_RE})\b", re.I)),
]


# Words before a weekday that make it any such day rather than one date.
_GENERIC_DAY = re.compile(r"\b(?:a|an|any|each|every|one)\s+$", re.I)


def _day(d: datetime) -> datetime:
    return d.replace(hour=0, minute=0, second=0, microsecond=0)


def _number(text: str) -> int:
    text = text.lower().strip()
    return int(text) if text.isdigit() else _NUMBERS.get(text, 1)


def _month_range(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _resolve(kind: str, m: re.Match[str], now: datetime) -> tuple[datetime, datetime] | None:
    today = _day(now)
    if kind == "iso":
        start = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
        return start, start + timedelta(days=1)
    if kind in ("dmy", "mdy"):
        day, month = (m[1], m[2]) if kind == "dmy" else (m[2], m[1])
        start = datetime(int(m[3]), _MONTHS[month.lower().rstrip(".")], int(day), tzinfo=UTC)
        return start, start + timedelta(days=1)
    if kind == "my":
        return _month_range(int(m[2]), _MONTHS[m[1].lower().rstrip(".")])
    if kind == "ago":
        span = _number(m[1]) * _UNIT_DAYS[m[2].lower()]
        slack = max(1, span // 4)  # "3 weeks ago" is roughly, not exactly, 21 days ago
        center = today - timedelta(days=span)
        return center - timedelta(days=slack), center + timedelta(days=slack + 1)
    if kind == "lastn":
        span = _number(m[1]) * _UNIT_DAYS[m[2].lower()]
        return today - timedelta(days=span), now + timedelta(seconds=1)
    if kind == "rolling":
        return today - timedelta(days=_UNIT_DAYS[m[1].lower()]), now + timedelta(seconds=1)
    if kind == "daybefore":
        return today - timedelta(days=2), today - timedelta(days=1)
    if kind == "today":
        return today, today + timedelta(days=1)
    if kind == "yesterday":
        return today - timedelta(days=1), today
    if kind == "relunit":
        which, unit = m[1].lower(), m[2].lower()
        if unit == "week":
            start = today - timedelta(days=today.weekday())
        elif unit == "month":
            start = today.replace(day=1)
        else:
            start = today.replace(month=1, day=1)
        if which == "this":
            return start, now + timedelta(seconds=1)
        if unit == "week":
            return start - timedelta(days=7), start
        if unit == "month":
            prev = start - timedelta(days=1)
            return prev.replace(day=1), start
        return start.replace(year=start.year - 1), start
    if kind == "weekday":
        target = _DAYS[m[2].lower()]
        back = (today.weekday() - target) % 7
        if m[1] and m[1].lower() == "last" and back == 0:
            back = 7
        start = today - timedelta(days=back)
        return start, start + timedelta(days=1)
    if kind == "recent":
        return today - timedelta(days=7), now + timedelta(seconds=1)
    if kind == "year":
        year = int(m[1])
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    if kind == "month":
        month = _MONTHS[m[1].lower().rstrip(".")]
        year = now.year if month <= now.month else now.year - 1
        return _month_range(year, month)
    return None


def parse_time(query: str, now: datetime | None = None) -> TimeRange | None:
    """The period a query names, or None. The most specific expression wins (dates first)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(query):
            if kind == "weekday" and _GENERIC_DAY.search(query, 0, match.start()):
                continue  # "on a Sunday", "every Monday": no day in particular
            try:
                span = _resolve(kind, match, now)
            except (ValueError, KeyError):
                continue
            if span:
                return TimeRange(span[0], span[1], match.group(0))
    return None



def strip_time(query: str, found: TimeRange | None) -> str:
    """The query without its time expression (which would only add noise to text matching)."""
    if not found:
        return query
    stripped = " ".join(query.replace(found.text, " ").split())
    return stripped or query
