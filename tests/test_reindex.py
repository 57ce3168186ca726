"""`habitus reindex`: re-embedding a real store online, resumably, without losing a memory.

Real LanceDB in tmp_path, the real MiniLM embedder, and the OpenAI-compatible HTTP embedder
pointed at a local stand-in for a remote service: a tiny HTTP server on 127.0.0.1 serving
`/v1/embeddings` with real MiniLM vectors cut to 256 dimensions (so its model is a different
one, with a different dimension).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from habitus.base.errors import EmbedderUnavailable
from habitus.core.config import Settings
from habitus.core.embedding.optional import OpenAIEmbedder
from habitus.core.maintenance.reindex import reindex
from habitus.core.models import NewMemory
from habitus.core.service import MemoryService
from habitus.store import Store

from .memtools import embedder as minilm

pytestmark = pytest.mark.anyio

SMALL_DIM = 256

# Distinct topics, and for each a query that shares no word with it (found by meaning only).
FACTS = [
    ("The cat sleeps on the warm windowsill every afternoon.", "feline napping spot"),
    ("Deployments to production run from the GitHub Actions release workflow.", "how do we ship"),
    ("PostgreSQL connection pool size is capped at twenty.", "database connections limit"),
    ("Alice prefers tabs over spaces for indentation.", "code formatting preference"),
    ("The office coffee machine is broken until Monday.", "espresso maker out of order"),
    ("Rust borrow checker errors are fixed by cloning the config.", "ownership compiler complaint"),
]
FILLER = [f"Meeting note {i}: reviewed ticket {1000 + i} about invoice rounding in module {i % 7}."
          for i in range(34)]


class _Embeddings(BaseHTTPRequestHandler):
    """`POST /v1/embeddings`: MiniLM vectors, first SMALL_DIM dimensions, renormalised."""

    mode = "ok"  # "ok" | "fail" | "slow" | "short"
    requests: list[int] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(len(body["input"]))
        if self.path != "/v1/embeddings" or self.mode == "fail":
            self._send(500, {"error": {"message": "model overloaded"}})
            return
        if self.mode == "slow":
            time.sleep(1.0)
        texts = body["input"] if self.mode != "short" else body["input"][:-1]
        vectors = minilm().embed(texts)[:, :SMALL_DIM]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()}
                for i, v in reversed(list(enumerate(vectors)))]  # out of order on purpose
        self._send(200, {"object": "list", "data": data, "model": body["model"]})

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    _Embeddings.mode, _Embeddings.requests = "ok", []
    monkeypatch.setenv("HABITUS_EMBED_URL", url)
    monkeypatch.delenv("HABITUS_EMBED_DIM", raising=False)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def _small(url: str, **kw: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder("minilm-256", url=url, api_key="test-key", **kw)


async def _build(path: Path, embedder: Any) -> tuple[MemoryService, dict[str, str]]:
    store = await Store.open(
        str(path),
        dimension=embedder.dimension if embedder else 384,
        embedding_model=embedder.model_id if embedder else "",
    )
    service = MemoryService(store, embedder, Settings(db=str(path), embedder="x"))
    results = await service.remember_many(
        [NewMemory(content=c) for c, _ in FACTS] + [NewMemory(content=c) for c in FILLER]
    )
    assert all(r.status == "created" for r in results)
    ids = {c: r.id for (c, _), r in zip(FACTS, results, strict=False)}
    return service, ids


async def _ids(store: Store) -> list[str]:
    return sorted(r["id"] for r in await store.scan(None, columns=["id"]))


async def _finds_by_meaning(service: MemoryService, ids: dict[str, str], legs: Any = None) -> str:
    """Every fact is the top hit of its word-disjoint query; returns the search mode."""
    mode = ""
    for content, query in FACTS:
        result = await service.recall(query, scope="all", limit=3, legs=legs)
        assert result.memories and result.memories[0].id == ids[content], (query, result.memories)
        mode = result.search
    return mode


async def test_none_store_reindexed_to_minilm_gets_hybrid_recall(tmp_path: Path) -> None:
    path = tmp_path / "store"
    service, ids = await _build(path, None)
    before = await _ids(service.store)
    assert await service.store.count(service.store.where.memories.not_null("vector")) == 0
    result = await reindex(service.store, minilm(), batch_size=16)
    await service.close()
    assert (result.from_model, result.to_model, result.dimension) == ("", minilm().model_id, 384)
    assert result.embedded == len(before) and result.swapped and result.ids_unchanged
    assert result.rows_before == result.rows_after == len(before)

    service = MemoryService(
        await Store.open(str(path)), minilm(), Settings(db=str(path), embedder="minilm")
    )
    try:
        assert (service.store.embedding_model, service.store.dimension) == (minilm().model_id, 384)
        assert await _ids(service.store) == before
        with_vector = service.store.where.memories.not_null("vector")
        assert await service.store.count(with_vector) == len(before)
        assert await _finds_by_meaning(service, ids) == "hybrid"
        assert await _finds_by_meaning(service, ids, legs=["vector"]) == "vector"
        journal = await service.store.read_journal(service.store.where.journal.eq("op", "reindex"))
        assert len(journal) == 1
        detail = json.loads(journal[0]["detail"])
        assert detail["to_model"] == minilm().model_id and detail["embedded"] == len(before)
    finally:
        await service.close()


async def test_minilm_store_reindexed_to_http_embedder_online(
    tmp_path: Path, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "store"
    old, ids = await _build(path, minilm())
    before = await _ids(old.store)
    assert await old.store.maybe_index_vectors(min_rows=0)  # an ANN index to carry over
    # Another process writing with the old model during the reindex.
    other = MemoryService(
        await Store.open(str(path), dimension=384, embedding_model=minilm().model_id),
        minilm(), Settings(db=str(path), embedder="minilm"),
    )
    new = _small(endpoint, batch_size=8)
    seen: list[tuple[int, int]] = []
    written: list[str] = []

    async def between_batches(done: int, total: int) -> None:
        seen.append((done, total))
        # Search keeps working on the old vectors, by meaning, while the new ones fill in.
        assert await _finds_by_meaning(old, ids, legs=["vector"]) == "vector"
        if len(seen) == 2:
            r = await other.remember("Bob waters the office ficus plant on Fridays.")
            written.append(r.id)

    try:
        result = await reindex(old.store, new, batch_size=10, on_batch=between_batches)
        assert len(seen) >= 4 and result.batches == len(seen)
        assert result.to_model == "openai:minilm-256" and result.dimension == SMALL_DIM
        assert result.rows_after == len(before) + 1 and set(before) <= set(await _ids(old.store))
        assert result.vector_index, "the ANN index is rebuilt on the new vectors"
        assert max(_Embeddings.requests) <= 8, "requests are batched by the embedder"

        # The old-model service falls back to lexical search, loudly.
        with caplog.at_level("ERROR", logger="habitus.core"):
            result_old = await old.recall("feline napping spot", scope="all")
        assert result_old.search == "lexical" and result_old.warnings
        assert "re-embedded" in caplog.text

        # The other process, still on the old model, writes after the swap: the memory is
        # kept (without a vector) and the next reindex run embeds it.
        late = await other.remember("Carol renews the TLS certificates every ninety days.")
        row = (await old.store.get_memories([late.id]))[0]
        assert row["vector"] is None
    finally:
        await other.close()
        await old.close()

    service = MemoryService(
        await Store.open(str(path)), _small(endpoint), Settings(db=str(path), embedder="openai")
    )
    try:
        assert (service.store.embedding_model, service.store.dimension) == (
            "openai:minilm-256", SMALL_DIM)
        again = await reindex(service.store, _small(endpoint))
        assert not again.swapped and again.repaired == 1 and again.embedded == 0
        rows = await service.store.scan(None, columns=["id", "vector", "embedding_model"])
        assert len(rows) == len(before) + 2
        assert all(len(r["vector"]) == SMALL_DIM for r in rows)
        assert {r["embedding_model"] for r in rows} == {"openai:minilm-256"}
        assert written[0] in {r["id"] for r in rows}
        assert await service.store.has_vector_index()
        assert await _finds_by_meaning(service, ids) == "hybrid"
        journal = await service.store.read_journal(service.store.where.journal.eq("op", "reindex"))
        assert len(journal) == 2
    finally:
        await service.close()

    # Opening with the old embedder now gives the loud lexical fallback.
    service = await MemoryService.open(Settings(db=str(path), embedder="minilm"))
    try:
        result = await service.recall("feline napping spot", scope="all")
        assert result.search == "lexical" and "vector search unavailable" in result.warnings[0]
    finally:
        await service.close()


async def test_interrupted_reindex_resumes(tmp_path: Path) -> None:
    path = tmp_path / "store"
    service, ids = await _build(path, None)
    before = await _ids(service.store)

    class Stop(Exception):
        pass

    async def crash(done: int, total: int) -> None:
        if done >= 20:
            raise Stop

    try:
        with pytest.raises(Stop):
            await reindex(service.store, minilm(), batch_size=10, on_batch=crash)
        # Still serving, on the old (here: no) vectors; the staged ones are kept.
        assert service.store.embedding_model == ""
        assert (await service.recall("cat windowsill", scope="all")).memories
        assert await service.store.count() == len(before)
        result = await reindex(service.store, minilm(), batch_size=10)
        assert result.resumed and result.embedded == len(before) - 20 and result.swapped
        assert await _ids(service.store) == before
        with_vector = service.store.where.memories.not_null("vector")
        assert await service.store.count(with_vector) == len(before)
        columns = await service.store.embedding_columns()
        assert columns.staged is None and not columns.unfinished_swap
    finally:
        await service.close()

    service = await MemoryService.open(Settings(db=str(path), embedder="minilm"))
    try:
        assert await _finds_by_meaning(service, ids) == "hybrid"
    finally:
        await service.close()


@pytest.mark.fast
def test_openai_embedder_batches_and_orders(endpoint: str) -> None:
    embedder = _small(endpoint, batch_size=4)
    texts = [c for c, _ in FACTS] + ["one more", "and another", "last"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (9, SMALL_DIM) and embedder.dimension == SMALL_DIM
    assert _Embeddings.requests == [4, 4, 1]
    expected = minilm().embed(texts)[:, :SMALL_DIM]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-5)


@pytest.mark.fast
def test_openai_embedder_errors_are_clear(endpoint: str) -> None:
    _Embeddings.mode = "fail"
    with pytest.raises(EmbedderUnavailable, match="answered 500.*model overloaded"):
        _small(endpoint).embed(["x"])
    _Embeddings.mode = "short"
    with pytest.raises(EmbedderUnavailable, match="returned 1 vectors for 2 texts"):
        _small(endpoint).embed(["x", "y"])
    _Embeddings.mode = "slow"
    started = time.monotonic()
    with pytest.raises(EmbedderUnavailable, match="cannot reach the embedding endpoint"):
        _small(endpoint, timeout=0.3).embed(["x"])
    assert time.monotonic() - started < 0.9
    with pytest.raises(EmbedderUnavailable, match="cannot reach"):
        OpenAIEmbedder("m", url="http://127.0.0.1:9/v1", timeout=1).embed(["x"])
