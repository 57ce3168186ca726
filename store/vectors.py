"""The memories' vectors held in memory, for exact cosine search in numpy instead of a scan,
and every memory's content hash, so that a new memory that repeats none costs no read.

For search, only what never changes for a row is cached: its id, scope and vector. Whatever
else a search filters on (deleted, superseded, kind, tags, time) is applied by LanceDB when the
best candidates are read back by id, so the answer is the same as an exact LanceDB search.

The cache follows the table's version. This process's appends report the version they made
(`note_version`) and are added directly (`add`), so they cost nothing. Any other version (an
update, another process's write, a compaction) is caught up from the rows' own versions when
the table keeps them (stable row ids): only the rows changed since are read, and `sync` says
which they were. A table without them, or rows deleted since, cost one read of the id and hash
columns and the vectors of the rows that are new. A change of embedding model reloads all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from lancedb.table import AsyncTable
from lancedb.util import value_to_sql
from threadpoolctl import threadpool_limits

from .sketch import Sketch

__all__ = ["VectorCache"]

_CHUNK = 2000
# A search for the rows at least as similar as a threshold, over more rows than this, scores in
# full only those whose bound from the sketch reaches it (see `sketch`).
SKETCH_ABOVE = 20_000
_blas_limited = False


def _one_blas_thread() -> None:
    """Run numpy's BLAS on one thread, process-wide. The search here is a matrix-vector
    product, bound by memory bandwidth: a second thread makes it no faster, and its
    busy-waiting took the CPU from the embedder and LanceDB beside it (a write at 100k
    memories: 64–65 → 52–55 ms p50 on two cores)."""
    global _blas_limited
    if not _blas_limited:
        threadpool_limits(1, user_api="blas")
        _blas_limited = True


class VectorCache:
    """Ids, scopes and unit vectors of one table's rows, kept in step with its versions."""

    def __init__(
        self, table: AsyncTable, dimension: int, model: str, *, row_versions: bool = False
    ) -> None:
        _one_blas_thread()
        self.table = table
        self.row_versions = row_versions  # the table's rows carry the version that changed them
        self.version: int | None = None  # the table version the cache reflects
        self._own: dict[int, int] = {}  # versions this process made since → rows appended
        self._total = 0  # rows in the table at `version`
        self._clear(dimension, model)

    def _clear(self, dimension: int, model: str) -> None:
        self.dimension, self.model = dimension, model
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._codes: dict[str, int] = {}
        self._scope_codes = np.zeros(0, dtype=np.int32)
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)  # False once a row left the table
        self._hashes: set[str] = set()  # the content hash of every row, vector or not
        self._sketch = Sketch()  # built on the first large search with a threshold

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the cached vectors."""
        return (self._matrix.nbytes + self._scope_codes.nbytes + self._alive.nbytes
                + self._sketch.nbytes)

    def note_version(self, version: int, appended: int = 0) -> None:
        """A commit of this process made `version`, appending `appended` rows. (With row
        versions only appends are noted: other commits are caught up like any version.)"""
        self._own[version] = appended

    def reset(self, dimension: int, model: str) -> None:
        """Forget every vector (the store was re-embedded, or rows rewritten in place)."""
        self._clear(dimension, model)
        self.version = None

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows appended to the table, or changed in it: every content hash, the vectors of the
        cached model (a changed row's replace its old one, or drop it if it has none now)."""
        self._hashes.update(r["content_hash"] for r in rows if r.get("content_hash"))
        fresh = []
        for r in rows:
            vector = r.get("vector")
            usable = vector is not None and (r.get("embedding_model") or self.model) == self.model
            n = self._row.get(r["id"])
            if n is None:
                if usable:
                    fresh.append(r)
            elif usable and len(vector) == self.dimension:
                self._matrix[n] = vector
                self._sketch.update(n, self._matrix[n])
                self._scope_codes[n] = self._code(r["scope"])
                self._alive[n] = True
            else:
                self._alive[n] = False
        if not fresh:
            return
        vectors = np.asarray([r["vector"] for r in fresh], dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            return
        self._reserve(self._n + len(fresh))
        end = self._n + len(fresh)
        self._matrix[self._n:end] = vectors
        self._scope_codes[self._n:end] = [self._code(r["scope"]) for r in fresh]
        self._alive[self._n:end] = True
        for offset, r in enumerate(fresh):
            self._ids.append(r["id"])
            self._row[r["id"]] = self._n + offset
        self._n = end

    def may_hold(self, content_hash: str) -> bool:
        """Whether a row with this content hash may be in the table (False: certainly not).
        Every row's hash is known, with or without a vector; a row whose content was
        rewritten in place (erasure) keeps its old hash here too."""
        return content_hash in self._hashes

    def vector_of(self, memory_id: str) -> np.ndarray | None:
        """The cached vector of a memory (None: not cached)."""
        n = self._row.get(memory_id)
        return self._matrix[n] if n is not None and self._alive[n] else None

    async def sync(self) -> set[str] | None:
        """Catch up with the table. Returns the ids of the rows changed in versions this
        process did not note (empty: none), or None when which is not known."""
        version = await self.table.version()
        if version == self.version:
            return set()
        if self.version is not None:
            new = range(self.version + 1, version + 1)
            if all(v in self._own for v in new):
                self._total += sum(self._own[v] for v in new)
                self._advance(version)
                return set()
            if self.row_versions:
                changed = await self._catch_up_rows(version)
                if changed is not None:
                    return changed
        await self._catch_up(version)
        return None

    def _advance(self, version: int) -> None:
        self.version = version
        self._own = {v: n for v, n in self._own.items() if v > version}

    def nearest(
        self, vector: np.ndarray, scopes: Sequence[str] | None, count: int
    ) -> list[tuple[str, float]]:
        """The `count` cached rows (of `scopes`, None: any) most similar to `vector`, best
        first, as (id, cosine similarity)."""
        return self.nearest_many(np.asarray(vector, dtype=np.float32)[None, :], scopes, count)[0]

    def nearest_many(
        self, vectors: np.ndarray, scopes: Sequence[str] | None, count: int,
        at_least: float | None = None,
    ) -> list[list[tuple[str, float]]]:
        """`nearest` for each row of `vectors` (`at_least`: only rows that similar), in one
        matrix product: over the rows of `scopes` alone when they are a minority (their rows
        gathered first, so a write's duplicate check costs what its scope holds, not the
        store), else over every row in place, the others then ruled out. With a threshold and
        many rows, only the rows the sketch cannot rule out are scored."""
        mask = self._alive[:self._n]
        if scopes is not None:
            wanted = [self._codes[s] for s in scopes if s in self._codes]
            mask = mask & np.isin(self._scope_codes[:self._n], np.asarray(wanted, dtype=np.int32))
        eligible = int(mask.sum())
        if eligible == 0:
            return [[] for _ in range(len(vectors))]
        queries = np.asarray(vectors, dtype=np.float32)
        rows = np.flatnonzero(mask) if eligible <= self._n // 2 else None
        if at_least is not None and eligible > SKETCH_ABOVE:
            return [self._at_least(q, rows, mask, count, at_least) for q in queries]
        if rows is not None:
            sims = queries @ self._matrix[rows].T
        else:
            sims = queries @ self._matrix[:self._n].T
            sims[:, ~mask] = -np.inf
        return [self._best(line, rows, count, at_least) for line in sims]

    def _at_least(
        self, query: np.ndarray, rows: np.ndarray | None, mask: np.ndarray, count: int,
        at_least: float,
    ) -> list[tuple[str, float]]:
        """The best `count` rows at least `at_least` similar to `query`, scoring in full only
        the rows whose bound reaches it."""
        self._sketch.cover(self._matrix, self._n)
        reach = self._sketch.bounds(query, rows) >= at_least
        if rows is None:
            reach &= mask
        positions = np.flatnonzero(reach) if rows is None else rows[reach]
        return self._best(self._matrix[positions] @ query, positions, count, at_least)

    def _best(
        self, line: np.ndarray, positions: np.ndarray | None, count: int, at_least: float | None
    ) -> list[tuple[str, float]]:
        """The best `count` of `line` (the scores of `positions`; None: of every row), best
        first, those under `at_least` left out."""
        count = min(count, len(line))
        if count == 0:
            return []
        best = np.argpartition(-line, count - 1)[:count]
        best = best[np.argsort(-line[best], kind="stable")]
        found = [(self._ids[positions[j] if positions is not None else j], float(line[j]))
                 for j in best if np.isfinite(line[j])]
        return found if at_least is None else [f for f in found if f[1] >= at_least]

    def _reserve(self, size: int) -> None:
        if size <= len(self._matrix):
            return
        capacity = max(size, 2 * len(self._matrix), 1024)
        matrix = np.zeros((capacity, self.dimension), dtype=np.float32)
        matrix[:self._n] = self._matrix[:self._n]
        codes = np.zeros(capacity, dtype=np.int32)
        codes[:self._n] = self._scope_codes[:self._n]
        alive = np.zeros(capacity, dtype=bool)
        alive[:self._n] = self._alive[:self._n]
        self._matrix, self._scope_codes, self._alive = matrix, codes, alive

    def _code(self, scope: str) -> int:
        code = self._codes.get(scope)
        if code is None:
            code = self._codes[scope] = len(self._codes)
        return code

    async def _catch_up_rows(self, version: int) -> set[str] | None:
        """Read the rows changed since the cached version, by their row versions. Returns
        their ids (without this process's appends), or None when rows have left the table
        (the count says so), or another model's vectors appeared: then all must be read."""
        since = self.version
        rows = await self.table.query().where(f"_row_last_updated_at_version > {since}").select(
            ["id", "scope", "vector", "embedding_model", "content_hash",
             "_row_created_at_version", "_row_last_updated_at_version"]).to_list()
        created = sum(1 for r in rows if r["_row_created_at_version"] > since)
        if await self.table.count_rows() != self._total + created or any(
            r["embedding_model"] and r["embedding_model"] != self.model for r in rows
        ):
            return None
        self.add(rows)
        changed = {r["id"] for r in rows if r["_row_last_updated_at_version"] not in self._own}
        self._total += created
        self._advance(version)
        return changed

    async def _catch_up(self, version: int) -> None:
        """Read the ids (and content hashes) now in the table; drop the gone, read the vectors
        of the new."""
        # Columns, not row dicts: this runs after every compaction (half the time at 100k).
        every = await self.table.query().select(
            ["id", "embedding_model", "content_hash"]).to_arrow()
        models = every["embedding_model"].to_pylist()
        present = [i for i, model in zip(every["id"].to_pylist(), models, strict=True) if model]
        if any(model and model != self.model for model in models):
            # Re-embedded meanwhile (`habitus reindex`): the store tells the core, which turns
            # vector search off; nothing of the old model is worth keeping.
            self.reset(self.dimension, self.model)
            present = []
        self._hashes = set(every["content_hash"].to_pylist())
        self._total = len(every)
        current = set(present)
        gone = [n for memory_id, n in self._row.items() if memory_id not in current]
        self._alive[gone] = False
        new = [memory_id for memory_id in present
               if memory_id not in self._row or not self._alive[self._row[memory_id]]]
        for start in range(0, len(new), _CHUNK):
            chunk = new[start:start + _CHUNK]
            rows = await self.table.query().where(
                f"id IN ({', '.join(value_to_sql(i) for i in chunk)})"
            ).select(["id", "scope", "vector", "embedding_model"]).to_list()
            self.add(rows)
        self._advance(version)
        if len(gone) > self._n // 2:  # mostly rows that left: rebuild without them
            self._compact()

    def _compact(self) -> None:
        self._sketch.forget()
        keep = np.flatnonzero(self._alive[:self._n])
        ids = [self._ids[i] for i in keep]
        matrix, codes = self._matrix[keep], self._scope_codes[keep]
        self._n = len(keep)
        self._ids = ids
        self._row = {memory_id: n for n, memory_id in enumerate(ids)}
        self._matrix, self._scope_codes = matrix, codes
        self._alive = np.ones(len(keep), dtype=bool)
