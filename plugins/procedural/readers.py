"""Readers: SWE-agent `.traj` files, ALFWorld trajectory sets, Claude Code session transcripts
(read by `core.trajectory.claude_code`) and habitus's own JSON, each turned into `Trajectory`
values.

Readers are tolerant of what real logs contain (long outputs are clipped to the field bounds,
malformed transcript lines are skipped) and strict about what they cannot use: an unreadable
file or one of another format raises `InvalidInput` with the path and the reason.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.trajectory.actions import observation_failed
from habitus.core.trajectory.claude_code import content_text, read_claude_code
from habitus.core.trajectory.model import (
    MAX_ID_CHARS,
    MAX_STEPS,
    Outcome,
    Step,
    Trajectory,
    clip,
)
from habitus.plugins.procedural.alfworld import goal_reached, parse_goal

__all__ = [
    "FORMATS",
    "detect_format",
    "read_swe_agent",
    "read_alfworld",
    "read_habitus",
    "read_trajectories",
]

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("swe-agent", "alfworld", "claude-code", "habitus")
_SUFFIXES = (".traj", ".json", ".jsonl")

# --- shared helpers ----------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON ({exc})") from None


def _dig(data: Any, *keys: str) -> Any:
    """`data[k1][k2]...`, or None when a level is missing or not an object."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _bounded_steps(steps: list[Step], metadata: dict[str, Any], origin: str) -> list[Step]:
    """The first MAX_STEPS steps; notes the original count in `metadata` when it was more."""
    if len(steps) > MAX_STEPS:
        logger.warning("%s: %d steps, keeping the first %d", origin, len(steps), MAX_STEPS)
        metadata["truncated_from_steps"] = len(steps)
    return steps[:MAX_STEPS]


# --- SWE-agent ---------------------------------------------------------------------------------

_SWE_TRAILER = re.compile(
    r"\n*\(Open file: [^\n]*\)\s*\n\(Current directory: [^\n]*\)\s*(?:bash-\$)?\s*$"
)
_SWE_CWD = re.compile(r"\(Current directory: (?P<cwd>[^)\n]+)\)")
_SWE_ISSUE = re.compile(r"ISSUE:\s*\n(?P<text>.*?)\n\s*INSTRUCTIONS:", re.DOTALL)
_SWE_CTF = re.compile(r"(?P<text>The CTF challenge is .*?)\n\s*INSTRUCTIONS:", re.DOTALL)
_SWE_PREAMBLE = re.compile(r"^We're currently solving the following [^\n]*?:\s*", re.IGNORECASE)
_DIFF_FILE = re.compile(r"^diff --git a/(?P<path>\S+) b/", re.MULTILINE)
_GITHUB_REPO = re.compile(r"github\.com/(?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?(?:/|$)")
# SWE-bench names repositories `owner__name`: in instance ids (`owner__name-123`) and in the
# working directory of the container (`/owner__name`).
_OWNER_NAME = r"(?P<owner>[A-Za-z0-9](?:(?!__)[\w.-])*)__(?P<name>(?:(?!__)[\w.-])+)"
_INSTANCE_REPO = re.compile(_OWNER_NAME + r"-\d+")
_CWD_REPO = re.compile(_OWNER_NAME)


def _swe_prompt(data: dict[str, Any]) -> str:
    """The problem statement: the first user message that is not a demonstration."""
    for message in data.get("history") or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        text = content_text(message.get("content")).replace("\r\n", "\n")
        if text.strip() and not text.lstrip().startswith("Here is a demonstration"):
            return text
    statement = _dig(_replay_config(data), "problem_statement", "text")
    return statement if isinstance(statement, str) else ""


def _swe_task(prompt: str) -> str:
    for pattern in (_SWE_ISSUE, _SWE_CTF):
        match = pattern.search(prompt)
        if match:
            return match.group("text").strip()
    return _SWE_PREAMBLE.sub("", prompt.split("INSTRUCTIONS:", 1)[0]).strip()


def _replay_config(data: dict[str, Any]) -> dict[str, Any]:
    config = data.get("replay_config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            return {}
    return config if isinstance(config, dict) else {}


def _swe_step(thought: Any, action: Any, observation: Any) -> Step | None:
    if not isinstance(action, str) or not action.strip():
        return None
    text = content_text(observation).replace("\r\n", "\n")
    text = _SWE_TRAILER.sub("", text)
    return Step(
        thought=clip(thought if isinstance(thought, str) else ""),
        action=clip(action),
        observation=clip(text),
        success=not observation_failed(action, text),
    )


def _swe_steps(data: dict[str, Any]) -> list[Step]:
    """Steps from `trajectory`, or from the `history` messages when there is no trajectory."""
    steps: list[Step | None] = []
    entries = data.get("trajectory")
    if isinstance(entries, list) and entries:
        for entry in entries:
            if isinstance(entry, dict):
                steps.append(
                    _swe_step(entry.get("thought"), entry.get("action"), entry.get("observation"))
                )
    else:
        history = [m for m in data.get("history") or [] if isinstance(m, dict)]
        for i, message in enumerate(history):
            if message.get("role") != "assistant" or "action" not in message:
                continue
            reply = next(
                (m for m in history[i + 1 :] if m.get("role") in ("tool", "user")),
                {"content": ""},
            )
            thought = message.get("thought") or content_text(message.get("content"))
            steps.append(_swe_step(thought, message.get("action"), reply.get("content")))
    return [s for s in steps if s is not None]


def _swe_cwd(data: dict[str, Any], prompt: str) -> str | None:
    for entry in data.get("trajectory") or []:
        state = entry.get("state") if isinstance(entry, dict) else None
        if isinstance(state, str):
            try:
                state = json.loads(state)
            except json.JSONDecodeError:
                state = None
        if isinstance(state, dict) and isinstance(state.get("working_dir"), str):
            return state["working_dir"]
    match = _SWE_CWD.search(prompt)
    return match.group("cwd").strip() if match else None


def _swe_repo(url: Any, instance_id: str, cwd: str | None) -> str | None:
    """`owner/name` of the repository, from the GitHub URL, the instance id or the cwd."""
    match = _GITHUB_REPO.search(url) if isinstance(url, str) else None
    if match:
        return match.group("repo")
    for pattern, text in ((_INSTANCE_REPO, instance_id), (_CWD_REPO, (cwd or "").strip("/"))):
        found = pattern.fullmatch(text)
        if found:
            return f"{found.group('owner')}/{found.group('name')}"
    return None


def _swe_outcome(info: dict[str, Any]) -> Outcome | None:
    """`submitted` means the agent finished and submitted (not that hidden tests passed);
    `exit_*` statuses (cost limit, forfeit, format errors) mean it gave up or was stopped."""
    status = info.get("exit_status")
    if not isinstance(status, str) or not status:
        return None
    if status == "submitted":
        success: bool | None = True
    elif "exit" in status or "error" in status or "forfeit" in status:
        success = False
    else:
        success = None
    return Outcome(success=success, summary=clip(f"exit status: {status}", 200))


def _swe_agent_from_data(data: Any, stem: str, origin: str) -> Trajectory:
    if not isinstance(data, dict) or not ("trajectory" in data or "history" in data):
        raise InvalidInput(f"{origin}: not a SWE-agent trajectory (no 'trajectory' or 'history')")
    prompt = _swe_prompt(data)
    task = _swe_task(prompt)
    if not task:
        raise InvalidInput(f"{origin}: no problem statement found in the history")
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    replay = _replay_config(data)
    instance_id = _dig(replay, "problem_statement", "id")
    instance_id = clip(instance_id if isinstance(instance_id, str) else stem, 300)
    metadata: dict[str, Any] = {"instance_id": instance_id}
    cwd = _swe_cwd(data, prompt)
    repo = _swe_repo(_dig(replay, "env", "repo", "github_url"), instance_id, cwd)
    if repo:
        metadata["repo"] = repo
    if cwd:
        metadata["cwd"] = clip(cwd, 1000)
    if isinstance(info.get("exit_status"), str):
        metadata["exit_status"] = clip(info["exit_status"], 200)
    submission = info.get("submission")
    if isinstance(submission, str):
        changed = list(dict.fromkeys(_DIFF_FILE.findall(submission.replace("\r\n", "\n"))))
        if changed:
            metadata["changed_files"] = [clip(c, 300) for c in changed[:50]]
    steps = _bounded_steps(_swe_steps(data), metadata, origin)
    return Trajectory(
        id=stem[:MAX_ID_CHARS],
        task=clip(task),
        steps=steps,
        outcome=_swe_outcome(info),
        source="swe-agent",
        metadata=metadata,
    )


def read_swe_agent(path: str | Path) -> Trajectory:
    """Read a SWE-agent `.traj` file; the trajectory id is the file name without `.traj`."""
    path = Path(path)
    return _swe_agent_from_data(_load_json(path), path.stem, str(path))


# --- ALFWorld ----------------------------------------------------------------------------------


def _alfworld_one(item: Any, origin: str) -> Trajectory:
    if not isinstance(item, dict):
        raise InvalidInput(f"{origin}: expected an object per trajectory")
    ident, task, pairs = (
        item.get("task_instance_id"),
        item.get("task_description"),
        item.get("state_action_pairs"),
    )
    if not isinstance(ident, str) or not isinstance(task, str) or not isinstance(pairs, list):
        raise InvalidInput(
            f"{origin}: each trajectory needs task_instance_id, task_description and "
            "state_action_pairs"
        )
    pairs = [p for p in pairs if isinstance(p, dict) and isinstance(p.get("action"), str)]
    steps = []
    for i, pair in enumerate(pairs):
        # A pair's state is what the agent saw before acting: the previous action's observation.
        after = pairs[i + 1].get("state") if i + 1 < len(pairs) else None
        observation = after if isinstance(after, str) else ""
        if not pair["action"].strip():
            continue
        failed = observation.strip().lower() == "nothing happens."
        steps.append(
            Step(
                action=clip(pair["action"]),
                observation=clip(observation),
                success=False if failed else (True if after is not None else None),
            )
        )
    metadata: dict[str, Any] = {}
    first = pairs[0].get("state") if pairs else None
    if isinstance(first, str):
        metadata["initial_observation"] = clip(first, 4000)
    if isinstance(item.get("source"), str):
        metadata["corpus"] = item["source"]
    steps = _bounded_steps(steps, metadata, f"{origin}#{ident}")
    goal = parse_goal(task)
    outcome = None
    if goal is not None:
        reached = goal_reached(goal, steps)
        outcome = Outcome(
            success=reached,
            summary="goal reached" if reached else "goal not reached in the recorded steps",
        )
    return Trajectory(
        id=ident[:MAX_ID_CHARS],
        task=clip(task),
        steps=steps,
        outcome=outcome,
        source="alfworld",
        metadata=metadata,
    )


def _alfworld_from_data(data: Any, origin: str) -> list[Trajectory]:
    items = data.get("trajectories") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidInput(f"{origin}: not an ALFWorld trajectory set (no 'trajectories' list)")
    return [_alfworld_one(item, origin) for item in items]


def read_alfworld(path: str | Path) -> list[Trajectory]:
    """Read an ALFWorld trajectory set (`{"trajectories": [...]}` or a bare list).

    Ids are the `task_instance_id`s; the outcome is inferred from the task template (was the
    object placed, transformed, looked at?), since the data records no result.
    """
    path = Path(path)
    return _alfworld_from_data(_load_json(path), str(path))


# --- habitus JSON ------------------------------------------------------------------------------


def _habitus_from_data(data: Any, origin: str) -> list[Trajectory]:
    items = data.get("trajectories") if isinstance(data, dict) and "task" not in data else data
    items = items if isinstance(items, list) else [items]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Trajectory.from_dict(item))
        except InvalidInput as exc:
            raise InvalidInput(f"{origin} (item {i}): {exc}") from None
    return out


def read_habitus(path: str | Path) -> list[Trajectory]:
    """Read trajectories in habitus's JSON format: one object, a list, `{"trajectories": [...]}`,
    or JSON lines with one trajectory per line."""
    path = Path(path)
    if path.suffix == ".jsonl":
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc})") from None
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{path}:{number}: not valid JSON ({exc})") from None
                out.extend(_habitus_from_data(item, f"{path}:{number}"))
        return out
    return _habitus_from_data(_load_json(path), str(path))


# --- detection and dispatch --------------------------------------------------------------------


def _looks_like(data: Any) -> str | None:
    """The format of already-parsed JSON, or None."""
    first = data
    if isinstance(data, dict) and isinstance(data.get("trajectories"), list):
        first = data["trajectories"][0] if data["trajectories"] else {}
    elif isinstance(data, list):
        first = data[0] if data else {}
    if not isinstance(first, dict):
        return None
    if "state_action_pairs" in first:
        return "alfworld"
    if "history" in first or ("trajectory" in first and "info" in first):
        return "swe-agent"
    if "task" in first and "steps" in first:
        return "habitus"
    return None


def detect_format(path: str | Path) -> str:
    """The format of a file, from its extension and, where that is ambiguous, its content."""
    path = Path(path)
    if path.suffix == ".traj":
        return "swe-agent"
    if path.suffix == ".jsonl":
        try:
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    if line.strip():
                        try:
                            first = json.loads(line)
                        except json.JSONDecodeError:
                            continue
                        return "habitus" if _looks_like(first) == "habitus" else "claude-code"
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc})") from None
        return "claude-code"
    found = _looks_like(_load_json(path))
    if found is None:
        raise InvalidInput(
            f"{path}: cannot tell the trajectory format; pass one of {', '.join(FORMATS)}"
        )
    return found


def read_trajectories(path: str | Path, format: str | None = None) -> list[Trajectory]:
    """Read every trajectory in a file, or in the files of a folder (`.traj`, `.json`,
    `.jsonl`, not recursive), detecting the format of each when `format` is None.

    In a folder, files that cannot be read as trajectories are skipped with a warning.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise InvalidInput(f"unknown trajectory format {format!r}; use one of {', '.join(FORMATS)}")
    if path.is_dir():
        out: list[Trajectory] = []
        for child in sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file()):
            try:
                out.extend(read_trajectories(child, format))
            except InvalidInput as exc:
                logger.warning("skipping %s", exc)
        return out
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or folder")
    fmt = format or detect_format(path)
    if fmt == "swe-agent":
        return [read_swe_agent(path)]
    if fmt == "alfworld":
        return read_alfworld(path)
    if fmt == "claude-code":
        return [read_claude_code(path)]
    return read_habitus(path)
