"""The habitus store: LanceDB tables behind one connection and one writer per process.

The store knows rows (plain dicts shaped by `schema`), predicates and vectors; it knows nothing
of MCP, scopes or ranking. Reads always see the latest committed version, so several processes
sharing a directory see each other's writes at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, BTree, IvfSq, LabelList
from lancedb.query import MatchQuery
from lancedb.table import AsyncTable
from lancedb.util import value_to_sql

from habitus.base.errors import StoreError

from .deferred_log import DeferredLog
from .predicates import Predicate, Where
from .rows import RowCache
from .schema import (
    JOURNAL,
    LINKS,
    MEMORIES,
    PASSAGES,
    ROW_VERSIONS_KEY,
    SCHEMA_VERSION,
    USES,
    journal_schema,
    links_schema,
    memories_schema,
    passages_schema,
    uses_schema,
    vector_model,
)
from .vectors import VectorCache
from .writer import Writer

__all__ = ["Store"]

log = logging.getLogger("habitus.store")

SEARCH_COLUMN = "search_text"
# LanceDB caches opened indexes and table metadata (manifests, fragment footers) per process,
# by default up to 6 GB and 1 GB. A store gets a new table version on every write, so under a
# steady stream of writes those caches only fill; these bounds keep a long-running server's
# memory flat while holding every index of a store of a few hundred thousand memories.
INDEX_CACHE_BYTES = 128 * 2**20
METADATA_CACHE_BYTES = 32 * 2**20
DEFERRED = "_deferred"  # the folder of deferred rows not yet committed (local stores)
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
# New rows kept whole in the row cache when committed, at most this many per commit (a bulk
# import's are not worth converting).
PRIME_MAX = 1000
# Characters a memory is assumed to take in the row cache when deciding whether the whole
# table would fit in it (`warm_rows`).
WARM_ROW_CHARS = 1000


class Store:
    """Opened with `await Store.open(uri, ...)`; closed with `await store.close()`."""

    def __init__(
        self,
        uri: str,
        db: lancedb.AsyncConnection,
        memories: AsyncTable,
        links: AsyncTable,
        journal: AsyncTable,
        uses: AsyncTable,
        *,
        dimension: int,
        embedding_model: str,
        writer: Writer,
        session: lancedb.Session | None = None,
        row_versions: bool = False,
        passages: AsyncTable | None = None,
    ) -> None:
        self.uri = uri
        self._db = db
        self.memories = memories
        self.links = links
        self.journal = journal
        self.uses = uses
        self.passages = passages
        self.dimension = dimension
        self.embedding_model = embedding_model
        self.writer = writer
        self._session = session
        self._vector_index = False
        # Exact vector search in memory (see `vectors`); kept in step by the writer's commits.
        self.vectors = VectorCache(memories, dimension, embedding_model,
                                   row_versions=row_versions)
        # The vectors of long memories' later passages, searched beside theirs (by memory).
        self.passage_vectors = (
            VectorCache(passages, dimension, embedding_model, row_versions=row_versions)
            if passages is not None else None)
        # Rows searches read back by id (see `rows`): this process's new rows are kept as they
        # are committed; rows that change are forgotten.
        self.rows = RowCache()
        self._read_schema = pa.schema(
            [f for f in memories_schema(dimension, embedding_model) if f.name != "vector"])
        self._stale = False  # this process changed rows that the caches still hold
        self._versions: dict[str, int] = {}
        writer.on_commit = self._committed
        self.m = Where(memories_schema(dimension, embedding_model))
        self.l = Where(links_schema())
        self.j = Where(journal_schema())
        self.u = Where(uses_schema())

    @classmethod
    async def open(
        cls,
        uri: str,
        *,
        dimension: int = 384,
        embedding_model: str = "",
        storage_options: dict[str, str] | None = None,
        consistency: timedelta = timedelta(0),
    ) -> Store:
        """Open (creating if needed) the store at `uri`: a directory or an object-store URI."""
        session = lancedb.Session(index_cache_size_bytes=INDEX_CACHE_BYTES,
                                  metadata_cache_size_bytes=METADATA_CACHE_BYTES)
        try:
            db = await lancedb.connect_async(
                uri, read_consistency_interval=consistency, storage_options=storage_options,
                session=session,
            )
            remote = uri.startswith("db://")
            memories = await _open_or_create(
                db, MEMORIES, memories_schema(dimension, embedding_model), remote=remote
            )
            links = await _open_or_create(db, LINKS, links_schema(), remote=remote)
            journal = await _open_or_create(db, JOURNAL, journal_schema(), remote=remote)
            uses = await _open_or_create(db, USES, uses_schema(), remote=remote)
            passages = await _open_or_create(
                db, PASSAGES, passages_schema(dimension, embedding_model), remote=remote
            )
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open the store at {uri}: {exc}") from exc
        memories_meta = await memories.schema()
        stored_model, stored_dim = vector_model(memories_meta, dimension)
        row_versions = ROW_VERSIONS_KEY.encode() in (memories_meta.metadata or {})
        local = "://" not in uri
        writer = Writer(log=DeferredLog(Path(uri) / DEFERRED) if local else None)
        writer.start()
        store = cls(
            uri, db, memories, links, journal, uses,
            dimension=stored_dim, embedding_model=stored_model or embedding_model, writer=writer,
            session=session, row_versions=row_versions, passages=passages,
        )
        await store._ensure_indexes()
        await store.has_vector_index()
        await store._commit_orphans()
        return store

    async def _commit_orphans(self) -> None:
        """Commit the journal, use and link rows that processes which died before their commit
        left behind (see `deferred_log`), skipping any that did reach their table."""
        deferred = self.writer.log
        if deferred is None:
            return
        left = deferred.take_orphans()
        for table, where in ((self.journal, self.j), (self.uses, self.u), (self.links, self.l)):
            rows = left.get(table.name, [])
            if not rows:
                continue
            ids = [r["id"] for r in rows]
            known = {r["id"] for r in await table.query().where(
                where.isin("id", ids).sql).select(["id"]).to_list()}
            fresh = [r for r in rows if r["id"] not in known]
            if fresh:
                await self.writer.add(table, fresh)
                log.info("committed %d %s rows left by a process that died", len(fresh),
                         table.name)
        deferred.orphans_committed()

    async def close(self) -> None:
        """Finish pending writes and release the tables."""
        await self.writer.close()
        for table in (self.memories, self.links, self.journal, self.uses, self.passages):
            if table is not None:
                table.close()

    async def _ensure_indexes(self) -> None:
        present = {tuple(i.columns) for i in await self.memories.list_indices()}
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
                await self.memories.create_index(column, config=config)
            except Exception as exc:  # another process may have created it just now
                log.debug("index on %s not created: %s", column, exc)
        present_links = {tuple(i.columns) for i in await self.links.list_indices()}
        for column in ("id", "source", "target"):
            if (column,) not in present_links:
                try:
                    await self.links.create_index(column, config=BTree())
                except Exception as exc:  # another process may have created it just now
                    log.debug("index on links.%s not created: %s", column, exc)

    # --- memories -----------------------------------------------------------------------

    def _committed(self, table: str, version: int, appended: list[dict[str, Any]] | None) -> None:
        """A commit of this process (`appended`: the rows it added; None: not an append)."""
        self._versions[table] = version
        if table == PASSAGES and appended is not None and self.passage_vectors is not None:
            self.passage_vectors.note_version(version, len(appended))
        if table != MEMORIES:
            return
        if appended is not None:
            self.vectors.note_version(version, len(appended))
            if len(appended) <= PRIME_MAX:
                self.rows.prime(self._as_read(appended))
        elif self.vectors.row_versions:
            self._stale = True  # caught up before the next read, which forgets those rows
        else:
            self.vectors.note_version(version)
            self.rows.clear()

    async def warm_rows(self) -> int:
        """Read every memory once into the row cache, when they all fit in it (a server does
        this as it starts, so that its first searches read nothing back); returns how many."""
        await self._sync()
        total = await self.memories.count_rows()
        if not total or total > self.rows.max_chars // WARM_ROW_CHARS:
            return 0
        generation = self.rows.generation
        rows = await self.memories.query().select(self._read_schema.names).to_list()
        if not self.rows.room_for(rows):
            return 0
        self.rows.prime(rows, generation)
        return len(rows) if generation == self.rows.generation else 0

    def _as_read(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows as a read returns them (typed by the schema), without their vectors."""
        names = self._read_schema.names
        return pa.Table.from_pylist(
            [{n: r.get(n) for n in names} for r in rows], schema=self._read_schema
        ).to_pylist()

    async def _sync(self) -> None:
        """Catch the caches up with the memories table: rows changed since are forgotten (all
        of them when which is not known)."""
        self._stale = False
        if self.passage_vectors is not None:
            await self.passage_vectors.sync()
        changed = await self.vectors.sync()
        if changed is None:
            self.rows.clear()
        elif changed:
            self.rows.forget(list(changed))

    async def version(self, table: AsyncTable) -> int:
        """The table's version after this process's last commit to it (else its latest)."""
        known = self._versions.get(table.name)
        return known if known is not None else await table.version()

    async def add_memories(self, rows: list[dict[str, Any]]) -> None:
        try:
            await self.writer.add(self.memories, rows)
            self.vectors.add(rows)
        except Exception:
            # Another process may have re-embedded the store (`habitus reindex`) since this one
            # opened it: keep the memories, without vectors of the wrong model.
            if not await self.refresh_embedding() or all(r.get("vector") is None for r in rows):
                raise
            log.error(
                "the store is now embedded with %s (%d-d); %d memories written without vectors "
                "(restart with that embedder, then run `habitus reindex` to embed them)",
                self.embedding_model or "no model", self.dimension, len(rows),
            )
            await self.writer.add(
                self.memories, [{**r, "vector": None, "embedding_model": ""} for r in rows]
            )

    async def refresh_embedding(self) -> bool:
        """Re-read the vectors' model and dimension (changed by a reindex); True if changed."""
        model, dimension = vector_model(await self.memories.schema(), self.dimension)
        if (model, dimension) == (self.embedding_model, self.dimension) or (
            not model and dimension == self.dimension
        ):
            return False
        self.embedding_model, self.dimension = model, dimension
        self.m = Where(memories_schema(dimension, model))
        self.vectors.reset(dimension, model)
        if self.passage_vectors is not None:
            self.passage_vectors.reset(dimension, model)
        self.rows.clear()
        return True

    async def add_passages(self, rows: list[dict[str, Any]]) -> None:
        """Append passage rows (`passages_schema`); none on a store without the table."""
        if rows and self.passages is not None:
            await self.writer.add(self.passages, rows)
            if self.passage_vectors is not None:
                self.passage_vectors.add(rows)

    async def reset_passages(self) -> None:
        """Drop every passage and make the table anew for the store's current model and
        dimension (after a reindex: the old model's passages compare with nothing)."""
        if self.passages is None:
            return
        await self.writer.flush()

        async def remake() -> None:
            assert self.passages is not None
            self.passages.close()
            await self._db.drop_table(PASSAGES)
            self.passages = await _open_or_create(
                self._db, PASSAGES, passages_schema(self.dimension, self.embedding_model),
                remote=self.uri.startswith("db://"))

        await self.writer.call(self.passages, remake)
        row_versions = self.passage_vectors.row_versions if self.passage_vectors else False
        self.passage_vectors = VectorCache(self.passages, self.dimension, self.embedding_model,
                                           row_versions=row_versions)

    async def passage_ids(self, memories: Sequence[str] | None = None) -> list[str]:
        """The ids of the passages of `memories` (None: of every memory)."""
        if self.passages is None:
            return []
        q = self.passages.query().select(["id"])
        if memories is not None:
            if not memories:
                return []
            q = q.where(f"memory IN ({', '.join(value_to_sql(m) for m in memories)})")
        return [r["id"] for r in await q.to_list()]

    async def update_memories(self, where: Predicate, values: dict[str, Any]) -> int:
        """Set `values` on every memory matching `where`; returns the rows updated."""
        updates_sql = {}
        for column, value in values.items():
            self.m.col(column)
            # value_to_sql renders an empty list as `[]`, which LanceDB cannot type.
            updates_sql[column] = (
                "arrow_cast(make_array(), 'List(Utf8)')"
                if isinstance(value, list | tuple) and not value
                else value_to_sql(value)
            )
        result = await self.writer.call(
            self.memories, lambda: self.memories.update(updates_sql=updates_sql, where=where.sql)
        )
        return int(getattr(result, "rows_updated", 0))

    async def merge_memories(self, rows: list[dict[str, Any]]) -> None:
        """Replace whole rows by id (used for batched bookkeeping updates)."""
        if not rows:
            return

        async def run() -> Any:
            return await (
                self.memories.merge_insert("id").when_matched_update_all().execute(rows)
            )

        await self.writer.call(self.memories, run)

    async def delete_memories(self, where: Predicate) -> None:
        await self.writer.call(self.memories, lambda: self.memories.delete(where.sql))

    async def get_memories(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return await self.scan(self.m.isin("id", ids), limit=len(ids))

    async def scan(
        self,
        where: Predicate | None,
        *,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of `memories` matching `where`, in storage order."""
        q = self.memories.query()
        if where is not None:
            q = q.where(where.sql)
        if columns is not None:
            q = q.select([self.m.col(c) for c in columns])
        if limit is not None:
            q = q.limit(limit)
        return await q.to_list()

    async def count(self, where: Predicate | None = None) -> int:
        return await self.memories.count_rows(where.sql if where is not None else None)

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
        q = self.memories.query().nearest_to_text(query).limit(limit)
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
                    row["vector"] = self.vectors.vector_of(hit["id"])
                rows.append(row)
        return rows

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
        q = self.memories.query().nearest_to(vector.astype(np.float32)).distance_type("cosine")
        if where is not None:
            q = q.where(where.sql)
        q = q.limit(limit)
        if columns is not None:
            q = q.select([*(self.m.col(c) for c in columns), "_distance"])
        if exact:
            q = q.bypass_vector_index()
        elif self._vector_index:
            q = q.nprobes(ANN_NPROBES).refine_factor(REFINE_FACTOR)
        return await q.to_list()

    async def known_hashes(self, digests: Sequence[str]) -> list[str]:
        """Those of `digests` that some memory's content hash may equal (any other certainly
        matches none, so looking for it would read for nothing)."""
        await self._sync()
        return [d for d in digests if self.vectors.may_hold(d)]

    async def nearest_ids(
        self, vectors: np.ndarray, scopes: Sequence[str] | None, count: int,
        at_least: float | None = None,
    ) -> list[list[tuple[str, float]]]:
        """For each row of `vectors`, the ids of the `count` most similar memories with a
        vector (of `scopes`; live or not; `at_least` that similar), best first, with their
        cosine similarity."""
        await self._sync()
        return self.vectors.nearest_many(vectors, scopes, count, at_least)

    def _nearest(
        self, vector: np.ndarray, scopes: Sequence[str] | None, size: int,
        margin: float | None,
    ) -> tuple[list[tuple[str, float]], bool]:
        """The `size` best memories by their own vector or (less `margin`) a passage's, best
        first, and whether every cached row was seen."""
        own = self.vectors.nearest(vector, scopes, size)
        if margin is None or self.passage_vectors is None or not len(self.passage_vectors):
            return own, len(own) < size
        passages = self.passage_vectors.nearest(vector, scopes, size)
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
                            row["vector"] = self.vectors.vector_of(memory_id)
                        found.append(row)
                        if len(found) == limit:
                            return sorted(found, key=lambda r: r["_distance"])
            if every:  # every candidate seen
                return sorted(found, key=lambda r: r["_distance"])
            if size >= MAX_CANDIDATES or len(found) < len(candidates) // 2:
                return None  # a selective filter (a period, a tag): LanceDB's to apply
            size *= 4

    async def fetch(
        self, ids: Sequence[str], where: Predicate | None, columns: Sequence[str] | None
    ) -> dict[str, dict[str, Any]]:
        """The rows of `ids` that match `where`, by id: from the row cache for the ids it
        knows under that filter and columns, read (and kept) for the others."""
        if self._stale:
            await self._sync()
        generation = self.rows.generation
        if columns is None:
            known: dict[str, dict[str, Any] | None] = {}
            missing = list(ids)
        else:
            known, missing = self.rows.lookup(where, columns, ids)
        for start in range(0, len(missing), FETCH_CHUNK):
            chunk = missing[start:start + FETCH_CHUNK]
            chosen = self.m.isin("id", chunk)
            rows = await self.scan(chosen & where if where is not None else chosen,
                                   columns=columns)
            if columns is not None:
                self.rows.keep(where, columns, chunk, rows, generation)
            known.update((r["id"], r) for r in rows)
        return {memory_id: row for memory_id, row in known.items() if row is not None}

    def _columns_to_read(self, columns: Sequence[str] | None) -> tuple[list[str] | None, bool]:
        """What to read of the rows a search found (the id always), and whether their vectors
        come from the cache instead of the disk (asked for, and the cache holds vectors)."""
        if columns is None:
            return None, False
        cached = "vector" in columns and len(self.vectors) > 0
        read = [c for c in dict.fromkeys(["id", *columns]) if not (cached and c == "vector")]
        return read, cached

    async def ann_worthwhile(self, where: Predicate | None) -> bool:
        """Whether a vector search under `where` should use the ANN index: only if there is
        one and the filter keeps at least `ANN_MIN_ROWS` rows (a small scope stays exact, and
        exact over few rows is faster than probing partitions that hold few of them)."""
        if not self._vector_index or len(self.vectors):  # the in-memory search needs none
            return False
        return await self.memories.count_rows(where.sql if where is not None else None) >= (
            ANN_MIN_ROWS
        )

    async def has_vector_index(self) -> bool:
        indices = await self.memories.list_indices()
        self._vector_index = any(tuple(i.columns) == ("vector",) for i in indices)
        return self._vector_index

    async def maybe_index_vectors(self, min_rows: int | None = None) -> bool:
        """Build the ANN index once the table holds `min_rows` vectors; True if one exists."""
        if self._vector_index or await self.has_vector_index():
            return True
        threshold = ANN_MIN_ROWS if min_rows is None else min_rows
        if await self.memories.count_rows(self.m.not_null("vector").sql) < threshold:
            return False
        partitions = max(16, int((await self.memories.count_rows()) ** 0.5))

        async def build() -> None:
            await self.memories.create_index(
                "vector", config=IvfSq(distance_type="cosine", num_partitions=partitions)
            )

        await self.writer.call(self.memories, build)
        log.info("built the vector index (%d partitions)", partitions)
        return await self.has_vector_index()

    # --- links and journal ----------------------------------------------------------------

    async def add_links(self, rows: list[dict[str, Any]], *, deferred: bool = False) -> None:
        """Append edges. `deferred`: committed soon, with the journal's rows, instead of now
        (kept meanwhile in the process's durable log; every read, update or delete of links
        commits them first) — for the edges each new memory gets, one commit per write saved."""
        if deferred:
            self.writer.defer(self.links, rows)
        else:
            await self.writer.add(self.links, rows)

    async def update_link(self, link_id: str, values: dict[str, Any]) -> None:
        where = self.l.eq("id", link_id).sql
        await self.writer.flush()
        await self.writer.call(self.links, lambda: self.links.update(values, where=where))

    async def find_links(self, where: Predicate, limit: int = 1000) -> list[dict[str, Any]]:
        await self.writer.flush()
        return await self.links.query().where(where.sql).limit(limit).to_list()

    async def delete_links(self, where: Predicate) -> None:
        await self.writer.flush()
        await self.writer.call(self.links, lambda: self.links.delete(where.sql))

    def append_uses(self, rows: list[dict[str, Any]]) -> None:
        """Uses of memories (recall results) are deferred like the journal."""
        self.writer.defer(self.uses, rows)

    async def uses_of(self, ids: Sequence[str] | None) -> dict[str, tuple[int, Any]]:
        """For each memory of `ids` (None: every memory) that recall returned: how many times,
        and the last time."""
        await self.writer.flush()
        q = self.uses.query().select(["memory", "at"])
        if ids is not None:
            if not ids:
                return {}
            q = q.where(self.u.isin("memory", list(ids)).sql)
        table = await q.to_arrow()
        if table.num_rows == 0:
            return {}
        grouped = table.group_by("memory").aggregate([("at", "count"), ("at", "max")])
        return {m: (int(n), last) for m, n, last in zip(
            grouped["memory"].to_pylist(), grouped["at_count"].to_pylist(),
            grouped["at_max"].to_pylist(), strict=True)}

    def append_journal(self, rows: list[dict[str, Any]]) -> None:
        """Journal rows are deferred: committed within moments, together, off the caller's path."""
        self.writer.defer(self.journal, rows)

    async def read_journal(
        self, where: Predicate | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        await self.writer.flush()
        q = self.journal.query()
        if where is not None:
            q = q.where(where.sql)
        return await q.limit(limit).to_list()

    # --- maintenance ------------------------------------------------------------------------

    async def compact(self, *, cleanup_older_than: timedelta | None = None) -> None:
        """Fold every table's small fragments and new rows into its files and indexes."""
        for table in (self.memories, self.links, self.journal, self.passages):
            if table is not None:
                await self.writer.compact(table, cleanup_older_than=cleanup_older_than)

    def cache_bytes(self) -> int:
        """Memory this process holds for the store: LanceDB's caches, the vectors and rows."""
        lance = self._session.size_bytes if self._session is not None else 0
        return lance + self.vectors.nbytes + self.rows.nbytes

    async def fragments(self) -> int:
        stats = await self.memories.stats()
        return int(stats["fragment_stats"]["num_fragments"])

    async def table_counts(self) -> dict[str, int]:
        await self.writer.flush()
        return {
            MEMORIES: await self.memories.count_rows(),
            LINKS: await self.links.count_rows(),
            JOURNAL: await self.journal.count_rows(),
        }


async def _open_or_create(
    db: lancedb.AsyncConnection, name: str, schema: pa.Schema, *, remote: bool
) -> AsyncTable:
    """Open a table, creating it with `schema` when absent — with stable row ids, and their
    versions, unless on LanceDB Cloud; refuse newer schema versions."""
    try:
        table = await db.open_table(name)
    except (ValueError, FileNotFoundError):
        if remote:
            table = await db.create_table(name, schema=schema, exist_ok=True)
        else:
            table = await db.create_table(
                name, schema=schema.with_metadata({**schema.metadata, ROW_VERSIONS_KEY: "1"}),
                storage_options={"new_table_enable_stable_row_ids": "true"}, exist_ok=True,
            )
    meta = (await table.schema()).metadata or {}
    version = meta.get(b"habitus.schema_version", SCHEMA_VERSION.encode()).decode()
    if int(version) > int(SCHEMA_VERSION):
        raise StoreError(
            f"table {name!r} has schema version {version}, newer than this habitus "
            f"understands ({SCHEMA_VERSION}); upgrade habitus"
        )
    return table
