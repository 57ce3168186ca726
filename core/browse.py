"""Browsing: one memory by id, and live memories newest first narrowed by scope, kind and tag
(the CLI's and the web view's lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import NotFound
from .filters import live
from .models import Memory
from .validation import check_kinds, check_tags
from .views import memory_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["newest", "one"]


async def newest(
    store: Store, scopes: list[str] | None, *, kinds: Sequence[str] | None = None,
    tags: Sequence[str] | None = None, limit: int = 20,
) -> list[Memory]:
    """The `limit` newest live memories of `scopes` (None: all) of `kinds`, with any of `tags`."""
    where = live(store, scopes)
    if kinds:
        where = where & store.m.isin("kind", check_kinds(kinds) or [])
    if tags:
        where = where & store.m.has_any("tags", check_tags(tags))
    rows = await store.scan(where)
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    return [memory_of(r) for r in rows[:limit]]


async def one(store: Store, memory_id: str) -> Memory:
    """The memory `memory_id`, forgotten or not."""
    rows = await store.get_memories([memory_id])
    if not rows:
        raise NotFound(f"no memory with id {memory_id!r}")
    return memory_of(rows[0])
