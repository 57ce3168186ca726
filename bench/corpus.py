"""A corpus for benchmarks: memories written the way `remember_many` writes them, built fast.

2,000 real sentences (LoCoMo turns when the evaluation data is at hand, else synthetic notes) are
embedded by the real model; each further memory joins two of them — its text the two sentences
plus a ticket number, its vector the normalised sum of theirs plus noise — so that 100k rows take
a minute instead of an hour of embedding, with realistic words and clustered vectors.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from habitus.core.ids import new_id
from habitus.core.service import MemoryService
from habitus.core.text.terms import content_hash, embedding_text, search_text

__all__ = ["BASE", "SCOPE", "base_vectors", "populate", "sentences"]

SCOPE = "repo:bench"
BASE = 2000

SYNTHETIC = [
    "{a} fails with {e} when {c} is empty; fixed in {f}",
    "We decided to move {a} into {f} so that {c} can be tested alone",
    "Run {c} before {a}, otherwise {e} shows up in CI",
    "{a} in {f} reads the {c} setting once at start-up",
    "The {c} job retries {a} three times before raising {e}",
]
WORDS = {
    "a": [
        "getUserName",
        "parse_config_file",
        "loadSession",
        "retry_upload",
        "BillingWorker",
        "render_report",
        "syncDaemon",
        "AuthGateway",
        "image_resizer",
        "flushCache",
    ],
    "e": [
        "ModuleNotFoundError",
        "TimeoutError",
        "KeyError: 'id'",
        "HTTP 502",
        "a deadlock",
        "PermissionError",
        "an off-by-one",
        "a race",
    ],
    "c": [
        "database URL",
        "feature flag",
        "cache size",
        "worker pool",
        "TLS bundle",
        "locale",
        "queue name",
        "token TTL",
    ],
    "f": [
        "src/server/config.py",
        "app/billing/worker.py",
        "web/src/state/session.ts",
        "lib/upload.go",
        "core/report.rb",
        "pkg/cache/cache.go",
    ],
}


def sentences(data: Path | None, n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Base sentences and query questions: LoCoMo turns and questions if given, else synthetic."""
    if data and data.is_file():
        samples = json.loads(data.read_text())
        turns = [
            t["text"]
            for s in samples
            for k, v in s["conversation"].items()
            if isinstance(v, list)
            for t in v
            if t.get("text")
        ]
        questions = [q["question"] for s in samples for q in s["qa"]]
        rng.shuffle(turns)
        rng.shuffle(questions)
        return turns[:n], questions
    texts = [
        rng.choice(SYNTHETIC).format(**{k: rng.choice(v) for k, v in WORDS.items()})
        + f" (note {i})"
        for i in range(n)
    ]
    questions = [
        f"why does {rng.choice(WORDS['a'])} fail with {rng.choice(WORDS['e'])}" for _ in range(500)
    ]
    return texts, questions


async def populate(
    service: MemoryService, base: list[str], vectors: np.ndarray, size: int, rng: random.Random
) -> None:
    now = datetime.now(UTC)
    batch: list[dict] = []
    for i in range(size):
        if i < len(base):
            text, vec = base[i], vectors[i]
        else:
            a, b = rng.randrange(len(base)), rng.randrange(len(base))
            text = f"{base[a]} {base[b]} (ticket {i})"
            vec = (
                vectors[a] + vectors[b] + np.random.default_rng(i).normal(0, 0.05, vectors.shape[1])
            )
            vec = vec / np.linalg.norm(vec)
        at = now - timedelta(minutes=size - i)
        batch.append(
            {
                "id": new_id(),
                "kind": "episodic" if i % 3 == 0 else "semantic",
                "content": text,
                "search_text": search_text(text),
                "tags": [],
                "scope": SCOPE,
                "importance": 0.5,
                "client": "bench",
                "session": "",
                "tool": "",
                "created_at": at,
                "updated_at": at,
                "access_count": 0,
                "last_access": None,
                "content_hash": content_hash(text),
                "deleted_at": None,
                "valid_until": None,
                "derived_from": [],
                "metadata": "{}",
                "embedding_model": service.embedding_model,
                "vector": np.asarray(vec, np.float32).tolist(),
            }
        )
        if len(batch) == 10_000:
            await service.store.add_memories(batch)
            batch = []
    if batch:
        await service.store.add_memories(batch)
    await service.store.compact()


def base_vectors(service: MemoryService, base: list[str]) -> np.ndarray:
    """The base sentences embedded as memories are."""
    return service.encoder.embedder.embed([embedding_text(t) for t in base])  # type: ignore[union-attr]
