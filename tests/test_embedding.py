"""The MiniLM embedder on the real model: vectors, ordering, truncation, laziness and registry."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from habitus.base.errors import EmbedderUnavailable, InvalidInput
from habitus.core.embedding.embedders import (
    Embedder,
    MiniLMEmbedder,
    embed_one,
    embedder_names,
    load_embedder,
    preload,
)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    """One loaded embedder shared by the tests that only read from it."""
    e = MiniLMEmbedder()
    e.load()
    return e


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))  # rows are unit-length


@pytest.mark.fast
def test_shape_dtype_and_unit_rows(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["hello world", "", "def add(a, b): return a + b"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dimension == 384 and embedder.model_id == "minilm-l6-v2-int8"
    assert isinstance(embedder, Embedder)


@pytest.mark.fast
def test_empty_input_gives_empty_array_without_loading() -> None:
    e = MiniLMEmbedder()
    vectors = e.embed([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32
    assert not e.loaded


@pytest.mark.fast
def test_a_single_string_is_rejected(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(InvalidInput):
        embedder.embed("not a list")


@pytest.mark.fast
def test_order_is_preserved_across_length_sorted_batches(embedder: MiniLMEmbedder) -> None:
    texts = [
        "a much longer sentence about configuring the continuous integration pipeline for the repo",
        "short",
        "uv is the package manager",
        "",
        "the database lives in the user's data directory and is compacted in the background",
        "ruff",
        "tests run with pytest",
    ]
    one_by_one = np.stack([embed_one(embedder, t) for t in texts])
    small_batches = MiniLMEmbedder(batch_size=2)
    small_batches._runtime = embedder._runtime  # share the loaded model; only batching differs
    for batched in (embedder.embed(texts), small_batches.embed(texts)):
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


@pytest.mark.fast
def test_paraphrases_are_closer_than_unrelated_texts(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            "the test suite runs with pytest",
            "we run our tests using pytest",
            "the cat sat on the mat",
        ]
    )
    assert cosine(a, b) > 0.7
    assert cosine(a, b) > cosine(a, c) + 0.4
    assert cosine(a, b) > cosine(b, c) + 0.4


@pytest.mark.fast
def test_long_text_is_truncated_at_256_tokens(embedder: MiniLMEmbedder) -> None:
    long_text = " ".join(f"word{i}" for i in range(3000))
    head, with_tail = embedder.embed([long_text, long_text + " and a completely different ending"])
    np.testing.assert_allclose(np.linalg.norm(head), 1.0, atol=1e-5)
    np.testing.assert_allclose(head, with_tail, atol=1e-6)  # the tail is past the cut


@pytest.mark.fast
def test_registry() -> None:
    assert load_embedder("none") is None
    for name in ("minilm", "default", " MiniLM "):
        e = load_embedder(name)
        assert isinstance(e, MiniLMEmbedder) and not e.loaded
    assert isinstance(load_embedder(), MiniLMEmbedder)
    assert set(embedder_names()) >= {"minilm", "default", "none"}
    with pytest.raises(InvalidInput, match="minilm") as info:
        load_embedder("word2vec")
    assert "none" in str(info.value)


@pytest.mark.fast
def test_a_preloaded_model_is_what_the_next_load_takes() -> None:
    """`preload` starts the model loading in the background; the next `load_embedder` of that
    name takes it (loaded, or loading), the one after builds a fresh one. Other names, and
    "none", are left alone."""
    preload(" Default ")
    preload("none")
    preload("word2vec")
    taken = load_embedder("minilm")
    assert isinstance(taken, MiniLMEmbedder)
    deadline = time.monotonic() + 60
    while not taken.loaded and time.monotonic() < deadline:  # loaded by the background thread
        time.sleep(0.05)
    assert taken.loaded and taken.embed(["ok"]).shape == (1, 384)
    again = load_embedder("minilm")
    assert again is not taken and not again.loaded
    assert load_embedder("none") is None


@pytest.mark.fast
def test_concurrent_load_builds_one_runtime() -> None:
    e = MiniLMEmbedder()
    assert not e.loaded
    threads = [threading.Thread(target=e.load) for _ in range(4)]
    for t in threads:
        t.start()
    runtime_seen = []
    for t in threads:
        t.join()
        runtime_seen.append(e._runtime)
    assert e.loaded and all(r is runtime_seen[0] for r in runtime_seen)
    assert e.embed(["ok"]).shape == (1, 384)


@pytest.mark.fast
def test_missing_or_corrupt_model_raises_embedder_unavailable(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable, match="lexical search still works"):
        MiniLMEmbedder(model_path=tmp_path / "missing.onnx").load()
    corrupt = tmp_path / "model.onnx"
    corrupt.write_bytes(b"not an onnx model")
    e = MiniLMEmbedder(model_path=corrupt)
    with pytest.raises(EmbedderUnavailable, match="model"):
        e.embed(["hello"])
    assert not e.loaded


def test_import_and_construction_load_nothing_and_print_nothing() -> None:
    probe = (
        "import sys\n"
        "from habitus.core.embedding.embedders import load_embedder\n"
        "e = load_embedder()\n"
        "assert not e.loaded\n"
        "assert 'onnxruntime' not in sys.modules and 'tokenizers' not in sys.modules\n"
        "e.embed(['hello'])\n"
        "assert e.loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # stdout belongs to the MCP stdio protocol
