"""Recall, stage 1: the query parsed — its words, the period it names, the scopes and filters
it reads, how many results and tokens it wants — checked once, for every later stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from habitus.base.errors import InvalidInput
from habitus.core.clock import utc_now
from habitus.core.filters import read_scopes, recall_filter
from habitus.core.models import CallContext
from habitus.core.recall.timeparse import TimeRange, parse_time, strip_time
from habitus.core.validation import check_kinds, check_limit, check_query, check_tags, check_time

if TYPE_CHECKING:
    from habitus.store import Predicate, Store

__all__ = ["LEGS", "LEG_DEPTH", "RecallQuery", "parse_query"]

LEGS = ("lexical", "vector")
# How many candidates each search leg contributes before fusion.
LEG_DEPTH = 50


@dataclass(frozen=True)
class RecallQuery:
    """A checked recall request."""

    text: str  # the query, normalised (what the vector leg embeds)
    terms: str  # the query without its time expression (what words are matched against)
    period: TimeRange | None  # the time the query names ("last week"), if any
    scopes: list[str] | None  # None: every scope
    where: Predicate  # what may be returned: scope, kind, tags, time, versions
    legs: frozenset[str]
    depth: int  # candidates per leg
    limit: int
    token_budget: int | None
    as_of: datetime | None
    include_history: bool
    follow_links: bool
    ctx: CallContext
    now: datetime  # the time the query is asked at: time expressions and recency count from it


def parse_query(
    store: Store,
    query: str,
    *,
    ctx: CallContext,
    kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
    token_budget: int | None = None,
    legs: Sequence[str] | None = None,
    as_of: datetime | None = None,
    include_history: bool = False,
    follow_links: bool = False,
    now: datetime | None = None,
) -> RecallQuery:
    """Check a recall's arguments and work out what it reads. `now` is when the query is
    asked (default: the clock): "last week" and recency count from it; unlike `as_of`, it
    hides nothing."""
    text = check_query(query)
    check_limit(limit, token_budget)
    scopes = read_scopes(scope, ctx)
    when = check_time(as_of, "as_of")
    since, until = check_time(since, "since"), check_time(until, "until")
    where = recall_filter(
        store, scopes, check_kinds(kinds), check_tags(tags), since, until,
        when=when, include_history=include_history,
    )
    use = frozenset(legs or LEGS)
    unknown = use - set(LEGS)
    if unknown:
        raise InvalidInput(f"unknown search leg {sorted(unknown)[0]!r}; use {', '.join(LEGS)}")
    now = check_time(now, "now") or utc_now()
    period = parse_time(text, now)
    return RecallQuery(
        text=text, terms=strip_time(text, period), period=period, scopes=scopes, where=where,
        legs=use, depth=max(LEG_DEPTH, limit * 3), limit=limit, token_budget=token_budget,
        as_of=when, include_history=include_history, follow_links=follow_links, ctx=ctx,
        now=now,
    )
