"""The habitus store: LanceDB tables behind one connection and one writer per process.

The store knows rows (plain dicts shaped by `schema`), predicates and vectors; it knows nothing
of MCP, scopes or ranking. Reads always see the latest committed version, so several processes
sharing a directory see each other's writes at once. Its tables, writer and caches are its own:
callers use its operations, grouped by concept in the classes `Store` is made of, and meet
LanceDB's failures as `StoreError` (`failures`).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from habitus.base.dirs import state_dir
from habitus.base.errors import HabitusError

from .deferred_log import DeferredLog
from .edges import Edges
from .erasure import Erasure
from .failures import failure, operation
from .lease import Lease
from .maintenance import Maintenance
from .opening import maintenance_connection, open_tables
from .passages import Passages
from .reading import Reading
from .records import Records
from .reembedding import Reembedding
from .upkeep import Upkeep
from .writer import Writer
from .writing import Writing

__all__ = ["Store"]

DEFERRED = "_deferred"  # the folder of deferred rows not yet committed (in a local store)


class Store(Reading, Writing, Passages, Edges, Records, Maintenance, Erasure, Reembedding):
    """Opened with `await Store.open(uri, ...)`; closed with `await store.close()`."""

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
        """Open (creating if needed) the store at `uri`: a directory or an object-store URI.
        New tables get vectors of `embedding_model` (`dimension`-d); existing ones keep theirs.
        A local store reads with `consistency`; one on object storage is refreshed in the
        background and maintained by one server at a time (see `upkeep`).
        """
        try:
            tables = await open_tables(
                uri, dimension=dimension, embedding_model=embedding_model,
                storage_options=storage_options, consistency=consistency,
            )
            local = "://" not in uri
            shared = tables.leases is not None  # on object storage
            writer = Writer(
                log=DeferredLog(Path(uri) / DEFERRED if local else _deferred_folder(uri)),
                auto_compact=not shared, refresh_before_calls=shared,
            )
            writer.start()
            store = cls(
                uri, tables.db, tables.memories, tables.links, tables.journal, tables.uses,
                tables.passages, dimension=tables.dimension,
                embedding_model=tables.embedding_model or embedding_model, writer=writer,
                session=tables.session, row_versions=tables.row_versions,
            )
            if tables.leases is not None:
                store._upkeep = Upkeep(
                    [tables.memories, tables.links, tables.passages], Lease(tables.leases),
                    store._catch_up,
                    store.maybe_index_vectors,
                    lambda: maintenance_connection(uri, storage_options),
                    on_demand=[tables.journal, tables.uses],
                )
            await store._ensure_indexes()
            await store.has_vector_index()
            await store._commit_orphans()
            if store._upkeep is not None:
                store._upkeep.start()
        except HabitusError:
            raise
        except Exception as exc:
            raise failure(uri, "be opened", exc) from exc
        return store

    @operation("finish its pending writes")
    async def close(self) -> None:
        """Finish pending writes, give up the maintenance lease, release the tables."""
        if self._upkeep is not None:
            await self._upkeep.close()
        await self._writer.close()
        for table in (self._memories, self._links, self._journal, self._uses, self._passages):
            table.close()


def _deferred_folder(uri: str) -> Path:
    """Where this machine keeps the deferred rows of a store that is not a local folder."""
    return state_dir() / "deferred" / hashlib.sha256(uri.encode()).hexdigest()[:16]
