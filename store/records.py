"""The append-only records beside the memories: the journal (one row per write, the basis of
audit and undo) and the uses (one row per memory a recall returned).

Both are deferred: committed within moments, together, off the caller's path, and kept
meanwhile in a durable log (`deferred_log`) whose rows the next process to open the store
commits if this one dies first (`commit_orphans`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .failures import operation
from .predicates import Predicate
from .state import StoreState

__all__ = ["Records"]

log = logging.getLogger("habitus.store")


class Records(StoreState):
    """The operations on `journal` and `uses`."""

    def append_journal(self, rows: list[dict[str, Any]]) -> None:
        """Journal rows are deferred: committed within moments, together, off the caller's path."""
        self._defer(self._journal, rows, "record the journal")

    @operation("read the journal")
    async def read_journal(
        self, where: Predicate | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Journal rows matching `where` (None: any), at most `limit`, in storage order."""
        await self._writer.flush()
        q = self._journal.query()
        if where is not None:
            q = q.where(where.sql)
        return await q.limit(limit).to_list()

    def append_uses(self, rows: list[dict[str, Any]]) -> None:
        """Uses of memories (recall results) are deferred like the journal."""
        self._defer(self._uses, rows, "count uses")

    @operation("read the uses of memories")
    async def uses_of(self, ids: Sequence[str] | None) -> dict[str, tuple[int, Any]]:
        """For each memory of `ids` (None: every memory) that recall returned: how many times,
        and the last time."""
        await self._writer.flush()
        q = self._uses.query().select(["memory", "at"])
        if ids is not None:
            if not ids:
                return {}
            q = q.where(self.where.uses.isin("memory", list(ids)).sql)
        table = await q.to_arrow()
        if table.num_rows == 0:
            return {}
        grouped = table.group_by("memory").aggregate([("at", "count"), ("at", "max")])
        return {m: (int(n), last) for m, n, last in zip(
            grouped["memory"].to_pylist(), grouped["at_count"].to_pylist(),
            grouped["at_max"].to_pylist(), strict=True)}

    async def _commit_orphans(self) -> None:
        """Commit the journal, use and link rows that processes which died before their commit
        left behind (see `deferred_log`), skipping any that did reach their table."""
        deferred = self._writer.log
        if deferred is None:
            return
        left = deferred.take_orphans()
        for table, where in ((self._journal, self.where.journal), (self._uses, self.where.uses),
                             (self._links, self.where.links)):
            rows = left.get(table.name, [])
            if not rows:
                continue
            ids = [r["id"] for r in rows]
            known = {r["id"] for r in await table.query().where(
                where.isin("id", ids).sql).select(["id"]).to_list()}
            fresh = [r for r in rows if r["id"] not in known]
            if fresh:
                await self._writer.add(table, fresh)
                log.info("committed %d %s rows left by a process that died", len(fresh),
                         table.name)
        deferred.orphans_committed()
