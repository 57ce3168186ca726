"""Eight processes write, recall and forget on one store at once: every acknowledged memory is
stored once and journaled, the forgotten ones are gone, distinct notes that differ only in
their identifiers stay distinct, and a conflict between processes is never a traceback.

Bounded for the suite (`PER_PROCESS` writes each); `bench/bench_faults.py --processes 8`
runs the longer version and prints the throughput.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio

from habitus.core.config import Settings

PROCESSES = 8
PER_PROCESS = 20

WORKER = """
import json, sys, anyio
from habitus.core.config import Settings
from habitus.core.service import MemoryService

async def main(db: str, name: str, count: int) -> None:
    service = await MemoryService.open(Settings(db=db))
    forgotten = []
    for i in range(count):
        note = f"process {name} note number {i} about subsystem {name}{i} zebra{name}{i}x"
        result = await service.remember(note, scope="global")
        print(json.dumps({"id": result.id, "status": result.status}), flush=True)
        await service.recall(f"subsystem {name}{i}", scope="global", limit=5)
        if i % 5 == 4:  # forget one of its own notes now and then
            await service.forget(ids=[result.id])
            forgotten.append(result.id)
    print(json.dumps({"forgotten": forgotten}), flush=True)
    await service.close()

anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def run_writers(db: Path, processes: int, count: int) -> tuple[list[dict], list[str], list[str]]:
    """Start the writers together; their acknowledgements, forgotten ids and stderr."""
    env = {**os.environ, "LANCE_LOG": "error"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), chr(ord("a") + n),
                               str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for n in range(processes)]
    acknowledged: list[dict] = []
    forgotten: list[str] = []
    errors: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        for line in out.splitlines():
            record = json.loads(line)
            if "forgotten" in record:
                forgotten += record["forgotten"]
            else:
                acknowledged.append(record)
        errors.append(err)
    return acknowledged, forgotten, errors


def test_eight_processes_on_one_store_lose_nothing_and_merge_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store"
    acknowledged, forgotten, stderr = run_writers(db, PROCESSES, PER_PROCESS)

    assert len(acknowledged) == PROCESSES * PER_PROCESS
    assert all(a["status"] == "created" for a in acknowledged), "distinct notes were merged"
    ids = {a["id"] for a in acknowledged}
    assert len(ids) == PROCESSES * PER_PROCESS
    assert not any("Traceback" in err for err in stderr), next(e for e in stderr if e)[-3000:]

    async def look() -> tuple[list[dict], set[str], set[str]]:
        from habitus.core.service import MemoryService

        service = await MemoryService.open(Settings(db=str(db)))
        try:
            rows = await service.store.scan(None, columns=["id", "content", "deleted_at"])
            journal = await service.journal.rows()
            remembered = {i for r in journal if r["op"] == "remember" for i in r["ids"]}
            forgets = {i for r in journal if r["op"] == "forget" for i in r["ids"]}
            return rows, remembered, forgets
        finally:
            await service.close()

    rows, remembered, forgets = anyio.run(look)
    assert {r["id"] for r in rows} == ids, "stored ≠ acknowledged"
    assert len({r["content"] for r in rows}) == len(rows), "a note was stored twice"
    gone = {r["id"] for r in rows if r["deleted_at"] is not None}
    assert gone == set(forgotten)
    assert ids <= remembered, f"{len(ids - remembered)} acknowledged writes not journaled"
    assert set(forgotten) <= forgets
