"""Writing memories: appends, updates by predicate, whole rows replaced by id, deletes — each
through the process's one writer, which tells the caches what changed (`state._committed`).
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
from lancedb.util import value_to_sql

from habitus.base.errors import StoreError

from .failures import operation
from .predicates import Predicate
from .state import StoreState

__all__ = ["Writing"]

log = logging.getLogger("habitus.store")


class Writing(StoreState):
    """The write operations on `memories`."""

    @operation("add memories")
    async def add_memories(self, rows: list[dict[str, Any]]) -> None:
        """Append whole rows (shaped by `schema.memories_schema`), committed on return."""
        try:
            await self._writer.add(self._memories, rows)
            self._vectors.add(rows)
        except Exception:
            # Another process may have re-embedded the store (`habitus reindex`) since this one
            # opened it: keep the memories, without vectors of the wrong model.
            try:
                reembedded = await self.refresh_embedding()
            except StoreError:  # the store cannot be read either: the write's error says why
                reembedded = False
            if not reembedded or all(r.get("vector") is None for r in rows):
                raise
            log.error(
                "the store is now embedded with %s (%d-d); %d memories written without vectors "
                "(restart with that embedder, then run `habitus reindex` to embed them)",
                self._embedding_model or "no model", self._dimension, len(rows),
            )
            await self._writer.add(
                self._memories, [{**r, "vector": None, "embedding_model": ""} for r in rows]
            )

    @operation("update memories")
    async def update_memories(self, where: Predicate, values: dict[str, Any]) -> int:
        """Set `values` on every memory matching `where`; returns the rows updated."""
        updates_sql = {}
        for column, value in values.items():
            self.where.memories.col(column)
            # value_to_sql renders an empty list as `[]`, which LanceDB cannot type.
            updates_sql[column] = (
                "arrow_cast(make_array(), 'List(Utf8)')"
                if isinstance(value, list | tuple) and not value
                else value_to_sql(value)
            )
        result = await self._writer.call(
            self._memories, lambda: self._memories.update(updates_sql=updates_sql, where=where.sql)
        )
        return int(getattr(result, "rows_updated", 0))

    @operation("replace memories")
    async def replace_memories(self, rows: list[dict[str, Any]]) -> None:
        """Replace whole rows by id, in one commit (every column of the table is written:
        one missing from a row becomes null)."""
        if not rows:
            return
        schema = await self._memories.schema()
        table = pa.Table.from_pylist(
            [{k: r.get(k) for k in schema.names} for r in rows], schema=schema
        )

        async def run() -> Any:
            return await (
                self._memories.merge_insert("id").when_matched_update_all().execute(table)
            )

        await self._writer.call(self._memories, run)

    @operation("delete memories")
    async def delete_memories(self, where: Predicate) -> None:
        """Remove the memories matching `where` from the table (forgetting is an update of
        `deleted_at`; this is for rows that must go)."""
        await self._writer.call(self._memories, lambda: self._memories.delete(where.sql))
