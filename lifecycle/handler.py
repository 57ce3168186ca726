"""The lifecycle of an assistant session, event by event: follow it, capture what is worth
keeping, and answer with context where the event allows.

    SessionStart      → the project's standing knowledge (and the session begins)
    UserPromptSubmit  → preferences stated in the prompt; memories that bear on it
    PostToolUse(+Failure) → error → fix pairs, edits and test runs followed
    Stop              → what the turn changed, and why
    PreCompact        → the transcript so far distilled into a procedure
    SessionEnd        → a summary with its outcome; the procedure, when the task succeeded

Events of one session are handled one at a time, in order. Every memory written here records
its source as `hook`, the event (`tool`) and the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import anyio

from habitus.core.models import CallContext, NewMemory
from habitus.core.trajectory.claude_code import read_claude_code
from habitus.core.trajectory.model import Outcome

from . import capture, files
from .context import (
    DEFAULT_BUDGET,
    PROMPT_GATE,
    Gate,
    Injection,
    prompt_context,
    session_context,
)
from .events import HookEvent, answer, parse_event
from .sessions import Sessions, SessionState

__all__ = ["Lifecycle", "Plugins"]

log = logging.getLogger("habitus.hooks")

MIN_PROMPT_WORDS = 3
QUERY_CHARS = 1000


class Plugins(Protocol):
    """What the lifecycle asks of the plugins: to learn from a session that went well."""

    async def call(self, hook: str, **kwargs: Any) -> list[Any]: ...


class Lifecycle:
    """Handles hook events for one store; `service` is the memory service of that store."""

    def __init__(
        self, service: Any, *, db: str, plugins: Plugins | None = None,
        budget: int = DEFAULT_BUDGET, gate: Gate = PROMPT_GATE, client: str = "claude-code",
    ) -> None:
        self.service = service
        self.db = db
        self.plugins = plugins
        self.budget = budget
        self.gate = gate
        self.client = client
        self.sessions = Sessions()
        self._locks: dict[str, anyio.Lock] = {}
        self._draining = anyio.Lock()
        self.stages: dict[str, Callable[[SessionState, HookEvent, CallContext, bool],
                                        Awaitable[Injection | None]]] = {
            "SessionStart": self._session_start,
            "UserPromptSubmit": self._prompt,
            "PostToolUse": self._tool,
            "PostToolUseFailure": self._tool,
            "Stop": self._stop,
            "PreCompact": self._pre_compact,
            "SessionEnd": self._session_end,
        }

    async def handle(self, event: HookEvent, *, replay: bool = False) -> dict[str, Any] | None:
        """Follow `event`; the hook's answer (context for the model) or None. Events spooled
        before it are handled first, so that events count in the order they happened. A
        `replay` (an event spooled while no server ran) is captured but answers nothing."""
        if not replay:
            await self.drain()
        key = event.session_id or "-"
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            state = self._state(event)
            if not state.first_time(event.event_id):
                return None  # sent, timed out, spooled, and now here again
            state.events += 1
            state.injected.update(event.injected)
            ctx = CallContext(project_scope=state.scope, client=self.client,
                              session=event.session_id, tool=f"hook:{event.name}",
                              workdir=state.workdir, branch=state.branch, source="hook")
            injection = await self.stages[event.name](state, event, ctx, replay)
            if injection is not None:
                state.injected.update(injection.ids)
            if event.name == "SessionEnd":
                self.sessions.end(key)
                self._locks.pop(key, None)
        return answer(event.name, injection.text) if injection is not None else None

    async def drain(self) -> int:
        """Handle the events hooks spooled while no server ran, in order; how many. A live
        event arriving meanwhile waits until they are all handled."""
        if not files.spool_waiting(self.db):
            return 0
        async with self._draining:
            events, taken = files.take_events(self.db)
            for data in events:
                try:
                    await self.handle(parse_event(data), replay=True)
                except Exception:  # one bad event must not keep the others from memory
                    log.exception("spooled %s event not handled", data.get("hook_event_name"))
            for path in taken:
                path.unlink(missing_ok=True)
        return len(events)

    def _state(self, event: HookEvent) -> SessionState:
        key = event.session_id or "-"
        state = self.sessions.get(key)
        return state if state is not None else self.sessions.add(SessionState.of(event))

    async def _remember(self, state: SessionState, ctx: CallContext,
                        drafts: list[NewMemory]) -> list[str]:
        """Store `drafts`; the ids of the memories that now hold them."""
        if not drafts:
            return []
        results = await self.service.remember_many(drafts, ctx=ctx)
        state.created += [r.id for r in results if r.status == "created"]
        return [r.id for r in results]

    def project(self, state: SessionState) -> str:
        """The key of the session-start context kept for a project and branch."""
        return files.project_key(state.scope, state.branch)

    async def _session_start(self, state: SessionState, event: HookEvent, ctx: CallContext,
                             replay: bool) -> Injection | None:
        if event.source in ("clear", "compact"):
            state.injected.clear()  # what was shown is no longer in the model's context
        if replay:
            return None
        injection = await session_context(self.service.store, state, ctx, budget=self.budget)
        files.write_context(self.db, self.project(state), injection.text, injection.ids)
        return injection

    async def _prompt(self, state: SessionState, event: HookEvent, ctx: CallContext,
                      replay: bool) -> Injection | None:
        prompt = event.prompt.strip()
        state.prompt = prompt
        state.task = state.task or prompt
        said = await self._remember(state, ctx, capture.prompt_memories(state, prompt))
        state.injected.update(said)  # the prompt itself puts them in the model's context
        if replay or len(prompt.split()) < MIN_PROMPT_WORDS:
            return None
        query = prompt[:QUERY_CHARS]  # a pasted log or issue: its opening says what it is about
        result = await self.service.recall(query, limit=8, ctx=ctx)
        return await prompt_context(result.memories, self.service.encoder, state, query,
                                    gate=self.gate)

    async def _tool(self, state: SessionState, event: HookEvent, ctx: CallContext,
                    replay: bool) -> None:
        await self._remember(state, ctx, capture.tool_memories(state, event))

    async def _stop(self, state: SessionState, event: HookEvent, ctx: CallContext,
                    replay: bool) -> None:
        await self._remember(state, ctx, capture.turn_memories(state))
        state.end_turn()

    async def _learn(self, state: SessionState, event: HookEvent, ctx: CallContext) -> None:
        """The session's transcript so far, a task done well, handed to the plugins to learn
        from (the procedural plugin keeps how it was done)."""
        if self.plugins is None or not event.transcript_path:
            return
        path = Path(event.transcript_path)
        if not path.is_file():
            log.info("no transcript at %s; nothing to learn from", path)
            return
        trajectory = await anyio.to_thread.run_sync(read_claude_code, path)
        if not trajectory.steps:
            return
        done = trajectory.model_copy(update={"outcome": Outcome(
            success=True, summary=trajectory.outcome.summary if trajectory.outcome else "")})
        found = await self.plugins.call("trajectory_finished", trajectory=done,
                                        scope=state.scope, ctx=ctx)
        state.procedures = list(dict.fromkeys(i for ids in found for i in ids))

    async def _pre_compact(self, state: SessionState, event: HookEvent, ctx: CallContext,
                           replay: bool) -> None:
        if capture.succeeded(state):
            await self._learn(state, event, ctx)

    async def _session_end(self, state: SessionState, event: HookEvent, ctx: CallContext,
                           replay: bool) -> None:
        drafts = capture.turn_memories(state) + capture.session_memories(state)
        await self._remember(state, ctx, drafts)
        if capture.succeeded(state):
            await self._learn(state, event, ctx)
        log.info("session %s ended: %s", state.session_id, capture.describe(state))
