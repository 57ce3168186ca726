"""Distillation: a trajectory becomes a reusable procedure, without a language model (Memp's
"build" step).

A procedure keeps both forms Memp describes: a whole-task `script` (one paragraph) and the
numbered critical `steps`, plus the task, its type and a few key facts. Failed attempts,
retries, dead ends and looking around are dropped; concrete values are generalised (`mug 1` →
`mug`, absolute paths → repository-relative, line numbers → `<line>`, hashes → `<hash>`), and
what they stood for is not kept. What the looking around taught is kept
as a hint instead (ALFWorld: where the object was found and where it was not), and the places a
task acts on are kept by role for retrieval (`destination`; `places` searched, opened or used).
`Procedure.render` is the memory text: the task and its objects come first so that both BM25
and embeddings match a similar new task.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import habitus.plugins.procedural.alfworld as alfworld
import habitus.plugins.procedural.coding as coding
from habitus.base.errors import InvalidInput
from habitus.core.trajectory.model import MAX_FIELD_CHARS, MAX_STEPS, Trajectory
from habitus.plugins.procedural.words import spoken

__all__ = ["TYPE_DESCRIPTIONS", "Procedure", "DistillStats", "distill", "distill_stats"]

MAX_TASK_CHARS = 600
MAX_RENDERED_STEPS = 30
MAX_PLACES = 50
_METADATA_KEY = "procedure"
_METADATA_VERSION = 3  # 2: destination and places; 3: no placeholder map
# Stored beside the fields: the version, and the placeholder map of version 2 (dropped: it kept
# what generalising had taken out of the text).
_NOT_FIELDS = frozenset({"version", "generalised"})


# What each task type means, in the words a person uses to ask for it (the generic action verbs
# and their common synonyms), so that "warm a mug" finds a heat procedure and "chill" a cool one.
TYPE_DESCRIPTIONS: dict[str, str] = {
    "pick-and-place": "pick up an object and put, place or move it in/on a receptacle",
    "pick-two": "find two objects of a kind and put, place or move both in/on a receptacle, one "
    "at a time",
    "clean-then-place": "clean, wash or rinse an object at the sink, then put, place or move it "
    "in/on a receptacle",
    "heat-then-place": "heat, warm or cook an object in the microwave, then put, place or move "
    "it in/on a receptacle",
    "cool-then-place": "cool, chill or refrigerate an object in the fridge, then put, place or "
    "move it in/on a receptacle",
    "look-at-under-lamp": "look at, examine or inspect an object under a lamp, holding it",
    "bugfix": "fix a bug: an error, a crash or a wrong result",
    "feature": "add, implement or support a new feature or option",
    "test": "write or improve tests",
    "refactor": "refactor, rename or restructure code",
    "performance": "make code faster or use less memory",
    "docs": "write or fix documentation",
    "build": "build, packaging, dependencies or continuous integration",
    "ctf-crypto": "capture-the-flag cryptography challenge: decrypt, decode or break a cipher",
    "ctf-forensics": "capture-the-flag forensics challenge: recover data hidden in files",
    "ctf-misc": "capture-the-flag challenge",
    "ctf-pwn": "capture-the-flag binary exploitation challenge: exploit a program",
    "ctf-rev": "capture-the-flag reverse engineering challenge: decompile a program",
    "ctf-web": "capture-the-flag web security challenge: attack a web application",
}


class Procedure(BaseModel):
    """A distilled procedure: what task it solves and how, in general terms."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=MAX_FIELD_CHARS, description="The task solved.")
    task_type: str = Field(
        min_length=1, max_length=64, description="pick-and-place, bugfix, ctf-crypto, ..."
    )
    key_facts: list[str] = Field(
        default_factory=list, max_length=20, description="Short facts worth knowing up front."
    )
    script: str = Field("", max_length=MAX_FIELD_CHARS, description="One-paragraph workflow.")
    steps: list[str] = Field(
        default_factory=list, max_length=MAX_STEPS, description="The critical steps, in order."
    )
    destination: str = Field(
        "", max_length=200, description="Where the task puts what it handles (a receptacle, a "
        "file), if it has one: the place a new task names after in/on/into/onto/to."
    )
    places: list[str] = Field(
        default_factory=list, max_length=MAX_PLACES, description="Other places the trajectory "
        "searched, opened or used, first visit first (generalised: no instance numbers)."
    )
    source_ids: list[str] = Field(
        default_factory=list, description="Ids of the trajectories it was distilled from."
    )

    def render(self) -> str:
        """The memory text: task, type, key facts, workflow, numbered steps (at most 30)."""
        described = TYPE_DESCRIPTIONS.get(self.task_type)
        kind = f"{self.task_type} ({described})" if described else self.task_type
        lines = [f"Task: {self.task}", f"Type: {kind}"]
        if self.key_facts:
            lines.append("Key facts:")
            lines.extend(f"- {fact}" for fact in self.key_facts)
        if self.script:
            lines.append(f"Workflow: {self.script}")
        if self.steps:
            lines.append("Steps:")
            shown = self.steps[:MAX_RENDERED_STEPS]
            lines.extend(f"{i}. {step}" for i, step in enumerate(shown, 1))
            if len(self.steps) > len(shown):
                lines.append(f"... and {len(self.steps) - len(shown)} more steps")
        return "\n".join(lines)

    def to_metadata(self) -> dict[str, Any]:
        """The structured parts, to merge into a memory's JSON metadata (under `procedure`)."""
        return {_METADATA_KEY: {"version": _METADATA_VERSION, **self.model_dump(mode="json")}}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Procedure:
        """The procedure stored by `to_metadata` in a memory's metadata; `InvalidInput` if absent
        or malformed."""
        stored = metadata.get(_METADATA_KEY) if isinstance(metadata, dict) else None
        if not isinstance(stored, dict):
            raise InvalidInput("metadata holds no procedure (no 'procedure' object)")
        fields = {k: v for k, v in stored.items() if k not in _NOT_FIELDS}
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'procedure'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise InvalidInput(f"malformed procedure in metadata: {problems}") from None


@dataclass(frozen=True)
class DistillStats:
    """How much of a trajectory its procedure kept."""

    trajectory_id: str
    original_steps: int
    kept_steps: int


def distill(trajectory: Trajectory) -> Procedure:
    """The procedure distilled from one trajectory (ALFWorld or coding, told apart by the task)."""
    goal = alfworld.parse_goal(trajectory.task)
    if goal is not None and (
        trajectory.source == "alfworld"
        or any(alfworld.parse_action(step.action) for step in trajectory.steps)
    ):
        return _distill_alfworld(trajectory, goal)
    return _distill_coding(trajectory)


def distill_stats(trajectories: Iterable[Trajectory]) -> list[DistillStats]:
    """Steps kept versus original steps, per trajectory."""
    return [DistillStats(t.id, len(t.steps), len(distill(t).steps)) for t in trajectories]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary unless that loses half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    at_word = cut.rsplit(" ", 1)[0]
    return (at_word if len(at_word) >= limit // 2 else cut).rstrip(" ,;:") + "…"


# --- ALFWorld ----------------------------------------------------------------------------------

_APPLIANCE = {"clean": "sinkbasin", "heat": "microwave", "cool": "fridge"}
_MAX_LOOKED = 6  # places named in the "where to look" fact


def _distill_alfworld(trajectory: Trajectory, goal: alfworld.Goal) -> Procedure:
    path = alfworld.critical_path(goal, trajectory.steps)
    explored = alfworld.explore(goal, trajectory.steps)
    types = [(s.action.verb, alfworld.entity_type(s.action.loc or "")) for s in path]
    sources = _unique(loc for verb, loc in types if verb == "take")
    # What each opening was for: the take or the put that follows it.
    opened = [
        (loc, after)
        for (verb, loc), (after, _) in zip(types, types[1:], strict=False)
        if verb == "open"
    ]
    open_to_take = _unique(loc for loc, after in opened if after == "take")
    open_to_put = any(after == "put" for _, after in opened)
    appliance = next((loc for verb, loc in types if verb == goal.transform), None)
    lamp_place = None
    for before, after in zip(path, path[1:], strict=False):
        if after.action.verb == "use" and before.action.verb == "go":
            lamp_place = alfworld.entity_type(before.action.loc or "")

    obj, recep = goal.obj, goal.receptacle
    # Run-together names also in words (`soapbar (soap bar)`), as a person would ask for them.
    facts = [
        f"object: {spoken(obj)}"
        + (f"; destination: {spoken(recep)}" if recep else f"; tool: {spoken('desklamp')}")
    ]
    if explored.found:
        found = ", ".join(spoken(s) for s in explored.found)
        looked = ", ".join(spoken(s) for s in explored.looked[:_MAX_LOOKED])
        facts.append(f"where to look for the {obj}: found in/on the {found}"
                     + (f"; not in/on the {looked}" if looked else ""))
    for place in open_to_take:
        facts.append(f"the {place} is closed: open it to take the {obj}")
    if open_to_put:
        facts.append(f"open the {recep} before putting the {obj} in it")
    if goal.transform:
        facts.append(
            f"{goal.transform} the {obj} with the {appliance or _APPLIANCE[goal.transform]}"
        )
    if lamp_place:
        facts.append(f"the desklamp is on the {lamp_place}")
    if trajectory.outcome and trajectory.outcome.success is False:
        facts.append(f"outcome: {trajectory.outcome.summary or 'failed'}")

    return Procedure(
        task=trajectory.task.strip(),
        task_type=goal.task_type,
        key_facts=facts,
        script=_alfworld_script(goal, sources, open_to_put, appliance, lamp_place),
        steps=[s.text for s in path],
        destination=recep or "",
        places=[p for p in explored.places if p != recep][:MAX_PLACES],
        source_ids=[trajectory.id],
    )


def _alfworld_script(
    goal: alfworld.Goal,
    sources: list[str],
    open_target: bool,
    appliance: str | None,
    lamp_place: str | None,
) -> str:
    obj, recep = goal.obj, goal.receptacle
    where = f" (look in/on the {', '.join(sources)})" if sources else " (search place by place)"
    place = (
        f"go to the {recep}"
        + (", open it" if open_target else "")
        + (f" and put the {obj} in/on the {recep}")
    )
    if goal.task_type == "look-at-under-lamp":
        lamp = f" (on the {lamp_place})" if lamp_place else ""
        return (
            f"Find the {obj}{where}, take it, go to the desklamp{lamp} and use the desklamp "
            f"to look at the {obj} while holding it."
        )
    if goal.task_type == "pick-two":
        return (
            f"Find a first {obj}{where}, take it, {place}; then find a second {obj}, take it "
            f"and put it in/on the {recep} too (only one object can be carried at a time)."
        )
    if goal.transform:
        tool = appliance or _APPLIANCE[goal.transform]
        return (
            f"Find a {obj}{where}, take it, go to the {tool} and {goal.transform} the {obj} "
            f"with the {tool}, then {place}."
        )
    return f"Find a {obj}{where}, take it, then {place}."


# --- coding ------------------------------------------------------------------------------------

_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(https?://[^)]+\)")
_URL = re.compile(r"https?://\S+")
_FENCE = re.compile(r"```\w*")
_EMPHASIS = re.compile(r"\*\*|__|^#+\s*", re.MULTILINE)
_CTF_FILES = re.compile(r"Files included in the challenge: \[(?P<files>[^\]]*)\]")
_PLAIN_TOOLS = frozenset(
    {
        "open",
        "read",
        "cat",
        "edit",
        "create",
        "write",
        "python",
        "python3",
        "submit",
        "find_file",
        "search_dir",
        "search_file",
        "grep",
        "find",
        "rm",
        "file",
        "echo",
    }
)
_STEP_CHARS = 200


def _clean_task(task: str, generaliser: coding.Generaliser) -> str:
    """The task without markup, links or machine-specific paths, shortened for retrieval."""
    text = _MARKDOWN_LINK.sub(r"\1", task.replace("\r\n", "\n"))
    text = _FENCE.sub(" ", _URL.sub("", text))
    text = " ".join(_EMPHASIS.sub("", text).split())
    return _shorten(generaliser.text(text), MAX_TASK_CHARS)


def _render_step(step: coding.CodingStep, generaliser: coding.Generaliser) -> str:
    where = ""
    if step.line and step.kind in ("read", "edit"):
        where = " at line <line>"
    snippet = generaliser.text(step.snippet)
    detail = f": {snippet}" if snippet else ""
    if step.kind == "read" and step.verb.lower() in coding.FILE_READERS:
        text = f"{step.verb.lower()} {step.target}{where}"
    elif step.kind == "edit":
        text = f"edit {step.target}{where}{detail}"
    elif step.kind == "create":
        text = f"create {step.target}{detail}"
    elif step.kind == "cleanup":
        text = f"remove {step.target}"
    elif step.kind == "submit":
        text = "submit"
    elif step.kind == "run":
        text = "run " + generaliser.text(step.command).removeprefix("cd . && ")
    else:
        text = generaliser.text(step.command)
    return _shorten(text, _STEP_CHARS)


def _phase_sentence(phase: str, items: list[str], task_type: str) -> str:
    listed = ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")
    ctf = task_type.startswith("ctf")
    if phase == "setup":
        return f"set up the environment ({listed})"
    if phase == "reproduce":
        return f"run tools on it ({listed})" if ctf else f"reproduce the problem ({listed})"
    if phase == "locate":
        return f"{'inspect the challenge' if ctf else 'locate the relevant code'} ({listed})"
    if phase == "change":
        if ctf:
            return f"write the solution ({listed})"
        return f"{'fix it by editing' if task_type == 'bugfix' else 'make the change in'} {listed}"
    if phase == "verify":
        return f"{'run it' if ctf else 'verify by running'} ({listed})"
    if phase == "cleanup":
        return f"clean up ({listed})"
    if phase == "submit":
        return "submit the flag" if ctf else "submit"
    return f"run {listed}"


def _coding_script(path: list[coding.CodingStep], rendered: list[str], task_type: str) -> str:
    phases: dict[str, list[str]] = {}
    for step, text in zip(path, rendered, strict=True):
        item = step.target if step.kind in ("edit", "create") else text.removeprefix("run ")
        if step.kind == "read" and step.verb.lower() in coding.FILE_READERS:
            item = step.target or item
        phases.setdefault(step.phase, [])
        if item and item not in phases[step.phase]:
            phases[step.phase].append(_shorten(item, 60))
    if not phases:
        return "No successful steps were recorded."
    sentences = [_phase_sentence(phase, items, task_type) for phase, items in phases.items()]
    script = "; ".join(sentences) + "."
    return script[0].upper() + script[1:]


def _coding_facts(
    trajectory: Trajectory,
    task_type: str,
    path: list[coding.CodingStep],
    rendered: list[str],
    generaliser: coding.Generaliser,
) -> list[str]:
    metadata = trajectory.metadata
    facts = []
    cwd = metadata.get("cwd")
    if isinstance(metadata.get("repo"), str):
        facts.append(f"repository: {metadata['repo']}")
    elif isinstance(cwd, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*", os.path.basename(cwd)):
        facts.append(f"project: {os.path.basename(cwd)}")
    errors = coding.exception_names(trajectory.task)
    if errors:
        facts.append(f"error: {', '.join(errors)}")
    files = _CTF_FILES.search(trajectory.task)
    if files:
        names = [n.strip(" '\"") for n in files.group("files").split(",")]
        facts.append(_shorten(f"challenge files: {generaliser.text(', '.join(names))}", 200))
    changed = metadata.get("changed_files")
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        changed = _unique(p.target for p in path if p.phase == "change")
    if changed:
        facts.append(_shorten(f"files changed: {', '.join(changed[:5])}", 200))
    labels = (
        (("verify", "solve with"),)
        if task_type.startswith("ctf")
        else (
            ("reproduce", "reproduce with"),
            ("verify", "verify with"),
        )
    )
    for phase, label in labels:
        runs = [
            t for p, t in zip(path, rendered, strict=True) if p.phase == phase and p.kind == "run"
        ]
        if runs:
            facts.append(_shorten(f"{label}: {runs[-1].removeprefix('run ')}", 200))
    tools = _unique(p.verb for p in path if p.kind in ("run", "read", "search", "setup") and p.verb)
    tools = [t for t in tools if t.lower() not in _PLAIN_TOOLS]
    if tools:
        facts.append(f"tools: {', '.join(tools[:6])}")
    if trajectory.outcome and trajectory.outcome.success is False:
        facts.append(_shorten(f"outcome: failed ({trajectory.outcome.summary})", 200))
    return facts


def _distill_coding(trajectory: Trajectory) -> Procedure:
    cwd = trajectory.metadata.get("cwd")
    generaliser = coding.Generaliser(cwd if isinstance(cwd, str) else None)
    task_type = coding.coding_task_type(trajectory.task, trajectory.metadata)
    task = _clean_task(trajectory.task, generaliser)
    path = coding.critical_path(trajectory.steps, generaliser)
    rendered = [_render_step(step, generaliser) for step in path]
    # Generalising can make neighbours identical (`decompile FUN_<hash>` several times): keep one.
    keep = [i for i, text in enumerate(rendered) if i == 0 or text != rendered[i - 1]]
    path, rendered = [path[i] for i in keep], [rendered[i] for i in keep]
    facts = _coding_facts(trajectory, task_type, path, rendered, generaliser)
    return Procedure(
        task=task,
        task_type=task_type,
        key_facts=facts,
        script=_coding_script(path, rendered, task_type),
        steps=rendered,
        source_ids=[trajectory.id],
    )
