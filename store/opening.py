"""Opening a store's tables: one LanceDB connection with bounded caches, the five tables
(created when absent, with stable row ids; refused when a newer habitus made them) and the
vectors' model they were made with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import lancedb
import pyarrow as pa
from lancedb.table import AsyncTable

from habitus.base.errors import StoreError

from .lease import open_leases
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

__all__ = ["OpenedTables", "open_tables", "open_or_create", "on_object_storage",
           "maintenance_connection", "INDEX_CACHE_BYTES", "METADATA_CACHE_BYTES"]

# LanceDB caches opened indexes and table metadata (manifests, fragment footers) per process,
# by default up to 6 GB and 1 GB. A store gets a new table version on every write, so under a
# steady stream of writes those caches only fill; these bounds keep a long-running server's
# memory flat while holding every index of a store of a few hundred thousand memories.
INDEX_CACHE_BYTES = 128 * 2**20
METADATA_CACHE_BYTES = 32 * 2**20


@dataclass
class OpenedTables:
    """A store's connection and tables, as found on disk."""

    db: lancedb.AsyncConnection
    session: lancedb.Session
    memories: AsyncTable
    links: AsyncTable
    journal: AsyncTable
    uses: AsyncTable
    passages: AsyncTable
    embedding_model: str  # as stored ("" when the store names none)
    dimension: int
    row_versions: bool  # the memories' rows carry the versions that changed them
    leases: AsyncTable | None = None  # on object storage: the maintenance lease (see `lease`)


def on_object_storage(uri: str) -> bool:
    """Whether `uri` names a store on object storage (s3://, gs://, az://...): neither a local
    folder nor LanceDB Cloud (db://)."""
    return "://" in uri and not uri.lower().startswith(("db://", "memory://", "file://"))


async def open_tables(
    uri: str,
    *,
    dimension: int,
    storage_options: dict[str, str] | None,
    consistency: timedelta,
    embedding_model: str,
) -> OpenedTables:
    """Connect to `uri` and open (creating if needed) the five tables; new tables' vectors
    get `dimension` and `embedding_model`, existing ones keep theirs."""
    session = lancedb.Session(index_cache_size_bytes=INDEX_CACHE_BYTES,
                              metadata_cache_size_bytes=METADATA_CACHE_BYTES)
    shared = on_object_storage(uri)
    remote = uri.lower().startswith("db://")
    options = dict(storage_options or {})
    cloud: dict[str, str] = {}
    if remote:  # LanceDB Cloud takes its key, region and host as arguments of their own
        cloud = {k: options.pop(k) for k in ("api_key", "region", "host_override")
                 if k in options}
    db = await lancedb.connect_async(
        uri, read_consistency_interval=None if shared else consistency,
        storage_options=options or None, session=session, **cloud,
    )
    memories = await open_or_create(
        db, MEMORIES, memories_schema(dimension, embedding_model), remote=remote
    )
    links = await open_or_create(db, LINKS, links_schema(), remote=remote)
    journal = await open_or_create(db, JOURNAL, journal_schema(), remote=remote)
    uses = await open_or_create(db, USES, uses_schema(), remote=remote)
    passages = await open_or_create(
        db, PASSAGES, passages_schema(dimension, embedding_model), remote=remote
    )
    memories_meta = await memories.schema()
    stored_model, stored_dim = vector_model(memories_meta, dimension)
    return OpenedTables(
        db, session, memories, links, journal, uses, passages, embedding_model=stored_model,
        dimension=stored_dim,
        row_versions=ROW_VERSIONS_KEY.encode() in (memories_meta.metadata or {}),
        leases=await open_leases(db) if shared else None,
    )


async def maintenance_connection(
    uri: str, storage_options: dict[str, str] | None
) -> lancedb.AsyncConnection:
    """A second connection to a store on object storage, for its maintenance (see `upkeep`),
    with caches of its own, small: it reads manifests and rewrites files, it searches nothing."""
    session = lancedb.Session(index_cache_size_bytes=INDEX_CACHE_BYTES // 8,
                              metadata_cache_size_bytes=METADATA_CACHE_BYTES // 4)
    return await lancedb.connect_async(uri, storage_options=storage_options, session=session)


async def open_or_create(
    db: lancedb.AsyncConnection, name: str, schema: pa.Schema, *, remote: bool
) -> AsyncTable:
    """Open a table, creating it with `schema` when absent — with stable row ids, and their
    versions, unless on LanceDB Cloud; refuse newer schema versions."""
    try:
        table = await db.open_table(name)
    except (ValueError, FileNotFoundError):
        try:
            if remote:
                table = await db.create_table(name, schema=schema, exist_ok=True)
            else:
                table = await db.create_table(
                    name,
                    schema=schema.with_metadata({**schema.metadata, ROW_VERSIONS_KEY: "1"}),
                    storage_options={"new_table_enable_stable_row_ids": "true"},
                    exist_ok=True,
                )
        except RuntimeError as exc:
            # Another process created it at the same moment (on object storage LanceDB
            # reports the race as a commit conflict): open what it made.
            if "conflict" not in str(exc).lower() and "preempted" not in str(exc).lower():
                raise
            table = await db.open_table(name)
    meta = (await table.schema()).metadata or {}
    version = meta.get(b"habitus.schema_version", SCHEMA_VERSION.encode()).decode()
    if int(version) > int(SCHEMA_VERSION):
        raise StoreError(
            f"table {name!r} has schema version {version}, newer than this habitus "
            f"understands ({SCHEMA_VERSION}); upgrade habitus"
        )
    return table
