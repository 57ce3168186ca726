"""The links between memories: typed, weighted edges, appended, read, changed and removed.

The edges each new memory gets may be deferred (committed with the journal's rows, see
`writer`); every read, update or delete of links commits them first.
"""

from __future__ import annotations

from typing import Any

from .failures import operation
from .predicates import Predicate
from .state import StoreState

__all__ = ["Edges"]


class Edges(StoreState):
    """The operations on `links`."""

    @operation("add links")
    async def add_links(self, rows: list[dict[str, Any]], *, deferred: bool = False) -> None:
        """Append edges. `deferred`: committed soon, with the journal's rows, instead of now
        (kept meanwhile in the process's durable log; every read, update or delete of links
        commits them first) — for the edges each new memory gets, one commit per write saved."""
        if deferred:
            self._defer(self._links, rows, "add links")
        else:
            await self._writer.add(self._links, rows)

    @operation("update a link")
    async def update_link(self, link_id: str, values: dict[str, Any]) -> None:
        """Set `values` on the edge `link_id`."""
        where = self.where.links.eq("id", link_id).sql
        await self._writer.flush()
        await self._writer.call(self._links, lambda: self._links.update(values, where=where))

    @operation("read links")
    async def find_links(self, where: Predicate, limit: int = 1000) -> list[dict[str, Any]]:
        """The edges matching `where`, at most `limit`."""
        await self._writer.flush()
        return await self._links.query().where(where.sql).limit(limit).to_list()

    @operation("delete links")
    async def delete_links(self, where: Predicate) -> None:
        """Remove the edges matching `where`."""
        await self._writer.flush()
        await self._writer.call(self._links, lambda: self._links.delete(where.sql))
