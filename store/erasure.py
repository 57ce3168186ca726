"""Rewriting tables so that nothing of some rows stays on disk: the store's part of a purge
(`forget --purge`) and of `habitus scrub` (see `core.maintenance.erasure` for what they erase).

LanceDB deletes lazily: `delete` writes a deletion vector and leaves the row in its data file,
and compaction only rewrites a fragment once enough of it is deleted; old versions keep every
file they reference. So a rewrite

1. rewrites every fragment (an update leaves the old copy of a row, marked deleted, in its old
   fragment, where no query can find it): the surviving rows are re-inserted with `merge_insert`
   (atomic commits of up to 2,000 rows), changed as asked, then the dropped rows are deleted;
2. compacts every table and cleans up *all* old versions (`cleanup_older_than=0`,
   `delete_unverified=True`, which also drops files of failed writes);
3. rebuilds the memories' full-text and tag indexes from the surviving rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa
from lancedb.table import AsyncTable

from .failures import operation
from .indexes import Indexes
from .predicates import Where

__all__ = ["Erasure", "Rewrite"]

_CHUNK = 2000


@dataclass
class Rewrite:
    """What a rewrite does to one table: rows to drop, and rows to change (id → new values)."""

    drop: set[str] = field(default_factory=set)
    change: dict[str, dict[str, Any]] = field(default_factory=dict)


class Erasure(Indexes):
    """Rewrites that leave no trace of the old rows."""

    @operation("rewrite its tables")
    async def rewrite_tables(
        self, *, memories: Rewrite, links: Rewrite, journal: Rewrite, passages: Rewrite
    ) -> None:
        """Drop and change rows of `memories`, `links`, `journal` and `passages`, then drop
        every old version and rebuild the memories' indexes: nothing of the old rows stays on
        disk. Its cost grows with the store (every fragment is rewritten); undo and time travel
        cannot reach versions older than it."""

        async def run() -> None:
            await _rewrite(self._memories, self.where.memories, memories)
            await _rewrite(self._links, self.where.links, links)
            await _rewrite(self._journal, self.where.journal, journal)
            await _rewrite(self._passages, self.where.passages, passages)
            for table in (self._memories, self._links, self._journal, self._passages):
                await _vacuum(table)
            await self._rebuild_text_indexes()

        await self._writer.call(self._memories, run)

    @operation("drop the journal's old versions")
    async def vacuum_journal(self) -> None:
        """Fold the journal's new rows into its files and drop all its old versions (after a
        purge, whose own journal row is then the only trace)."""
        await self._writer.call(self._journal, lambda: _vacuum(self._journal))


async def _rewrite(table: AsyncTable, where: Where, rewrite: Rewrite) -> None:
    """Physically drop rows `rewrite.drop` and rewrite rows `rewrite.change` of `table`
    (inside the writer: it is a sequence of commits on one table)."""
    remove, replace = rewrite.drop, rewrite.change
    touched = remove | set(replace)
    if not touched:
        return
    # Every fragment is rewritten, not only those holding the live rows: an updated row leaves
    # its old copy, marked deleted, in whatever fragment it was in before — invisible to queries.
    addresses = (await table.query().select(["id"]).to_arrow()).to_pylist()
    if not any(a["id"] in touched for a in addresses):
        return
    survivors = [a["id"] for a in addresses if a["id"] not in remove]
    for start in range(0, len(survivors), _CHUNK):
        chunk = survivors[start : start + _CHUNK]
        rows = await table.query().where(where.isin("id", chunk).sql).to_arrow()
        if replace:
            records = rows.to_pylist()
            for record in records:
                record.update(replace.get(record["id"], {}))
            rows = pa.Table.from_pylist(records, schema=rows.schema)
        # Rewritten as new rows in new fragments; the old ones now hold only deleted rows.
        await table.merge_insert("id").when_matched_update_all().execute(rows)
    gone = sorted(remove)
    for start in range(0, len(gone), _CHUNK):
        await table.delete(where.isin("id", gone[start : start + _CHUNK]).sql)


async def _vacuum(table: AsyncTable) -> None:
    """Compact `table` and remove every old version and unreferenced file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero retention is the point here
        await table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
