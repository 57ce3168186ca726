"""A session that starts when no server runs for its store — the first one after install, or
the first after an idle server left — still starts with the project's context: the hook
computes it in its own process, reading the store, while a server starts in the background for
the events that follow. (Waiting for that server costs more: it loads the MCP stack and the
embedding model first.) Should the store be unreadable here, the context a server last
computed for the project is used instead.
"""

from __future__ import annotations

import logging
import os

import anyio

from .context import Injection
from .events import HookEvent

__all__ = ["session_start_here"]

log = logging.getLogger("habitus.hooks")


def session_start_here(db: str, event: HookEvent) -> Injection:
    """The session-start context of `event`'s project, read from the store `db` directly."""
    from . import files

    if "://" not in db and not os.path.isdir(db):
        return Injection()  # no store yet: nothing remembered
    from habitus.core.text import tokens

    tokens.preload()  # beside the imports: its file parsing leaves the interpreter free at times
    try:
        return anyio.run(_compute, db, event, backend="asyncio")
    except Exception as exc:  # the cache, rather than nothing
        log.warning("session-start context not computed here (%s); using the cached one", exc)
        from habitus.core.project.scope import detect_scope

        scope = detect_scope(event.cwd or None)
        text, ids = files.read_context(db, files.project_key(scope.id, scope.branch or ""))
        return Injection(text, ids)


async def _compute(db: str, event: HookEvent) -> Injection:
    from habitus.core.config import Settings
    from habitus.core.models import CallContext
    from habitus.core.service import MemoryService

    from . import files
    from .context import session_context
    from .sessions import SessionState

    state = SessionState.of(event)
    ctx = CallContext(project_scope=state.scope, client="claude-code",
                      session=event.session_id, tool="hook:SessionStart",
                      workdir=state.workdir, branch=state.branch, source="hook")
    service = await MemoryService.open(Settings(db=db, embedder="none"))
    try:
        injection = await session_context(service.store, state, ctx)
    finally:
        await service.close()
    files.write_context(db, files.project_key(state.scope, state.branch), injection.text,
                        injection.ids)
    return injection
