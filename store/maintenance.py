"""Keeping the tables in shape and saying what they hold: compaction on demand, fragment and
row counts (the writer also compacts by itself, see `writer`)."""

from __future__ import annotations

from datetime import timedelta

from .failures import operation
from .schema import JOURNAL, LINKS, MEMORIES
from .state import StoreState

__all__ = ["Maintenance"]


class Maintenance(StoreState):
    """Compaction and the tables' sizes."""

    @operation("compact its tables")
    async def compact(self, *, cleanup_older_than: timedelta | None = None) -> None:
        """Fold every table's small fragments and new rows into its files and indexes."""
        for table in (self._memories, self._links, self._journal, self._passages):
            await self._writer.compact(table, cleanup_older_than=cleanup_older_than)

    @operation("read the table statistics")
    async def fragments(self) -> int:
        """How many fragments (data files) `memories` is made of: the compaction due."""
        stats = await self._memories.stats()
        return int(stats["fragment_stats"]["num_fragments"])

    @operation("count the rows of its tables")
    async def table_counts(self) -> dict[str, int]:
        """Rows in `memories` (forgotten ones included), `links` and `journal`."""
        await self._writer.flush()
        return {
            MEMORIES: await self._memories.count_rows(),
            LINKS: await self._links.count_rows(),
            JOURNAL: await self._journal.count_rows(),
        }
