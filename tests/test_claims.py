"""What counts as a new version of a fact, and what as the same fact again: conversation turns,
questions and labelled prose are never versions of each other; facts that differ in a name,
number or identifier are never merged; settings and statements still supersede."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from habitus.core.models import CallContext
from habitus.core.remember.claims import classify

from .memtools import embedder, open_service
from .servers import stdio_params

pytestmark = pytest.mark.anyio

CHAT = [  # (new, old): lines of one conversation, each a remember call
    ("Caroline: Totally agree, Mel. Relaxing and expressing ourselves is key.",
     "Caroline: Hey Mel! Good to see you! How have you been?"),
    ("Melanie: Wow, that's cool, Caroline! What happened that was so awesome?",
     "Melanie: Hey Caroline! Good to see you! I'm swamped with the kids & work."),
    ("Caroline: Cool! What did it look like?", "Caroline: Wow! What got you into running?"),
    ("Caroline: Thanks, Melanie! It means a lot having you in my corner.",
     "Caroline: Thanks, Melanie. It means a lot to share this with you."),
    ("Hey Caroline! Good to see you!", "Hey Mel! Good to see you!"),
]
DISTINCT = [  # differ only in an identifier, number, name or version: two facts
    ("process b note number 7 about subsystem b7 zebrab7x",
     "process a note number 7 about subsystem a7 zebraa7x"),
    ("Service billing listens on port 8081", "Service billing listens on port 8080"),
    ("The nightly job runs on worker-12", "The nightly job runs on worker-13"),
    # A folder ending a sentence is a path, even when its name is a word the other text uses.
    ("The frontend build output goes to build/.", "The frontend build output goes to dist/."),
]
VERSIONS = [  # the same subject with a new value
    ("The API timeout is 60 s", "The API timeout is 30 s"),
    ("max_connections: 200", "max_connections: 100"),
    ("We no longer deploy on Fridays", "We deploy on Fridays"),
]


def cosine(a: str, b: str) -> float:
    vectors = embedder().embed([a, b])
    return float(vectors[0] @ vectors[1])


@pytest.mark.fast
@pytest.mark.parametrize(("new", "old"), CHAT)
def test_conversation_turns_never_supersede(new: str, old: str) -> None:
    assert classify(new, old, max(cosine(new, old), 0.95)) != "supersedes"


@pytest.mark.fast
@pytest.mark.parametrize(("new", "old"), DISTINCT)
def test_facts_that_differ_in_a_value_are_never_duplicates(new: str, old: str) -> None:
    assert classify(new, old, max(cosine(new, old), 0.97)) != "duplicate"


@pytest.mark.fast
@pytest.mark.parametrize(("new", "old"), VERSIONS)
def test_new_values_of_a_fact_still_supersede(new: str, old: str) -> None:
    assert classify(new, old, cosine(new, old)) == "supersedes"


async def test_a_conversation_stored_turn_by_turn_keeps_every_turn_current(
    db_path: Path,
) -> None:
    service = await open_service(db_path)
    ctx = CallContext(project_scope="repo:example.com/acme/chat", client="pytest")
    try:
        turns = [t for pair in CHAT for t in pair]
        results = [await service.remember(t, ctx=ctx) for t in turns]
        assert [r.supersedes for r in results] == [[] for _ in turns]
        found = await service.recall("Good to see you", ctx=ctx, limit=10)
        assert len(found.memories) >= 2
    finally:
        await service.close()


PER_PROCESS = 40


async def test_two_processes_writing_notes_that_differ_in_identifiers_keep_all(
    db_path: Path,
) -> None:
    """The pattern that once folded distinct notes into each other, from two processes."""
    async with Client(stdio_params(db_path)) as first, Client(stdio_params(db_path)) as second:
        created: list[str] = []

        async def write(name: str, client: Client) -> None:
            for i in range(PER_PROCESS):
                result = await client.call_tool("remember", {
                    "content": f"process {name} note number {i} about subsystem {name}{i} "
                               f"zebra{name}{i}x",
                    "scope": "global",
                })
                assert not result.is_error, result.content
                assert result.structured_content["status"] == "created", result.structured_content
                created.append(result.structured_content["id"])

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write, "a", first)
            tasks.start_soon(write, "b", second)
    assert len(set(created)) == 2 * PER_PROCESS
    service = await open_service(db_path)
    try:
        assert (await service.stats()).memories == 2 * PER_PROCESS
    finally:
        await service.close()
