"""Passages: the vectors of a long memory's text past the embedder's window, one row each
(`schema.passages_schema`, id `<memory>:<n>`; the first window is the memory's own `vector`).
They are searched in memory beside the memories' vectors (`reading.vector_search` with a
margin), erased with their memory (`erasure`) and made anew by a reindex.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .failures import operation
from .opening import open_or_create
from .schema import PASSAGES, passages_schema
from .state import StoreState
from .vectors import VectorCache

__all__ = ["Passages", "TEXT_COLUMNS"]

# What is read of each memory to cut it into passages.
TEXT_COLUMNS = ["id", "scope", "content", "metadata", "content_hash"]


def _rows(
    memory: Mapping[str, Any], model: str, vectors: Iterable[np.ndarray]
) -> list[dict[str, Any]]:
    """The rows of `vectors`, the passages of `memory` past its first window, in order."""
    return [
        {"id": f"{memory['id']}:{n}", "memory": memory["id"], "scope": memory["scope"],
         "content_hash": memory["content_hash"], "embedding_model": model,
         "vector": vector.tolist()}
        for n, vector in enumerate(vectors, 1)
    ]


class Passages(StoreState):
    """The passages of long memories."""

    @operation("add passages")
    async def add_passages(
        self, model: str, passages: Iterable[tuple[Mapping[str, Any], Iterable[np.ndarray]]]
    ) -> None:
        """Store, for each memory given (its id, scope and content hash), the vectors of its
        passages past the first window, in order, from `model`; committed on return."""
        rows = [row for memory, vectors in passages for row in _rows(memory, model, vectors)]
        if rows:
            await self._writer.add(self._passages, rows)
            self._passage_vectors.add(rows)

    @operation("read passages")
    async def passage_ids(self, memories: Sequence[str] | None = None) -> list[str]:
        """The ids of the passages of `memories` (None: of every memory)."""
        if memories is not None and not memories:
            return []
        q = self._passages.query().select(["id"])
        if memories is not None:
            q = q.where(self.where.passages.isin("memory", memories).sql)
        return [r["id"] for r in await q.to_list()]

    @operation("make the passages table anew")
    async def reset_passages(self) -> None:
        """Drop every passage and make the table anew for the store's current model and
        dimension (after a reindex: the old model's passages compare with nothing)."""
        await self._writer.flush()

        async def remake() -> None:
            self._passages.close()
            await self._db.drop_table(PASSAGES)
            self._passages = await open_or_create(
                self._db, PASSAGES, passages_schema(self._dimension, self._embedding_model),
                remote=self._uri.startswith("db://"))

        await self._writer.call(self._passages, remake)
        self._passage_vectors = VectorCache(
            self._passages, self._dimension, self._embedding_model,
            row_versions=self._passage_vectors.row_versions)

    @operation("read memories to cut into passages")
    async def memory_texts(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` memories from `offset` in storage order: what their passages are
        made of (`TEXT_COLUMNS`)."""
        return await (
            self._memories.query().select(TEXT_COLUMNS).offset(offset).limit(limit).to_list()
        )
