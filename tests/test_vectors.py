"""In-memory vector search (`store/vectors.py`) against LanceDB's own exact search, on a real
store: the same answers, own writes without a reload, other handles' writes seen at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from habitus.store import Store
from habitus.store import vectors as vectors_module
from habitus.store.sketch import Sketch
from habitus.store.vectors import VectorCache

from .test_store import row

pytestmark = pytest.mark.anyio

DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def rows(vectors: np.ndarray, start: int, scope: str) -> list[dict[str, Any]]:
    return [row(f"m{start + i:05d}", f"note {start + i}", scope=scope, vector=v.tolist(),
                content_hash=f"h{start + i}") for i, v in enumerate(vectors)]


async def open_store(path: Path) -> Store:
    return await Store.open(str(path), dimension=DIM, embedding_model="t")


async def lance_exact(store: Store, query: np.ndarray, where: Any, k: int) -> list[str]:
    q = store._memories.query().nearest_to(query).distance_type("cosine").where(where.sql)
    return [r["id"] for r in await q.limit(k).bypass_vector_index().select(["id"]).to_list()]


async def test_same_answers_as_lancedb_exact_search(db_path: Path) -> None:
    rng = np.random.default_rng(3)
    store = await open_store(db_path)
    try:
        await store.add_memories(rows(unit(rng, 300), 0, "repo:a"))
        await store.add_memories(rows(unit(rng, 200), 300, "repo:b"))
        m = store.where.memories
        dead = [f"m{i:05d}" for i in range(0, 300, 3)]
        await store.update_memories(m.isin("id", dead), {"deleted_at": row(0)["created_at"]})
        where = m.is_null("deleted_at") & m.eq("scope", "repo:a")
        for query in unit(rng, 20):
            cached = await store.vector_search(query, where, 10, columns=["id"],
                                               scopes=["repo:a"])
            assert [r["id"] for r in cached] == await lance_exact(store, query, where, 10)
            assert all(r["id"] not in dead for r in cached)
            assert cached[0]["_distance"] == pytest.approx(
                1.0 - float(np.dot(query, np.asarray(
                    (await store.get_memories([cached[0]["id"]]))[0]["vector"]))), abs=1e-5)
        # A scope holding a minority of the rows is searched alone: the same answers.
        where_b = m.is_null("deleted_at") & m.eq("scope", "repo:b")
        for query in unit(rng, 10):
            cached = await store.vector_search(query, where_b, 10, columns=["id"],
                                               scopes=["repo:b"])
            assert [r["id"] for r in cached] == await lance_exact(store, query, where_b, 10)
        # A filter that keeps a handful of rows: still the exact answer (LanceDB applies it).
        rare = where & m.isin("id", ["m00001", "m00002", "m00004"])
        query = unit(rng, 1)[0]
        found = await store.vector_search(query, rare, 10, columns=["id", "vector"],
                                          scopes=["repo:a"])
        assert [r["id"] for r in found] == await lance_exact(store, query, rare, 10)
        assert all(len(r["vector"]) == DIM for r in found)
    finally:
        await store.close()


async def test_own_writes_need_no_reload_and_other_handles_are_seen(db_path: Path) -> None:
    """Appends of this process cost no read; its updates and another handle's appends cost a
    read of the rows they changed (the rows carry their versions); rows deleted elsewhere, a
    read of the ids."""
    rng = np.random.default_rng(5)
    store = await open_store(db_path)
    other = await open_store(db_path)
    reloads: list[int] = []
    partial: list[int] = []
    catch_up, catch_up_rows = store._vectors._catch_up, store._vectors._catch_up_rows

    async def counted(version: int) -> None:
        reloads.append(version)
        await catch_up(version)

    async def counted_rows(version: int) -> set[str] | None:
        partial.append(version)
        return await catch_up_rows(version)

    store._vectors._catch_up = counted  # type: ignore[method-assign]
    store._vectors._catch_up_rows = counted_rows  # type: ignore[method-assign]
    live = store.where.memories.is_null("deleted_at")
    try:
        assert store._vectors.row_versions
        await store.add_memories(rows(unit(rng, 50), 0, "global"))
        await store.vector_search(unit(rng, 1)[0], live, 5)
        first = len(reloads)
        for i in range(5):  # single writes and updates of this process
            await store.add_memories(rows(unit(rng, 1), 100 + i, "global"))
            await store.vector_search(unit(rng, 1)[0], live, 5)
        assert not partial, "own appends are applied without reading the table"
        await store.update_memories(store.where.memories.eq("id", "m00001"), {"importance": 0.9})
        await store.vector_search(unit(rng, 1)[0], live, 5)
        assert len(partial) == 1 and len(reloads) == first
        assert len(store._vectors) == 55

        target = unit(rng, 1)[0]
        await other.add_memories(rows(target[None, :], 900, "global"))
        found = await store.vector_search(target, live, 1)
        assert found[0]["id"] == "m00900", "another process's memory is found on the next call"
        assert len(partial) == 2 and len(reloads) == first

        await other.delete_memories(other.where.memories.eq("id", "m00900"))
        found = await store.vector_search(target, live, 1)
        assert found[0]["id"] != "m00900"
        assert store._vectors.vector_of("m00900") is None
        assert len(reloads) == first + 1, "rows deleted elsewhere: the ids are read again"
    finally:
        await other.close()
        await store.close()


async def test_every_content_hash_is_known_with_or_without_a_vector(db_path: Path) -> None:
    """The hashes that let a new memory skip the duplicate lookup cover rows without a vector
    and rows another handle wrote; a hash absent from the table is never reported."""
    rng = np.random.default_rng(3)
    first, second = await open_store(db_path), await open_store(db_path)
    try:
        await first.add_memories(rows(unit(rng, 3), 0, "global"))
        await first.add_memories([row("plain", "no vector here", content_hash="h-plain",
                                      vector=None, embedding_model="")])
        asked = ["h0", "h2", "h-plain", "h-absent"]
        assert await first.known_hashes(asked) == ["h0", "h2", "h-plain"]
        assert await second.known_hashes(asked) == ["h0", "h2", "h-plain"]
        await second.add_memories([row("later", "written by the other handle",
                                       content_hash="h-later", vector=None,
                                       embedding_model="")])
        assert await first.known_hashes(["h-later", "h-absent"]) == ["h-later"]
    finally:
        await first.close()
        await second.close()


@pytest.mark.fast
def test_a_threshold_search_over_many_rows_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `SKETCH_ABOVE` rows, a search for the rows at least as similar as a threshold
    scores in full only the rows the sketch cannot rule out: the same answer as scoring every
    row, after rows change and after the cache renumbers them."""
    monkeypatch.setattr(vectors_module, "SKETCH_ABOVE", 100)
    rng = np.random.default_rng(11)
    centres = unit(rng, 12)
    data = centres[rng.integers(0, 12, 3000)] + rng.normal(0, 0.25, (3000, DIM))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    cache = VectorCache(None, DIM, "t")  # type: ignore[arg-type]
    cache._sketch = Sketch(dimensions=4)  # leaves much out: the bounds must do the work
    cache.add(rows(data[:2000], 0, "repo:a") + rows(data[2000:], 2000, "repo:b"))

    def brute(query: np.ndarray, scope: str, at_least: float) -> list[str]:
        code = cache._codes[scope]
        live = [i for i in range(len(cache)) if cache._alive[i] and cache._scope_codes[i] == code]
        sims = {i: float(cache._matrix[i] @ query) for i in live}
        kept = sorted((i for i in live if sims[i] >= at_least), key=lambda i: -sims[i])
        return [cache._ids[i] for i in kept[:10]]

    def check() -> None:
        for query in list(unit(rng, 10)) + list(data[rng.integers(0, 3000, 10)]):
            for scope in ("repo:a", "repo:b"):
                for at_least in (0.3, 0.6, 0.9):
                    got = cache.nearest_many(query[None, :], [scope], 10, at_least)[0]
                    assert [i for i, _ in got] == brute(query, scope, at_least)
                    assert all(sim >= at_least for _, sim in got)

    check()
    assert 0 < cache._sketch.n <= 3000
    ruled_out = cache._sketch.bounds(data[0], None) < 0.9
    assert 0.5 < ruled_out.mean() < 1.0, "the bounds rule most rows out, never the row itself"
    moved = rows(unit(rng, 50), 0, "repo:a")  # fifty rows get new vectors
    cache.add(moved)
    check()
    cache._alive[:1600] = False  # most rows leave: the cache renumbers the rest
    cache._compact()
    check()
