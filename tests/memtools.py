"""Helpers for the issue-5 tests: one loaded embedder per process, services on temp stores."""

from __future__ import annotations

from pathlib import Path

from habitus.core.config import Settings
from habitus.core.embedding.embedders import MiniLMEmbedder
from habitus.core.service import MemoryService
from habitus.store import Store

_EMBEDDER: MiniLMEmbedder | None = None


def embedder() -> MiniLMEmbedder:
    global _EMBEDDER
    if _EMBEDDER is None:
        _EMBEDDER = MiniLMEmbedder()
        _EMBEDDER.load()
    return _EMBEDDER


async def open_service(path: Path) -> MemoryService:
    """A real service on a real store at `path`, sharing the process's loaded embedder."""
    e = embedder()
    store = await Store.open(str(path), dimension=e.dimension, embedding_model=e.model_id)
    return MemoryService(store, e, Settings(db=str(path)))
