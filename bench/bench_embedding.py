"""Measure the default embedder: import-to-first-vector time, per-text latency and memory.

Run with `.venv/bin/python bench/bench_embedding.py` (a fresh process, so the first figure
includes importing habitus, onnxruntime and tokenizers and loading the model).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import resource  # noqa: E402 - imported after START so the clock covers every import below
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from habitus.core.embedding.embedders import MiniLMEmbedder, embed_one  # noqa: E402

SHORT_TEXTS = [
    f"memory {i}: the project uses uv for packages and pytest for the test suite" for i in range(64)
]
ROUNDS = 20


def rss_mb() -> float:
    """Current resident set size in MB (from /proc on Linux, else the peak from getrusage)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Median wall time of `rounds` calls of `fn`, after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Print the figures, one per line."""
    embedder = MiniLMEmbedder()
    embed_one(embedder, "first vector")
    first = time.perf_counter() - START
    print(f"import to first vector:      {first:.3f} s")

    single = median_seconds(lambda: embed_one(embedder, SHORT_TEXTS[0]))
    print(f"short text, single:          {single * 1e3:.2f} ms")
    batch = median_seconds(lambda: embedder.embed(SHORT_TEXTS))
    print(f"short text, batch of 64:     {batch / len(SHORT_TEXTS) * 1e3:.2f} ms per text")
    print(f"RSS:                         {rss_mb():.0f} MB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:                    {peak:.0f} MB")


if __name__ == "__main__":
    main()
