"""Recorded sessions as the hook events they would have produced: a Claude Code transcript
(JSONL) or any trajectory habitus reads (SWE-agent, habitus JSON), turned into SessionStart,
UserPromptSubmit, PostToolUse / PostToolUseFailure per tool call, Stop and SessionEnd.

Used to measure and test the hooks on real sessions, and to give memory a session recorded
before the hooks were installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from habitus.plugins.procedural.coding import classify, observation_failed
from habitus.plugins.procedural.readers import read_trajectories

__all__ = ["transcript_events", "trajectory_events"]


def _base(session: str, cwd: str, transcript: str) -> dict[str, Any]:
    return {"session_id": session, "cwd": cwd, "transcript_path": transcript}


def transcript_events(path: Path, *, cwd: str | None = None) -> list[dict[str, Any]]:
    """The hook events of a Claude Code session transcript, in order (`cwd` overrides the
    recorded working directory)."""
    lines = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # a torn or malformed line, as real transcripts have
            continue
    entries = [e for e in lines if isinstance(e, dict) and e.get("type") in ("user", "assistant")
               and not e.get("isSidechain")]
    session = next((e["sessionId"] for e in entries if e.get("sessionId")), path.stem)
    where = cwd or next((e["cwd"] for e in entries if e.get("cwd")), "")
    base = _base(session, where, str(path))
    events: list[dict[str, Any]] = [{**base, "hook_event_name": "SessionStart",
                                     "source": "startup"}]
    uses: dict[str, dict[str, Any]] = {}
    for entry in entries:
        content = entry.get("message", {}).get("content")
        if entry["type"] == "user" and isinstance(content, str):
            if entry.get("isMeta") or content.startswith(("<command-", "Caveat:")):
                continue
            if uses or len(events) > 1:
                events.append({**base, "hook_event_name": "Stop"})
            events.append({**base, "hook_event_name": "UserPromptSubmit", "prompt": content})
            continue
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use":
                uses[block["id"]] = block
            elif block.get("type") == "tool_result" and block.get("tool_use_id") in uses:
                use = uses.pop(block["tool_use_id"])
                result = block.get("content")
                text = result if isinstance(result, str) else json.dumps(result)
                failed = bool(block.get("is_error"))
                event = {**base, "hook_event_name": "PostToolUseFailure" if failed
                         else "PostToolUse", "tool_name": use["name"],
                         "tool_input": use.get("input") or {}}
                event.update({"error": text} if failed else
                             {"tool_response": {"stdout": text, "stderr": ""}})
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
