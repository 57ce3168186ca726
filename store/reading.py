"""Reading memories: rows by predicate or by id, counts, and the two searches (BM25 over
`search_text`, cosine over the vectors), answered from the caches where they can be.

Vector search runs on the in-memory vectors (`vectors.VectorCache`) and reads its candidates
back by id under the caller's filter, so its answers are those of an exact search; rows read
back by id are kept (`rows.RowCache`), so a memory met again is not read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from lancedb.query import MatchQuery

from .failures import operation
from .predicates import Predicate
from .state import StoreState

__all__ = ["Reading", "SEARCH_COLUMN", "ANN_MIN_ROWS"]

SEARCH_COLUMN = "search_text"
# Below this many vectors exact search is about as fast as the ANN index (measured crossover
# ~15-20k rows, bench/bench_recall.py) and always exact; a search whose filter keeps fewer rows
# than this stays exact even when the index exists (see `ann_worthwhile`).
ANN_MIN_ROWS = 20_000
ANN_NPROBES = 20
REFINE_FACTOR = 10
# In-memory vector search reads back the results wanted and this many more at first, then four
# times as many per round while at least half the candidates pass the filter; a filter that
# keeps fewer, or this many candidates without enough results, is left to LanceDB.
FETCH_MARGIN = 16
MAX_CANDIDATES = 4096
# Ids per query when rows are read by id.
FETCH_CHUNK = 2000
# Characters a memory is assumed to take in the row cache when deciding whether the whole
# table would fit in it (`warm_rows`).
WARM_ROW_CHARS = 1000


class Reading(StoreState):
    """The read operations on `memories`."""

    @operation("read memories")
    async def scan(
        self,
        where: Predicate | None,
        *,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of `memories` matching `where` (`columns` of them; default: every column), in
        storage order."""
        await self._fresh()
        q = self._memories.query()
        if where is not None:
            q = q.where(where.sql)
        if columns is not None:
            q = q.select([self.where.memories.col(c) for c in columns])
        if limit is not None:
            q = q.limit(limit)
        return await q.to_list()

    @operation("read memories")
    async def get_memories(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The whole rows of the memories `ids` (those that exist), in storage order."""
        if not ids:
            return []
        return await self.scan(self.where.memories.isin("id", ids), limit=len(ids))

    @operation("count memories")
    async def count(self, where: Predicate | None = None) -> int:
        """How many memories match `where` (None: every row, forgotten ones included)."""
        await self._fresh()
        return await self._memories.count_rows(where.sql if where is not None else None)

    @operation("read memories")
    async def fetch(
        self, ids: Sequence[str], where: Predicate | None, columns: Sequence[str] | None
    ) -> dict[str, dict[str, Any]]:
        """The rows of `ids` that match `where`, by id: from the row cache for the ids it
        knows under that filter and columns, read (and kept) for the others."""
        if self._stale:
            await self._sync()
        generation = self._rows.generation
        if columns is None:
            known: dict[str, dict[str, Any] | None] = {}
            missing = list(ids)
        else:
            known, missing = self._rows.lookup(where, columns, ids)
        for start in range(0, len(missing), FETCH_CHUNK):
            chunk = missing[start:start + FETCH_CHUNK]
            chosen = self.where.memories.isin("id", chunk)
            rows = await self.scan(chosen & where if where is not None else chosen,
                                   columns=columns)
            if columns is not None:
                self._rows.keep(where, columns, chunk, rows, generation)
            known.update((r["id"], r) for r in rows)
        return {memory_id: row for memory_id, row in known.items() if row is not None}

    @operation("read every memory into the cache")
    async def warm_rows(self) -> int:
        """Read every memory once into the row cache, when they all fit in it (a server does
        this as it starts, so that its first searches read nothing back); returns how many."""
        await self._sync()
        total = await self._memories.count_rows()
        if not total or total > self._rows.max_chars // WARM_ROW_CHARS:
            return 0
        generation = self._rows.generation
        rows = await self._memories.query().select(self._read_schema.names).to_list()
        if not self._rows.room_for(rows):
            return 0
        self._rows.prime(rows, generation)
        return len(rows) if generation == self._rows.generation else 0

    def forget_cached_rows(self) -> None:
        """Forget the rows kept from reads, so the next searches read them again (a benchmark
        measures a search meeting its memories for the first time); the vectors stay."""
        self._rows.clear()

    @operation("search the memories' text")
    async def lexical_search(
        self,
        text: str,
        where: Predicate | None,
        limit: int,
        *,
        fuzziness: int = 0,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """BM25 over `search_text`; each row carries `_score` (higher is better).

        `columns` limits what is read for each hit (default: every column)."""
        query = MatchQuery(text, SEARCH_COLUMN, fuzziness=fuzziness,
                           **({"prefix_length": 1, "max_expansions": 10} if fuzziness else {}))
        q = self._memories.query().nearest_to_text(query).limit(limit)
        if where is not None:
            q = q.where(where.sql)
        if columns is None:
            return await q.to_list()
        # The ids and scores, then the rows from the row cache where it has them.
        await self._sync()
        read, vectors = self._columns_to_read(columns)
        hits = await q.select(["id", "_score"]).to_list()
        by_id = await self.fetch([h["id"] for h in hits], where, read)
        rows = []
        for hit in hits:
            row = by_id.get(hit["id"])
            if row is not None:  # None: deleted between the two reads
                row["_score"] = hit["_score"]
                if vectors:
                    row["vector"] = self._vectors.vector_of(hit["id"])
                rows.append(row)
        return rows

    @operation("search the memories' vectors")
    async def vector_search(
        self,
        vector: np.ndarray,
        where: Predicate | None,
        limit: int,
        *,
        columns: Sequence[str] | None = None,
        exact: bool = False,
        scopes: Sequence[str] | None = None,
        passage_margin: float | None = None,
    ) -> list[dict[str, Any]]:
        """Cosine nearest neighbours; each row carries `_distance` (lower is better).

        With `passage_margin`, a memory's later passages count too: its similarity is the
        best of its own vector's and its passages' less the margin (in-memory search only).

        Answered from the in-memory vectors (`vectors.VectorCache`) when they can: the best
        candidates of `scopes` (a hint: `where` must imply it; None: every scope) are read back
        by id under `where`, as many rounds as the filter needs. A filter that keeps too few of
        them is left to LanceDB, as below.

        Rows without a vector never match (LanceDB drops null distances; a `vector IS NOT NULL`
        filter would read the whole vector column to prefilter: ~100 ms at 100k rows).
        Exact when `exact` or without an index. With the IVF_SQ index (built in the background
        by `maybe_index_vectors`), the index finds candidates and the exact vectors re-rank
        `REFINE_FACTOR` times as many, so recall stays at the exact search's level.
        `columns` limits what is read for each hit (default: every column).
        """
        found = await self._cached_search(vector, where, limit, columns, scopes, passage_margin)
        if found is not None:
            return found
        q = self._memories.query().nearest_to(vector.astype(np.float32)).distance_type("cosine")
        if where is not None:
            q = q.where(where.sql)
        q = q.limit(limit)
        if columns is not None:
            q = q.select([*(self.where.memories.col(c) for c in columns), "_distance"])
        if exact:
            q = q.bypass_vector_index()
        elif self._vector_index:
            q = q.nprobes(ANN_NPROBES).refine_factor(REFINE_FACTOR)
        return await q.to_list()

    @operation("look up content hashes")
    async def known_hashes(self, digests: Sequence[str]) -> list[str]:
        """Those of `digests` that some memory's content hash may equal (any other certainly
        matches none, so looking for it would read for nothing)."""
        await self._sync()
        return [d for d in digests if self._vectors.may_hold(d)]

    @operation("search the memories' vectors")
    async def nearest_ids(
        self, vectors: np.ndarray, scopes: Sequence[str] | None, count: int,
        at_least: float | None = None,
    ) -> list[list[tuple[str, float]]]:
        """For each row of `vectors`, the ids of the `count` most similar memories with a
        vector (of `scopes`; live or not; `at_least` that similar), best first, with their
        cosine similarity."""
        await self._sync()
        return self._vectors.nearest_many(vectors, scopes, count, at_least)

    def similarities(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """The cosine similarity of `vector` to each memory of `ids` whose vector this process
        holds in memory (the others are left out: nothing is read)."""
        out: dict[str, float] = {}
        for memory_id in ids:
            held = self._vectors.vector_of(memory_id)
            if held is not None:
                out[memory_id] = float(np.dot(vector, held))
        return out

    @operation("count memories")
    async def ann_worthwhile(self, where: Predicate | None) -> bool:
        """Whether a vector search under `where` should use the ANN index: only if there is
        one and the filter keeps at least `ANN_MIN_ROWS` rows (a small scope stays exact, and
        exact over few rows is faster than probing partitions that hold few of them)."""
        if not self._vector_index or len(self._vectors):  # the in-memory search needs none
            return False
        return await self._memories.count_rows(where.sql if where is not None else None) >= (
            ANN_MIN_ROWS
        )

    def _nearest(
        self, vector: np.ndarray, scopes: Sequence[str] | None, size: int,
        margin: float | None,
    ) -> tuple[list[tuple[str, float]], bool]:
        """The `size` best memories by their own vector or (less `margin`) a passage's, best
        first, and whether every cached row was seen."""
        own = self._vectors.nearest(vector, scopes, size)
        if margin is None or not len(self._passage_vectors):
            return own, len(own) < size
        passages = self._passage_vectors.nearest(vector, scopes, size)
        best = dict(own)
        for passage, similarity in passages:
            memory = passage.rsplit(":", 1)[0]
            best[memory] = max(best.get(memory, -1.0), similarity - margin)
        ranked = sorted(best.items(), key=lambda item: -item[1])[:size]
        return ranked, len(own) < size and len(passages) < size

    async def _cached_search(
        self, vector: np.ndarray, where: Predicate | None, limit: int,
        columns: Sequence[str] | None, scopes: Sequence[str] | None,
        margin: float | None = None,
    ) -> list[dict[str, Any]] | None:
        await self._sync()
        read, with_vector = self._columns_to_read(columns)
        found: list[dict[str, Any]] = []
        size, tried = limit + FETCH_MARGIN, set()
        while True:
            candidates, every = self._nearest(vector, scopes, size, margin)
            batch = [(i, similarity) for i, similarity in candidates if i not in tried]
            tried.update(i for i, _ in batch)
            if batch:
                by_id = await self.fetch([i for i, _ in batch], where, read)
                for memory_id, similarity in batch:
                    row = by_id.get(memory_id)
                    if row is not None:
                        row["_distance"] = 1.0 - similarity
                        if with_vector:
                            row["vector"] = self._vectors.vector_of(memory_id)
                        found.append(row)
                        if len(found) == limit:
                            return sorted(found, key=lambda r: r["_distance"])
            if every:  # every candidate seen
                return sorted(found, key=lambda r: r["_distance"])
            if size >= MAX_CANDIDATES or len(found) < len(candidates) // 2:
                return None  # a selective filter (a period, a tag): LanceDB's to apply
            size *= 4

    def _columns_to_read(self, columns: Sequence[str] | None) -> tuple[list[str] | None, bool]:
        """What to read of the rows a search found (the id always), and whether their vectors
        come from the cache instead of the disk (asked for, and the cache holds vectors)."""
        if columns is None:
            return None, False
        cached = "vector" in columns and len(self._vectors) > 0
        read = [c for c in dict.fromkeys(["id", *columns]) if not (cached and c == "vector")]
        return read, cached
