"""The longer fault campaigns behind the bounded tests: many processes on one store
(`tests/test_many_processes.py`) and kill -9 during bursts of writes (`tests/test_crash.py`).

    python bench/bench_faults.py [--processes 8] [--per-process 200] [--kill-trials 32]

Prints, for the processes: acknowledged, stored, stored twice, merged, journaled, forgotten,
tracebacks on stderr and writes per second; for the crashes: trials, acknowledged writes,
lost ones, ones missing from the journal, journal rows committed twice.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from habitus.core.config import Settings  # noqa: E402
from habitus.core.service import MemoryService  # noqa: E402
from tests.test_crash import _acknowledged_then_killed  # noqa: E402
from tests.test_many_processes import run_writers  # noqa: E402


async def contents(db: Path, embedder: str) -> tuple[list[dict], set[str], list[str]]:
    """The store's rows, the ids its journal's remember operations name, its journal row ids."""
    service = await MemoryService.open(Settings(db=str(db), embedder=embedder))
    try:
        rows = await service.store.scan(None, columns=["id", "content", "deleted_at"])
        journal = await service.journal.rows()
        remembered = {i for r in journal if r["op"] == "remember" for i in r["ids"]}
        return rows, remembered, [r["id"] for r in journal]
    finally:
        await service.close()


def processes(count: int, per_process: int) -> None:
    with tempfile.TemporaryDirectory(prefix="habitus-faults-") as folder:
        db = Path(folder) / "store"
        started = time.perf_counter()
        acknowledged, forgotten, stderr = run_writers(db, count, per_process)
        wall = time.perf_counter() - started
        rows, remembered, _ = anyio.run(contents, db, "minilm")
    ids = {a["id"] for a in acknowledged}
    stored = {r["id"] for r in rows}
    print(f"{count} processes × {per_process} writes (each with a recall; every 5th forgotten), "
          f"{wall:.0f} s wall, process start included:")
    print(f"  acknowledged {len(acknowledged)}, stored {len(stored)}, acknowledged but lost "
          f"{len(ids - stored)}, stored twice {len(rows) - len({r['content'] for r in rows})}, "
          f"merged into another {sum(a['status'] != 'created' for a in acknowledged)}")
    print(f"  journaled {len(ids & remembered)} of {len(ids)}; forgotten {len(forgotten)}, "
          f"deleted {sum(r['deleted_at'] is not None for r in rows)}; "
          f"tracebacks on stderr {sum(e.count('Traceback') for e in stderr)}")
    print(f"  throughput {len(acknowledged) / wall:.1f} writes/s in total "
          f"(with a recall after each)")


def crashes(trials: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="habitus-crash-") as folder:
        db = Path(folder) / "store"
        acknowledged: list[str] = []
        for _ in range(trials):
            acknowledged += _acknowledged_then_killed(db, rng.randint(1, 60))
        rows, remembered, journal_ids = anyio.run(contents, db, "none")
    stored = {r["id"] for r in rows}
    ids = set(acknowledged)
    print(f"{trials} kill -9 trials during bursts of writes: acknowledged {len(ids)}, "
          f"stored {len(stored)}, lost {len(ids - stored)}, missing from the journal "
          f"{len(ids - remembered)}, journal rows committed twice "
          f"{len(journal_ids) - len(set(journal_ids))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--per-process", type=int, default=200)
    parser.add_argument("--kill-trials", type=int, default=32)
    args = parser.parse_args()
    if args.processes:
        processes(args.processes, args.per_process)
    if args.kill_trials:
        crashes(args.kill_trials)


if __name__ == "__main__":
    main()
