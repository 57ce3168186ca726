"""The store on a real LanceDB directory: escaping, batching, compaction, several handles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from habitus.store import Store
from habitus.store.schema import SCHEMA_VERSION, memories_schema

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


def row(i: int | str, content: str = "note", scope: str = "global", **extra: Any) -> dict[str, Any]:
    base = {
        "id": str(i),
        "kind": "semantic",
        "content": content,
        "search_text": content,
        "tags": [],
        "scope": scope,
        "importance": 0.5,
        "client": "",
        "session": "",
        "tool": "",
        "created_at": NOW,
        "updated_at": NOW,
        "access_count": 0,
        "last_access": None,
        "content_hash": str(i),
        "deleted_at": None,
        "valid_until": None,
        "derived_from": [],
        "metadata": "{}",
        "embedding_model": "t",
        "vector": [1.0, 0.0, 0.0, 0.0],
    }
    return base | extra


async def open_store(path: Path) -> Store:
    return await Store.open(str(path), dimension=4, embedding_model="t")


async def test_hostile_values_are_escaped(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        await store.add_memories([row("a'b", tags=["x' OR '1'='1"]), row("c")])
        m = store.where.memories
        assert [r["id"] for r in await store.scan(m.eq("id", "a'b"))] == ["a'b"]
        assert await store.scan(m.eq("id", "x' OR '1'='1")) == []
        assert len(await store.scan(m.has_any("tags", ["x' OR '1'='1"]))) == 1
        await store.delete_memories(m.eq("id", "c' OR '1'='1"))
        assert await store.count() == 2
    finally:
        await store.close()


async def test_unknown_columns_are_refused(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        with pytest.raises(ValueError, match="unknown column"):
            store.where.memories.eq("id = id OR 1", "x")
        with pytest.raises(ValueError, match="unknown column"):
            await store.update_memories(store.where.memories.eq("id", "x"), {"evil; DROP": 1})
    finally:
        await store.close()


async def test_concurrent_writes_are_batched_into_few_commits(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        await asyncio.gather(*(store.add_memories([row(i)]) for i in range(200)))
        assert await store.count() == 200
        assert store.commit_stats()["requests"] == 200
        assert store.commit_stats()["commits"] < 20
    finally:
        await store.close()


async def test_compaction_keeps_fragments_bounded(db_path: Path) -> None:
    store = await open_store(db_path)
    store._writer._compact_after = 16
    try:
        for i in range(100):  # sequential single writes: the worst case for LanceDB
            await store.add_memories([row(i, f"memory number {i}")])
        # At most the commits between two compactions and those made while one ran.
        assert await store.fragments() <= 2 * 16
        assert store.commit_stats()["compactions"] >= 2
        assert len(await store.lexical_search("number", None, 200)) == 100
    finally:
        await store.close()


async def test_the_store_reports_what_its_bounded_caches_hold(db_path: Path) -> None:
    """Every write makes a table version whose metadata LanceDB caches; the store bounds those
    caches (`bench/bench_fuzz.py` shows them level off) and reports their size."""
    from habitus.store.opening import INDEX_CACHE_BYTES, METADATA_CACHE_BYTES

    store = await open_store(db_path)
    store._writer._compact_after = 16
    try:
        for i in range(150):
            await store.add_memories([row(i, f"memory number {i}")])
            await store.lexical_search(f"number {i}", None, 5)
        used = store.cache_bytes()
        assert 0 < used <= INDEX_CACHE_BYTES + METADATA_CACHE_BYTES + store._vectors.nbytes
    finally:
        await store.close()


async def test_failed_write_is_reported_and_writer_keeps_going(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        with pytest.raises(Exception):  # noqa: B017 - LanceDB's error type for a bad row
            await store.add_memories([row("bad", vector=[1.0, 2.0])])
        await store.add_memories([row("good")])
        assert [r["id"] for r in await store.scan(None)] == ["good"]
    finally:
        await store.close()


async def test_two_handles_see_each_others_writes(db_path: Path) -> None:
    first, second = await open_store(db_path), await open_store(db_path)
    try:
        await first.add_memories([row("from-first")])
        assert [r["id"] for r in await second.scan(None)] == ["from-first"]
        await second.add_memories([row("from-second")])
        assert {r["id"] for r in await first.scan(None)} == {"from-first", "from-second"}
    finally:
        await first.close()
        await second.close()


async def test_search_legs_and_filters(db_path: Path) -> None:
    store = await open_store(db_path)
    try:
        await store.add_memories(
            [
                row("p", "parse the config file", scope="repo:a", vector=[1.0, 0.0, 0.0, 0.0]),
                row("q", "deploy to production", scope="repo:b", vector=[0.0, 1.0, 0.0, 0.0]),
                row("r", "no vector here", vector=None),
            ]
        )
        hits = await store.lexical_search("config", None, 10)
        assert [h["id"] for h in hits] == ["p"]
        near = await store.vector_search(np.array([0.0, 1.0, 0.0, 0.0]), None, 10)
        assert [h["id"] for h in near][0] == "q" and "r" not in {h["id"] for h in near}
        only_a = await store.vector_search(
            np.array([0.0, 1.0, 0.0, 0.0]), store.where.memories.eq("scope", "repo:a"), 10
        )
        assert [h["id"] for h in only_a] == ["p"]
        old = await store.scan(store.where.memories.lt("created_at", NOW + timedelta(seconds=1)))
        assert len(old) == 3
    finally:
        await store.close()


async def test_reopen_keeps_model_identity(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.add_memories([row(1)])
    await store.close()
    again = await Store.open(str(db_path), dimension=8, embedding_model="other")
    try:
        assert (again.embedding_model, again.dimension) == ("t", 4)
        assert await again.count() == 1
    finally:
        await again.close()


@pytest.mark.fast
def test_schema_names_its_version() -> None:
    meta = memories_schema(384, "m").metadata
    assert meta[b"habitus.schema_version"] == SCHEMA_VERSION.encode()
    assert meta[b"embedding_model"] == b"m"
