"""Browsing: one memory by id, live memories newest first narrowed by scope, kind, tag and
branch, and what a scope holds counted (the CLI's and the web view's lists).

Listing reads only the columns it sorts and filters on, then the rows it shows: a store of ten
thousand memories is listed without reading ten thousand vectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from habitus.base.errors import NotFound
from habitus.core.filters import live
from habitus.core.meta import branch_of
from habitus.core.models import Memory
from habitus.core.recall.access import with_uses
from habitus.core.validation import check_kinds, check_tags
from habitus.core.views import memory_of

if TYPE_CHECKING:
    from habitus.store import Predicate, Store

__all__ = ["SHOWN", "Facets", "facets", "newest", "one"]

# What a memory is shown with (no vector, no search text).
SHOWN = ("id", "kind", "content", "tags", "scope", "importance", "created_at", "updated_at",
         "access_count", "last_access", "client", "session", "tool", "derived_from", "metadata",
         "embedding_model", "deleted_at")


@dataclass
class Facets:
    """Counts of the live memories of some scopes: by kind, tag, branch and day stored."""

    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    branches: Counter[str] = field(default_factory=Counter)
    days: Counter[str] = field(default_factory=Counter)


def _where(store: Store, scopes: list[str] | None, kinds: Sequence[str] | None,
           tags: Sequence[str] | None) -> Predicate:
    where = live(store, scopes)
    if kinds:
        where = where & store.where.memories.isin("kind", check_kinds(kinds) or [])
    if tags:
        where = where & store.where.memories.has_any("tags", check_tags(tags))
    return where


async def newest(
    store: Store, scopes: list[str] | None, *, kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None, branch: str | None = None, limit: int = 20,
) -> list[Memory]:
    """The `limit` newest live memories of `scopes` (None: all) of `kinds`, with any of `tags`,
    written on `branch`."""
    columns = ["id", "created_at", *(["metadata"] if branch else [])]
    rows = await store.scan(_where(store, scopes, kinds, tags), columns=columns)
    if branch:
        rows = [r for r in rows if branch_of(r) == branch]
    rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    wanted = [r["id"] for r in rows[:limit]]
    shown = {r["id"]: r
             for r in await store.scan(store.where.memories.isin("id", wanted), columns=SHOWN)}
    return [memory_of(shown[i]) for i in wanted if i in shown]


async def facets(store: Store, scopes: list[str] | None) -> Facets:
    """What the live memories of `scopes` (None: all) are, counted."""
    rows = await store.scan(live(store, scopes), columns=["kind", "tags", "metadata",
                                                          "created_at"])
    out = Facets(total=len(rows))
    for row in rows:
        out.kinds[row["kind"]] += 1
        out.tags.update(row["tags"] or [])
        if '"branch"' in (row["metadata"] or "") and (branch := branch_of(row)):
            out.branches[branch] += 1
        out.days[row["created_at"].strftime("%Y-%m-%d")] += 1
    return out


async def one(store: Store, memory_id: str) -> Memory:
    """The memory `memory_id`, forgotten or not."""
    rows = await store.get_memories([memory_id])
    if not rows:
        raise NotFound(f"no memory with id {memory_id!r}")
    return memory_of((await with_uses(store, rows))[0])
