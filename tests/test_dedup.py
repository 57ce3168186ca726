"""Duplicate rate: a corpus of distinct facts, each written again in other words."""

from __future__ import annotations

from pathlib import Path

import pytest

from habitus.core.models import CallContext, NewMemory

from .memtools import open_service

pytestmark = pytest.mark.anyio

# Each row: one fact, then paraphrased repeats of it.
CORPUS = [
    [
        "The build uses Python 3.11 and uv.",
        "The build uses Python 3.11 and uv",
        "Our build uses uv with Python 3.11.",
    ],
    ["Always run ruff before committing.", "Run ruff before every commit."],
    ["The logging level in production is WARNING.", "Production logs at WARNING level."],
    ["User prefers tabs over spaces.", "The user prefers tabs over spaces for indentation."],
    ["The project uses Postgres 15 for storage.", "Storage for this project is Postgres 15."],
    ["Integration tests need Docker running.", "Docker must be running for the integration tests."],
    [
        "The staging URL is https://staging.example.com.",
        "Staging lives at https://staging.example.com.",
    ],
    ["Secrets are loaded from Vault at start-up.", "At start-up secrets are loaded from Vault."],
    ["The frontend is built with Vite.", "The frontend build uses Vite."],
    ["Releases are tagged with semantic versions.", "Release tags follow semantic versioning."],
    ["The API rate limit is 100 requests per minute.", "API rate limit: 100 requests per minute."],
    ["Feature flags live in config/flags.yaml.", "Feature flags are defined in config/flags.yaml."],
    ["Code review needs two approvals.", "Two approvals are needed for code review."],
    ["The nightly job rebuilds the search index.", "Every night a job rebuilds the search index."],
    ["Use pytest fixtures instead of setUp methods.", "Prefer pytest fixtures over setUp methods."],
]
# Close but different facts: none may be absorbed.
DISTINCT = [
    "Frontend tests use jest.",
    "Backend tests use pytest.",
    "Service A listens on port 8080.",
    "Service B listens on port 8081.",
    "The API timeout is 30 seconds.",
    "The database timeout is 5 seconds.",
]


async def test_near_duplicates_are_absorbed(tmp_path: Path) -> None:
    ctx = CallContext(project_scope="repo:example.com/acme/dedup")
    service = await open_service(tmp_path / "store")
    try:
        originals = await service.remember_many(
            [NewMemory(content=row[0]) for row in CORPUS], ctx=ctx
        )
        repeats = [(i, text) for i, row in enumerate(CORPUS) for text in row[1:]]
        absorbed = 0
        for i, text in repeats:  # one by one, as an assistant would write them
            result = await service.remember(text, ctx=ctx)
            if result.status == "reinforced":
                assert result.id == originals[i].id, (text, result)
                absorbed += result.absorbed_by == originals[i].id or result.absorbed_by is None
        for text in DISTINCT:
            assert (await service.remember(text, ctx=ctx)).status == "created", text
        stored = (await service.stats()).memories - len(DISTINCT)
        written = len(CORPUS) + len(repeats)
        print(
            f"\nduplicate rate: {written} writes of {len(CORPUS)} distinct facts -> {stored} "
            f"memories stored ({stored / len(CORPUS):.2f} per fact; {absorbed}/{len(repeats)} "
            "paraphrases absorbed; without near-duplicate detection: "
            f"{written / len(CORPUS):.2f} per fact)"
        )
        assert stored <= len(CORPUS) * 1.25
        # The absorbing memory keeps the other wordings and got stronger.
        memory = await service.get(originals[1].id)
        assert memory.access_count >= 1
        assert "Run ruff before every commit." in memory.metadata["habitus"]["variants"]
        # Undo of the last absorption restores the absorbing memory as it was.
        last = CORPUS[-1]
        before = await service.get(originals[-1].id)
        assert last[1] in before.metadata["habitus"]["variants"]
        for _ in DISTINCT:  # the DISTINCT writes come last: undo them first
            await service.undo(ctx=ctx)
        await service.undo(ctx=ctx)
        after = await service.get(originals[-1].id)
        assert "habitus" not in after.metadata and after.access_count == before.access_count - 1
    finally:
        await service.close()
