"""The durable hand-over behind the hooks' spool and the store's deferred rows: appends from
many processes arrive whole, a take never loses an append made meanwhile, and what a dead
taker held is taken again, once."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from habitus.base import spool

pytestmark = pytest.mark.fast


def _writer(path: str, tag: int, count: int) -> None:
    for i in range(count):
        spool.append(Path(path), [{"tag": tag, "i": i, "pad": "x" * 3000}])


def test_appends_from_many_processes_survive_takes_made_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "spool-a.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(path), tag, 300)) for tag in range(4)]
    for w in writers:
        w.start()
    taken: list[Path] = []
    while any(w.is_alive() for w in writers) or path.exists():
        mine = spool.take(path)
        if mine is not None:  # each take gets a name of its own: keep them apart
            kept = mine.with_name(f"batch-{len(taken)}.jsonl")
            os.replace(mine, kept)
            taken.append(kept)
    for w in writers:
        w.join()
    got = [(r["tag"], r["i"]) for p in taken for r in spool.records(p)]
    # none lost, none twice
    assert sorted(got) == [(tag, i) for tag in range(4) for i in range(300)]
    for tag in range(4):  # each writer's records in its own order
        assert [i for t, i in got if t == tag] == list(range(300))


def test_what_a_dead_taker_held_is_taken_again_once(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    held = tmp_path / f"spool-a.{int(dead.stdout)}{spool.TAKEN}"
    held.write_text('{"n": 1}\ntorn li')
    alive = tmp_path / f"spool-a.{os.getppid()}{spool.TAKEN}"  # a live taker keeps its own
    alive.write_text('{"n": 2}\n')
    (again,) = spool.abandoned(tmp_path, "spool-a.")
    assert spool.taker(again) == os.getpid() and spool.records(again) == [{"n": 1}]
    assert spool.abandoned(tmp_path, "spool-a.") == [] and alive.exists()


def test_a_full_spool_refuses_instead_of_growing(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    assert spool.append(path, [{"a": 1}], max_bytes=20)
    assert not spool.append(path, [{"b": "x" * 30}], max_bytes=20)
    assert spool.records(path) == [{"a": 1}] and oct(path.stat().st_mode)[-3:] == "600"
