"""The tables' indexes: full-text over `search_text`, labels over `tags`, B-trees over ids and
content hashes (made when a store opens), the ANN index over the vectors (made once a store is
large enough for it to pay), and the rebuild of the memories' indexes after a rewrite.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from lancedb.index import FTS, BTree, IvfSq, LabelList

from .failures import operation
from .reading import ANN_MIN_ROWS, SEARCH_COLUMN
from .state import StoreState

__all__ = ["Indexes"]

log = logging.getLogger("habitus.store")


class Indexes(StoreState):
    """The indexes of `memories` and `links`."""

    async def _ensure_indexes(self) -> None:
        """Make the scalar and text indexes a table lacks (another process may be making them
        at the same moment: a failure here is left to the next opening)."""
        present = {tuple(i.columns) for i in await self._memories.list_indices()}
        wanted: list[tuple[str, Any]] = [
            (SEARCH_COLUMN, FTS(with_position=False)),
            ("tags", LabelList()),
            ("id", BTree()),
            ("content_hash", BTree()),
        ]
        for column, config in wanted:
            if (column,) in present:
                continue
            try:
                await self._memories.create_index(column, config=config)
            except Exception as exc:  # another process may have created it just now
                log.debug("index on %s not created: %s", column, exc)
        present_links = {tuple(i.columns) for i in await self._links.list_indices()}
        for column in ("id", "source", "target"):
            if (column,) not in present_links:
                try:
                    await self._links.create_index(column, config=BTree())
                except Exception as exc:  # another process may have created it just now
                    log.debug("index on links.%s not created: %s", column, exc)

    @operation("list the indexes")
    async def has_vector_index(self) -> bool:
        """Whether the memories' vectors have an ANN index (re-read: another process may have
        built or dropped it)."""
        indices = await self._memories.list_indices()
        self._vector_index = any(tuple(i.columns) == ("vector",) for i in indices)
        return self._vector_index

    @operation("build the vector index")
    async def maybe_index_vectors(self, min_rows: int | None = None) -> bool:
        """Build the ANN index once the table holds `min_rows` vectors; True if one exists."""
        if self._vector_index or await self.has_vector_index():
            return True
        threshold = ANN_MIN_ROWS if min_rows is None else min_rows
        if await self._memories.count_rows(self.where.memories.not_null("vector").sql) < threshold:
            return False
        partitions = max(16, int((await self._memories.count_rows()) ** 0.5))

        async def build() -> None:
            await self._memories.create_index(
                "vector", config=IvfSq(distance_type="cosine", num_partitions=partitions)
            )

        await self._writer.call(self._memories, build)
        log.info("built the vector index (%d partitions)", partitions)
        return await self.has_vector_index()

    async def _rebuild_text_indexes(self) -> None:
        """Rebuild the memories' full-text and label indexes from the rows now in the table,
        with the settings they were made with (to be run inside the writer)."""
        for index in await self._memories.list_indices():
            config = _index_config(index)
            if config is not None:
                await self._memories.create_index(index.columns[0], config=config, replace=True)


def _index_config(index: Any) -> Any:
    """How to make `index` again (None: an index a rewrite leaves as it is)."""
    kind = str(getattr(index, "index_type", ""))
    if kind == "FTS":
        details = dict(getattr(index, "index_details", None) or {})
        details["ngram_min_length"] = details.pop("min_ngram_length", 3)
        details["ngram_max_length"] = details.pop("max_ngram_length", 3)
        accepted = set(inspect.signature(FTS).parameters)
        return FTS(**{k: v for k, v in details.items() if k in accepted and v is not None})
    if kind == "LabelList":
        return LabelList()
    return None
