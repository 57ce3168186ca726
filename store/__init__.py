"""LanceDB storage for habitus: tables, safe predicates and the per-process writer."""

from .lazy_imports import defer_namespace_client

defer_namespace_client()  # before lancedb is imported

from .database import Store  # noqa: E402
from .predicates import Predicate, Where  # noqa: E402
from .schema import SCHEMA_VERSION  # noqa: E402

__all__ = ["Store", "Predicate", "Where", "SCHEMA_VERSION"]
