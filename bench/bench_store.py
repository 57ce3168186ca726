"""Write path under the worst case: N single `remember` calls, one after another, then recall.

Reports remember latency as the store grows, then recall latency on that store and on the
same store right after a full compaction, in one run (the ratio is what to read; absolute
times depend on the machine).

    python bench/bench_store.py [--memories 10000] [--queries 200]

With `--preloaded 10000,100000`, each store is first filled with that many memories
(`corpus.populate`, with its ANN index once large enough, as a long-lived store has), then
`--writes` single remembers are timed on it: whether a write costs the same at any size. The
writes go to a project scope of their own, as a new project's would, or with `--same-scope`
into the scope that holds all the others (the worst case: a duplicate check over every memory).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import anyio
import lancedb
from corpus import BASE, SCOPE, base_vectors, populate, sentences

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
        stats = service.store.commit_stats()
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


async def floors(service: MemoryService, texts: list[str]) -> tuple[list[float], list[float]]:
    """What a write is made of, alone, on the same store once idle: embedding one text, and
    LanceDB appending one row (a copy of a stored one, new id) to the memories table."""
    await service.store.compact()  # and no compaction under way beside
    embedder = service.encoder.embedder
    assert embedder is not None
    embed = []
    for text in texts:
        started = time.perf_counter()
        embedder.embed([text])
        embed.append(time.perf_counter() - started)
    (template,) = await service.store.scan(None, limit=1)
    # LanceDB's own handle on the table: the append alone, without the store's writer.
    db = await lancedb.connect_async(service.store.uri, read_consistency_interval=timedelta(0))
    table = await db.open_table("memories")
    append = []
    for i in range(len(texts)):
        row = {**template, "id": f"floor-{i}", "content_hash": f"floor-{i}"}
        started = time.perf_counter()
        await table.add([row])
        append.append(time.perf_counter() - started)
    table.close()
    return embed, append


async def preloaded(sizes: list[int], writes: int, data: Path, same_scope: bool) -> None:
    """`writes` single remembers on stores that already hold each of `sizes` memories."""
    base, _ = sentences(data, BASE, random.Random(1))
    with tempfile.TemporaryDirectory() as tmp:
        service = await MemoryService.open(Settings(db=str(Path(tmp) / "embed")))
        vectors = base_vectors(service, base)
        await service.close()
    ctx = CallContext(project_scope=SCOPE if same_scope else "repo:bench/bench", client="bench")
    results = []
    for size in sizes:
        rng = random.Random(7)
        with tempfile.TemporaryDirectory() as tmp:
            service = await MemoryService.open(Settings(db=str(Path(tmp) / "store")))
            await service.warm_up()
            await populate(service, base, vectors, size, rng)
            if await service.store.maybe_index_vectors():
                await service.store.compact()
            times = []
            for i in range(1, writes + 1):
                started = time.perf_counter()
                await service.remember(fact(i, rng), ctx=ctx)
                times.append(time.perf_counter() - started)
            stats = service.store.commit_stats()
            embed, append = await floors(service, [fact(writes + i, rng) for i in range(100)])
            await service.close()
        results.append((size, times, stats, embed, append))
        print(f"  {size} memories: remember p50 {pct(times, 0.5):.1f} ms", flush=True)
    print(f"{'memories':>9} {'remember p50':>13} {'p95':>8} {'writes/s':>9} {'compactions':>12}"
          f" {'floors: embed':>14} {'append':>7}")
    for size, times, stats, embed, append in results:
        print(f"{size:>9} {pct(times, 0.5):>11.1f}ms {pct(times, 0.95):>6.1f}ms "
              f"{len(times) / sum(times):>9.0f} {stats['compactions']:>12} "
              f"{pct(embed, 0.5):>12.1f}ms {pct(append, 0.5):>5.1f}ms")
    if len(results) >= 2:
        (first, t0, *_), (last, t1, *_) = results[0], results[-1]
        ratio = statistics.median(t1) / statistics.median(t0)
        print(f"p50 at {last} / p50 at {first}: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--preloaded", help="sizes to fill stores to first, e.g. 10000,100000")
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--same-scope", action="store_true")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/locomo/locomo10.json"))
    args = parser.parse_args()
    if args.preloaded:
        sizes = [int(s) for s in args.preloaded.split(",")]
        anyio.run(preloaded, sizes, args.writes, args.data, args.same_scope, backend="asyncio")
    else:
        anyio.run(main, args.memories, args.queries, backend="asyncio")
