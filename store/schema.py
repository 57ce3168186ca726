"""Table schemas of a habitus store and the version that names them.

Column names used anywhere in a predicate come from these schemas only (see `predicates`).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "SCHEMA_VERSION",
    "MEMORIES",
    "LINKS",
    "JOURNAL",
    "USES",
    "PASSAGES",
    "memories_schema",
    "passages_schema",
    "links_schema",
    "journal_schema",
    "uses_schema",
    "vector_model",
    "VECTOR_MODEL_KEY",
    "VECTOR_DIM_KEY",
    "ROW_VERSIONS_KEY",
]

SCHEMA_VERSION = "1"
MEMORIES = "memories"
LINKS = "links"
JOURNAL = "journal"
USES = "uses"
PASSAGES = "passages"

_TS = pa.timestamp("us", tz="UTC")
# Field metadata of `memories.vector`: the model that made the vectors and their dimension.
VECTOR_MODEL_KEY = "habitus.embedding_model"
VECTOR_DIM_KEY = "habitus.dimension"
# Schema metadata of tables made with stable row ids: each row then carries the versions that
# created and last changed it (`_row_created_at_version`, `_row_last_updated_at_version`),
# through updates and compactions. Stores made before have none.
ROW_VERSIONS_KEY = "habitus.row_versions"


def _meta(table: str, **extra: str) -> dict[str, str]:
    return {"habitus.table": table, "habitus.schema_version": SCHEMA_VERSION, **extra}


def memories_schema(dimension: int, embedding_model: str) -> pa.Schema:
    """Schema of `memories`; `vector` is null when no embedder was available for a row."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("content", pa.string(), nullable=False),
            # Content plus split identifiers, paths and tags: the column the lexical index reads.
            pa.field("search_text", pa.string()),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("scope", pa.string(), nullable=False),
            pa.field("importance", pa.float32()),
            pa.field("client", pa.string()),
            pa.field("session", pa.string()),
            pa.field("tool", pa.string()),
            pa.field("created_at", _TS, nullable=False),
            pa.field("updated_at", _TS, nullable=False),
            pa.field("access_count", pa.int32()),
            pa.field("last_access", _TS),
            pa.field("content_hash", pa.string()),
            pa.field("deleted_at", _TS),
            pa.field("valid_until", _TS),
            pa.field("derived_from", pa.list_(pa.string())),
            pa.field("metadata", pa.string()),
            pa.field("embedding_model", pa.string()),
            # The model is also named on the field itself: a reindex swaps the column (and
            # LanceDB 0.40 cannot rewrite a table's schema metadata), see `vector_model`.
            pa.field(
                "vector",
                pa.list_(pa.float32(), dimension),
                metadata={VECTOR_MODEL_KEY: embedding_model, VECTOR_DIM_KEY: str(dimension)},
            ),
        ],
        metadata=_meta(MEMORIES, embedding_model=embedding_model, dimension=str(dimension)),
    )


def passages_schema(dimension: int, embedding_model: str) -> pa.Schema:
    """Schema of `passages`: the vectors of a long memory's text past the embedder's window
    (its first window is the memory's own `vector`), one row each, id `<memory>:<n>`."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("memory", pa.string(), nullable=False),
            pa.field("scope", pa.string(), nullable=False),
            pa.field("content_hash", pa.string()),  # the memory's
            pa.field("embedding_model", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dimension)),
        ],
        metadata=_meta(PASSAGES, embedding_model=embedding_model, dimension=str(dimension)),
    )


def links_schema() -> pa.Schema:
    """Schema of `links`: typed, weighted edges between memories."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("target", pa.string(), nullable=False),
            pa.field("relation", pa.string(), nullable=False),
            pa.field("weight", pa.float32()),
            pa.field("note", pa.string()),
            pa.field("created_at", _TS, nullable=False),
        ],
        metadata=_meta(LINKS),
    )


def journal_schema() -> pa.Schema:
    """Schema of `journal`: one append-only row per operation, the basis of audit and undo."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("op", pa.string(), nullable=False),
            pa.field("ids", pa.list_(pa.string())),
            pa.field("at", _TS, nullable=False),
            pa.field("client", pa.string()),
            pa.field("session", pa.string()),
            pa.field("detail", pa.string()),
        ],
        metadata=_meta(JOURNAL),
    )


def uses_schema() -> pa.Schema:
    """Schema of `uses`: one append-only row per memory a recall returned (recall never
    rewrites a memory's row, so it cannot change what the next recall finds)."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("memory", pa.string(), nullable=False),
            pa.field("at", _TS, nullable=False),
        ],
        metadata=_meta(USES),
    )


def vector_model(schema: pa.Schema, default_dimension: int = 384) -> tuple[str, int]:
    """(model id, dimension) of the vectors in a `memories` schema.

    The dimension is the `vector` column's own; the model is named on the field (written by
    new stores and by `habitus reindex`), else in the schema metadata of stores made before.
    A schema-metadata model whose dimension disagrees with the column is not trusted ("").
    """
    meta = schema.metadata or {}
    try:
        field = schema.field("vector")
    except KeyError:
        return "", default_dimension
    dimension = getattr(field.type, "list_size", None) or default_dimension
    fmeta = field.metadata or {}
    if VECTOR_MODEL_KEY.encode() in fmeta:
        return fmeta[VECTOR_MODEL_KEY.encode()].decode(), dimension
    model = meta.get(b"embedding_model", b"").decode()
    stated = meta.get(b"dimension", str(dimension).encode()).decode()
    return (model if stated == str(dimension) else ""), dimension
