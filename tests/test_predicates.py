"""A predicate's Python form (`Predicate.matches`) agrees with LanceDB on every row it judges —
the row cache answers filtered reads from it — with NULLs, timestamps, lists and negation."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import lancedb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from habitus.store import Store
from habitus.store.predicates import Predicate, Where

from .test_store import row

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(hours=h, microseconds=m) for h, m in ((0, 0), (0, 1), (5, 0), (30, 7))]
WORDS = ["alpha", "beta", "gamma", "it's", ""]
KINDS = ["semantic", "episodic", "procedural"]
TAGS = ["db", "ci", "ops"]


def stored_rows(n: int = 40) -> list[dict[str, Any]]:
    rng = random.Random(3)
    return [
        row(
            f"m{i:03d}",
            " ".join(rng.sample(WORDS, 2)),
            scope=rng.choice(["global", "repo:a", "repo:b"]),
            kind=rng.choice(KINDS),
            tags=rng.sample(TAGS, rng.randint(0, 2)),
            importance=rng.choice([0.25, 0.5, 0.7]),
            access_count=rng.randint(0, 3),
            created_at=rng.choice(TIMES),
            deleted_at=rng.choice([None, None, *TIMES]),
            session=rng.choice(["", "s1", "s2"]),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[dict], Where]]:
    """The rows in a real store, as LanceDB returns them (what the row cache holds)."""
    path = tmp_path_factory.mktemp("predicates") / "store"

    async def write() -> Where:
        store = await Store.open(str(path), dimension=4, embedding_model="t")
        try:
            await store.add_memories(stored_rows())
            return store.where.memories
        finally:
            await store.close()

    where = anyio.run(write)
    memories = lancedb.connect(str(path)).open_table("memories")
    read = memories.search().limit(None).to_list()
    yield memories, read, where


def predicates(m: Where) -> st.SearchStrategy[Predicate]:
    times = st.sampled_from(TIMES + [t.replace(tzinfo=None) for t in TIMES])
    leaves = st.one_of(
        st.sampled_from(KINDS + ["x"]).map(lambda v: m.eq("kind", v)),
        st.sampled_from(["global", "repo:a"]).map(lambda v: m.ne("scope", v)),
        st.integers(0, 3).map(lambda v: m.ge("access_count", v)),
        st.integers(0, 3).map(lambda v: m.lt("access_count", v)),
        times.map(lambda v: m.lt("created_at", v)),
        times.map(lambda v: m.ge("deleted_at", v)),
        st.lists(st.sampled_from(["m001", "m007", "m039", "zz"]), max_size=3).map(
            lambda v: m.isin("id", v)),
        st.lists(st.sampled_from(["s1", "s2", ""]), max_size=2).map(
            lambda v: m.isin("session", v)),
        st.sampled_from(["deleted_at", "valid_until", "last_access"]).map(m.is_null),
        st.sampled_from(["deleted_at", "session"]).map(m.not_null),
        st.sampled_from(WORDS).map(lambda v: m.contains("content", v)),
        st.lists(st.sampled_from(TAGS + ["none"]), max_size=2).map(
            lambda v: m.has_any("tags", v)),
        st.sampled_from([0.5, 0.7]).map(lambda v: m.ge("importance", v)),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
            st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
            inner.map(lambda p: ~p),
        ),
        max_leaves=6,
    )


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_python_form_agrees_with_lancedb(table: tuple[Any, list[dict], Where],
                                         data: st.DataObject) -> None:
    memories, read, m = table
    predicate = data.draw(predicates(m))
    kept = {r["id"] for r in memories.search().where(predicate.sql).limit(None)
            .select(["id"]).to_list()}
    for r in read:
        verdict = predicate.matches(r)
        if verdict is not None:
            assert verdict == (r["id"] in kept), (predicate, r["id"])


@pytest.mark.fast
def test_what_the_python_form_cannot_judge_is_left_to_lancedb(
    table: tuple[Any, list[dict], Where],
) -> None:
    _, read, m = table
    some = read[0]
    assert m.ge("importance", 0.5).matches(some) is None  # float32 against a float64 literal
    assert (~m.ge("importance", 0.5)).matches(some) is None
    assert Predicate("kind = 'semantic'").matches(some) is None  # no Python form
    assert m.eq("kind", some["kind"]).matches({"id": "no kind"}) is None  # column not held
    assert m.isin("id", []).matches(some) is False
