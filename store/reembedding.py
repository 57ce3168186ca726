"""The vector columns a reindex works on (`core.maintenance.reindex` drives it): vectors of the
next model staged beside the live ones, swapped in with one commit, repaired afterwards.

`vector_next` is a variable-length `list<float32>` (so LanceDB never mistakes it for a second
vector column, and searches keep using `vector`) named with its model and dimension on the
field: that is what makes an interrupted reindex resumable. The swap renames `vector` →
`vector_old` and `vector_next` → `vector` (cast to `fixed_size_list<float32, dim>`), the same
for the model columns, in one `alter_columns` commit; the old columns are then dropped. LanceDB
0.40 cannot rewrite a table's schema metadata, so the model and dimension live on the `vector`
field's metadata (`schema.vector_model` reads both). Every write goes through the writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .failures import operation
from .indexes import Indexes
from .predicates import Where
from .schema import VECTOR_DIM_KEY, VECTOR_MODEL_KEY, vector_model

__all__ = ["Reembedding", "EmbeddingColumns"]

STAGE_VECTOR = "vector_next"
STAGE_MODEL = "embedding_model_next"
OLD_VECTOR = "vector_old"
OLD_MODEL = "embedding_model_old"
# What a reindex reads of each row to embed it.
TEXT_COLUMNS = ["id", "content", "metadata"]
_STAGED = Where(pa.schema([pa.field(STAGE_VECTOR, pa.list_(pa.float32()))]))


@dataclass(frozen=True)
class EmbeddingColumns:
    """The vector columns of `memories` as a reindex finds them."""

    model: str  # the live vectors' model ("" when none is named)
    dimension: int
    staged: tuple[str, str] | None  # model and dimension (as written) of staged vectors
    unfinished_swap: bool  # a swap stopped before dropping the old columns
    vector_index: bool  # the live vectors have an ANN index


class Reembedding(Indexes):
    """Staging, swapping and repairing the memories' vectors."""

    @operation("read the vector columns")
    async def embedding_columns(self) -> EmbeddingColumns:
        """The live vectors' model and dimension, and what an earlier reindex left."""
        schema = await self._memories.schema()
        model, dimension = vector_model(schema, self._dimension)
        staged = None
        if STAGE_VECTOR in schema.names:
            meta = schema.field(STAGE_VECTOR).metadata or {}
            staged = (meta.get(VECTOR_MODEL_KEY.encode(), b"").decode(),
                      meta.get(VECTOR_DIM_KEY.encode(), b"").decode())
        indexed = any(tuple(i.columns) == ("vector",) for i in await self._memories.list_indices())
        return EmbeddingColumns(
            model, dimension, staged,
            unfinished_swap=OLD_VECTOR in schema.names or OLD_MODEL in schema.names,
            vector_index=indexed,
        )

    @operation("finish an interrupted swap of vectors")
    async def finish_swap(self, label: tuple[str, int] | None) -> None:
        """Drop the old vector columns a stopped swap left, after naming the live vectors'
        model and dimension (`label`) when given."""
        names = (await self._memories.schema()).names
        if label is not None:
            await self._label(*label)
        await self._drop([c for c in (OLD_VECTOR, OLD_MODEL) if c in names])

    @operation("discard staged vectors")
    async def discard_staged(self) -> None:
        """Drop the vectors staged for another model."""
        names = (await self._memories.schema()).names
        await self._drop([c for c in (STAGE_VECTOR, STAGE_MODEL) if c in names])

    @operation("stage vector columns")
    async def stage_vectors(self, model: str, dimension: int) -> None:
        """Add the empty columns that vectors of `model` (`dimension`-d) are staged in."""
        fields = [
            pa.field(STAGE_VECTOR, pa.list_(pa.float32()),
                     metadata={VECTOR_MODEL_KEY: model, VECTOR_DIM_KEY: str(dimension)}),
            pa.field(STAGE_MODEL, pa.string()),
        ]
        await self._writer.call(self._memories, lambda: self._memories.add_columns(fields))

    @operation("read memories to embed")
    async def unstaged(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` memories without a staged vector: their id, content and metadata."""
        return await (
            self._memories.query().where(_STAGED.is_null(STAGE_VECTOR).sql)
            .select(TEXT_COLUMNS).limit(limit).to_list()
        )

    @operation("stage vectors")
    async def put_staged(self, ids: Sequence[str], vectors: np.ndarray, model: str) -> None:
        """Stage the vectors of the memories `ids` (of `model`), by id; never inserts."""
        data = pa.table({
            "id": pa.array(list(ids), pa.string()),
            STAGE_VECTOR: pa.array(list(vectors), pa.list_(pa.float32())),
            STAGE_MODEL: pa.array([model] * len(ids), pa.string()),
        })
        await self._writer.call(self._memories, lambda: self._merge(data))

    @operation("swap in the staged vectors")
    async def swap_staged(self, model: str, dimension: int) -> None:
        """Make the staged vectors the live ones, in one commit, then drop the old. The ANN
        index goes first (LanceDB cannot cast an indexed column): search is exact until it is
        built again."""
        for index in await self._memories.list_indices():
            if tuple(index.columns) == ("vector",):
                await self._writer.call(
                    self._memories, lambda name=index.name: self._memories.drop_index(name))
        await self._writer.call(self._memories, lambda: self._memories.alter_columns(
            {"path": "vector", "rename": OLD_VECTOR, "data_type": pa.list_(pa.float32())},
            {"path": STAGE_VECTOR, "rename": "vector",
             "data_type": pa.list_(pa.float32(), dimension)},
            {"path": "embedding_model", "rename": OLD_MODEL},
            {"path": STAGE_MODEL, "rename": "embedding_model"},
        ))
        await self._label(model, dimension)
        await self._drop([OLD_VECTOR, OLD_MODEL])

    @operation("read memories to embed")
    async def lacking_vectors(self, model: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` memories without a live vector of `model`: their id, content and
        metadata."""
        m = self.where.memories
        stale = m.is_null("vector") | m.is_null("embedding_model") | m.ne("embedding_model", model)
        return await (
            self._memories.query().where(stale.sql).select(TEXT_COLUMNS).limit(limit).to_list()
        )

    @operation("write vectors")
    async def put_vectors(
        self, ids: Sequence[str], vectors: np.ndarray, model: str, dimension: int
    ) -> None:
        """Set the live vectors (of `model`, `dimension`-d) of the memories `ids`, by id."""
        data = pa.table({
            "id": pa.array(list(ids), pa.string()),
            "vector": pa.array(list(vectors), pa.list_(pa.float32(), dimension)),
            "embedding_model": pa.array([model] * len(ids), pa.string()),
        })
        await self._writer.call(self._memories, lambda: self._merge(data))

    @operation("unlabel the vectors")
    async def unlabel_vectors(self) -> None:
        """Name no model on any memory (the store goes lexical only)."""
        await self._writer.call(
            self._memories, lambda: self._memories.update({"embedding_model": ""}))

    @operation("read the memory ids")
    async def memory_ids(self) -> set[str]:
        """The id of every row of `memories`."""
        rows = await self._memories.query().select(["id"]).to_arrow()
        return set(rows.column("id").to_pylist())

    @operation("take the new vectors")
    async def adopt_embedding(self, model: str, dimension: int) -> None:
        """The vectors are now of `model` (`dimension`-d; "": none): searches and caches
        follow."""
        await self.refresh_embedding()
        self._embedding_model, self._dimension = model, dimension
        await self.has_vector_index()

    async def _merge(self, data: pa.Table) -> Any:
        """Update the given columns of existing rows by id; never inserts."""
        return await self._memories.merge_insert("id").when_matched_update_all().execute(data)

    async def _label(self, model: str, dimension: int) -> None:
        meta = {VECTOR_MODEL_KEY: model, VECTOR_DIM_KEY: str(dimension)}
        await self._writer.call(self._memories, lambda: self._memories.update_field_metadata(
            {"path": "vector", "metadata": meta}))

    async def _drop(self, columns: list[str]) -> None:
        if columns:
            await self._writer.call(self._memories, lambda: self._memories.drop_columns(columns))
