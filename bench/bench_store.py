"""Write path under the worst case: N single `remember` calls, one after another, then recall.

Reports remember latency as the store grows, then recall latency on that store and on the
same store right after a full compaction, in one run (the ratio is what to read; absolute
times depend on the machine).

    python bench/bench_store.py [--memories 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.service import MemoryService

SUBJECTS = [
    "the build",
    "the deploy script",
    "the auth service",
    "the CI pipeline",
    "the cache",
    "the parser",
    "the scheduler",
    "the billing job",
    "the search index",
    "the API gateway",
]
FACTS = [
    "fails when {x} is unset",
    "needs {x} before start",
    "was moved to {x}",
    "reads its settings from {x}",
    "logs to {x}",
    "is owned by team {x}",
]


def fact(i: int, rng: random.Random) -> str:
    """A distinct fact: its own subject, so none supersedes or absorbs another."""
    return (f"{rng.choice(SUBJECTS)} module_{i} {rng.choice(FACTS).format(x=f'value_{i}')} "
            f"(ticket HAB-{rng.randint(100, 9999)})")


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def recall_latencies(
    service: MemoryService, queries: list[str], ctx: CallContext
) -> list[float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        await service.recall(q, limit=10, ctx=ctx)
        times.append(time.perf_counter() - started)
    return times


async def main(n: int, n_queries: int) -> None:
    rng = random.Random(7)
    ctx = CallContext(project_scope="repo:bench/bench", client="bench")
    with tempfile.TemporaryDirectory() as tmp:
        service = await MemoryService.open(Settings(db=str(Path(tmp) / "store")))
        await service.warm_up()
        write_times: list[float] = []
        checkpoints = {n // 10, n // 2, n}
        started_all = time.perf_counter()
        for i in range(1, n + 1):
            started = time.perf_counter()
            await service.remember(fact(i, rng), ctx=ctx)
            write_times.append(time.perf_counter() - started)
            if i in checkpoints:
                window = write_times[-min(500, len(write_times)) :]
                print(
                    f"  after {i:>6} remembers: remember p50 {pct(window, 0.5):6.1f} ms  "
                    f"p95 {pct(window, 0.95):6.1f} ms  fragments {await service.store.fragments()}",
                    flush=True,
                )
        total = time.perf_counter() - started_all
        queries = [
            f"why does {rng.choice(SUBJECTS)} fail value_{rng.randint(1, n)}"
            for _ in range(n_queries)
        ]
        await recall_latencies(service, queries[:10], ctx)
        grown = await recall_latencies(service, queries, ctx)
        fragments = await service.store.fragments()
        await service.store.compact()
        compacted = await recall_latencies(service, queries, ctx)
        stats = service.store.writer.stats
        await service.close()

    print(f"{n} single remembers in {total:.1f} s ({n / total:.0f}/s); writer: {stats}")
    print(
        f"recall on the grown store ({fragments} fragments): "
        f"p50 {pct(grown, 0.5):.1f} ms  p95 {pct(grown, 0.95):.1f} ms"
    )
    print(
        f"recall after full compaction (1 fragment):       "
        f"p50 {pct(compacted, 0.5):.1f} ms  p95 {pct(compacted, 0.95):.1f} ms"
    )
    ratio = statistics.median(grown) / statistics.median(compacted)
    print(f"grown / compacted p50 ratio: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    anyio.run(main, args.memories, args.queries, backend="asyncio")
