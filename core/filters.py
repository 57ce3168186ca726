"""Which rows an operation sees: the scopes a call reads, live and current memories, the past
as it was (`as_of`), and recall's kind, tag and time filters, as store predicates."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from habitus.base.errors import NotFound
from habitus.core.clock import as_utc
from habitus.core.models import CallContext
from habitus.core.project.scope import validate_scope
from habitus.core.validation import check_ids

if TYPE_CHECKING:
    from habitus.store import Predicate, Store

__all__ = [
    "ALL_SCOPES", "read_scopes", "live", "current", "as_of", "recall_filter", "require_live",
]

ALL_SCOPES = ("all", "*")


def read_scopes(scope: str | None, ctx: CallContext) -> list[str] | None:
    """Scopes a read covers: the project's and `global` by default, `None` meaning every scope."""
    if scope in ALL_SCOPES:
        return None
    if scope:
        return [validate_scope(scope)]
    return list(dict.fromkeys([ctx.project_scope, "global"]))


def live(store: Store, scopes: list[str] | None = None) -> Predicate:
    """Not forgotten, in `scopes` (None: any)."""
    m = store.where.memories
    where = m.is_null("deleted_at")
    if scopes is not None:
        where = where & m.isin("scope", scopes)
    return where


def current(store: Store) -> Predicate:
    """Current versions only: not superseded."""
    return store.where.memories.is_null("valid_until")


def as_of(store: Store, when: datetime) -> Predicate:
    """Memories that were stored, valid and not forgotten at `when`."""
    m = store.where.memories
    return (
        (m.is_null("deleted_at") | m.ge("deleted_at", when))
        & m.lt("created_at", when)
        & (m.is_null("valid_until") | m.ge("valid_until", when))
    )


def recall_filter(
    store: Store,
    scopes: list[str] | None,
    kinds: list[str] | None,
    tags: list[str],
    since: datetime | None,
    until: datetime | None,
    *,
    when: datetime | None = None,
    include_history: bool = False,
) -> Predicate:
    """What a recall may return: the memory as it is (current versions unless
    `include_history`) or as it was at `when`, narrowed by scope, kind, tag and time."""
    m = store.where.memories
    if when is not None:
        where = as_of(store, when)
        if scopes is not None:
            where = where & m.isin("scope", scopes)
    else:
        where = live(store, scopes)
        if not include_history:
            where = where & current(store)
    if kinds:
        where = where & m.isin("kind", kinds)
    if tags:
        where = where & m.has_any("tags", tags)
    if since is not None:
        where = where & m.ge("created_at", as_utc(since))
    if until is not None:
        where = where & m.lt("created_at", as_utc(until))
    return where


async def require_live(store: Store, ids: list[str]) -> None:
    """Raise `NotFound` for the first of `ids` that is not a live memory."""
    if not ids:
        return
    wanted = check_ids(ids)
    m = store.where.memories
    rows = await store.scan(m.isin("id", wanted) & m.is_null("deleted_at"), columns=["id"])
    found = {r["id"] for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"no live memory with id {missing[0]!r}")
