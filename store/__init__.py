"""LanceDB storage for habitus: the `Store` (its tables, writer and caches its own), safe
predicates, and the shapes its operations take and return."""

from .lazy_imports import defer_namespace_client

defer_namespace_client()  # before lancedb is imported

from .database import Store  # noqa: E402
from .erasure import Rewrite  # noqa: E402
from .predicates import Predicate, TablePredicates, Where  # noqa: E402
from .reembedding import EmbeddingColumns  # noqa: E402
from .schema import SCHEMA_VERSION  # noqa: E402

__all__ = ["Store", "Predicate", "Where", "TablePredicates", "Rewrite", "EmbeddingColumns",
           "SCHEMA_VERSION"]
