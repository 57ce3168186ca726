"""The row cache (`store/rows.py`) on a real store: a search meeting a memory again reads
nothing, and no answer is ever stale — after this process's updates and deletes, after
another handle's writes, and for a read that raced a change."""

from __future__ import annotations

from pathlib import Path

import lancedb
import numpy as np
import pytest

from habitus.store import Store
from habitus.store.predicates import Predicate
from habitus.store.rows import ROW_OVERHEAD, RowCache

from .test_store import row
from .test_vectors import open_store, rows, unit

pytestmark = pytest.mark.anyio

COLUMNS = ["id", "content", "importance", "vector"]


async def both_legs(store: Store, query: np.ndarray, words: str) -> tuple[list, list]:
    """What each leg returns, the vectors as lists (comparable)."""
    where = store.where.memories.is_null("deleted_at")
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
        misses = store._rows.misses
        again = await both_legs(store, query, "note 7")
        assert store._rows.misses == misses, "everything came from the cache"
        assert store._rows.hits > 0
        assert again == first
        # Callers may change what they get; the cache keeps its own copy.
        assert [r["content"] for r in first[1]][0] == "note 7"
        store._rows.lookup(store.where.memories.is_null("deleted_at"),
                           ["id", "content", "importance"],
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
        target, where = vectors[4], store.where.memories.is_null("deleted_at")

        async def best() -> dict:
            return (await store.vector_search(target, where, 1, columns=COLUMNS))[0]

        assert (await best())["importance"] == 0.5
        # This process's own append keeps the cache; its update clears it.
        await store.add_memories(rows(unit(rng, 1), 100, "global"))
        await store.update_memories(store.where.memories.eq("id", "m00004"), {"importance": 0.9})
        assert (await best())["importance"] == pytest.approx(0.9)
        # Another handle's update and delete are seen on the next search.
        await other.update_memories(other.where.memories.eq("id", "m00004"),
                                    {"content": "rewritten"})
        assert (await best())["content"] == "rewritten"
        await other.update_memories(other.where.memories.eq("id", "m00004"),
                                    {"deleted_at": row(0)["created_at"]})
        assert (await best())["id"] != "m00004"
        found = await store.lexical_search("rewritten", where, 5, columns=COLUMNS)
        assert [r["id"] for r in found] == []
        await store.delete_memories(store.where.memories.eq("id", "m00005"))
        assert "m00005" not in [
            r["id"] for r in await store.vector_search(vectors[5], where, 3, columns=COLUMNS)]
    finally:
        await other.close()
        await store.close()


F, G = Predicate("f"), Predicate("g")  # filters without a Python form


@pytest.mark.fast
def test_a_read_that_raced_a_clear_or_a_forget_is_not_kept() -> None:
    cache = RowCache()
    generation = cache.generation
    cache.clear()  # a write landed while the read was under way
    cache.keep(F, ["id"], ["a"], [{"id": "a"}], generation)
    assert len(cache) == 0
    generation = cache.generation
    cache.forget(["z"])
    cache.keep(F, ["id"], ["a"], [{"id": "a"}], generation)
    assert len(cache) == 0
    cache.keep(F, ["id"], ["a", "b"], [{"id": "a"}], cache.generation)
    known, missing = cache.lookup(F, ["id"], ["a", "b", "c"])
    assert known == {"a": {"id": "a"}, "b": None} and missing == ["c"]
    # Another filter or other columns are other questions.
    assert cache.lookup(G, ["id"], ["a"])[1] == ["a"]
    assert cache.lookup(F, ["id", "content"], ["a"])[1] == ["a"]
    cache.forget(["a"])
    assert cache.lookup(F, ["id"], ["a", "b"]) == ({"b": None}, ["a"])


@pytest.mark.fast
def test_the_cache_stays_within_its_bound_dropping_the_least_recently_used() -> None:
    cache = RowCache(max_chars=10 * (ROW_OVERHEAD + 100))
    for i in range(30):
        cache.keep(F, ["id"], [f"m{i}"], [{"id": f"m{i}", "content": "x" * 100}],
                   cache.generation)
        cache.lookup(F, ["id"], ["m0"])  # kept in use
    assert len(cache) == 10
    known, _ = cache.lookup(F, ["id"], ["m0", "m1", "m29"])
    assert set(known) == {"m0", "m29"}
    cache.forget(["m0"])  # forgetting what was dropped, or kept, keeps the count right
    cache.forget(["m1"])
    assert len(cache) == 9 and cache.nbytes == 9 * (ROW_OVERHEAD + 100)


async def test_new_rows_are_answered_as_a_read_would_without_reading(db_path: Path) -> None:
    """This process's new rows are kept whole at commit: a filtered read of them (by a write's
    duplicate check, by a search) reads nothing and returns what a read returns."""
    rng = np.random.default_rng(4)
    store, other = await open_store(db_path), await open_store(db_path)
    try:
        fresh = rows(unit(rng, 6), 0, "repo:a")
        fresh[2]["deleted_at"] = fresh[2]["created_at"]
        fresh[3]["importance"] = 0.7  # float32 in the table
        await store.add_memories(fresh)
        ids = [r["id"] for r in fresh]
        m = store.where.memories
        where = m.is_null("deleted_at") & m.isin("scope", ["repo:a", "global"])
        columns = ["id", "kind", "content", "importance", "tags", "created_at", "metadata"]
        misses = store._rows.misses
        cached = await store.fetch(ids, where, columns)
        assert store._rows.misses == misses, "nothing was read"
        assert cached == await other.fetch(ids, where, columns)
        assert "m00002" not in cached and cached["m00003"]["importance"] != 0.7
        # A filter the Python form cannot judge is read.
        await store.fetch(ids, store.where.memories.ge("importance", 0.6), columns)
        assert store._rows.misses == misses + len(ids)
    finally:
        await other.close()
        await store.close()


async def test_a_change_forgets_only_the_rows_it_changed(db_path: Path) -> None:
    """With row versions, an update (this process's or another's) forgets the rows it
    changed, and a compaction forgets nothing."""
    rng = np.random.default_rng(6)
    store, other = await open_store(db_path), await open_store(db_path)
    try:
        where, columns = store.where.memories.is_null("deleted_at"), ["id", "content", "importance"]
        await store.lexical_search("note", where, 1, columns=["id"])  # the caches are loaded
        await store.add_memories(rows(unit(rng, 20), 0, "global"))
        ids = [f"m{i:05d}" for i in range(20)]
        await store.fetch(ids, where, columns)
        assert store._rows.misses == 0
        await store.update_memories(store.where.memories.eq("id", "m00004"), {"content": "mine"})
        await other.update_memories(other.where.memories.eq("id", "m00005"), {"content": "theirs"})
        await store.compact()
        await store.lexical_search("note", where, 1, columns=["id"])  # catches up first
        misses = store._rows.misses
        seen = await store.fetch(ids, where, columns)
        assert store._rows.misses == misses + 2
        assert (seen["m00004"]["content"], seen["m00005"]["content"]) == ("mine", "theirs")
        assert seen == await other.fetch(ids, where, columns)
    finally:
        await other.close()
        await store.close()


async def test_a_store_without_row_versions_clears_on_change(db_path: Path) -> None:
    """Stores made before row versions were kept still never serve a stale row."""
    schema = Store.__init__.__globals__["memories_schema"](16, "t")
    db = await lancedb.connect_async(str(db_path))
    await db.create_table("memories", schema=schema)
    store, other = await open_store(db_path), await open_store(db_path)
    try:
        assert not store._vectors.row_versions
        rng = np.random.default_rng(8)
        await store.add_memories(rows(unit(rng, 10), 0, "global"))
        ids, where = [f"m{i:05d}" for i in range(10)], store.where.memories.is_null("deleted_at")
        await store.fetch(ids, where, ["id", "content"])
        await store.update_memories(store.where.memories.eq("id", "m00001"), {"content": "mine"})
        await other.update_memories(other.where.memories.eq("id", "m00002"), {"content": "theirs"})
        await store.lexical_search("note", where, 1, columns=["id"])
        seen = await store.fetch(ids, where, ["id", "content"])
        assert (seen["m00001"]["content"], seen["m00002"]["content"]) == ("mine", "theirs")
    finally:
        await other.close()
        await store.close()


async def test_a_warmed_store_answers_its_first_searches_from_memory(db_path: Path) -> None:
    """A server reads every memory into the row cache as it starts, when they all fit; what
    another handle changes afterwards is still seen."""
    rng = np.random.default_rng(9)
    writer = await open_store(db_path)
    await writer.add_memories(rows(unit(rng, 30), 0, "global"))
    store = await open_store(db_path)
    try:
        assert await store.warm_rows() == 30
        ids, where = [f"m{i:05d}" for i in range(30)], store.where.memories.is_null("deleted_at")
        columns = ["id", "content", "importance", "created_at"]
        await writer.update_memories(writer.where.memories.eq("id", "m00003"),
                                     {"content": "changed"})
        await store.lexical_search("note", where, 1, columns=["id"])  # catches up first
        misses = store._rows.misses
        seen = await store.fetch(ids, where, columns)
        assert store._rows.misses == misses + 1, "only the row changed since was read"
        assert seen == await writer.fetch(ids, where, columns)
        assert seen["m00003"]["content"] == "changed"
        store._rows.clear()
        store._rows.max_chars = 5 * ROW_OVERHEAD  # thirty rows do not fit: none are read
        assert await store.warm_rows() == 0 and len(store._rows) == 0
    finally:
        await writer.close()
        await store.close()
