"""Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`), read once
for everyone: the hooks' distiller, `habitus distill`, `habitus watch` and replays.

A transcript is read into turns: each prompt the user typed, then the tool calls that followed,
each paired with its result (a failure is `is_error`) and the assistant text before it. What
Claude Code adds by itself (command output, caveats, system reminders, sub-agent sidechains) is
not a prompt; malformed lines, as a torn write leaves them, are skipped and counted.

Privacy is applied as the file is read: every text is bounded, its private sections removed
and its secrets redacted (see `core.trust.privacy`) before any caller sees it.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.trajectory.model import (
    MAX_FIELD_CHARS,
    MAX_ID_CHARS,
    MAX_STEPS,
    Outcome,
    Step,
    Trajectory,
)
from habitus.core.trust.privacy import bound, clean_data, clean_text

__all__ = ["ToolCall", "Turn", "Transcript", "read_transcript", "read_claude_code",
           "trajectory_of", "render_call", "content_text"]

logger = logging.getLogger(__name__)

_NOT_A_PROMPT = (
    "<command-",
    "<local-command",
    "Caveat:",
    "[Request interrupted",
    "<user-prompt-submit-hook>",
    "<bash-",
)
_SYSTEM_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_SLASH_COMMAND = re.compile(r"<command-name>(?P<name>[^<]*)</command-name>")
_SLASH_ARGS = re.compile(r"<command-args>(?P<args>[^<]*)</command-args>")
_METADATA = (("sessionId", "session_id"), ("cwd", "cwd"), ("gitBranch", "git_branch"),
             ("version", "version"))


@dataclass
class ToolCall:
    """One tool call of the assistant and what came back."""

    id: str
    name: str
    input: dict[str, Any]
    thought: str = ""  # the assistant's text before the call
    result: str = ""
    failed: bool | None = None  # None: no result recorded


@dataclass
class Turn:
    """A prompt typed by the user ("" before the first one) and the tool calls that followed."""

    prompt: str
    calls: list[ToolCall] = field(default_factory=list)


@dataclass
class Transcript:
    """A whole session: where and when it ran, and its turns in order."""

    session_id: str
    turns: list[Turn]
    metadata: dict[str, Any]  # cwd, git_branch, version, started_at, ended_at, summary
    command: str = ""  # a slash command run before any prompt
    final_text: str = ""  # the assistant's last words
    skipped_lines: int = 0

    @property
    def task(self) -> str:
        """What the session was asked to do: its first prompt, else its slash command."""
        return next((t.prompt for t in self.turns if t.prompt), self.command)


def _clean(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    return clean_text(bound(text, limit))[0]


def content_text(content: Any) -> str:
    """The text of a message content (in the chat format Claude Code and agent logs share): a
    string, or a list of blocks with text in them."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            if isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") == "image":
                parts.append("[image]")
    return "\n".join(parts)


def _prompt_text(event: dict[str, Any], content: Any) -> str | None:
    """The text of a user event when it is a prompt the user typed, else None."""
    if event.get("isMeta"):
        return None
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    text = _SYSTEM_REMINDER.sub("", content_text(content)).strip()
    return text or None


def _events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of the file, and how many lines were not one."""
    events: list[dict[str, Any]] = []
    skipped = 0
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    skipped += 1
                    continue
                if isinstance(event, dict):
                    events.append(event)
                else:
                    skipped += 1
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc})") from None
    if skipped:
        logger.info("%s: skipped %d malformed lines", path, skipped)
    return events, skipped


def read_transcript(path: str | Path) -> Transcript:
    """Read a Claude Code transcript into its turns, every text cleaned."""
    path = Path(path)
    events, skipped = _events(path)
    metadata: dict[str, Any] = {}
    turns: list[Turn] = []
    calls: dict[str, ToolCall] = {}
    pending: list[str] = []  # assistant text since the last tool call
    command = final_text = ""
    for event in events:
        kind = event.get("type")
        if kind == "summary" and isinstance(event.get("summary"), str):
            metadata.setdefault("summary", _clean(event["summary"], 500))
            continue
        if kind not in ("user", "assistant") or event.get("isSidechain"):
            continue
        for key, name in _METADATA:
            if isinstance(event.get(key), str) and event[key]:
                metadata.setdefault(name, _clean(event[key], 1000))
        if isinstance(event.get("timestamp"), str):
            metadata.setdefault("started_at", event["timestamp"][:64])
            metadata["ended_at"] = event["timestamp"][:64]
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            continue
        if kind == "user":
            prompt = _prompt_text(event, content)
            if prompt and not prompt.startswith(_NOT_A_PROMPT):
                cleaned = _clean(prompt)
                if cleaned.strip():
                    turns.append(Turn(cleaned.strip()))
                    pending = []
            elif prompt and not command and (match := _SLASH_COMMAND.search(prompt)):
                args = _SLASH_ARGS.search(prompt)
                command = _clean(f"{match.group('name')} {args.group('args') if args else ''}",
                                 1000).strip()
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    call = calls.get(str(block.get("tool_use_id")))
                    if call is not None:
                        call.result = _clean(content_text(block.get("content")))
                        call.failed = bool(block.get("is_error"))
            continue
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                text = _clean(block["text"]).strip()
                pending.append(text)
                final_text = text
            elif block.get("type") == "tool_use" and isinstance(block.get("name"), str):
                data = block.get("input") if isinstance(block.get("input"), dict) else {}
                cleaned_input, _ = clean_data(data, limit=MAX_FIELD_CHARS)
                call = ToolCall(id=str(block.get("id") or f"tool-{len(calls)}"),
                                name=_clean(block["name"], 200), input=cleaned_input,  # type: ignore[arg-type]
                                thought="\n".join(p for p in pending if p))
                calls[call.id] = call
                if not turns:
                    turns.append(Turn(""))
                turns[-1].calls.append(call)
                pending = []
    session = metadata.get("session_id") or path.stem
    return Transcript(session_id=session, turns=turns, metadata=metadata, command=command,
                      final_text=final_text, skipped_lines=skipped)


def render_call(call: ToolCall) -> str:
    """A tool call as one action text: shell commands as they are, other tools as
    `Tool target`, with the old and new text of edits on the following lines."""
    data, name = call.input, call.name

    def arg(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    path = arg("file_path") or arg("notebook_path") or arg("path")
    quoted = shlex.quote(path) if path else ""
    if name == "Bash":
        return arg("command")
    if name == "Read":
        return f"Read {quoted}"
    if name == "Write":
        return f"Write {quoted}\n+++ new\n{arg('content')}"
    if name == "Edit":
        return f"Edit {quoted}\n--- old\n{arg('old_string')}\n+++ new\n{arg('new_string')}"
    if name == "MultiEdit":
        edits = [e for e in data.get("edits") or [] if isinstance(e, dict)]
        parts = [
            f"--- old\n{e.get('old_string', '')}\n+++ new\n{e.get('new_string', '')}" for e in edits
        ]
        return "\n".join([f"Edit {quoted}", *parts])
    if name == "NotebookEdit":
        return f"NotebookEdit {quoted}\n+++ new\n{arg('new_source')}"
    if name in ("Grep", "Glob"):
        return " ".join(p for p in (name, shlex.quote(arg("pattern")), quoted) if p)
    if name == "WebFetch":
        return f"WebFetch {arg('url')}"
    if name == "WebSearch":
        return f"WebSearch {shlex.quote(arg('query'))}"
    if name == "Task":
        return f"Task {shlex.quote(arg('description'))}"
    if name == "TodoWrite":
        return "TodoWrite"
    return f"{name} {json.dumps(data, ensure_ascii=False, sort_keys=True)}"


def trajectory_of(transcript: Transcript, origin: str = "transcript") -> Trajectory:
    """The session as one trajectory: its task, every tool call as a step, its last words as
    the outcome's summary (success unknown: the transcript does not say)."""
    task = transcript.task
    if not task:
        raise InvalidInput(f"{origin}: no user prompt found in the Claude Code session")
    metadata = dict(transcript.metadata)
    if transcript.skipped_lines:
        metadata["skipped_lines"] = transcript.skipped_lines
    steps = []
    for call in (c for turn in transcript.turns for c in turn.calls):
        action = render_call(call).strip()
        if action:
            steps.append(Step(thought=bound(call.thought or _description(call), MAX_FIELD_CHARS),
                              action=bound(action, MAX_FIELD_CHARS), observation=call.result,
                              success=None if call.failed is None else not call.failed))
    if len(steps) > MAX_STEPS:
        logger.warning("%s: %d steps, keeping the first %d", origin, len(steps), MAX_STEPS)
        metadata["truncated_from_steps"] = len(steps)
    outcome = Outcome(summary=bound(transcript.final_text, 2000)) if transcript.final_text else None
    return Trajectory(id=transcript.session_id[:MAX_ID_CHARS], task=task,
                      steps=steps[:MAX_STEPS], outcome=outcome, source="claude-code",
                      metadata=metadata)


def _description(call: ToolCall) -> str:
    description = call.input.get("description")
    return description if isinstance(description, str) else ""


def read_claude_code(path: str | Path) -> Trajectory:
    """Read a Claude Code transcript as one trajectory (see `trajectory_of`)."""
    return trajectory_of(read_transcript(path), str(path))
