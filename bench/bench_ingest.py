"""Ingest throughput of long turns: the whole `remember_many` pipeline beside the embedder alone
on the same texts, in one run.

Turns come from LongMemEval's haystacks (chat turns of ~1,000 characters on average), written
as an evaluation or an import of chats writes them: one `remember_many` per session, episodic,
dated, under the session's context. The embedder alone embeds the very same texts (what the
pipeline embeds: speaker and content) in the same batches. The two alternate chunk by chunk, so
a machine whose load drifts slows both alike; the ratio is what to read.

    python bench/bench_ingest.py [--data ../shared/data/longmemeval/longmemeval_s_dev50.json.gz]
        [--turns 2000] [--preloaded 0,100000] [--profile]

With `--preloaded`, the store first holds that many memories of another project (built fast by
`corpus.populate`), so a write's cost at that size shows. `--profile` prints where the
pipeline's time goes beyond the embedder.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from corpus import BASE, base_vectors, populate, sentences

from habitus.core.config import Settings
from habitus.core.embedding.embedders import MiniLMEmbedder
from habitus.core.models import CallContext, NewMemory
from habitus.core.service import MemoryService
from habitus.core.text.terms import embedding_text
from habitus.evaluation.locomo import memories_of
from habitus.evaluation.longmemeval import load_longmemeval

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "../shared/data/longmemeval/" \
    "longmemeval_s_dev50.json.gz"
# Turns per alternation of the embedder alone and the pipeline.
CHUNK = 200


def sessions(data: Path, turns: int) -> list[tuple[str, list[NewMemory]]]:
    """Whole sessions of the haystacks, in order, until `turns` turns (each its own scope)."""
    out: list[tuple[str, list[NewMemory]]] = []
    count = 0
    for conv in load_longmemeval(data):
        for session, items in memories_of(conv):
            out.append((session, items))
            count += len(items)
            if count >= turns:
                return out
    return out


async def run(args: argparse.Namespace, preloaded: int) -> dict[str, float]:
    """Ingest the turns into a fresh store (holding `preloaded` memories of another project),
    alternating with the embedder alone; returns the rates."""
    batches = sessions(args.data, args.turns)
    texts = [[embedding_text(i.content, i.metadata) for i in items] for _, items in batches]
    alone = MiniLMEmbedder()
    alone.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="habitus-bench-ingest-") as folder:
        service = await MemoryService.open(Settings(db=folder, embedder="minilm"))
        try:
            await service.warm_up()
            if preloaded:
                rng = random.Random(7)
                base, _ = sentences(None, BASE, rng)
                await populate(service, base, base_vectors(service, base), preloaded, rng)
            embed_time = pipeline_time = 0.0
            profile = cProfile.Profile() if args.profile else None
            done = 0
            rates: list[float] = []
            i = 0
            while i < len(batches):
                chunk = []
                while i < len(batches) and sum(len(batches[j][1]) for j in chunk) < CHUNK:
                    chunk.append(i)
                    i += 1
                t0 = time.perf_counter()
                for j in chunk:
                    alone.embed(texts[j])
                embed_time += time.perf_counter() - t0
                t0 = time.perf_counter()
                if profile:
                    profile.enable()
                for j in chunk:
                    session, items = batches[j]
                    ctx = CallContext(project_scope=items[0].scope or "global", client="bench",
                                      session=session, tool="bench")
                    await service.remember_many(items, ctx=ctx)
                if profile:
                    profile.disable()
                spent = time.perf_counter() - t0
                pipeline_time += spent
                turns = sum(len(batches[j][1]) for j in chunk)
                done += turns
                rates.append(turns / spent)
                print(f"  {done:>6} turns: pipeline {turns / spent:6.1f} turns/s", file=sys.stderr)
        finally:
            await service.close()
    total = sum(len(items) for _, items in batches)
    chars = statistics.fmean(len(i.content) for _, items in batches for i in items)
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue(), file=sys.stderr)
    return {"turns": total, "chars": chars, "embedder": total / embed_time,
            "pipeline": total / pipeline_time, "first": rates[0], "last": rates[-1]}


def main() -> None:
    """Parse the options, run once per preloaded size, print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--preloaded", default="0",
                        help="comma-separated sizes of the store before the ingest")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"no LongMemEval file at {args.data}; pass its path with --data")
    for size in (int(s) for s in args.preloaded.split(",")):
        r = anyio.run(run, args, size)
        print(f"preloaded {size:>7}: {r['turns']} turns of {r['chars']:.0f} characters on "
              f"average; embedder alone {r['embedder']:.1f} turns/s, remember_many "
              f"{r['pipeline']:.1f} turns/s ({r['pipeline'] / r['embedder']:.2f} of the "
              f"embedder); first chunk {r['first']:.1f}, last {r['last']:.1f} turns/s")


if __name__ == "__main__":
    main()
