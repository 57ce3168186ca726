"""Annotating: what is set on a memory with its content unchanged — a plugin's bookkeeping (such
as a procedure's record of uses), a person's confirmation, tags and importance edited by hand —
journaled with the old values so undo puts them back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from habitus.base.errors import InvalidInput
from habitus.core.clock import utc_now
from habitus.core.filters import require_live
from habitus.core.history.journal import Journal
from habitus.core.meta import meta_of, with_meta
from habitus.core.models import CallContext, Memory
from habitus.core.text.terms import search_text, with_tags
from habitus.core.validation import LIMITS, check_ids, check_importance, check_tags
from habitus.core.views import memory_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["annotate", "confirm", "edit"]


async def annotate(
    store: Store, journal: Journal, memory_id: str, metadata: dict[str, Any], ctx: CallContext
) -> Memory:
    """Set top-level keys of a live memory's metadata; returns the memory as it now is."""
    await require_live(store, [memory_id])
    row = (await store.get_memories([memory_id]))[0]
    before = row["metadata"] or "{}"
    text = json.dumps({**json.loads(before), **metadata}, ensure_ascii=False, default=str)
    if len(text) > LIMITS["metadata_chars"]:
        raise InvalidInput(f"metadata would be larger than {LIMITS['metadata_chars']} characters")
    await store.update_memories(store.where.memories.eq("id", memory_id), {"metadata": text})
    await journal.append(
        "annotate", [memory_id], ctx, {"before": {memory_id: {"metadata": before}}}
    )
    row["metadata"] = text
    return memory_of(row)


async def confirm(
    store: Store, journal: Journal, ids: Sequence[str], ctx: CallContext
) -> list[Memory]:
    """A person vouches for memories: trusted from now on (the brief, compiled files), even
    when written by a tool or flagged suspicious."""
    wanted = check_ids(list(ids))
    await require_live(store, wanted)
    rows = await store.get_memories(wanted)
    before = {r["id"]: {"metadata": r["metadata"] or "{}"} for r in rows}
    for row in rows:
        meta, section = meta_of(row)
        section["confirmed"] = True
        row["metadata"] = with_meta(meta)
        await store.update_memories(store.where.memories.eq("id", row["id"]),
                                    {"metadata": row["metadata"]})
    await journal.append("annotate", wanted, ctx, {"before": before, "confirmed": True})
    return [memory_of(r) for r in rows]



async def edit(
    store: Store, journal: Journal, memory_id: str, ctx: CallContext, *,
    tags: Sequence[str] | None = None, importance: float | None = None,
) -> Memory:
    """Set a live memory's tags and/or importance (a person correcting it); undoable."""
    await require_live(store, [memory_id])
    row = (await store.scan(store.where.memories.eq("id", memory_id)))[0]
    values: dict[str, Any] = {}
    if tags is not None:
        values["tags"] = check_tags(list(tags))
        values["search_text"] = with_tags(row.get("search_text") or search_text(row["content"]),
                                          values["tags"])
    if importance is not None:
        values["importance"] = check_importance(importance)
    if not values:
        return memory_of(row)
    before = {k: row.get(k) for k in values}
    before["updated_at"] = row["updated_at"].isoformat() if row.get("updated_at") else None
    values["updated_at"] = utc_now()
    await store.update_memories(store.where.memories.eq("id", memory_id), values)
    await journal.append("annotate", [memory_id], ctx, {"before": {memory_id: before}})
    row.update(values)
    return memory_of(row)
