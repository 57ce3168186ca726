"""The row cache (`store/rows.py`) on a real store: a search meeting a memory again reads
nothing, and no answer is ever stale — after this process's updates and deletes, after
another handle's writes, and for a read that raced a change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from habitus.store import Store
from habitus.store.rows import ROW_OVERHEAD, RowCache

from .test_store import row
from .test_vectors import open_store, rows, unit

pytestmark = pytest.mark.anyio

COLUMNS = ["id", "content", "importance", "vector"]


async def both_legs(store: Store, query: np.ndarray, words: str) -> tuple[list, list]:
    """What each leg returns, the vectors as lists (comparable)."""
    where = store.m.is_null("deleted_at")
    vector = await store.vector_search(query, where, 5, columns=COLUMNS, scopes=None)
    lexical = await store.lexical_search(words, where, 5, columns=COLUMNS)
    return tuple([{**r, "vector": np.asarray(r["vector"]).tolist()} for r in leg]
                 for leg in (vector, lexical))


async def test_a_memory_met_again_is_not_read_again(db_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = await open_store(db_path)
    try:
        await store.add_memories(rows(unit(rng, 40), 0, "global"))
        query = unit(rng, 1)[0]
        first = await both_legs(store, query, "note 7")
        misses = store.rows.misses
        again = await both_legs(store, query, "note 7")
        assert store.rows.misses == misses, "everything came from the cache"
        assert store.rows.hits > 0
        assert again == first
        # Callers may change what they get; the cache keeps its own copy.
        assert [r["content"] for r in first[1]][0] == "note 7"
        store.rows.lookup(store.m.is_null("deleted_at").sql, ["id", "content", "importance"],
                          ["m00007"])[0]["m00007"]["content"] = "changed by a caller"
        assert (await both_legs(store, query, "note 7")) == first
    finally:
        await store.close()


async def test_updates_deletes_and_other_handles_are_never_served_stale(db_path: Path) -> None:
    rng = np.random.default_rng(2)
    store, other = await open_store(db_path), await open_store(db_path)
    try:
        vectors = unit(rng, 30)
        await store.add_memories(rows(vectors, 0, "global"))
        target, where = vectors[4], store.m.is_null("deleted_at")

        async def best() -> dict:
            return (await store.vector_search(target, where, 1, columns=COLUMNS))[0]

        assert (await best())["importance"] == 0.5
        # This process's own append keeps the cache; its update clears it.
        await store.add_memories(rows(unit(rng, 1), 100, "global"))
        await store.update_memories(store.m.eq("id", "m00004"), {"importance": 0.9})
        assert (await best())["importance"] == pytest.approx(0.9)
        # Another handle's update and delete are seen on the next search.
        await other.update_memories(other.m.eq("id", "m00004"), {"content": "rewritten"})
        assert (await best())["content"] == "rewritten"
        await other.update_memories(other.m.eq("id", "m00004"),
                                    {"deleted_at": row(0)["created_at"]})
        assert (await best())["id"] != "m00004"
        found = await store.lexical_search("rewritten", where, 5, columns=COLUMNS)
        assert [r["id"] for r in found] == []
        await store.delete_memories(store.m.eq("id", "m00005"))
        assert "m00005" not in [
            r["id"] for r in await store.vector_search(vectors[5], where, 3, columns=COLUMNS)]
    finally:
        await other.close()
        await store.close()


def test_a_read_that_raced_a_clear_is_not_kept() -> None:
    cache = RowCache()
    generation = cache.generation
    cache.clear()  # a write landed while the read was under way
    cache.keep("f", ["id"], ["a"], [{"id": "a"}], generation)
    assert len(cache) == 0
    cache.keep("f", ["id"], ["a", "b"], [{"id": "a"}], cache.generation)
    known, missing = cache.lookup("f", ["id"], ["a", "b", "c"])
    assert known == {"a": {"id": "a"}, "b": None} and missing == ["c"]
    # Another filter or other columns are other questions.
    assert cache.lookup("g", ["id"], ["a"])[1] == ["a"]
    assert cache.lookup("f", ["id", "content"], ["a"])[1] == ["a"]


def test_the_cache_stays_within_its_bound_dropping_the_least_recently_used() -> None:
    cache = RowCache(max_chars=10 * (ROW_OVERHEAD + 100))
    for i in range(30):
        cache.keep("f", ["id"], [f"m{i}"], [{"id": f"m{i}", "content": "x" * 100}],
                   cache.generation)
        cache.lookup("f", ["id"], ["m0"])  # kept in use
    assert len(cache) == 10
    known, _ = cache.lookup("f", ["id"], ["m0", "m1", "m29"])
    assert set(known) == {"m0", "m29"}
