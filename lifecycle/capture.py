"""What is worth remembering from a session's events, decided by rules, without a model.

- a command that failed and the command that later worked for the same goal (an error → fix
  pair), with the files edited in between, anchored to them;
- at the end of each turn that changed something: the files edited, for the prompt that asked
  for it, and the tests run with their outcome;
- at the end of the session: a short episodic summary with its outcome;
- in a prompt: the user's statements of preference or convention ("always…", "we use…").

Reads, listings, searches and commands that worked at the first try are only counted: memory
that records everything is memory no one can use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from habitus.core.models import NewMemory
from habitus.core.trajectory.actions import classify, command_key

from .events import HookEvent
from .sessions import Failure, SessionState, TestRun

__all__ = ["tool_memories", "turn_memories", "session_memories", "prompt_memories",
           "succeeded", "describe", "is_test_command"]

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
MAX_FILES = 10
_TEST_COMMAND = re.compile(
    r"(?:^|[\s;&|/])(?:pytest|py\.test|tox|nox|jest|vitest|mocha|rspec|phpunit|ctest|unittest)\b"
    r"|\b(?:go|cargo|npm|yarn|pnpm|bun|mvn|gradle|gradlew|dotnet|mix|just|make|deno)\s+"
    r"(?:run\s+)?test\b"
)
_TEST_FAILED = re.compile(r"\b[1-9]\d* (?:failed|errors?|failing)\b|\bFAIL(?:ED|URES?)?\b")
_TEST_SUMMARY = re.compile(
    r"^.*\b\d+ (?:passed|failed|passing|failing|tests?)\b.*$|^(?:ok|FAIL|PASS)\b.*$", re.M)
_ERROR_LINE = re.compile(
    r"^.*(?:\b\w*(?:Error|Exception)\b|error(?:\[\w+\])?:|\bfatal:|command not found|No such file"
    r"|\bFAILED\b|cannot|not found).*$", re.M | re.I)
_PREFERENCE = re.compile(
    r"^(?:please\s+)?(?:always|never(?!\s+mind)|from now on|going forward|in this (?:repo|project"
    r"|codebase)|we (?:always|never|use|prefer|don'?t|do not)|our (?:convention|style|rule)"
    r"|the convention (?:here )?is|i (?:always )?(?:prefer|want you to always|like to keep)"
    r"|prefer\s+\S+\s+(?:over|to)\b|use\s+\S+(?:\s+\S+)?\s+(?:instead of|rather than)\b"
    r"|(?:do not|don'?t) ever\b)", re.I)
_EXCEPTION_LINE = re.compile(r"^.*\b[A-Z]\w*(?:Error|Exception)\b:.*$", re.M)
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _relative(path: str, workdir: str) -> str:
    if workdir and os.path.isabs(path):
        try:
            rel = os.path.relpath(path, workdir)
        except ValueError:
            return path
        return path if rel.startswith("..") else rel
    return path


def _output(event: HookEvent) -> str:
    response = event.tool_response
    if isinstance(response, dict):
        parts = [response.get(k) for k in ("stdout", "stderr", "output", "error", "content")]
        text = "\n".join(p for p in parts if isinstance(p, str) and p)
    else:
        text = response if isinstance(response, str) else ""
    return "\n".join(t for t in (text, event.error) if t)


def _failed(event: HookEvent, command: str, output: str) -> bool:
    response = event.tool_response if isinstance(event.tool_response, dict) else {}
    if event.name == "PostToolUseFailure" or response.get("is_error") \
            or response.get("interrupted"):
        return True
    code = response.get("exit_code", response.get("exitCode", response.get("returncode")))
    if isinstance(code, int) and code != 0:
        return True
    if re.match(r"\s*Exit code [1-9]", output):
        return True
    return is_test_command(command) and bool(_TEST_FAILED.search(output[-4000:]))


def is_test_command(command: str) -> bool:
    """Whether `command` runs a test suite."""
    return bool(_TEST_COMMAND.search(command))


def _error_of(output: str) -> str:
    """The line of `output` that best says what went wrong: the last exception named, else
    the last line that reads as an error, else the first line."""
    output = re.sub(r"^\s*Exit code \d+\s*", "", output)
    tail = output[-8000:]
    lines = _EXCEPTION_LINE.findall(tail) or _ERROR_LINE.findall(tail)
    line = lines[-1] if lines else next((x for x in output.splitlines() if x.strip()), "")
    return _short(line.strip(" E>"), 240)


def _test_summary(output: str, passed: bool) -> str:
    found = _TEST_SUMMARY.findall(output[-4000:])
    return _short(found[-1], 160) if found else ("passed" if passed else "failed")


def _memory(state: SessionState, content: str, *, kind: str = "episodic", tags: list[str],
            anchors: Sequence[str] = (), importance: float = 0.5) -> NewMemory:
    """A memory of the session's project, anchored to the files it names that exist there."""
    held = [a for a in anchors if state.workdir and not os.path.isabs(a)
            and os.path.isfile(os.path.join(state.workdir, a))]
    return NewMemory(content=content, kind=kind, tags=tags, scope=state.scope,
                     importance=importance, anchors=held[:MAX_FILES])


def tool_memories(state: SessionState, event: HookEvent) -> list[NewMemory]:
    """Follow one tool call; an error → fix pair when a failing goal now works."""
    data = event.tool_input
    if event.tool_name in EDIT_TOOLS:
        path = data.get("file_path") or data.get("notebook_path")
        if isinstance(path, str) and path:
            rel = _relative(path, state.workdir)
            for counts in (state.turn_edits, state.edits):
                counts[rel] = counts.get(rel, 0) + 1
            for failure in state.failures.values():
                if rel not in failure.edits:
                    failure.edits.append(rel)
        return []
    command = data.get("command")
    if event.tool_name != "Bash" or not isinstance(command, str) or not command.strip():
        return []
    output = _output(event)
    failed = _failed(event, command, output)
    state.commands += 1
    if is_test_command(command):
        run = TestRun(_short(command, 200), not failed, _test_summary(output, not failed))
        state.turn_tests.append(run)
        state.tests.append(run)
    kind, tokens = classify(command)
    key = command_key(tokens) or _short(command, 80)
    if failed:
        state.failed += 1
        if kind not in ("look", "search", "read") or is_test_command(command):
            state.failures.setdefault(key, Failure(_short(command, 300), _error_of(output)))
        return []
    failure = state.failures.pop(key, None)
    if failure is None:
        return []
    state.fixed += 1
    if failure.edits:
        edited = ", ".join(failure.edits[:MAX_FILES])
        how = f"fixed by editing {edited}, then `{_short(command, 300)}` worked"
    elif failure.command == _short(command, 300):
        how = "it worked when run again (a flaky or environment failure)"
    else:
        how = f"`{_short(command, 300)}` worked instead"
    content = f"`{failure.command}` failed: {failure.error or 'no error text'} — {how}."
    return [_memory(state, content, tags=["error-fix"], anchors=failure.edits, importance=0.6)]


def turn_memories(state: SessionState) -> list[NewMemory]:
    """At the end of a turn that edited files: what changed, for what, and how tests ended."""
    if not state.turn_edits:
        return []
    files = sorted(state.turn_edits, key=lambda f: -state.turn_edits[f])[:MAX_FILES]
    reason = _short(state.prompt, 300) if state.prompt else "an unstated request"
    content = f"Edited {', '.join(files)} for: {reason}"
    if state.turn_tests:
        last = state.turn_tests[-1]
        outcome = "passed" if last.passed else "failed"
        content += f" Tests: `{last.command}` {outcome} ({last.summary})."
    return [_memory(state, content, tags=["edit"], anchors=files)]


def session_memories(state: SessionState) -> list[NewMemory]:
    """A short summary of a session that did something, with its outcome."""
    if not state.edits and not state.commands:
        return []
    parts = [f"Session{f' on {state.branch}' if state.branch else ''}: "
             f"{_short(state.task, 240) or 'no prompt recorded'}."]
    if state.edits:
        files = sorted(state.edits, key=lambda f: -state.edits[f])
        parts.append(f"Edited {len(files)} file{'s' * (len(files) != 1)}: "
                     f"{', '.join(files[:MAX_FILES])}{' …' if len(files) > MAX_FILES else ''}.")
    if state.commands:
        parts.append(f"Ran {state.commands} commands ({state.failed} failed, {state.fixed} fixed).")
    if state.tests:
        last = state.tests[-1]
        parts.append(f"Tests: `{last.command}` {'passed' if last.passed else 'failed'} last.")
    unresolved = list(state.failures.values())
    if unresolved:
        parts.append("Outcome: left failing: " + "; ".join(
            f"`{_short(f.command, 120)}` ({f.error})" for f in unresolved[:3]) + ".")
    else:
        parts.append("Outcome: " + ("succeeded." if not state.tests or state.tests[-1].passed
                                    else "tests failing."))
    return [_memory(state, " ".join(parts), tags=["session"],
                    anchors=sorted(state.edits, key=lambda f: -state.edits[f]))]


def succeeded(state: SessionState) -> bool:
    """Whether the session's work ended well: something was done, nothing left failing."""
    did = bool(state.edits or state.commands)
    return did and not state.failures and (not state.tests or state.tests[-1].passed)


def prompt_memories(state: SessionState, prompt: str) -> list[NewMemory]:
    """The user's statements of preference or convention in `prompt`, one memory each."""
    found: list[NewMemory] = []
    for sentence in _SENTENCE.split(prompt.strip()):
        sentence = sentence.strip(" -*>\t")
        words = len(sentence.split())
        if not 3 <= words <= 60 or sentence.endswith("?") or not _PREFERENCE.match(sentence):
            continue
        found.append(_memory(state, _short(sentence, 400), kind="semantic",
                             tags=["preference"], importance=0.7))
    return found[:5]


def describe(state: SessionState) -> dict[str, Any]:
    """The session's counters, for logs and the replay benchmark."""
    return {"events": state.events, "created": len(state.created), "commands": state.commands,
            "failed": state.failed, "fixed": state.fixed, "edits": len(state.edits)}
