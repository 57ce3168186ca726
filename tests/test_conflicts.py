"""The conflict suite: facts updated over time, mixed with unrelated memories.

60 chains of 2–5 versions ("The <component> <attribute> is <value>") are written round by round
with 120 unrelated memories in between. Same attributes of *different* components are different
subjects: superseding one by the other would be a false supersession. Measured twice:

- explicit: each version is written with `supersedes=[previous]`;
- detected: no hint at all — the store must find the previous version itself.

The current version must rank above its predecessors for ≥ 95% of queries (default recall, and
with history included, where old versions are returned too), and every history must be complete.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from habitus.core.models import CallContext, NewMemory

from .memtools import open_service

pytestmark = pytest.mark.anyio

COMPONENTS = [
    "billing service",
    "search service",
    "auth gateway",
    "upload worker",
    "report job",
    "mail relay",
    "payment API",
    "image resizer",
    "audit logger",
    "feature store",
    "admin console",
    "sync daemon",
]
ATTRIBUTES = [
    ("request timeout", lambda r: f"{r.choice([5, 10, 15, 20, 30, 45, 60, 90, 120])} seconds"),
    ("port", lambda r: str(r.choice(range(3000, 9999)))),
    ("retry limit", lambda r: f"{r.choice(range(1, 12))} attempts"),
    (
        "database",
        lambda r: r.choice(
            [
                "Postgres 13",
                "Postgres 15",
                "MySQL 8",
                "SQLite",
                "MariaDB 11",
                "CockroachDB",
                "Postgres 16",
            ]
        ),
    ),
    ("owner", lambda r: r.choice(["Alice", "Bob", "Chandra", "Dmitri", "Eun", "Fatima", "Goran"])),
]
UNRELATED = [
    "Alice prefers tabs over spaces in Makefiles",
    "Run the test suite with `just test`",
    "The release checklist lives in docs/release.md",
    "Never commit .env files",
    "Use conventional commit messages",
    "Deploys need approval from the on-call engineer",
    "The CI cache is keyed on uv.lock",
    "Docker images are built for amd64 and arm64",
    "Migrations run automatically at start-up",
    "Feature flags are read once at boot",
]


def build(seed: int = 5) -> tuple[list[list[str]], list[str], list[str]]:
    rng = random.Random(seed)
    chains, queries = [], []
    pairs = [(c, a) for c in COMPONENTS for a in ATTRIBUTES]
    rng.shuffle(pairs)
    for component, (attribute, value) in pairs[:60]:
        length = rng.randint(2, 5)
        values: list[str] = []
        while len(values) < length:
            v = value(rng)
            if not values or v != values[-1]:
                values.append(v)
        chains.append([f"The {component} {attribute} is {v}." for v in values])
        queries.append(f"What is the {attribute} of the {component}?")
    topics = [
        "flaky login tests",
        "slow CSV exports",
        "a memory leak in the worker",
        "broken dark mode",
        "timezone bugs in reports",
        "a typo on the pricing page",
        "missing translations",
        "retry storms",
        "an expired TLS certificate",
        "dependency upgrades",
        "a race in the cache",
        "slow cold starts",
    ]
    # Similar texts with different subjects (ticket numbers): none may supersede another.
    unrelated = UNRELATED + [
        f"Ticket HAB-{100 + i} was about {topics[i % len(topics)]}." for i in range(110)
    ]
    return chains, queries, unrelated


async def ingest(service, chains, unrelated, ctx, *, explicit: bool) -> list[list[str]]:
    ids: list[list[str]] = [[] for _ in chains]
    rounds = max(len(c) for c in chains)
    per_round = len(unrelated) // rounds + 1
    for k in range(rounds):
        batch = [
            (i, NewMemory(content=c[k], supersedes=[ids[i][-1]] if explicit and k else []))
            for i, c in enumerate(chains)
            if k < len(c)
        ]
        batch += [
            (None, NewMemory(content=t)) for t in unrelated[k * per_round : (k + 1) * per_round]
        ]
        results = await service.remember_many([m for _, m in batch], ctx=ctx)
        for (i, _), r in zip(batch, results, strict=True):
            if i is not None:
                assert r.status == "created", (r, chains[i][k])
                ids[i].append(r.id)
    return ids


async def measure(service, chains, queries, ids, ctx) -> dict[str, float]:
    wins_current = wins_history = complete = 0
    for chain_ids, query in zip(ids, queries, strict=True):
        current, older = chain_ids[-1], set(chain_ids[:-1])
        got = [h.id for h in (await service.recall(query, limit=10, ctx=ctx)).memories]
        wins_current += current in got and not (older & set(got[: got.index(current)]))
        got = [
            h.id
            for h in (await service.recall(query, limit=20, include_history=True, ctx=ctx)).memories
        ]
        wins_history += current in got and not (older & set(got[: got.index(current)]))
        timeline = await service.history(current)
        complete += [v.id for v in timeline.versions] == chain_ids and timeline.current == current
    n = len(chains)
    return {
        "current_first": wins_current / n,
        "current_first_with_history": wins_history / n,
        "complete_histories": complete / n,
    }


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit", "detected"])
async def test_current_version_wins(tmp_path: Path, explicit: bool) -> None:
    chains, queries, unrelated = build()
    assert len(chains) >= 50 and all(2 <= len(c) <= 5 for c in chains)
    ctx = CallContext(project_scope="repo:example.com/acme/conflicts")
    service = await open_service(tmp_path / "store")
    try:
        ids = await ingest(service, chains, unrelated, ctx, explicit=explicit)
        figures = await measure(service, chains, queries, ids, ctx)
        stats = await service.stats()
        superseded = sum(len(c) - 1 for c in chains)
        print(
            f"\nconflict suite ({'explicit' if explicit else 'detected'}): {len(chains)} chains, "
            f"{sum(map(len, chains))} versions, {len(unrelated)} unrelated; "
            + ", ".join(f"{k} {v:.1%}" for k, v in figures.items())
        )
        # Nothing unrelated was superseded, and every old version is still there.
        rows = await service.store.scan(service.store.where.memories.not_null("valid_until"),
                                        columns=["id"])
        assert len(rows) == superseded, "a false or missing supersession"
        assert stats.memories == sum(map(len, chains)) + len(unrelated)
        assert figures["current_first"] >= 0.95
        assert figures["current_first_with_history"] >= 0.95
        assert figures["complete_histories"] == 1.0
    finally:
        await service.close()
