"""Annotating: a plugin's bookkeeping on a memory (such as a procedure's record of uses) set in
its metadata, the content unchanged, journaled with the old metadata so undo puts it back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput
from .filters import require_live
from .journal import Journal
from .models import CallContext, Memory
from .validation import LIMITS
from .views import memory_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["annotate"]


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
