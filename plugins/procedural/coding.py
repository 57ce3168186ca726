"""Coding trajectories: which steps mattered, in general terms.

Coding trajectories (SWE-agent, Claude Code, or submitted by an assistant) are shell commands
and editor tool calls. Each action is classified (see `core.trajectory.actions`); the critical
path keeps the first read of each file, the successful
edits (merged per file), the run that reproduced the problem and the run that verified the fix,
and drops looking around, failed attempts, retries and dead ends. Concrete values are
generalised: paths become repository-relative, home folders `~`, line numbers `<line>`, hashes
`<hash>`, so that a procedure reads the same for the next task of its kind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from habitus.core.trajectory.actions import (
    FILE_READERS,
    classify,
    command_key,
    exception_names,
    first_line,
    observation_failed,
    positional,
    split_command,
)
from habitus.core.trajectory.model import Step

__all__ = ["Generaliser", "CodingStep", "critical_path", "coding_task_type"]

_FILE_HEADER = re.compile(r"^\[File: (?P<path>[^\n]+?) \(\d+ lines total\)\]", re.MULTILINE)
_LINE_SPEC = re.compile(r"^\d+(?::\d+)?$")
_PATH_LIKE = re.compile(r"[\w.~/*+@-]+")


class Generaliser:
    """Rewrites concrete values into placeholders. What they stood for is not kept: a
    procedure must not carry the paths, hashes and data of the run it came from."""

    _PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
        ("<uuid>", re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")),
        ("<flag>", re.compile(r"\b(?:flag|FLAG|flat|HTB|CTF|picoCTF|csawctf)\{[^}\n]*\}")),
        ("<tmp>", re.compile(r"/tmp/[\w.-]+")),
        ("<hex>", re.compile(r"\b0x[0-9a-fA-F]{16,}\b")),
        (
            "<hash>",
            re.compile(
                r"(?<![A-Za-z0-9])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}(?![A-Za-z0-9])"
            ),
        ),
        ("<data>", re.compile(r"(?<![A-Za-z0-9+=])[A-Za-z0-9+=]{40,}(?![A-Za-z0-9+=])")),
        ("<line>", re.compile(r"(?<=\bline )\d+\b|(?<=\.py:)\d+\b")),
    )
    _HOME = re.compile(r"(?:/Users|/home)/[^/\s'\"]+|/root(?=/|\b)")

    def __init__(self, root: str | None = None) -> None:
        self.root = root.rstrip("/") if root and root.strip("/") else None

    def path(self, path: str) -> str:
        """A path relative to the repository root when it lies inside it."""
        path = path.strip().strip("'\"")
        if self.root and (path == self.root or path.startswith(self.root + "/")):
            path = path[len(self.root) + 1 :] or "."
        return self.text(path.removeprefix("./"))

    def text(self, text: str) -> str:
        """`text` with the root made relative and concrete values replaced by placeholders."""
        if self.root and self.root in text:
            root = re.escape(self.root)
            text = re.sub(root + r"(?![\w.-])", ".", re.sub(root + "/", "", text))
        text = self._HOME.sub("~", text)
        for placeholder, pattern in self._PATTERNS:
            text = pattern.sub(placeholder, text)
        return text


@dataclass
class CodingStep:
    """A classified step: what kind of action, on what, and whether it worked."""

    index: int
    kind: str
    target: str
    failed: bool
    verb: str
    command: str
    snippet: str = ""
    line: str = ""
    phase: str = ""


def _snippet(body: str, limit: int = 100) -> str:
    """The first meaningful line of an edit's new text, for the procedure to show."""
    lines = body.splitlines()
    if "+++ new" in lines:
        lines = lines[lines.index("+++ new") + 1 :]
    for raw in lines:
        line = raw.strip()
        if not line or line in ("end_of_edit", "--- old") or line.startswith(("#!", '"""')):
            continue
        return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _file_target(
    kind: str, verb: str, args: list[str], current: str, generaliser: Generaliser
) -> tuple[str, str, str]:
    """The file an action works on, its line number (if any) and, for a search-and-replace
    edit, the replacement text. Editors without a path argument work on the open file."""
    specs = [a for a in args if _LINE_SPEC.match(a)]
    line = specs[0] if specs and kind in ("read", "edit") else ""
    if verb == "sed":
        candidates = args[-1:]
    elif kind == "edit":
        candidates = args[:1]  # SWE-agent: `edit N:M`, `edit 'search' 'replace'`; else a path
    else:
        candidates = args
    paths = [a for a in candidates if _PATH_LIKE.fullmatch(a) and not _LINE_SPEC.match(a)]
    if paths:
        return generaliser.path(paths[0]), line, ""
    replacement = (
        args[1] if kind == "edit" and verb == "edit" and len(args) > 1 and not specs else ""
    )
    return current, line, replacement


def _parse(steps: Sequence[Step], generaliser: Generaliser) -> list[CodingStep]:
    parsed: list[CodingStep] = []
    current = ""
    known: set[str] = set()  # files read or created so far
    for index, step in enumerate(steps):
        kind, tokens = classify(step.action)
        first, body = first_line(step.action)
        verb = os.path.basename(tokens[0]) if tokens else ""
        args = positional(tokens)
        failed = (
            step.success is False
            if step.success is not None
            else observation_failed(step.action, step.observation)
        )
        target, line, snippet = "", "", ""
        if kind in ("read", "edit", "create", "cleanup"):
            target, line, snippet = _file_target(kind, verb.lower(), args, current, generaliser)
            header = _FILE_HEADER.search(step.observation)
            if header and not failed and kind in ("read", "edit", "create"):
                target = generaliser.path(header.group("path"))
            if kind == "create" and verb.lower() == "write" and target in known:
                kind = "edit"  # Claude Code's Write over an existing file
            if kind in ("read", "create") and not failed and target:
                current = target
                known.add(target)
            if kind in ("edit", "create"):
                snippet = snippet or _snippet(body)
        elif kind == "search":
            target = " ".join(args[:2])
        elif kind in ("run", "setup", "other", "submit"):
            target = command_key(tokens)
        parsed.append(CodingStep(index, kind, target, failed, verb, first, snippet.strip(), line))
    return parsed


def _reruns_after_change(parsed: Sequence[CodingStep], start: int, end: int, key: str) -> bool:
    """Whether a file other than the command's own script changed between two runs."""
    script = key.split(" ", 1)[-1]
    return any(
        p.kind in ("edit", "create") and not p.failed and p.target and p.target != script
        for p in parsed
        if start < p.index < end
    )


def _answer_source(steps: Sequence[Step], parsed: Sequence[CodingStep]) -> int | None:
    """The step whose output contains the value finally submitted (a CTF flag, say), if any:
    it found the answer, even if it also reported an error such as a timeout."""
    submits = [p for p in parsed if p.kind == "submit" and not p.failed]
    if not submits:
        return None
    answer = " ".join(split_command(submits[-1].command)[1:]).strip()
    if len(answer) < 6:
        return None
    for p in reversed(parsed[: submits[-1].index]):
        if p.kind != "submit" and answer in steps[p.index].observation:
            return p.index
    return None


def _select(parsed: Sequence[CodingStep], answer: int | None) -> list[CodingStep]:
    """The steps on the critical path, before merging."""
    last_ok_run: dict[str, int] = {}
    for p in parsed:
        if p.kind == "run" and not p.failed:
            last_ok_run[p.target] = p.index
    submits = [p.index for p in parsed if p.kind == "submit" and not p.failed]
    kept: list[CodingStep] = []
    seen: set[tuple[str, str]] = set()
    reproduced: set[str] = set()
    for p in parsed:
        if p.index == answer:
            kept.append(p)
            continue
        if p.kind in ("look", "memory"):
            continue
        if p.kind == "run":
            last = last_ok_run.get(p.target)
            if last == p.index:
                kept.append(p)
            elif (
                last is not None
                and p.target not in reproduced
                and _reruns_after_change(parsed, p.index, last, p.target)
            ):
                reproduced.add(p.target)  # the run that showed the problem before the fix
                p.phase = "reproduce"
                kept.append(p)
            continue
        if p.failed:
            continue
        if p.kind == "submit":
            if submits and p.index == submits[-1]:
                kept.append(p)
            continue
        if p.kind in ("read", "search", "setup"):
            by_file = p.kind == "read" and p.verb.lower() in FILE_READERS and p.target
            key = ("file", p.target) if by_file else (p.kind, p.command)
            if key in seen:
                continue
            seen.add(key)
        if p.kind == "create":
            seen.add(("file", p.target))
        kept.append(p)
    return kept


def _merge(kept: Sequence[CodingStep]) -> list[CodingStep]:
    """Fold successive edits of one file into one step (the file's creation, if it was created)
    and drop repeats of the same step."""
    merged: list[CodingStep] = []
    for p in kept:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and p.kind == "edit"
            and previous.kind in ("edit", "create")
            and previous.target == p.target
        ):
            previous.snippet = p.snippet or previous.snippet
            previous.line = p.line or previous.line
            previous.index = p.index
            continue
        if previous is not None and (p.kind, p.target, p.command) == (
            previous.kind,
            previous.target,
            previous.command,
        ):
            continue
        merged.append(p)
    return merged


def _phases(path: Sequence[CodingStep]) -> None:
    """Label each step with its phase: setup, reproduce, locate, change, verify, cleanup, submit."""
    removed = {p.target for p in path if p.kind == "cleanup"}
    first_change = next(
        (i for i, p in enumerate(path) if p.kind in ("edit", "create") and p.target not in removed),
        len(path),
    )
    for i, p in enumerate(path):
        if p.phase:
            continue
        if p.kind in ("setup", "cleanup", "submit"):
            p.phase = p.kind
        elif p.kind in ("read", "search"):
            p.phase = "locate"
        elif p.kind in ("edit", "create"):
            p.phase = "reproduce" if p.target in removed and i < first_change else "change"
        elif p.kind == "run":
            p.phase = "reproduce" if i < first_change else "verify"
        else:
            p.phase = "run"


def critical_path(steps: Sequence[Step], generaliser: Generaliser) -> list[CodingStep]:
    """The steps of a coding trajectory that a procedure should keep, classified and phased."""
    parsed = _parse(steps, generaliser)
    path = _merge(_select(parsed, _answer_source(steps, parsed)))
    _phases(path)
    return path


_TYPE_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "bugfix",
        re.compile(
            r"\b(?:bugs?|fix\w*|errors?|exceptions?|traceback|crash\w*|fail\w*|broken|"
            r"incorrect|wrong|unexpected|regression|should(?:n't| not)?|instead of|strange)\b"
        ),
    ),
    ("test", re.compile(r"\b(?:add|write|improve|increase)\b[^.]{0,30}\btests?\b|\bcoverage\b")),
    (
        "feature",
        re.compile(r"\b(?:add|support|implement\w*|feature|new|allow|enable|introduce|option)\b"),
    ),
    ("refactor", re.compile(r"\b(?:refactor\w*|rename|restructure|simplify|clean ?up|split)\b")),
    ("performance", re.compile(r"\b(?:slow|performance|speed ?up|faster|optimi[sz]\w*|memory)\b")),
    ("docs", re.compile(r"\b(?:docs?|documentation|readme|docstrings?|typos?|changelog)\b")),
    ("build", re.compile(r"\b(?:ci|build|dependenc\w+|upgrade|bump|install\w*|packag\w+)\b")),
)
_LEADING_VERB = {
    "fix": "bugfix",
    "debug": "bugfix",
    "add": "feature",
    "implement": "feature",
    "support": "feature",
    "create": "feature",
    "build": "feature",
    "refactor": "refactor",
    "rename": "refactor",
    "document": "docs",
    "test": "test",
    "speed": "performance",
    "optimise": "performance",
    "optimize": "performance",
}
_CTF_CATEGORY = re.compile(r"CTF challenge is an? (?P<category>[\w ]+?) problem", re.IGNORECASE)
_CTF_TYPES = {
    "cryptography": "ctf-crypto",
    "crypto": "ctf-crypto",
    "forensics": "ctf-forensics",
    "miscellaneous": "ctf-misc",
    "misc": "ctf-misc",
    "binary exploitation": "ctf-pwn",
    "pwn": "ctf-pwn",
    "reverse engineering": "ctf-rev",
    "rev": "ctf-rev",
    "web security": "ctf-web",
    "web": "ctf-web",
}


def coding_task_type(task: str, metadata: dict[str, object]) -> str:
    """A coarse type for a coding task: bugfix, feature, test, docs, refactor, performance,
    build, ctf-<category>, or coding when nothing fits."""
    category = metadata.get("ctf_category")
    match = _CTF_CATEGORY.search(task)
    if isinstance(category, str) or match:
        name = (category if isinstance(category, str) else match.group("category")).lower()
        return _CTF_TYPES.get(name, "ctf-" + name.replace(" ", "-"))
    words = task.strip().split()
    lead = words[0].lower().strip(":,.") if words else ""
    if lead in _LEADING_VERB:
        if lead == "add" and re.match(r"add\s+(?:\w+\s+){0,2}tests?\b", task.strip(), re.I):
            return "test"
        return _LEADING_VERB[lead]
    text = task[:3000]
    scores = {kind: len(pattern.findall(text.lower())) for kind, pattern in _TYPE_KEYWORDS}
    scores["bugfix"] += len(exception_names(text))
    best = max(scores.values())
    if best == 0:
        return "coding"
    return next(kind for kind, _ in _TYPE_KEYWORDS if scores[kind] == best)
