"""Opt-in embedders: fastembed, sentence-transformers and any OpenAI-compatible endpoint.

Chosen by name with `load_embedder` (`--embedder` / `HABITUS_EMBEDDER`):

- ``fastembed[:MODEL]`` — any model of fastembed's catalogue (default `BAAI/bge-small-en-v1.5`);
  needs the `fastembed` extra and, on first use, internet to fetch the weights.
- ``sentence-transformers[:MODEL]`` (alias ``st``) — needs the `sentence-transformers` extra
  (torch); default `sentence-transformers/all-MiniLM-L6-v2`.
- ``openai[:MODEL]`` — an OpenAI-compatible `/v1/embeddings` endpoint: OpenAI, Ollama,
  LM Studio, vLLM, llama.cpp… Configured from the environment: `HABITUS_EMBED_URL` (default
  `https://api.openai.com/v1`), `HABITUS_EMBED_MODEL` (default `text-embedding-3-small`),
  `HABITUS_EMBED_API_KEY` (else `OPENAI_API_KEY`), optional `HABITUS_EMBED_DIM`.
  ``ollama[:MODEL]`` is the same with `http://localhost:11434/v1` and `nomic-embed-text`.

Each embedder's `model_id` names the backend and the model, so vectors of different models are
never mixed: the store records it, and `habitus reindex` re-embeds when it changes. Nothing is
imported or downloaded until the first `embed()` (or the first read of `dimension`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np

from habitus.base.errors import EmbedderUnavailable, InvalidInput

__all__ = ["FastEmbedEmbedder", "SentenceTransformerEmbedder", "OpenAIEmbedder", "normalise_rows"]

log = logging.getLogger("habitus.embedding")

_LEXICAL_ONLY = "lexical search still works; semantic recall is off until this is fixed"


def normalise_rows(vectors: Any) -> np.ndarray:
    """float32 rows scaled to unit length (cosine = dot product)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class _Lazy:
    """Shared plumbing: a model loaded once under a lock; dimension known after loading."""

    backend = ""

    def __init__(self, model: str, dimension: int | None = None) -> None:
        if not model:
            raise InvalidInput(f"the {self.backend} embedder needs a model name")
        self.model = model
        self.model_id = f"{self.backend}:{model}"
        self._dimension = dimension
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r})"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def load(self) -> None:
        self._ensure()

    def _ensure(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check(self, vectors: np.ndarray, count: int) -> np.ndarray:
        if vectors.shape[0] != count:
            raise EmbedderUnavailable(
                f"{self.model_id} returned {vectors.shape[0]} vectors for {count} texts"
            )
        if self._dimension is None:
            self._dimension = int(vectors.shape[1])
        elif vectors.shape[1] != self._dimension:
            raise EmbedderUnavailable(
                f"{self.model_id} returned {vectors.shape[1]}-d vectors, expected {self._dimension}"
            )
        return vectors


class FastEmbedEmbedder(_Lazy):
    """A fastembed `TextEmbedding` model (ONNX, no torch)."""

    backend = "fastembed"

    def __init__(
        self, model: str = "BAAI/bge-small-en-v1.5", *, threads: int | None = None
    ) -> None:
        super().__init__(model)
        self._threads = threads

    def _load(self) -> Any:
        try:
            from fastembed import TextEmbedding
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"the fastembed embedder needs the fastembed package "
                f"(pip install 'habitus[fastembed]') — {_LEXICAL_ONLY}"
            ) from exc
        try:
            return TextEmbedding(model_name=self.model, threads=self._threads)
        except Exception as exc:
            raise EmbedderUnavailable(
                f"cannot load fastembed model {self.model}: {exc} — {_LEXICAL_ONLY}"
            ) from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not _accept(texts):
            return np.empty((0, self._dimension or 0), dtype=np.float32)
        model = self._ensure()
        return self._check(normalise_rows(list(model.embed(list(texts)))), len(texts))


def _accept(texts: Sequence[str]) -> bool:
    """False for an empty batch; refuses a bare string, which would embed its characters."""
    if isinstance(texts, str):
        raise InvalidInput("embed() takes a sequence of texts, not a single string")
    return bool(texts)


class SentenceTransformerEmbedder(_Lazy):
    """A sentence-transformers model (torch)."""

    backend = "sentence-transformers"

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2") -> None:
        super().__init__(model)

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                "the sentence-transformers embedder needs the sentence-transformers package "
                f"(pip install 'habitus[sentence-transformers]') — {_LEXICAL_ONLY}"
            ) from exc
        try:
            return SentenceTransformer(self.model, device="cpu")
        except Exception as exc:
            raise EmbedderUnavailable(f"cannot load {self.model}: {exc} — {_LEXICAL_ONLY}") from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not _accept(texts):
            return np.empty((0, self._dimension or 0), dtype=np.float32)
        model = self._ensure()
        vectors = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return self._check(normalise_rows(vectors), len(texts))


class OpenAIEmbedder(_Lazy):
    """An OpenAI-compatible `/embeddings` endpoint over HTTP (stdlib only, no SDK)."""

    backend = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        dimension: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        backend: str = "openai",
    ) -> None:
        env = os.environ
        self.backend = backend
        super().__init__(
            model or env.get("HABITUS_EMBED_MODEL") or "text-embedding-3-small",
            dimension or (int(env["HABITUS_EMBED_DIM"]) if env.get("HABITUS_EMBED_DIM") else None),
        )
        self.url = (url or env.get("HABITUS_EMBED_URL") or "https://api.openai.com/v1").rstrip("/")
        self._key = (
            api_key
            if api_key is not None
            else (env.get("HABITUS_EMBED_API_KEY") or env.get("OPENAI_API_KEY") or "")
        )
        self._batch_size = batch_size
        self._timeout = timeout

    def _load(self) -> Any:
        return True  # nothing to load; the endpoint is checked by the first request

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of texts, not a single string")
        if not texts:
            return np.empty((0, self._dimension or 0), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self._batch_size):
            out.append(self._request(list(texts[start : start + self._batch_size])))
        return self._check(normalise_rows(np.concatenate(out)), len(texts))

    def _request(self, batch: list[str]) -> np.ndarray:
        body = json.dumps({"model": self.model, "input": batch}).encode()
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.url}/embeddings", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise EmbedderUnavailable(
                f"{self.url}/embeddings answered {exc.code}: {detail} — {_LEXICAL_ONLY}"
            ) from exc
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"cannot reach the embedding endpoint {self.url}: {exc} — {_LEXICAL_ONLY}"
            ) from exc
        try:
            items = sorted(payload["data"], key=lambda d: d.get("index", 0))
            return np.asarray([d["embedding"] for d in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"{self.url}/embeddings returned no embeddings ({str(payload)[:200]})"
            ) from exc


def build(kind: str, model: str) -> Any:
    """The embedder for a `kind[:model]` name, or None when `kind` is not one of these."""
    if kind == "fastembed":
        return FastEmbedEmbedder(model) if model else FastEmbedEmbedder()
    if kind in ("sentence-transformers", "st"):
        return SentenceTransformerEmbedder(model) if model else SentenceTransformerEmbedder()
    if kind == "openai":
        return OpenAIEmbedder(model or None)
    if kind == "ollama":
        return OpenAIEmbedder(
            model or os.environ.get("HABITUS_EMBED_MODEL") or "nomic-embed-text",
            url=os.environ.get("HABITUS_EMBED_URL") or "http://localhost:11434/v1",
            backend="ollama",
        )
    return None


KINDS = ("fastembed", "sentence-transformers", "st", "openai", "ollama")
