"""Lifecycle hooks in Claude Code's settings: `habitus install claude-code --hooks`.

Claude Code runs the hooks of every settings file — the user's (`~/.claude/settings.json`), the
project's (`.claude/settings.json`, committed) and the local project file
(`.claude/settings.local.json`, not committed). Each event habitus handles gets one group whose
command is `habitus hook EVENT` (or, with `url`, an HTTP hook posting to a running server).
Edits are textual and per event, so the user's other settings and hooks stay as they are; a
group of ours is recognised by its command and replaced, never duplicated; removing takes out
exactly what installing put in.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from habitus.base.errors import HabitusError, InvalidInput, JSONCEditError

from .install import read_config, write_atomically
from .jsonc import loads, remove_member, set_member

__all__ = ["HOOK_EVENTS", "SettingsScope", "HooksPlan", "settings_path", "plan_hooks",
           "apply_hooks"]

SettingsScope = Literal["user", "project", "local"]

# Event → tool matcher (None: the event takes none) and timeout in seconds.
HOOK_EVENTS: dict[str, tuple[str | None, int]] = {
    "SessionStart": (None, 15),
    "UserPromptSubmit": (None, 10),
    "PostToolUse": ("Bash|Edit|Write|MultiEdit|NotebookEdit", 5),
    "PostToolUseFailure": ("Bash", 5),
    "Stop": (None, 5),
    "PreCompact": (None, 10),
    "SessionEnd": (None, 10),
}
_OURS = re.compile(r"(?:habitus['\"]?|habitus\.cli)\s+hook\b")


def settings_path(scope: SettingsScope, *, project_dir: Path | None = None,
                  home: Path | None = None) -> Path:
    """The Claude Code settings file of `scope`."""
    if scope == "user":
        return (home or Path.home()) / ".claude" / "settings.json"
    if project_dir is None:
        raise InvalidInput(f"the {scope} settings file belongs to a project: pass --project DIR")
    name = "settings.json" if scope == "project" else "settings.local.json"
    return project_dir / ".claude" / name


def _is_ours(group: Any) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    if not isinstance(hooks, list) or not hooks:
        return False
    return all(isinstance(h, dict) and (
        _OURS.search(str(h.get("command", "")))
        or (h.get("type") == "http" and str(h.get("url", "")).rstrip("/").endswith("/hooks")
            and "habitus" in str(h.get("headers", {}).get("X-Habitus", "")))
    ) for h in hooks)


def _group(event: str, command: Sequence[str] | None, url: str | None) -> dict[str, Any]:
    matcher, timeout = HOOK_EVENTS[event]
    if url is not None:
        hook: dict[str, Any] = {"type": "http", "url": url.rstrip("/") + "/hooks",
                                "headers": {"X-Habitus": "habitus"}, "timeout": timeout}
    else:
        assert command is not None
        hook = {"type": "command", "command": shlex.join([*command, event]),
                "timeout": timeout}
    return ({"matcher": matcher} if matcher else {}) | {"hooks": [hook]}


@dataclass(frozen=True)
class HooksPlan:
    """What `apply_hooks` will write, computed without touching the disk."""

    path: Path
    old_text: str | None
    new_text: str | None  # None: the file is to be left absent
    events: list[str]

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text

    def diff(self) -> str:
        before = (self.old_text or "").splitlines(keepends=True)
        after = (self.new_text or "").splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, str(self.path), str(self.path)))


def plan_hooks(
    path: Path, *, command: Sequence[str] | None = None, url: str | None = None,
    remove: bool = False,
) -> HooksPlan:
    """Add (or, with `remove`, take out) habitus's hooks in the settings file at `path`;
    `command` is the `habitus … hook` command line, `url` a running server's base URL."""
    if not remove and (command is None) == (url is None):
        raise InvalidInput("give the hook command or a server URL")
    old = read_config(path)
    try:
        document = loads(old, default={}) if old is not None else {}
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix it "
                           "or move it aside") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} does not hold a JSON object")
    hooks = document.get("hooks") or {}
    if not isinstance(hooks, dict):
        raise InvalidInput(f'"hooks" in {path} is not an object; fix it, then install again')
    text = old if old is not None else "{}\n"
    try:
        for event in HOOK_EVENTS:
            groups = hooks.get(event) or []
            if not isinstance(groups, list):
                raise InvalidInput(f'"hooks.{event}" in {path} is not a list')
            kept = [g for g in groups if not _is_ours(g)]
            wanted = kept if remove else [*kept, _group(event, command, url)]
            if wanted == groups:
                continue
            if wanted:
                text = set_member(text, ("hooks", event), wanted)
            elif event in hooks:
                text = remove_member(text, ("hooks", event))
        installed_by_us = bool(hooks) and all(
            all(_is_ours(g) for g in groups) for groups in hooks.values()
            if isinstance(groups, list))
        if remove and installed_by_us and loads(text, default={}).get("hooks") == {}:
            text = remove_member(text, ("hooks",))
    except JSONCEditError as exc:
        raise HabitusError(f"could not edit {path} safely ({exc}); nothing was written") from None
    new: str | None = text
    if old is None and (remove or loads(text, default={}) == {}):
        new = None
    return HooksPlan(path, old, new, [] if remove else list(HOOK_EVENTS))


def apply_hooks(plan: HooksPlan) -> None:
    """Write the planned settings file (creating its folder)."""
    if not plan.changed or plan.new_text is None:
        return
    try:
        write_atomically(plan.path, plan.new_text)
    except OSError as exc:
        raise HabitusError(f"cannot write {plan.path}: {exc.strerror or exc}") from None
