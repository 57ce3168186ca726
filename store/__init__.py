"""LanceDB storage for habitus: tables, safe predicates and the per-process writer."""

from .database import Store
from .predicates import Predicate, Where
from .schema import SCHEMA_VERSION

__all__ = ["Store", "Predicate", "Where", "SCHEMA_VERSION"]
