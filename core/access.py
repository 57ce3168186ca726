"""Recall counts: each returned memory counts as used once, written in the background in one
commit per distinct increment rather than one per recall (strength and ranking read them)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from habitus.store.writer import is_conflict

from .clock import utc_now

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["AccessLog"]

log = logging.getLogger("habitus.core")

# Seconds recall counts wait, so that many recalls share a commit.
FLUSH_AFTER = 2.0


class AccessLog:
    """Counts the memories recall returns and writes the counts to the store now and then."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: Counter[str] = Counter()
        self._flusher: asyncio.Task[None] | None = None

    def count(self, ids: Iterable[str]) -> None:
        """Count one use of each of `ids`; written within `FLUSH_AFTER` seconds."""
        for memory_id in ids:
            self._pending[memory_id] += 1
        if self._pending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    def uncount(self, ids: Iterable[str]) -> None:
        """Take back a use counted for a memory that was not returned after all."""
        for memory_id in ids:
            if self._pending.get(memory_id):
                self._pending[memory_id] -= 1
                if not self._pending[memory_id]:
                    del self._pending[memory_id]

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_AFTER)
        await self.flush()

    async def flush(self) -> None:
        """Write the pending counts now."""
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        by_increment: dict[int, list[str]] = {}
        for memory_id, n in pending.items():
            by_increment.setdefault(n, []).append(memory_id)
        now = utc_now()
        store, m = self.store, self.store.m
        for n, ids in by_increment.items():
            try:
                await store.writer.call(
                    store.memories,
                    lambda ids=ids, n=n: store.memories.update(
                        where=m.isin("id", ids).sql,
                        updates_sql={
                            "access_count": f"access_count + {int(n)}",
                            "last_access": m.literal(now),
                        },
                    ),
                )
            except Exception as exc:
                if not is_conflict(exc):
                    log.warning("could not record recall counts", exc_info=True)
                    continue
                # Another process committed first: keep the counts for the next flush.
                log.info("recall counts deferred: another process is writing")
                for memory_id in ids:
                    self._pending[memory_id] += n
        if self._pending and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def close(self) -> None:
        """Stop the background flush and write what is pending."""
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush()
