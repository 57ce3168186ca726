"""Recorded sessions as the hook events they would have produced: a Claude Code transcript
(JSONL) or any trajectory habitus reads (SWE-agent, habitus JSON), turned into SessionStart,
UserPromptSubmit, PostToolUse / PostToolUseFailure per tool call, Stop and SessionEnd.

Used to measure and test the hooks on real sessions, and to give memory a session recorded
before the hooks were installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from habitus.core.trajectory.actions import classify, observation_failed
from habitus.core.trajectory.claude_code import read_transcript
from habitus.plugins.procedural.readers import read_trajectories

__all__ = ["transcript_events", "trajectory_events"]


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


def trajectory_events(path: Path, *, cwd: str = "") -> list[dict[str, Any]]:
    """The hook events an agent's trajectory (SWE-agent and the other formats habitus reads)
    would have produced had it run under Claude Code: its shell actions as Bash calls, its
    edits as Edit calls on the file they name."""
    events: list[dict[str, Any]] = []
    for trajectory in read_trajectories(path):
        base = _base(trajectory.id.replace("/", "-")[:100], cwd, "")
        events += [{**base, "hook_event_name": "SessionStart", "source": "startup"},
                   {**base, "hook_event_name": "UserPromptSubmit", "prompt": trajectory.task}]
        current = ""
        for step in trajectory.steps:
            kind, tokens = classify(step.action)
            if kind in ("read", "create") and len(tokens) > 1:
                current = tokens[1] if kind == "read" or tokens[0] == "create" else current
            if kind in ("edit", "create"):
                target = next((t for t in tokens[1:] if "/" in t or "." in t), current)
                events.append({**base, "hook_event_name": "PostToolUse", "tool_name": "Edit",
                               "tool_input": {"file_path": target or "unknown"},
                               "tool_response": {}})
                continue
            failed = step.success is False or observation_failed(step.action,
                                                                 step.observation)
            event = {**base, "hook_event_name": "PostToolUseFailure" if failed
                     else "PostToolUse", "tool_name": "Bash",
                     "tool_input": {"command": step.action}}
            event.update({"error": step.observation} if failed else
                         {"tool_response": {"stdout": step.observation, "stderr": ""}})
            events.append(event)
        events += [{**base, "hook_event_name": "Stop"},
                   {**base, "hook_event_name": "SessionEnd", "reason": "exit"}]
    return events
