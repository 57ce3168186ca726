"""Recall latency in process at 10k and 100k memories, query embedding reported apart.

    .venv/bin/python bench/bench_recall.py [--sizes 10000,100000] [--queries 200] [--data LOCOMO]

The memories are `corpus.populate`'s (real sentences and their combinations, written the way
`remember_many` writes them, in large batches). Queries are real questions embedded by the
real model; `recall` runs exactly as the server calls it. Past `ANN_MIN_ROWS` the store's
ANN index is built (as it would be in the background) before measuring; its build time is shown.
"recall" and "lexical" meet every memory for the first time (the row cache is emptied before
each query); "again" asks the questions a second time, their memories' rows cached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import lancedb
import numpy as np
from corpus import BASE, SCOPE, base_vectors, populate, sentences

from habitus.core.config import Settings
from habitus.core.service import MemoryService
from habitus.core.text.terms import search_text


async def measure_floors(service: MemoryService, queries: list[str]) -> dict[str, float]:
    """What the legs cost at their floor on the same table: LanceDB's full-text search alone,
    LanceDB's exact vector search alone, and the in-memory vector search (50 ids each)."""
    store = service.store
    where = store.where.memories.is_null("deleted_at") & store.where.memories.eq("scope", SCOPE)
    # LanceDB's own handle on the same table, for its searches alone.
    db = await lancedb.connect_async(store.uri, read_consistency_interval=timedelta(0))
    table = await db.open_table("memories")
    vectors = service.encoder.embedder.embed(queries)  # type: ignore[union-attr]
    fts, lance, cached = [], [], []
    for q, vec in zip(queries, vectors, strict=True):
        t = time.perf_counter()
        await store.lexical_search(search_text(q), where, 50, columns=["id"])
        fts.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        await (table.query().nearest_to(vec).distance_type("cosine").where(where.sql)
               .limit(50).select(["id", "_distance"]).bypass_vector_index().to_list())
        lance.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        await store.vector_search(vec, where, 50, columns=["id"], scopes=[SCOPE])
        cached.append(1000 * (time.perf_counter() - t))
    table.close()
    return {
        "floor_lancedb_fts_p50_ms": round(statistics.median(fts), 1),
        "floor_lancedb_vector_exact_p50_ms": round(statistics.median(lance), 1),
        "vector_in_memory_p50_ms": round(statistics.median(cached), 1),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    size: int, args: argparse.Namespace, base: list[str], vectors: np.ndarray, questions: list[str]
) -> dict:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="habitus-bench-") as folder:
        service = await MemoryService.open(Settings(db=folder, embedder="minilm"))
        try:
            t0 = time.perf_counter()
            await populate(service, base, vectors, size, rng)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            indexed = await service.store.maybe_index_vectors()
            index_s = time.perf_counter() - t0
            if indexed:
                await service.store.compact()
            qs = questions[: args.queries]
            embed_ms = []
            for q in qs:
                t = time.perf_counter()
                service.encoder.embedder.embed([q])  # type: ignore[union-attr]
                embed_ms.append(1000 * (time.perf_counter() - t))
            for q in qs[:10]:  # warm caches
                await service.recall(q, scope=SCOPE, limit=10)
            total_ms, lexical_ms, again_ms = [], [], []
            floors = await measure_floors(service, qs)
            for q in qs:  # each as if its memories were met for the first time
                service.store.forget_cached_rows()
                t = time.perf_counter()
                await service.recall(q, scope=SCOPE, limit=10)
                total_ms.append(1000 * (time.perf_counter() - t))
                service.store.forget_cached_rows()
                t = time.perf_counter()
                await service.recall(q, scope=SCOPE, limit=10, legs=("lexical",))
                lexical_ms.append(1000 * (time.perf_counter() - t))
            for q in qs:  # asked again: the rows read back are cached (the query is not)
                await service.recall(q, scope=SCOPE, limit=10)
            for q in qs:
                t = time.perf_counter()
                await service.recall(q, scope=SCOPE, limit=10)
                again_ms.append(1000 * (time.perf_counter() - t))
            return {
                "memories": size,
                "populate_s": round(build, 1),
                "ann_index": indexed,
                "ann_build_s": round(index_s, 1) if indexed else 0.0,
                "recall_p50_ms": round(statistics.median(total_ms), 1),
                "recall_p95_ms": round(pct(total_ms, 0.95), 1),
                "recall_again_p50_ms": round(statistics.median(again_ms), 1),
                "recall_again_p95_ms": round(pct(again_ms, 0.95), 1),
                "lexical_only_p50_ms": round(statistics.median(lexical_ms), 1),
                "lexical_only_p95_ms": round(pct(lexical_ms, 0.95), 1),
                **floors,
                "query_embedding_p50_ms": round(statistics.median(embed_ms), 1),
                "query_embedding_p95_ms": round(pct(embed_ms, 0.95), 1),
            }
        finally:
            await service.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/locomo/locomo10.json"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(1)
    base, questions = sentences(args.data, BASE, rng)
    service = await MemoryService.open(
        Settings(db=tempfile.mkdtemp(prefix="habitus-emb-"), embedder="minilm")
    )
    try:
        vectors = base_vectors(service, base)
    finally:
        await service.close()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = await measure(size, args, base, vectors, questions)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"{'memories':>9} {'recall p50':>11} {'p95':>7} {'again p50':>10} {'p95':>7} "
            f"{'lexical p50':>12} {'p95':>7} {'embed p50':>10} {'p95':>6} {'ANN':>5}"
        )
        for r in results:
            print(
                f"{r['memories']:>9} {r['recall_p50_ms']:>9.1f}ms {r['recall_p95_ms']:>5.1f}ms "
                f"{r['recall_again_p50_ms']:>8.1f}ms {r['recall_again_p95_ms']:>5.1f}ms "
                f"{r['lexical_only_p50_ms']:>10.1f}ms {r['lexical_only_p95_ms']:>5.1f}ms "
                f"{r['query_embedding_p50_ms']:>8.1f}ms "
                f"{r['query_embedding_p95_ms']:>4.1f}ms {'yes' if r['ann_index'] else 'no':>5}"
            )
        print("floors (p50, 50 ids, same table): "
              + "; ".join(f"{r['memories']}: LanceDB FTS {r['floor_lancedb_fts_p50_ms']} ms, "
                          f"LanceDB exact vector {r['floor_lancedb_vector_exact_p50_ms']} ms, "
                          f"in-memory vector {r['vector_in_memory_p50_ms']} ms"
                          for r in results))
        if len(results) >= 2:
            first, last = results[0], results[-1]
            print(
                f"slowdown {last['memories']} vs {first['memories']}: "
                f"{last['recall_p50_ms'] / first['recall_p50_ms']:.2f}x (p50), "
                f"{last['recall_p95_ms'] / first['recall_p95_ms']:.2f}x (p95); target <= 2x"
            )


if __name__ == "__main__":
    asyncio.run(main())
