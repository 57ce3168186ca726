"""What a store holds: live and forgotten memories by kind and scope, links, journal rows, the
embedding model and the table fragments (how much compaction is due)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from habitus.core.models import StoreStats

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["store_stats"]


async def store_stats(store: Store) -> StoreStats:
    """How much is stored, where, and by which model."""
    rows = await store.scan(None, columns=["kind", "scope", "deleted_at"])
    alive = [r for r in rows if r["deleted_at"] is None]
    counts = await store.table_counts()
    return StoreStats(
        path=store.uri, memories=len(alive), deleted=len(rows) - len(alive),
        by_kind=dict(Counter(r["kind"] for r in alive)),
        by_scope=dict(Counter(r["scope"] for r in alive)),
        links=counts["links"], journal=counts["journal"],
        embedding_model=store.embedding_model or "none",
        fragments=await store.fragments(),
        cache_mb=round(store.cache_bytes() / 2**20, 1),
    )
