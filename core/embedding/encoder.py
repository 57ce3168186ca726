"""The store's embedder as the core uses it: texts to unit vectors off the event loop, and
vector search turned off (loudly, lexical search going on) when embedder and store disagree."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

import anyio

from habitus.base.errors import EmbedderUnavailable
from habitus.core.embedding.embedders import Embedder

if TYPE_CHECKING:
    import numpy as np

    from habitus.store import Store

__all__ = ["Encoder"]

log = logging.getLogger("habitus.core")

RECENT_QUERIES = 32


class Encoder:
    """Embeds for one store; `None` from `embed` means vector search is off (see `status`)."""

    def __init__(self, store: Store, embedder: Embedder | None, configured: str = "") -> None:
        self.store = store
        self.embedder = embedder
        self._configured = configured  # the embedder setting, "none" when turned off on purpose
        self._error: str | None = None if embedder else "no embedder configured"
        # The last few single texts embedded: a query is often embedded twice in a row (a
        # recall, then a hook measuring how close its hits are).
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def check_store(self, dimension: int) -> None:
        """Turn vector search off when the store was built with another model or dimension."""
        store, embedder = self.store, self.embedder
        if embedder and (store.embedding_model, store.dimension) != (embedder.model_id, dimension):
            self.disable(
                f"the store was built with {store.embedding_model or 'no model'} "
                f"({store.dimension}-d) but {embedder.model_id} ({dimension}-d) is configured"
            )

    @property
    def model_id(self) -> str:
        """The model new vectors come from ("" when vector search is off)."""
        return self.embedder.model_id if self.embedder else ""

    @property
    def status(self) -> str:
        """'ok', or why vector search is off."""
        return self._error or "ok"

    def warnings(self) -> list[str]:
        """What a search answer should say about the embedder (nothing when it works or was
        turned off on purpose)."""
        if self._error and self._configured != "none":
            return [f"vector search unavailable ({self._error}); results are lexical only"]
        return []

    def disable(self, reason: str) -> None:
        """Turn vector search off for this process, saying why."""
        log.error("vector search is off, lexical search only: %s", reason)
        self.embedder = None
        self._error = reason

    async def embed(self, texts: list[str]) -> np.ndarray | None:
        """Unit vectors of `texts`, one row each, computed in a worker thread; None when vector
        search is off (or turns off now)."""
        embedder = self.embedder
        if embedder is None or not texts:
            return None
        if embedder.model_id != self.store.embedding_model:  # re-embedded since (reindex)
            self.disable(
                f"the store was re-embedded with {self.store.embedding_model or 'no model'} "
                f"({self.store.dimension}-d) but {embedder.model_id} is configured"
            )
            return None
        if len(texts) == 1 and texts[0] in self._recent:
            self._recent.move_to_end(texts[0])
            return self._recent[texts[0]]
        try:
            vectors = await anyio.to_thread.run_sync(embedder.embed, texts)
        except EmbedderUnavailable as exc:
            self.disable(str(exc))
            return None
        if len(texts) == 1:
            self._recent[texts[0]] = vectors
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        return vectors

    async def embed_passages(
        self, texts: list[str]
    ) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """Each text's vector (its first window, as `embed` gives it) and the vectors of its
        passages past that window (none when it fits, or when the embedder gives no passages),
        in one embedding batch; None when vector search is off."""
        embedder = self.embedder
        split = getattr(embedder, "overflow", None)
        if embedder is None or not texts or split is None:
            vectors = await self.embed(texts)
            return None if vectors is None else (vectors, [vectors[:0]] * len(texts))
        try:
            pieces = await anyio.to_thread.run_sync(lambda: [split(t) for t in texts])
        except EmbedderUnavailable as exc:
            self.disable(str(exc))
            return None
        vectors = await self.embed(texts + [p for found in pieces for p in found])
        if vectors is None:
            return None
        passages, at = [], len(texts)
        for found in pieces:
            passages.append(vectors[at:at + len(found)])
            at += len(found)
        return vectors[:len(texts)], passages

    async def similarities(self, text: str, ids: list[str]) -> dict[str, float]:
        """The cosine similarity of `text` to each memory of `ids` whose vector the store holds
        in memory (none when vector search is off): a measure on an absolute scale, unlike a
        search's scores, read from the store's caches only."""
        query = await self.embed([text])
        if query is None:
            return {}
        return self.store.similarities(query[0], ids)

    async def reembedded(self) -> bool:
        """After a failure: was the store re-embedded by another process (`habitus reindex`)?
        If so vector search turns off here, so the caller can retry lexically."""
        if self.embedder is None or not await self.store.refresh_embedding():
            return False
        self.disable(
            f"the store was re-embedded with {self.store.embedding_model or 'no model'} "
            f"({self.store.dimension}-d) but {self.embedder.model_id} is configured; "
            "restart with that embedder"
        )
        return True
