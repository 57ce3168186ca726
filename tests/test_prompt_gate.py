"""The prompt gate on a real store with the real embedder: a prompt gets the stored convention
or fix it is about even when the wording differs, and prompts about something else get
nothing. Cases come from the tuning set in bench/data/coding_prompts.json (never the held-out
sets), over a store holding all of its memories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from habitus.core.models import CallContext, NewMemory
from habitus.core.project.scope import detect_scope
from habitus.lifecycle.context import PROMPT_GATE, Gate, prompt_context, word_agreement
from habitus.lifecycle.events import parse_event
from habitus.lifecycle.handler import Lifecycle
from habitus.lifecycle.sessions import SessionState

SET = Path(__file__).resolve().parents[1] / "bench" / "data" / "coding_prompts.json"
MIGRATION = "how do I add a database migration for the users table?"
# The gate used before this one: the cosine alone, at 0.45.
COSINE_ONLY = Gate(bar=0.45, floor=0.45, words=0.0, near=0.0, lead=8, limit=3)

FOUND = [
    (MIGRATION, "py-alembic"),
    ("pytest can't import app again, ModuleNotFoundError", "py-modulenotfound"),
    ("set up black and isort for the project", "py-ruff"),
    ("postgres says sorry, too many clients already when the API starts", "py-pool"),
    ("install httpx as a dependency", "py-uv"),
    ("docker builds in github actions are super slow", "inf-gha-cache"),
]
NOTHING = [
    "ignore the lint warning in this file",
    "have you read Kafka's The Trial?",
    "the race condition in the search box: typing fast shows stale results",
    "migrate the blog posts from WordPress to Markdown files",
    "the users table in the admin dashboard should be sortable by email",
    "write a haiku about the autumn sea and its cold waves",
]


@pytest.fixture
async def coding_store(service: Any, tmp_path: Path) -> tuple[Any, CallContext, dict[str, str]]:
    """The tuning set's memories in the project scope of `tmp_path`; their ids by name."""
    memories = json.loads(SET.read_text("utf-8"))["memories"]
    ctx = CallContext(project_scope=detect_scope(tmp_path).id, client="pytest", source="hook")
    results = await service.remember_many([
        NewMemory(content=m["content"], kind=m["kind"], tags=m.get("tags", []))
        for m in memories], ctx=ctx)
    assert all(r.status == "created" and not r.supersedes for r in results)
    return service, ctx, {m["id"]: r.id for m, r in zip(memories, results, strict=True)}


async def _shown(service: Any, ctx: CallContext, prompt: str, gate: Gate = PROMPT_GATE
                 ) -> list[str]:
    hits = (await service.recall(prompt, limit=8, ctx=ctx)).memories
    state = SessionState("s", scope=ctx.project_scope)
    return (await prompt_context(hits, service.encoder, state, prompt, gate=gate)).ids


@pytest.mark.anyio
async def test_prompts_get_their_memory_and_unrelated_prompts_nothing(
    coding_store: tuple[Any, CallContext, dict[str, str]],
) -> None:
    service, ctx, ids = coding_store
    for prompt, name in FOUND:
        assert ids[name] in await _shown(service, ctx, prompt), prompt
    for prompt in NOTHING:
        assert await _shown(service, ctx, prompt) == [], prompt
    # The cosine alone misses the migration convention: the shared words are what find it.
    assert ids["py-alembic"] not in await _shown(service, ctx, MIGRATION, COSINE_ONLY)


@pytest.mark.anyio
async def test_the_hook_injects_the_migration_convention_but_not_the_prompts_own_words(
    coding_store: tuple[Any, CallContext, dict[str, str]], db_path: Path, tmp_path: Path,
) -> None:
    service, _, ids = coding_store
    lifecycle = Lifecycle(service, db=str(db_path))
    event = {"hook_event_name": "UserPromptSubmit", "session_id": "s-1", "cwd": str(tmp_path),
             "prompt": MIGRATION}
    answer = await lifecycle.handle(parse_event(event))
    assert answer is not None
    assert ids["py-alembic"] in answer["hookSpecificOutput"]["additionalContext"]
    # Asked again in the same session: already in the model's context, not shown twice.
    assert await lifecycle.handle(parse_event(event)) is None
    # A stated convention is stored, and not handed back to the prompt that stated it.
    said = {**event, "prompt": "from now on we always squash merge pull requests into main"}
    answer = await lifecycle.handle(parse_event(said))
    state = lifecycle.sessions.get("s-1")
    assert state is not None and state.created
    assert answer is None or state.created[-1] not in answer[
        "hookSpecificOutput"]["additionalContext"]


@pytest.mark.fast
def test_one_shared_word_is_not_agreement() -> None:
    from habitus.core.models import RecallHit

    def hit(content: str) -> RecallHit:
        return RecallHit(id=content[:8], kind="semantic", scope="s", content=content, score=1.0,
                         age="now", created_at="2024-01-01T00:00:00Z", importance=0.5,
                         tokens=10)

    hits = [hit("Convention: database migrations are written with alembic, never by hand"),
            hit("Integration tests need Postgres: docker compose up -d db first"),
            hit("Go: a DATA RACE in internal/buffer/ring.go, fixed with a sync.Mutex")]
    agreement = word_agreement(MIGRATION, hits)
    share, words = agreement[0]
    assert words == ["database", "migration"] and 0 < share < 1
    assert agreement[1] == (0.0, []) and agreement[2] == (0.0, [])
    one = word_agreement("the race condition in the search box", hits)
    assert one[2] == (0.0, ["race"])  # one word in common: counted as none
    assert word_agreement("TS says unknown is fine", [hit("tsconfig bans unknown")])[0][1] == [
        "ts", "unknown"]
    # A single capital is no word: "-D" and "big-O" would otherwise match whatever begins so.
    assert word_agreement("big-O of -D warnings", [hit("our debug output")])[0][1] == []
