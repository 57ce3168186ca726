"""A process killed (SIGKILL) in the middle of a burst of writes loses nothing it acknowledged:
every memory it reported stored is in the store and in the journal (so undo and audit see it),
once the next process opens the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from habitus.core.config import Settings

WRITER = """
import os, sys, anyio
from habitus.core.config import Settings
from habitus.core.service import MemoryService

async def main() -> None:
    service = await MemoryService.open(Settings(db=sys.argv[1], embedder="none"))
    for i in range(100_000):
        note = f"crash note {i} of process {os.getpid()} about zebra{i}x"
        result = await service.remember(note, dedup=False)
        print(result.id, flush=True)

anyio.run(main)
"""


def _acknowledged_then_killed(db: Path, after: int) -> list[str]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "LANCE_LOG": "error"})
    assert proc.stdout is not None
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) >= after:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    return acknowledged


@pytest.mark.parametrize("after", [5, 40])
def test_nothing_acknowledged_is_missing_from_the_journal_after_kill_9(
    tmp_path: Path, after: int
) -> None:
    db = tmp_path / "store"
    acknowledged = _acknowledged_then_killed(db, after)
    acknowledged += _acknowledged_then_killed(db, after)  # a second crash on the same store

    async def look() -> tuple[set[str], set[str], list[str]]:
        from habitus.core.service import MemoryService

        service = await MemoryService.open(Settings(db=str(db), embedder="none"))
        try:
            stored = {r["id"] for r in await service.store.scan(None, columns=["id"])}
            rows = await service.journal.rows()
            journaled = {i for r in rows if r["op"] == "remember" for i in r["ids"]}
            return stored, journaled, [r["id"] for r in rows]
        finally:
            await service.close()

    stored, journaled, row_ids = anyio.run(look)
    assert set(acknowledged) <= stored
    assert set(acknowledged) <= journaled, f"{len(set(acknowledged) - journaled)} not journaled"
    assert len(row_ids) == len(set(row_ids)), "a journal row was committed twice"
    assert not list((db / "_deferred").glob("*.replaying"))


LINKER = """
import os, sys, anyio
from datetime import UTC, datetime
from habitus.store import Store

async def main() -> None:
    store = await Store.open(sys.argv[1], dimension=4)
    rows = [{"id": f"edge-{i}", "source": "a", "target": f"b{i}", "relation": "related_to",
             "weight": 0.8, "note": "", "created_at": datetime(2026, 1, 2, tzinfo=UTC)}
            for i in range(3)]
    await store.add_links(rows, deferred=True)  # acknowledged, not yet committed
    os._exit(0)  # gone before the writer's next turn: only the durable log has them

anyio.run(main)
"""


def test_deferred_edges_of_a_process_that_died_are_committed_by_the_next(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store"
    subprocess.run([sys.executable, "-c", LINKER, str(db)], check=True, timeout=120)

    async def edges() -> list[dict]:
        from habitus.store import Store

        store = await Store.open(str(db), dimension=4)
        try:
            return await store.find_links(store.where.links.eq("source", "a"))
        finally:
            await store.close()

    found = anyio.run(edges)
    assert sorted(e["id"] for e in found) == ["edge-0", "edge-1", "edge-2"]
    assert all(e["created_at"].year == 2026 for e in found)
    assert len(anyio.run(edges)) == 3, "committed once, not again by the next opener"
