"""A shell command's wall time, process start included: `habitus stats`, `recall` and
`remember` with a server running for the store (the command goes through it) and without one
(the command opens the store itself), side by side in one run.

    python bench/bench_cli.py [--memories 1000] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.service import MemoryService

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import fact  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fill(db: str, count: int) -> None:
    rng = random.Random(11)
    service = await MemoryService.open(Settings(db=db))
    ctx = CallContext(project_scope="global", client="bench")
    for at in range(0, count, 500):
        await service.remember_many([NewMemory(content=fact(i, rng), dedup=False)
                                     for i in range(at, min(count, at + 500))], ctx=ctx)
    await service.close()


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for i in range(runs):
        args = [a.replace("{i}", str(i)) for a in command]
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "habitus"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "habitus.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "store")
        anyio.run(fill, db, args.memories)
        env = {**os.environ, "HABITUS_DB": db, "XDG_RUNTIME_DIR": tmp, "XDG_STATE_HOME": tmp,
               "LANCE_LOG": "error", "HABITUS_SCOPE": "global"}
        commands = {
            "stats": [*base, "stats"],
            "recall": [*base, "recall", "the deploy script fails when value is unset"],
            "remember": [*base, "remember", "bench note {i}: the cache was warmed"],
        }
        alone = {name: timed(cmd, env, max(3, args.runs // 3)) for name, cmd in commands.items()}
        subprocess.run([*base, "daemon", "start"], env=env, check=True, capture_output=True)
        try:
            for cmd in commands.values():  # the server opens the store on its first call
                subprocess.run(cmd, env=env, check=True, capture_output=True)
            served = {name: timed(cmd, env, args.runs) for name, cmd in commands.items()}
        finally:
            subprocess.run([*base, "daemon", "stop"], env=env, capture_output=True)
    print(f"CLI wall time, process start included ({args.memories} memories), ms")
    print(f"{'command':<10}{'server p50':>12}{'p95':>8}{'no server p50':>16}{'p95':>8}"
          f"{'ratio':>8}")
    for name in commands:
        on, off = served[name], alone[name]
        print(f"{name:<10}{pct(on, 0.5):>12.0f}{pct(on, 0.95):>8.0f}{pct(off, 0.5):>16.0f}"
              f"{pct(off, 0.95):>8.0f}{pct(off, 0.5) / pct(on, 0.5):>7.1f}×")


if __name__ == "__main__":
    main()
