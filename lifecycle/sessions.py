"""What a server knows of each assistant session between its hook events: the project, the
memories already injected, the commands still failing, the files edited, the tests run.

Held in memory by the server that handles the session's events (a bounded number of sessions,
the least recently seen dropped first); events spooled while no server ran are replayed in
order, so the state is rebuilt the same way.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from habitus.core.project.scope import detect_scope

from .events import HookEvent

__all__ = ["Failure", "TestRun", "SessionState", "Sessions"]

MAX_SESSIONS = 256
MAX_EVENT_IDS = 64  # events a session remembers having handled (a timed-out send, spooled too)


@dataclass
class Failure:
    """A command that failed and has not worked since, with what was edited after it."""

    command: str
    error: str
    edits: list[str] = field(default_factory=list)


@dataclass
class TestRun:
    """One run of a test command and whether it passed."""

    command: str
    passed: bool
    summary: str = ""


@dataclass
class SessionState:
    """One session as its hook events have shown it so far."""

    session_id: str
    scope: str = "global"
    branch: str = ""
    workdir: str = ""
    task: str = ""  # the first prompt of the session
    prompt: str = ""  # the prompt of the current turn
    injected: set[str] = field(default_factory=set)
    failures: dict[str, Failure] = field(default_factory=dict)  # by command key
    turn_edits: dict[str, int] = field(default_factory=dict)
    edits: dict[str, int] = field(default_factory=dict)
    turn_tests: list[TestRun] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    commands: int = 0
    failed: int = 0
    fixed: int = 0
    events: int = 0
    created: list[str] = field(default_factory=list)  # ids of memories captured
    procedures: list[str] = field(default_factory=list)  # ids learnt from the transcript
    seen: float = field(default_factory=time.monotonic)
    handled: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_EVENT_IDS))

    def first_time(self, event_id: str) -> bool:
        """Whether the event `event_id` ("": unknown) was not handled before, noting it."""
        if not event_id:
            return True
        if event_id in self.handled:
            return False
        self.handled.append(event_id)
        return True

    @classmethod
    def of(cls, event: HookEvent) -> SessionState:
        """The state of a session that starts with `event`: its project from the directory."""
        scope = detect_scope(event.cwd or None)
        return cls(session_id=event.session_id or "-", scope=scope.id, branch=scope.branch or "",
                   workdir=str(scope.root) if scope.root else event.cwd)

    def end_turn(self) -> None:
        """Forget what belonged to the turn that just ended."""
        self.prompt = ""
        self.turn_edits.clear()
        self.turn_tests.clear()


class Sessions:
    """The states of the sessions a server has seen, the least recently seen dropped first."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._states: OrderedDict[str, SessionState] = OrderedDict()

    def get(self, session_id: str) -> SessionState | None:
        state = self._states.get(session_id)
        if state is not None:
            self._states.move_to_end(session_id)
            state.seen = time.monotonic()
        return state

    def add(self, state: SessionState) -> SessionState:
        self._states[state.session_id] = state
        self._states.move_to_end(state.session_id)
        while len(self._states) > self.limit:
            self._states.popitem(last=False)
        return state

    def end(self, session_id: str) -> None:
        self._states.pop(session_id, None)
