"""Annotating: what is set in a memory's metadata with its content unchanged — a plugin's
bookkeeping (such as a procedure's record of uses), a person's confirmation — journaled with the
old metadata so undo puts it back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput
from .filters import require_live
from .journal import Journal
from .meta import meta_of, with_meta
from .models import CallContext, Memory
from .validation import LIMITS, check_ids
from .views import memory_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["annotate", "confirm"]


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
    await store.update_memories(store.m.eq("id", memory_id), {"metadata": text})
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
        await store.update_memories(store.m.eq("id", row["id"]), {"metadata": row["metadata"]})
    await journal.append("annotate", wanted, ctx, {"before": before, "confirmed": True})
    return [memory_of(r) for r in rows]

