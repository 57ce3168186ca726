"""`habitus watch`: distil Claude Code sessions into procedures as they are written.

A session transcript (`~/.claude/projects/<project>/<session>.jsonl`) grows while the session
runs. A session is ingested once it has been quiet for `idle` seconds; if it grows again later,
its new procedure supersedes the one from its earlier state (same session id). What was ingested
is kept in a small JSON state file so that restarts do not ingest twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from habitus.base.errors import HabitusError
from habitus.core.models import CallContext
from habitus.core.trajectory.claude_code import read_claude_code
from habitus.core.trajectory.model import Trajectory
from habitus.plugins.procedural.distill import Procedure
from habitus.plugins.procedural.memory import store_procedures

__all__ = ["ingest_session", "watch_sessions"]

log = logging.getLogger("habitus.watch")


async def ingest_session(
    service: Any, path: Path, distiller: Callable[[Trajectory], Awaitable[list[Procedure]]],
    *, scope: str | None, ctx: CallContext,
) -> list[str]:
    """Distil one session file and store its procedures (a session read again, grown, gives
    new versions of what it gave before: see `store_procedures`)."""
    trajectory = read_claude_code(path)
    if not trajectory.steps:
        return []
    results = await store_procedures(service, await distiller(trajectory), scope=scope, ctx=ctx)
    return [r.id for r in results]


async def watch_sessions(
    service: Any, folder: Path, *, distiller: Callable[[Trajectory], Awaitable[list[Procedure]]],
    idle: float = 60.0, once: bool = False, scope: str | None = None,
    ctx: CallContext | None = None, state_file: Path | None = None,
    echo: Callable[[str], None] = print, stop_event: Any = None,
) -> int:
    """Ingest quiet sessions under `folder`, now (`once`) or as they change; returns how many."""
    import anyio
    import watchfiles

    ctx = ctx or CallContext(client="watch", tool="watch")
    state: dict[str, dict[str, Any]] = {}
    if state_file is not None and state_file.is_file():
        try:
            state = json.loads(state_file.read_text("utf-8"))
        except ValueError:
            state = {}
    count = 0

    async def sweep() -> None:
        nonlocal count
        now = time.time()
        for path in sorted(folder.rglob("*.jsonl")):
            try:
                stat = path.stat()
            except OSError:
                continue
            key, seen = str(path), state.get(str(path), {})
            if seen.get("size") == stat.st_size or (not once and now - stat.st_mtime < idle):
                continue
            try:
                ids = await ingest_session(service, path, distiller, scope=scope, ctx=ctx)
            except HabitusError as exc:
                log.warning("cannot ingest %s: %s", path, exc)
                ids = seen.get("ids", [])
            state[key] = {"size": stat.st_size, "ids": ids}
            count += 1
            echo(f"ingested {path.name} → {', '.join(ids) or 'no steps'}")
        if state_file is not None:
            state_file.parent.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps(state), "utf-8")

    await sweep()
    if once:
        return count
    stop = stop_event or anyio.Event()
    async with anyio.create_task_group() as tasks:
        async def tick() -> None:  # a quiet session needs a sweep even without a new event
            while not stop.is_set():
                await anyio.sleep(max(1.0, idle / 2))
                await sweep()

        tasks.start_soon(tick)
        async for _ in watchfiles.awatch(folder, stop_event=stop, recursive=True):
            await sweep()
        tasks.cancel_scope.cancel()
    return count
