"""Recall counts: each memory a recall returns counts as used once. A use is an appended row
(deferred, batched, durable), never a rewrite of the memory: rewriting rows would move them out
of the lexical index and change what the next recall finds, and several processes appending
never conflict. Strength, archiving and the brief read the uses back with `with_uses`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from habitus.core.clock import utc_now
from habitus.core.ids import new_id

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["AccessLog", "with_uses"]

# Past this many memories, every use is read at once rather than looked up by id.
LOOKUP_LIMIT = 1000


class AccessLog:
    """Records the memories recall returns."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def count(self, ids: Iterable[str]) -> None:
        """Count one use of each of `ids` (committed within moments, with other writes)."""
        now = utc_now()
        rows = [{"id": new_id(), "memory": memory_id, "at": now} for memory_id in ids]
        if rows:
            self.store.append_uses(rows)

    async def flush(self) -> None:
        """Commit the uses counted so far now."""
        await self.store.flush()


async def with_uses(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with their recall uses added to `access_count` and `last_access`."""
    if not rows:
        return rows
    ids = [r["id"] for r in rows]
    uses = await store.uses_of(ids if len(ids) <= LOOKUP_LIMIT else None)
    for row in rows:
        count, last = uses.get(row["id"], (0, None))
        if count:
            row["access_count"] = int(row.get("access_count") or 0) + count
            known = row.get("last_access")
            row["last_access"] = max(known, last) if known else last
    return rows
