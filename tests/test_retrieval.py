"""Recall on coding memories: identifiers, paths, error strings, conventions, typos, time,
neighbour windows, near-copies, filters and token budgets — real LanceDB, real embedder."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habitus.core.models import CallContext, NewMemory
from habitus.core.recall.ranking import Candidate, Weights, fuse
from habitus.core.text.terms import embedding_text, identifier_parts, search_text, with_tags

pytestmark = pytest.mark.anyio

SCOPE = "acme-app"
NOW = datetime.now(UTC)

CODING = [
    "getUserName returns None when the session cookie has expired; fixed by refreshing first",
    "The user name shown in the header comes from the profile service, not from auth",
    "parse_config_file reads TOML since v2; YAML configs must be converted",
    "Server settings live in src/server/config.py and are loaded once at start-up",
    "ModuleNotFoundError: No module named 'yaml' in CI: add pyyaml to the dev extras",
    "Tests run with `just test`; never call pytest directly because of the env setup",
    "This repo uses Postgres 15 for the main database and SQLite for tests",
    "Commit messages follow Conventional Commits: feat:, fix:, chore:",
    "The deploy script needs AWS_PROFILE=prod exported before it runs",
    "Use ruff format, not black; the line length is 100",
    "Frontend state lives in a zustand store under web/src/state",
    "Rate limiting is done in nginx, the app does not throttle requests",
]

# (query, a phrase of the memory that must come first)
QUERIES = [
    ("getUserName", "getUserName returns None"),
    ("parse config", "parse_config_file"),
    ("config.py", "src/server/config.py"),
    ("No module named 'yaml'", "ModuleNotFoundError"),
    ("ModuleNotFoundError yaml", "ModuleNotFoundError"),
    ("how do we run the tests", "Tests run with `just test`"),
    ("which database version", "Postgres 15"),
    ("postgress", "Postgres 15"),  # one-letter typo
    ("comit message convention", "Conventional Commits"),  # typo
    ("code formatter", "ruff format"),
    ("where is the frontend state", "zustand"),
]


async def remember_all(service: Any, texts: list[str], **kw: Any) -> list[str]:
    items = [NewMemory(content=t, scope=SCOPE, **kw) for t in texts]
    return [r.id for r in await service.remember_many(items)]


async def test_coding_memories_are_found_first(service: Any) -> None:
    await remember_all(service, CODING)
    misses = []
    for query, expected in QUERIES:
        result = await service.recall(query, scope=SCOPE, limit=5)
        top = result.memories[0].content if result.memories else ""
        if expected not in top:
            misses.append((query, top))
    assert not misses
    # Split identifiers are found by their words (here second to a memory saying "user name").
    result = await service.recall("user name", scope=SCOPE, limit=5)
    assert any("getUserName" in m.content for m in result.memories[:2])


async def test_exact_identifier_outranks_its_split_words(service: Any) -> None:
    await remember_all(service, CODING)
    result = await service.recall("getUserName", scope=SCOPE, limit=3, legs=("lexical",))
    assert result.search == "lexical"
    assert "getUserName" in result.memories[0].content
    result = await service.recall("user name header", scope=SCOPE, limit=3)
    assert "header" in result.memories[0].content


async def test_each_leg_can_run_alone(service: Any) -> None:
    await remember_all(service, CODING)
    assert (await service.recall("postgres", scope=SCOPE, legs=("lexical",))).search == "lexical"
    vector = await service.recall("relational database", scope=SCOPE, legs=("vector",))
    assert vector.search == "vector" and "Postgres" in vector.memories[0].content
    assert (await service.recall("postgres", scope=SCOPE)).search == "hybrid"


async def test_filters_are_pushed_into_the_search(service: Any) -> None:
    await remember_all(service, CODING[:6])
    await service.remember_many(
        [
            NewMemory(
                content="getUserName was renamed to get_display_name",
                kind="episodic",
                tags=["refactor"],
                scope=SCOPE,
            )
        ]
    )
    result = await service.recall("getUserName", scope=SCOPE, kinds=["episodic"])
    assert [m.kind for m in result.memories] == ["episodic"]
    result = await service.recall("getUserName", scope=SCOPE, tags=["refactor"])
    assert len(result.memories) == 1 and "renamed" in result.memories[0].content


async def test_a_named_period_favours_memories_of_that_time(service: Any) -> None:
    await service.remember_many(
        [
            NewMemory(
                content="Fixed the flaky login test by mocking the clock",
                kind="episodic",
                scope=SCOPE,
                occurred_at=NOW - timedelta(days=20),
            ),
            NewMemory(
                content="Fixed the flaky upload test by waiting for the worker",
                kind="episodic",
                scope=SCOPE,
                occurred_at=NOW - timedelta(days=1),
            ),
        ]
    )
    result = await service.recall("which flaky test did I fix yesterday", scope=SCOPE, limit=2)
    assert "upload" in result.memories[0].content
    result = await service.recall(
        "which flaky test did I fix", scope=SCOPE, limit=2, since=NOW - timedelta(days=30)
    )
    assert len(result.memories) == 2


async def test_episodes_carry_their_neighbours(service: Any) -> None:
    ctx = CallContext(project_scope=SCOPE, session="s-1")
    turns = [
        ("Ann", "Which queue should the billing worker use?"),
        ("Bob", "The slow one, it retries for a day."),
        ("Ann", "Thanks, noted."),
    ]
    items = [
        NewMemory(
            content=t,
            kind="episodic",
            scope=SCOPE,
            metadata={"speaker": s},
            occurred_at=NOW - timedelta(minutes=10 - i),
        )
        for i, (s, t) in enumerate(turns)
    ]
    ids = [r.id for r in await service.remember_many(items[:2], ctx=ctx)]
    # A later single write joins the stored session: both windows are extended.
    ids += [(await service.remember_many(items[2:], ctx=ctx))[0].id]
    rows = {r["id"]: r for r in await service.store.get_memories(ids)}
    assert "Ann: Which queue" in rows[ids[1]]["search_text"]
    assert "Ann: Thanks, noted." in rows[ids[1]]["search_text"]
    assert "Bob: The slow one" in rows[ids[2]]["search_text"]
    # The answer is found by the question's words, which only its neighbour holds.
    result = await service.recall("billing worker queue", scope=SCOPE, limit=3, legs=("lexical",))
    assert ids[1] in [m.id for m in result.memories[:2]]


async def test_near_copies_do_not_fill_the_top(service: Any) -> None:
    copies = [f"Build failed: cannot find module lodash (run {i})" for i in range(5)]
    await remember_all(service, copies, kind="episodic")
    await remember_all(
        service, ["Build failed on Windows because of path length limits"], kind="episodic"
    )
    result = await service.recall("build failed", scope=SCOPE, limit=3)
    assert any("Windows" in m.content for m in result.memories[:3])


async def test_token_budget_returns_whole_memories(service: Any) -> None:
    await remember_all(service, CODING)
    full = await service.recall("tests database config", scope=SCOPE, limit=10)
    budget = sum(m.tokens for m in full.memories[:3])
    result = await service.recall(
        "tests database config", scope=SCOPE, limit=10, token_budget=budget
    )
    assert result.tokens_used <= budget
    assert result.tokens_used == sum(m.tokens for m in result.memories)
    assert [m.id for m in result.memories[:3]] == [m.id for m in full.memories[:3]]
    assert result.omitted >= 1


@pytest.mark.fast
def test_index_views() -> None:
    text = search_text(
        "call getUserName in src/server/config.py",
        ["auth"],
        {"speaker": "Ann"},
        ["Bob: earlier turn"],
    )
    for piece in ("get User Name", "config.py", "auth", "Ann", "Bob: earlier turn"):
        assert piece in text
    assert embedding_text("hello", {"speaker": "Ann"}) == "Ann: hello"
    assert embedding_text("hello", {"habitus": {"x": 1}}) == "hello"
    assert with_tags("a\nb", ["b", "c"]) == "a\nb\nc"


@pytest.mark.fast
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "_./-:éß", max_size=40))
def test_plain_words_left_unsplit_are_exactly_those_a_split_leaves_whole(word: str) -> None:
    """The search text skips splitting plain words; it must add exactly the parts a full
    split of every token adds."""
    parts = [" ".join(p) for t in re.findall(r"[A-Za-z0-9_./\\:-]+", word)
             if len(p := identifier_parts(t)) > 1]
    text = search_text(word)
    for piece in parts:
        assert piece in text.split("\n")[1]
    if not parts and "/" not in word:
        assert text == word


@pytest.mark.fast
def test_score_fusion_keeps_strong_lexical_matches() -> None:
    def row(i: str, **kw: Any) -> dict[str, Any]:
        return {"id": i, "created_at": NOW, "updated_at": NOW, "importance": 0.5, **kw}

    lexical = [row("a", _score=10.0), row("b", _score=2.0)]
    vector = [row("b", _distance=0.5), row("c", _distance=0.55), row("a", _distance=0.9)]
    ranked = fuse(lexical, vector, now=NOW)
    assert [c.row["id"] for c in ranked][0] == "a"
    rrf = fuse(lexical, vector, now=NOW, weights=Weights(method="rrf", vector=1.0))
    assert isinstance(rrf[0], Candidate) and {c.row["id"] for c in rrf} == {"a", "b", "c"}


@pytest.mark.fast
def test_a_memorys_own_words_outweigh_its_neighbours() -> None:
    """Two equal BM25 matches: the one whose own text holds the query's words ranks first."""
    def row(i: str, content: str) -> dict[str, Any]:
        return {"id": i, "content": content, "created_at": NOW, "updated_at": NOW,
                "importance": 0.5, "_score": 5.0}

    lexical = [row("neighbour", "Thanks, noted."),
               row("own", "The billing worker uses the slow queue")]
    ranked = fuse(lexical, [], now=NOW, query="which queue does the billing worker take")
    assert [c.row["id"] for c in ranked] == ["own", "neighbour"]
    assert ranked[0].parts["own_words"] > 0.5 and ranked[1].parts["own_words"] == 0.0
    plain = fuse(lexical, [], now=NOW, query="billing queue", weights=Weights(own_words=0.0))
    assert plain[0].score == plain[1].score
