"""Remember, write stage: new memories as table rows — indexed for search, added in one commit
and journaled as one `remember`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from habitus.core.history.journal import Journal
from habitus.core.models import CallContext
from habitus.core.remember.indexing import index_rows
from habitus.core.text.terms import search_text
from habitus.core.validation import Draft

if TYPE_CHECKING:
    import numpy as np

    from habitus.store import Store

__all__ = ["write_new"]


async def write_new(
    store: Store, journal: Journal, drafts: list[Draft], vectors: list[np.ndarray | None],
    model: str, ctx: CallContext, passages: dict[str, np.ndarray] | None = None,
) -> None:
    """Store `drafts` (with their `id`s and times set), their vectors from `model` and the
    vectors of their later passages (by id; a memory stored without a vector gets none)."""
    if not drafts:
        return
    rows = [_row(d, v, model, ctx) for d, v in zip(drafts, vectors, strict=True)]
    await index_rows(store, rows)
    await store.add_memories(rows)
    await store.add_passages(model, [
        (d, (passages or {}).get(d["id"], ()))
        for d, v in zip(drafts, vectors, strict=True) if v is not None
    ])
    redacted = {d["id"]: d["redacted"] for d in drafts if d["redacted"]}
    await journal.append("remember", [r["id"] for r in rows], ctx,
                         {"redacted": redacted} if redacted else None)


def _row(draft: Draft, vector: np.ndarray | None, model: str, ctx: CallContext) -> dict[str, Any]:
    return {
        "id": draft["id"], "kind": draft["kind"], "content": draft["content"],
        "search_text": search_text(draft["content"], draft["tags"]), "tags": draft["tags"],
        "scope": draft["scope"], "importance": draft["importance"], "client": ctx.client,
        "session": ctx.session, "tool": ctx.tool, "created_at": draft["created_at"],
        "updated_at": draft["updated_at"], "access_count": 0, "last_access": None,
        "content_hash": draft["content_hash"], "deleted_at": None, "valid_until": None,
        "derived_from": draft["derived_from"], "metadata": draft["metadata"],
        "embedding_model": model if vector is not None else "",
        "vector": vector.tolist() if vector is not None else None,
    }
