"""Lifecycle hook events as habitus reads them: the assistant's JSON, bounded and cleaned.

An assistant with lifecycle hooks (Claude Code first) hands each hook a JSON object on standard
input, or as an HTTP POST body. `parse_event` turns it into a `HookEvent`: the fields memory
uses, every string clipped to a bound, content between `<private>` and `</private>` removed and
secrets redacted *before* anything is spooled, sent or stored. Standard library only: the hook
entry point imports this before it knows whether it has work.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from habitus.base.errors import HookInputError
from habitus.core.trust.privacy import bound, clean_data

__all__ = [
    "EVENTS",
    "INJECTING",
    "MAX_INPUT_BYTES",
    "HookEvent",
    "parse_event",
    "answer",
]

# The events habitus acts on; the first two may add context to the conversation.
INJECTING = ("SessionStart", "UserPromptSubmit")
EVENTS = (*INJECTING, "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd", "PreCompact")

MAX_INPUT_BYTES = 8 * 1024 * 1024  # more is read and dropped: a tool's output can be huge
MAX_TEXT = 20_000  # one field; long outputs keep their head and tail
MAX_SHORT = 2_000  # ids, paths, names
_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MEMORY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _clean(value: Any, depth: int = 0) -> Any:
    """Strings clipped and stripped of private parts, containers bounded, at any depth."""
    if isinstance(value, str):
        return bound(value, MAX_TEXT)
    if depth > 6:
        return None
    if isinstance(value, dict):
        return {str(k)[:200]: _clean(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value[:200]]
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)[:200]


def _text(data: dict[str, Any], key: str, limit: int = MAX_SHORT) -> str:
    value = data.get(key)
    return bound(value, limit) if isinstance(value, str) else ""


class HookEvent(NamedTuple):
    """One lifecycle event: what happened, in which session and directory. (A named tuple:
    `dataclasses` alone would double the hook's start-up time.)"""

    name: str
    session_id: str = ""
    cwd: str = ""
    transcript_path: str = ""
    source: str = ""  # SessionStart: startup | resume | clear | compact
    reason: str = ""  # SessionEnd
    prompt: str = ""  # UserPromptSubmit
    tool_name: str = ""
    tool_input: dict[str, Any] = {}  # noqa: RUF012 (never mutated)
    tool_response: Any = None
    error: str = ""  # PostToolUseFailure
    injected: tuple[str, ...] = ()  # SessionStart answered by the hook itself: what it showed
    event_id: str = ""  # given by `habitus hook`: an event sent and also spooled counts once

    def to_hook(self) -> dict[str, Any]:
        """The event in the hook's own format again (to spool it or pass it on)."""
        data = self._asdict()
        data["hook_event_name"] = data.pop("name")
        data["injected"] = list(self.injected)
        return data


def parse_event(raw: bytes | str | dict[str, Any], event: str | None = None) -> HookEvent:
    """The event in `raw` (the hook's JSON), cleaned; `event` names it when the input does not.

    Raises `HookInputError` for input that is not a JSON object or names no known event.
    """
    if isinstance(raw, (bytes, str)):
        if not raw or not raw.strip():
            raise HookInputError("empty input")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise HookInputError(f"not JSON: {exc}") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise HookInputError("the input is not a JSON object")
    name = event or data.get("hook_event_name")
    if name not in EVENTS:
        raise HookInputError(f"unknown event {name!r}; habitus handles {', '.join(EVENTS)}")
    session = data.get("session_id")
    session = session if isinstance(session, str) and _SESSION_ID.fullmatch(session) else ""
    tool_input = data.get("tool_input")
    fields, _ = clean_data({
        "cwd": _text(data, "cwd"), "transcript_path": _text(data, "transcript_path"),
        "source": _text(data, "source", 40), "reason": _text(data, "reason", 200),
        "tool_name": _text(data, "tool_name", 200), "prompt": _text(data, "prompt", MAX_TEXT),
        "tool_input": _clean(tool_input) if isinstance(tool_input, dict) else {},
        "tool_response": _clean(data.get("tool_response")),
        "error": _text(data, "error", MAX_TEXT),
    })
    assert isinstance(fields, dict)
    shown = data.get("injected")
    injected = tuple(i for i in shown[:200] if isinstance(i, str) and _MEMORY_ID.fullmatch(i)) \
        if isinstance(shown, list) else ()
    event_id = data.get("event_id")
    event_id = event_id if isinstance(event_id, str) and _MEMORY_ID.fullmatch(event_id) else ""
    return HookEvent(name=name, session_id=session, injected=injected, event_id=event_id,
                     **fields)


def answer(event: str, context: str | None) -> dict[str, Any] | None:
    """The hook's answer in Claude Code's format: context added to the conversation, or None."""
    if not context or event not in INJECTING:
        return None
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}}
