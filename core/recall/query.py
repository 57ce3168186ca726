"""Recall, stage 1: the query parsed — its words, the period it names, the scopes and filters
it reads, how many results and tokens it wants — checked once, for every later stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from habitus.core.clock import utc_now
from habitus.core.filters import read_scopes, recall_filter
from habitus.core.models import CallContext
from habitus.core.recall.timeparse import TimeRange, parse_time, strip_time
from habitus.core.requests import LEGS, Leg, RecallRequest
from habitus.core.validation import check_kinds, check_query, check_tags, check_time

if TYPE_CHECKING:
    from habitus.store import Predicate, Store

__all__ = ["LEG_DEPTH", "RecallQuery", "parse_query"]

# How many candidates each search leg contributes before fusion.
LEG_DEPTH = 50


@dataclass(frozen=True)
class RecallQuery:
    """A checked recall: the request, and what the stages need worked out from it."""

    request: RecallRequest  # the options as asked (limit, token_budget, follow_links…)
    text: str  # the query, normalised (what the vector leg embeds)
    terms: str  # the query without its time expression (what words are matched against)
    period: TimeRange | None  # the time the query names ("last week"), if any
    scopes: list[str] | None  # None: every scope
    where: Predicate  # what may be returned: scope, kind, tags, time, versions
    legs: frozenset[Leg]
    depth: int  # candidates per leg
    as_of: datetime | None  # `request.as_of` in UTC
    ctx: CallContext
    now: datetime  # the time the query is asked at: time expressions and recency count from it


def parse_query(store: Store, request: RecallRequest, ctx: CallContext) -> RecallQuery:
    """Check a recall request and work out what it reads. Its `now` is when the query is
    asked (default: the clock): "last week" and recency count from it; unlike `as_of`, it
    hides nothing."""
    text = check_query(request.query)
    scopes = read_scopes(request.scope, ctx)
    when = check_time(request.as_of, "as_of")
    since, until = check_time(request.since, "since"), check_time(request.until, "until")
    where = recall_filter(
        store, scopes, check_kinds(request.kinds), check_tags(request.tags), since, until,
        when=when, include_history=request.include_history,
    )
    now = check_time(request.now, "now") or utc_now()
    period = parse_time(text, now)
    return RecallQuery(
        request=request, text=text, terms=strip_time(text, period), period=period,
        scopes=scopes, where=where, legs=frozenset(request.legs or LEGS),
        depth=max(LEG_DEPTH, request.limit * 3), as_of=when, ctx=ctx, now=now,
    )
