"""Time as the core reads it: aware UTC datetimes, and ages in words."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now", "as_utc", "age"]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """`value` with a naive time read as UTC (None stays None)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def age(then: datetime, now: datetime) -> str:
    """How long ago `then` was, in the largest whole unit ("3 days ago", "just now")."""
    seconds = max(0.0, (now - then).total_seconds())
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("week", 604_800),
                       ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"
