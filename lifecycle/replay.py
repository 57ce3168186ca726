"""Recorded sessions as the hook events they would have produced: a Claude Code transcript
(JSONL) turned into SessionStart, UserPromptSubmit, PostToolUse / PostToolUseFailure per tool
call, Stop and SessionEnd.

Used to measure and test the hooks on real sessions, and to give memory a session recorded
before the hooks were installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from habitus.core.trajectory.claude_code import read_transcript

__all__ = ["transcript_events"]


def _base(session: str, cwd: str, transcript: str) -> dict[str, Any]:
    return {"session_id": session, "cwd": cwd, "transcript_path": transcript}


def transcript_events(path: Path, *, cwd: str | None = None) -> list[dict[str, Any]]:
    """The hook events of a Claude Code session transcript, in order (`cwd` overrides the
    recorded working directory)."""
    transcript = read_transcript(path)
    base = _base(transcript.session_id, cwd or transcript.metadata.get("cwd", ""), str(path))
    events: list[dict[str, Any]] = [{**base, "hook_event_name": "SessionStart",
                                     "source": "startup"}]
    for number, turn in enumerate(transcript.turns):
        if number:
            events.append({**base, "hook_event_name": "Stop"})
        if turn.prompt:
            events.append({**base, "hook_event_name": "UserPromptSubmit", "prompt": turn.prompt})
        for call in turn.calls:
            if call.failed is None:
                continue  # no result recorded: the hook never ran
            event = {**base, "hook_event_name": "PostToolUseFailure" if call.failed
                     else "PostToolUse", "tool_name": call.name, "tool_input": call.input}
            event.update({"error": call.result} if call.failed else
                         {"tool_response": {"stdout": call.result, "stderr": ""}})
            events.append(event)
    events += [{**base, "hook_event_name": "Stop"},
               {**base, "hook_event_name": "SessionEnd", "reason": "exit"}]
    return events
