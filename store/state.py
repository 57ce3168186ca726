"""What every store operation shares: the five tables, the writer, the caches kept in step with
the commits, and the vectors' model. All of it private to the store.

The store's operations are grouped by concept in the modules beside this one, each a class
over `StoreState` (`reading`, `writing`, `passages`, `edges`, `records`, `indexes`, `erasure`,
`reembedding`); `database.Store` joins them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.table import AsyncTable

from .failures import failure, operation
from .predicates import WHERE, TablePredicates
from .rows import RowCache
from .schema import LINKS, MEMORIES, PASSAGES, memories_schema, vector_model
from .upkeep import Upkeep
from .vectors import VectorCache
from .writer import Writer

__all__ = ["StoreState"]

# New rows kept whole in the row cache when committed, at most this many per commit (a bulk
# import's are not worth converting).
PRIME_MAX = 1000


class StoreState:
    """The tables, writer and caches of one opened store."""

    def __init__(
        self,
        uri: str,
        db: lancedb.AsyncConnection,
        memories: AsyncTable,
        links: AsyncTable,
        journal: AsyncTable,
        uses: AsyncTable,
        passages: AsyncTable,
        *,
        dimension: int,
        embedding_model: str,
        writer: Writer,
        session: lancedb.Session | None = None,
        row_versions: bool = False,
    ) -> None:
        self._uri = uri
        self._db = db
        self._memories = memories
        self._links = links
        self._journal = journal
        self._uses = uses
        self._passages = passages
        self._dimension = dimension
        self._embedding_model = embedding_model
        self._writer = writer
        self._session = session
        self._vector_index = False
        # Exact vector search in memory (see `vectors`); kept in step by the writer's commits.
        self._vectors = VectorCache(memories, dimension, embedding_model,
                                    row_versions=row_versions)
        # The vectors of long memories' later passages, searched beside theirs (by memory).
        self._passage_vectors = VectorCache(passages, dimension, embedding_model,
                                            row_versions=row_versions)
        # Rows searches read back by id (see `rows`): this process's new rows are kept as they
        # are committed; rows that change are forgotten.
        self._rows = RowCache()
        self._read_schema = pa.schema(
            [f for f in memories_schema(dimension, embedding_model) if f.name != "vector"])
        self._stale = False  # this process changed rows that the caches still hold
        self._versions: dict[str, int] = {}
        # On object storage: the background refresh and the maintenance lease (see `upkeep`).
        self._upkeep: Upkeep | None = None
        self._catching_up = asyncio.Lock()
        writer.on_commit = self._committed

    @property
    def uri(self) -> str:
        """Where the store lives: a directory or an object-store URI."""
        return self._uri

    @property
    def dimension(self) -> int:
        """The dimension of the stored vectors."""
        return self._dimension

    @property
    def embedding_model(self) -> str:
        """The model the stored vectors come from ("" when none)."""
        return self._embedding_model

    @property
    def where(self) -> TablePredicates:
        """Predicate builders, one per table: `store.where.memories.eq("id", x)`."""
        return WHERE

    def _committed(self, table: str, version: int, appended: list[dict[str, Any]] | None) -> None:
        """A commit of this process (`appended`: the rows it added; None: not an append)."""
        self._versions[table] = version
        if table == PASSAGES and appended is not None:
            self._passage_vectors.note_version(version, len(appended))
        if table != MEMORIES:
            return
        if appended is not None:
            self._vectors.note_version(version, len(appended))
            if len(appended) <= PRIME_MAX:
                self._rows.prime(self._as_read(appended))
        elif self._vectors.row_versions:
            self._stale = True  # caught up before the next read, which forgets those rows
        else:
            self._vectors.note_version(version)
            self._rows.clear()

    def _as_read(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows as a read returns them (typed by the schema), without their vectors."""
        names = self._read_schema.names
        return pa.Table.from_pylist(
            [{n: r.get(n) for n in names} for r in rows], schema=self._read_schema
        ).to_pylist()

    async def _fresh(self, table: AsyncTable | None = None) -> None:
        """On object storage, refresh the tables (or the journal or uses `table`) first if
        that was not done lately."""
        if self._upkeep is not None:
            await self._upkeep.fresh(table)

    async def _sync(self) -> None:
        """Catch the caches up with the memories and passages tables (refreshed first on object
        storage)."""
        await self._fresh()
        await self._catch_up()

    async def _catch_up(self) -> None:
        """Catch the caches up with the versions of the memories and passages tables this
        process sees: rows changed since are forgotten (all of them when which is not known)."""
        async with self._catching_up:
            self._stale = False
            await self._passage_vectors.sync()
            changed = await self._vectors.sync()
            if changed is None:
                self._rows.clear()
            elif changed:
                self._rows.forget(list(changed))

    def _defer(self, table: AsyncTable, rows: list[dict[str, Any]], action: str) -> None:
        """Hand `rows` to the writer to commit soon (see `Writer.defer`)."""
        try:
            self._writer.defer(table, rows)
        except OSError as exc:  # the durable log beside the tables could not be written
            raise failure(self._uri, action, exc) from exc

    @operation("read the vectors' model")
    async def refresh_embedding(self) -> bool:
        """Re-read the vectors' model and dimension (changed by a reindex); True if changed."""
        model, dimension = vector_model(await self._memories.schema(), self._dimension)
        if (model, dimension) == (self._embedding_model, self._dimension) or (
            not model and dimension == self._dimension
        ):
            return False
        self._embedding_model, self._dimension = model, dimension
        self._vectors.reset(dimension, model)
        self._passage_vectors.reset(dimension, model)
        self._rows.clear()
        return True

    @operation("read the table versions")
    async def table_versions(self) -> dict[str, int]:
        """The versions of `memories` and `links` after this process's last commit to each
        (else their latest): where an operation left them, for audit and time travel."""
        found = {}
        for name, table in ((MEMORIES, self._memories), (LINKS, self._links)):
            known = self._versions.get(name)
            found[name] = known if known is not None else await table.version()
        return found

    @operation("commit the deferred journal, use and link rows")
    async def flush(self) -> None:
        """Commit the rows deferred so far (journal, uses, new memories' edges) now."""
        await self._writer.flush()

    def cache_bytes(self) -> int:
        """Memory this process holds for the store: LanceDB's caches, the vectors and rows."""
        lance = self._session.size_bytes if self._session is not None else 0
        return lance + self._vectors.nbytes + self._rows.nbytes

    def commit_stats(self) -> dict[str, int]:
        """What the writer did so far: requests, commits and compactions; on object storage
        also the background refreshes and the maintenance rounds this server ran."""
        stats = dict(self._writer.stats)
        if self._upkeep is not None:
            stats["compactions"] += self._upkeep.stats["compactions"]
            stats.update(refreshes=self._upkeep.stats["refreshes"],
                         maintenance=self._upkeep.stats["maintenance"])
        return stats
