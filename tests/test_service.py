"""The memory service on a real store with the real embedder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput, NotFound
from habitus.core.maintenance.transfer import export_jsonl, import_jsonl
from habitus.core.models import CallContext, NewMemory
from habitus.core.requests import LinkSpec
from habitus.core.service import MemoryService

pytestmark = pytest.mark.anyio


async def test_remember_then_recall_finds_it_first(
    service: MemoryService, ctx: CallContext
) -> None:
    await service.remember("The API server listens on port 8080 behind nginx", ctx=ctx)
    wanted = await service.remember("Run the test suite with `just test`; it needs Docker", ctx=ctx)
    await service.remember("Alice prefers tabs over spaces in Makefiles", ctx=ctx)
    found = await service.recall("how do I run the tests", ctx=ctx)
    assert found.memories[0].id == wanted.id
    hit = found.memories[0]
    assert hit.scope == ctx.project_scope and hit.kind == "semantic"
    assert hit.tokens > 0 and hit.age == "just now" and hit.score > 0
    assert found.search == "hybrid" and found.warnings == []


async def test_same_content_reinforces(service: MemoryService, ctx: CallContext) -> None:
    first = await service.remember("Use ruff for linting", tags=["lint"], importance=0.3, ctx=ctx)
    again = await service.remember(
        "  use ruff   for linting ", tags=["tools"], importance=0.8, ctx=ctx
    )
    assert again.status == "reinforced" and again.id == first.id
    memory = await service.get(first.id)
    assert memory.tags == ["lint", "tools"] and memory.importance == pytest.approx(0.8)
    assert memory.access_count == 1
    other_scope = await service.remember("Use ruff for linting", scope="global", ctx=ctx)
    assert other_scope.status == "created"
    assert (await service.stats()).memories == 2


async def test_remember_many_dedups_within_a_batch(
    service: MemoryService, ctx: CallContext
) -> None:
    results = await service.remember_many(
        [NewMemory(content="alpha"), NewMemory(content="beta"), NewMemory(content="Alpha")], ctx=ctx
    )
    assert [r.status for r in results] == ["created", "created", "reinforced"]
    assert results[0].id == results[2].id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content": ""}, "empty"),
        ({"content": "x" * 40_000}, "characters"),
        ({"content": "ok", "kind": "dream"}, "unknown kind"),
        ({"content": "ok", "importance": 2.0}, "importance"),
        ({"content": "ok", "tags": ["a\x00b"]}, "tag"),
        ({"content": "ok", "tags": [str(i) for i in range(40)]}, "at most"),
        ({"content": "ok", "scope": "bad scope!"}, "scope"),
        ({"content": "ok", "derived_from": ["nope"]}, "no live memory"),
    ],
)
async def test_remember_rejects_bad_input(
    service: MemoryService, ctx: CallContext, kwargs: dict, message: str
) -> None:
    with pytest.raises((InvalidInput, NotFound), match=message):
        await service.remember(**kwargs, ctx=ctx)
    assert (await service.stats()).memories == 0


async def test_recall_filters(service: MemoryService, ctx: CallContext) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    await service.remember(
        "deploy failed: disk full on build host",
        kind="episodic",
        tags=["deploy"],
        occurred_at=old,
        ctx=ctx,
    )
    await service.remember("deploys go through the release pipeline", tags=["deploy"], ctx=ctx)
    await service.remember("deploy conventions shared by every project", scope="global", ctx=ctx)
    await service.remember(
        "deploy notes of another repo", scope="repo:example.com/other/x", ctx=ctx
    )

    everything = await service.recall("deploy", ctx=ctx)
    assert {h.scope for h in everything.memories} == {ctx.project_scope, "global"}
    assert everything.scopes == [ctx.project_scope, "global"]
    assert len((await service.recall("deploy", scope="all", ctx=ctx)).memories) == 4
    episodic = await service.recall("deploy", kinds=["episodic"], ctx=ctx)
    assert [h.kind for h in episodic.memories] == ["episodic"]
    assert episodic.memories[0].age == "1 month ago"
    recent = await service.recall(
        "deploy", since=datetime.now(UTC) - timedelta(days=1), ctx=ctx
    )
    assert all(h.kind == "semantic" for h in recent.memories)
    before = await service.recall(
        "deploy", until=datetime.now(UTC) - timedelta(days=1), ctx=ctx
    )
    assert [h.kind for h in before.memories] == ["episodic"]
    tagged = await service.recall("deploy", tags=["deploy"], scope=ctx.project_scope, ctx=ctx)
    assert len(tagged.memories) == 2
    hostile = await service.recall("x' OR '1'='1", tags=["a' OR 'b"], ctx=ctx)
    assert hostile.memories == []


async def test_token_budget_keeps_whole_memories(service: MemoryService, ctx: CallContext) -> None:
    for i in range(6):
        await service.remember(
            f"Logging convention number {i}: " + "structured fields " * 20, ctx=ctx
        )
    full = await service.recall("logging convention", limit=6, ctx=ctx)
    per = full.memories[0].tokens
    budget = per * 2 + per // 2
    fitted = await service.recall("logging convention", limit=6, token_budget=budget, ctx=ctx)
    assert len(fitted.memories) == 2
    assert fitted.tokens_used <= budget
    assert fitted.tokens_used == sum(h.tokens for h in fitted.memories)
    assert fitted.omitted == 4


async def test_forget_soft_restore_and_purge(service: MemoryService, ctx: CallContext) -> None:
    keep = await service.remember("the staging database is postgres 15", ctx=ctx)
    drop = await service.remember("the staging database is mysql 5", ctx=ctx)
    gone = await service.forget([drop.id], ctx=ctx)
    assert gone.count == 1 and not gone.dry_run and not gone.purged
    assert [h.id for h in (await service.recall("staging database", ctx=ctx)).memories] == [keep.id]
    assert (await service.get(drop.id)).deleted
    assert await service.restore([drop.id], ctx=ctx) == [drop.id]
    assert len((await service.recall("staging database", ctx=ctx)).memories) == 2
    erased = await service.forget([drop.id], purge=True, ctx=ctx)
    assert erased.purged
    with pytest.raises(NotFound):
        await service.get(drop.id)
    with pytest.raises(NotFound):
        await service.forget(["no-such-id"], ctx=ctx)


async def test_forget_by_query_previews_first(service: MemoryService, ctx: CallContext) -> None:
    await service.remember("temporary note about the flaky CI job", ctx=ctx)
    await service.remember("unrelated: the logo is blue", ctx=ctx)
    preview = await service.forget(query="flaky CI", limit=1, ctx=ctx)
    assert preview.dry_run and preview.count == 1 and "flaky" in preview.previews[0]
    assert (await service.stats()).memories == 2
    done = await service.forget(query="flaky CI", limit=1, dry_run=False, ctx=ctx)
    assert not done.dry_run and (await service.stats()).memories == 1
    with pytest.raises(InvalidInput):
        await service.forget(ctx=ctx)


async def test_link_validates_and_merges(service: MemoryService, ctx: CallContext) -> None:
    a = await service.remember("we chose SQLite for the cache", ctx=ctx)
    b = await service.remember("the cache moved to Redis in March", ctx=ctx)
    first = await service.link(b.id, a.id, "supersedes", "Redis replaced SQLite", ctx=ctx)
    assert first.created
    again = await service.link(b.id, a.id, "supersedes", ctx=ctx)
    assert not again.created and again.note == "Redis replaced SQLite"
    assert len(await service.links_of(a.id)) == 1
    with pytest.raises(InvalidInput, match="itself"):
        await service.link(a.id, a.id, ctx=ctx)
    with pytest.raises(InvalidInput, match="unknown relation"):
        await service.link(a.id, b.id, "likes", ctx=ctx)
    with pytest.raises(NotFound):
        await service.link(a.id, "missing", ctx=ctx)


async def test_remember_with_links_and_sources(service: MemoryService, ctx: CallContext) -> None:
    a = await service.remember("error E1234 came from a stale lockfile", kind="episodic", ctx=ctx)
    b = await service.remember(
        "Delete the lockfile when E1234 appears",
        derived_from=[a.id],
        links=[LinkSpec(target=a.id, relation="example_of")],
        ctx=ctx,
    )
    assert b.links == [a.id, a.id]
    memory = await service.get(b.id)
    assert memory.derived_from == [a.id]
    assert {edge.relation for edge in await service.links_of(b.id)} == {
        "derived_from",
        "example_of",
    }


async def test_reflect_groups_near_duplicates_and_episodes(
    service: MemoryService, ctx: CallContext
) -> None:
    await service.remember("The build uses Python 3.11 and uv", ctx=ctx)
    await service.remember("The build uses Python 3.11 and uv.", dedup=False, ctx=ctx)
    await service.remember(
        "Fixed the flaky upload test by adding a retry", kind="episodic", ctx=ctx
    )
    bundle = await service.reflect(ctx=ctx)
    reasons = [g.reason for g in bundle.groups]
    assert "near_duplicates" in reasons and "recent_episodes" in reasons
    dup = next(g for g in bundle.groups if g.reason == "near_duplicates")
    assert len(dup.memories) == 2
    assert "derived_from" in bundle.instructions
    assert (await service.stats()).memories == 3  # reflect changes nothing


async def test_access_is_recorded_in_batches(service: MemoryService, ctx: CallContext) -> None:
    m = await service.remember("the office wifi password rotates monthly", ctx=ctx)
    for _ in range(3):
        await service.recall("wifi password", ctx=ctx)
    await service.access.flush()
    memory = await service.get(m.id)
    assert memory.access_count == 3 and memory.last_access is not None


async def test_export_import_round_trip(
    service: MemoryService, ctx: CallContext, tmp_path: Path
) -> None:
    a = await service.remember("Feature flags live in config/flags.yaml", tags=["config"], ctx=ctx)
    b = await service.remember("Flags are read once at start-up", ctx=ctx)
    await service.link(b.id, a.id, "depends_on", ctx=ctx)
    out = tmp_path / "export.jsonl"
    assert await export_jsonl(service.store, out) == {"memories": 2, "links": 1}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["type"] for line in lines} == {"memory", "link"}

    from habitus.core.config import Settings

    other = await MemoryService.open(Settings(db=str(tmp_path / "other")))
    try:
        counts = await import_jsonl(other, out, ctx=ctx)
        assert counts == {"created": 2, "reinforced": 0, "refused": 0, "links": 1, "errors": []}
        found = await other.recall("feature flags file", ctx=ctx)
        assert found.memories[0].content == "Feature flags live in config/flags.yaml"
        assert found.memories[0].tags == ["config"]
        again = await import_jsonl(other, out, ctx=ctx)
        assert again["created"] == 0 and again["reinforced"] == 2
    finally:
        await other.close()


async def test_import_reference_server_graph(
    service: MemoryService, ctx: CallContext, tmp_path: Path
) -> None:
    graph = tmp_path / "memory.jsonl"
    graph.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {
                    "type": "entity",
                    "name": "Ada",
                    "entityType": "person",
                    "observations": ["maintains the parser"],
                },
                {
                    "type": "entity",
                    "name": "parser",
                    "entityType": "component",
                    "observations": ["written in Rust"],
                },
                {"type": "relation", "from": "Ada", "to": "parser", "relationType": "maintains"},
            ]
        )
    )
    counts = await import_jsonl(service, graph, ctx=ctx)
    assert counts == {"created": 2, "reinforced": 0, "refused": 0, "links": 1, "errors": []}
    hit = (await service.recall("who maintains the parser", ctx=ctx)).memories[0]
    assert hit.content.startswith("Ada (person)")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json")
    with pytest.raises(InvalidInput, match="bad.jsonl:1"):
        await import_jsonl(service, bad, ctx=ctx)


async def test_lexical_only_store_says_so(tmp_path: Path, ctx: CallContext) -> None:
    from habitus.core.config import Settings

    svc = await MemoryService.open(Settings(db=str(tmp_path / "lex"), embedder="none"))
    try:
        await svc.remember("grep for TODO before releasing", ctx=ctx)
        found = await svc.recall("TODO release", ctx=ctx)
        assert found.search == "lexical" and len(found.memories) == 1
    finally:
        await svc.close()


async def test_reopening_with_another_model_falls_back_loudly(
    tmp_path: Path, ctx: CallContext
) -> None:
    from habitus.core.config import Settings
    from habitus.store import Store

    other_model = await Store.open(str(tmp_path / "s"), dimension=8, embedding_model="other-8d")
    await other_model.close()
    svc = await MemoryService.open(Settings(db=str(tmp_path / "s"), embedder="minilm"))
    try:
        await svc.remember("written while the models disagree", ctx=ctx)
        found = await svc.recall("models disagree", ctx=ctx)
        assert found.search == "lexical" and len(found.memories) == 1
        assert found.warnings and "other-8d" in found.warnings[0]
    finally:
        await svc.close()


async def test_the_same_query_on_the_same_store_gives_the_same_answer(
    service: MemoryService, ctx: CallContext
) -> None:
    """Recall counts its uses without changing what the next recall finds (LoCoMo conversation
    0 asked twice: 71 of 197 top-10 lists changed before, 0 after)."""
    long_ago = datetime.now(UTC) - timedelta(days=300)
    topics = ["deploy", "cache", "parser", "billing", "search index", "scheduler"]
    for i in range(60):
        await service.remember(
            f"note {i}: the {topics[i % 6]} needs setting {i % 7} on host h{i % 5}",
            kind="episodic", occurred_at=long_ago + timedelta(days=i), dedup=False, ctx=ctx)
    queries = ["what needs setting 3", "host h2", "setting 5", "h4 needs"] + [
        f"{t} setting on host" for t in topics]

    async def ask() -> list[list[str]]:
        return [[h.id for h in (await service.recall(q, limit=4, ctx=ctx)).memories]
                for q in queries]

    first = await ask()
    await service.access.flush()
    assert await ask() == first
    shown = first[0][0]
    times = 2 * sum(ids.count(shown) for ids in first)
    assert (await service.get(shown)).access_count == times  # every use was counted
