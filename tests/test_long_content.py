"""Content longer than one memory holds: stored in linked parts, or refused alone with the rest
of the batch stored; a failed operation never keeps the process from exiting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from habitus.base.errors import InvalidInput
from habitus.core.models import BatchMemory, CallContext, NewMemory
from habitus.core.remember.parts import longest, plan_parts, split_text
from habitus.core.validation import LIMITS

SIZE = LIMITS["content_chars"]


def _document(chars: int) -> str:
    """Paragraphs of numbered sentences, `chars` long or a little more."""
    paragraphs, n = [], 0
    while sum(len(p) + 2 for p in paragraphs) < chars:
        paragraphs.append(" ".join(f"Sentence {n + i} of the pasted report." for i in range(12)))
        n += 12
    return "\n\n".join(paragraphs)


@pytest.mark.fast
def test_split_text_cuts_at_the_best_boundary() -> None:
    text = _document(80_000)
    pieces = split_text(text, SIZE)
    assert len(pieces) == 3 and all(len(p) <= SIZE for p in pieces)
    assert all(p.endswith("report.") for p in pieces)  # at a paragraph's end
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())  # nothing lost
    one_line = "word " * 20_000
    assert all(p.endswith("word") for p in split_text(one_line, SIZE))
    assert [len(p) for p in split_text("x" * 70_000, SIZE)] == [SIZE, SIZE, 6_000]


@pytest.mark.fast
def test_plan_splits_or_refuses_alone() -> None:
    items = [NewMemory(content="short"), BatchMemory(content=_document(70_000)),
             BatchMemory(content="y " * (longest() // 2 + 1)), NewMemory(content="last")]
    plan = plan_parts(items)
    assert plan.positions[0] == [0] and len(plan.positions[1]) == 3
    assert plan.positions[2] == [] and "16 memories" in plan.refused[2]
    assert plan.positions[3] == [4] and len(plan.items) == 5


@pytest.mark.anyio
async def test_a_long_item_is_stored_in_linked_parts_with_the_rest(service: Any) -> None:
    ctx = CallContext(project_scope="repo:docs", client="pytest", session="s1")
    document = _document(80_000).replace("Sentence 1500 ", "The zeppelin hangar Sentence 1500 ")
    secret = "<private>" + "hidden words " * 10 + "</private>"
    at = document.index("\n\n", SIZE - 60)
    document = document[:at] + " " + secret + document[at:]  # across the first cut
    items = [NewMemory(content=f"turn {i} about the garden", kind="episodic") for i in range(4)]
    items.insert(2, BatchMemory(content=document, kind="episodic"))
    results = await service.remember_many(items, ctx=ctx)
    assert [r.status for r in results] == ["created"] * 5
    long = results[2]
    assert len(long.parts) == 3 and long.id == long.parts[0]
    rows = {r["id"]: r for r in await service.store.scan(None)}
    assert len(rows) == 7
    stored = " ".join(rows[i]["content"] for i in long.parts)
    assert "hidden" not in stored and "zeppelin" in stored
    assert " ".join(stored.split()).count("Sentence") == document.count("Sentence")
    for part in long.parts[1:]:
        links = await service.links_of(part)
        assert any(link.target == long.id and link.relation == "part_of" for link in links)
    found = await service.recall("zeppelin hangar", scope="repo:docs")
    assert found.memories[0].id in long.parts[1:]


@pytest.mark.anyio
async def test_content_too_long_even_in_parts_is_refused_alone(service: Any) -> None:
    ctx = CallContext(project_scope="repo:docs", client="pytest")
    huge = "z " * (longest() // 2 + 10)
    items = [NewMemory(content="kept before"), BatchMemory(content=huge),
             NewMemory(content="kept after")]
    results = await service.remember_many(items, ctx=ctx)
    assert [r.status for r in results] == ["created", "refused", "created"]
    assert results[1].id == "" and "characters" in (results[1].error or "")
    assert len(await service.store.scan(None)) == 2
    # One memory asked for is refused whole, with the reason, when over the bound.
    with pytest.raises(InvalidInput, match="more than 32000"):
        await service.remember(_document(40_000), ctx=ctx)


def test_a_failed_batch_leaves_the_process_able_to_exit(tmp_path: Path) -> None:
    """The long item is stored in parts beside the rest; then a batch that fails (an unknown
    kind) is left unclosed, as a script that crashes would: the process still exits."""
    db = tmp_path / "store"
    script = textwrap.dedent(f"""
        import asyncio
        from habitus.core.config import Settings
        from habitus.core.models import BatchMemory, CallContext, NewMemory
        from habitus.core.service import MemoryService

        async def main():
            service = await MemoryService.open(Settings(db={str(db)!r}, embedder="minilm"))
            ctx = CallContext(project_scope="repo:x", session="s1")
            items = [NewMemory(content=f"turn {{i}} about plants", kind="episodic")
                     for i in range(9)]
            items.insert(4, BatchMemory(content="a pasted log line\\n" * 4_500, kind="episodic"))
            results = await service.remember_many(items, ctx=ctx)
            print("stored", sum(len(r.parts) or 1 for r in results), flush=True)
            # Journal rows waiting to be committed when the next batch fails.
            await service.remember_many([NewMemory(content="a note on soil")], ctx=ctx)
            # Built unchecked, so that the batch itself fails.
            await service.remember_many([NewMemory.model_construct(content="x", kind="dream")],
                                        ctx=ctx)

        asyncio.run(main())
    """)
    env = {**os.environ, "LANCE_LOG": "error"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=180, env=env)
    assert done.returncode == 1, done.stderr
    assert "stored 12" in done.stdout and "unknown kind" in done.stderr


@pytest.mark.anyio
async def test_import_stores_long_records_in_parts_and_reports_refusals(
    service: Any, tmp_path: Path
) -> None:
    import json

    from habitus.core.maintenance.transfer import import_jsonl

    records = [{"type": "memory", "id": "a", "content": "Deploys need two approvals"},
               {"type": "memory", "id": "b", "content": _document(50_000)},
               {"type": "memory", "id": "c", "content": "q " * (longest() // 2 + 10)},
               {"type": "link", "source": "a", "target": "b", "relation": "related_to"}]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    counts = await import_jsonl(service, path, ctx=CallContext(project_scope="repo:imp"))
    assert counts["created"] == 2 and counts["refused"] == 1 and counts["links"] == 1
    assert counts["errors"][0].startswith("c: content has")
    assert len(await service.store.scan(None)) == 3  # the short one and two parts


def _gardening(words: int) -> str:
    """Filler about gardening, `words` words long."""
    sentences = ["Tomatoes want full sun and deep watering twice a week.",
                 "Mulch keeps the beds moist through the summer heat.",
                 "Prune the roses in late winter before the buds swell.",
                 "Compost the leaves in autumn and turn the heap monthly."]
    out: list[str] = []
    while len(out) < words:
        out += sentences[len(out) % 4].split()
    return " ".join(out)


@pytest.mark.anyio
async def test_the_vector_leg_sees_a_long_memory_past_its_first_window(service: Any) -> None:
    ctx = CallContext(project_scope="repo:house", client="pytest")
    tail = ("The cellar dehumidifier has to be emptied every Tuesday evening, or its float "
            "switch trips and the pump stops.")
    long = f"{_gardening(400)} {tail}"
    items = [BatchMemory(content=long), NewMemory(content="The attic fan is dusted each spring."),
             NewMemory(content="The front door lock sticks when it is cold.")]
    stored, attic, door = await service.remember_many(items, ctx=ctx)
    assert await service.store.passage_ids([attic.id, door.id]) == []
    passages = await service.store.passage_ids([stored.id])
    assert len(passages) == 1 and passages[0] == f"{stored.id}:1"
    found = await service.recall("how often must the cellar dehumidifier be emptied",
                                 legs=("vector",), scope="repo:house", limit=3)
    assert found.memories[0].id == stored.id
    # Erased with its memory, from the table and the search alike.
    await service.forget([stored.id], purge=True, ctx=ctx)
    assert await service.store.passage_ids() == []
    again = await service.recall("cellar dehumidifier emptied", legs=("vector",),
                                 scope="repo:house", limit=3)
    assert stored.id not in {h.id for h in again.memories}


@pytest.mark.anyio
async def test_reindex_embeds_the_passages_with_the_new_model(tmp_path: Path) -> None:
    from habitus.core.config import Settings
    from habitus.core.embedding.embedders import MiniLMEmbedder
    from habitus.core.maintenance.reindex import reindex
    from habitus.core.service import MemoryService

    path = str(tmp_path / "store")
    service = await MemoryService.open(Settings(db=path, embedder="none"))
    try:
        ctx = CallContext(project_scope="repo:house")
        (long,) = await service.remember_many([NewMemory(content=_gardening(700))], ctx=ctx)
        assert await service.store.passage_ids() == []  # no embedder, no passages
        result = await reindex(service.store, MiniLMEmbedder(), batch_size=8)
        assert result.passages == 3 and result.swapped
        assert sorted(await service.store.passage_ids()) == [f"{long.id}:{n}" for n in (1, 2, 3)]
    finally:
        await service.close()
