"""ALFWorld knowledge: task templates, text actions, whether the goal was met, the critical path.

ALFWorld tasks come from six templates (put an object somewhere, possibly after cleaning,
heating or cooling it; put two of them; look at one under a desk lamp). Knowing the template
tells which actions matter: the take of the target object, its transformation, its placement,
and the walks and openings those need. Everything else (look, inventory, examine, visits that
found nothing) is exploration that a procedure does not need to repeat; what it learnt (where
the object was looked for and found, the places visited and opened) is summed up by `explore`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from habitus.core.trajectory.model import Step

__all__ = [
    "TASK_TYPES",
    "Goal",
    "Action",
    "PathStep",
    "parse_goal",
    "parse_action",
    "entity_type",
    "goal_reached",
    "critical_path",
    "Exploration",
    "explore",
]

TASK_TYPES: tuple[str, ...] = (
    "pick-and-place",
    "pick-two",
    "clean-then-place",
    "heat-then-place",
    "cool-then-place",
    "look-at-under-lamp",
)

_TRANSFORM_TYPE = {
    "clean": "clean-then-place",
    "heat": "heat-then-place",
    "cool": "cool-then-place",
}
_ADJECTIVE_VERB = {"clean": "clean", "hot": "heat", "cool": "cool"}

_GOAL_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"look at (?:a |an |the |some )?(?P<obj>\w+) under the (?P<lamp>\w+)"), "look"),
    (re.compile(r"examine (?:a |an |the |some )?(?P<obj>\w+) with the (?P<lamp>\w+)"), "look"),
    (re.compile(r"put two (?P<obj>\w+) (?:in|on) (?P<recep>\w+)"), "two"),
    (re.compile(r"find two (?P<obj>\w+) and put them (?:in|on) (?P<recep>\w+)"), "two"),
    (
        re.compile(
            r"(?P<verb>clean|heat|cool) (?:a |an |the |some )?(?P<obj>\w+) and put it "
            r"(?:in|on) (?P<recep>\w+)"
        ),
        "transform",
    ),
    (
        re.compile(
            r"put (?:a |an |the |some )?(?P<adj>clean|hot|cool) (?P<obj>\w+) "
            r"(?:in|on) (?P<recep>\w+)"
        ),
        "adjective",
    ),
    (re.compile(r"put (?:a |an |the |some )?(?P<obj>\w+) (?:in|on) (?P<recep>\w+)"), "place"),
)

_ACTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("go", re.compile(r"go to (?P<loc>\w+ \d+)")),
    ("take", re.compile(r"take (?P<obj>\w+ \d+) from (?P<loc>\w+ \d+)")),
    ("put", re.compile(r"put (?P<obj>\w+ \d+) (?:in/on|in|on) (?P<loc>\w+ \d+)")),
    ("open", re.compile(r"open (?P<loc>\w+ \d+)")),
    ("close", re.compile(r"close (?P<loc>\w+ \d+)")),
    ("clean", re.compile(r"clean (?P<obj>\w+ \d+) with (?P<loc>\w+ \d+)")),
    ("heat", re.compile(r"heat (?P<obj>\w+ \d+) with (?P<loc>\w+ \d+)")),
    ("cool", re.compile(r"cool (?P<obj>\w+ \d+) with (?P<loc>\w+ \d+)")),
    ("use", re.compile(r"use (?P<obj>\w+ \d+)")),
)

_FAILED_OBSERVATION = "nothing happens."


@dataclass(frozen=True)
class Goal:
    """What an ALFWorld task asks for: an object type, where it goes, and what to do first."""

    task_type: str
    obj: str
    receptacle: str | None = None
    transform: str | None = None
    lamp: str | None = None

    @property
    def count(self) -> int:
        """How many objects must be placed."""
        return 2 if self.task_type == "pick-two" else 1


@dataclass(frozen=True)
class Action:
    """A parsed text action: its verb, the object instance and the location instance."""

    verb: str
    obj: str | None = None
    loc: str | None = None


@dataclass(frozen=True)
class PathStep:
    """One step of the critical path: the original step index and its generalised text."""

    index: int
    text: str
    action: Action


def parse_goal(task: str) -> Goal | None:
    """The goal of an ALFWorld task description, or None if it fits no template."""
    text = " ".join(task.lower().strip().rstrip(".").split())
    for pattern, kind in _GOAL_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        if kind == "look":
            return Goal("look-at-under-lamp", groups["obj"], lamp=groups["lamp"])
        if kind == "two":
            return Goal("pick-two", groups["obj"], groups["recep"])
        if kind == "transform":
            verb = groups["verb"]
            return Goal(_TRANSFORM_TYPE[verb], groups["obj"], groups["recep"], verb)
        if kind == "adjective":
            verb = _ADJECTIVE_VERB[groups["adj"]]
            return Goal(_TRANSFORM_TYPE[verb], groups["obj"], groups["recep"], verb)
        return Goal("pick-and-place", groups["obj"], groups["recep"])
    return None


def parse_action(text: str) -> Action | None:
    """Parse an environment action such as `take mug 1 from countertop 2`; None if unknown."""
    line = " ".join(text.lower().strip().rstrip(".").split())
    for verb, pattern in _ACTION_PATTERNS:
        match = pattern.fullmatch(line)
        if match is not None:
            groups = match.groupdict()
            return Action(verb, groups.get("obj"), groups.get("loc"))
    return None


def entity_type(instance: str) -> str:
    """`mug 1` → `mug`: the type of an object or receptacle instance."""
    return instance.rsplit(" ", 1)[0] if instance[-1:].isdigit() else instance


def _worked(step: Step) -> bool:
    """Not known to have failed: ALFWorld answers an impossible action with "Nothing happens."."""
    if step.success is False:
        return False
    return step.observation.strip().lower() != _FAILED_OBSERVATION


@dataclass
class _Events:
    """The goal-relevant events of a trajectory, by step index."""

    # Every action that parsed and did not fail, then the same split by verb.
    actions: dict[int, Action] = field(default_factory=dict)
    takes: dict[int, Action] = field(default_factory=dict)
    puts: dict[int, Action] = field(default_factory=dict)
    transforms: dict[int, Action] = field(default_factory=dict)
    lamp_uses: dict[int, str | None] = field(default_factory=dict)  # → instance held then
    gos: dict[int, Action] = field(default_factory=dict)
    opens: dict[int, Action] = field(default_factory=dict)
    closes: dict[int, Action] = field(default_factory=dict)


def _events(steps: Sequence[Step]) -> _Events:
    events = _Events()
    holding: str | None = None
    for index, step in enumerate(steps):
        action = parse_action(step.action)
        if action is None or not _worked(step):
            continue
        events.actions[index] = action
        if action.verb == "go":
            events.gos[index] = action
        elif action.verb == "open":
            events.opens[index] = action
        elif action.verb == "close":
            events.closes[index] = action
        elif action.verb == "take":
            events.takes[index] = action
            holding = action.obj
        elif action.verb == "put":
            events.puts[index] = action
            holding = None
        elif action.verb in _TRANSFORM_TYPE:
            events.transforms[index] = action
        elif action.verb == "use":
            events.lamp_uses[index] = holding
    return events


def _last_before(indices: dict[int, Action], limit: int, match: str) -> int | None:
    """The latest index below `limit` whose action's object or location is `match`."""
    found = [i for i, a in indices.items() if i < limit and match in (a.obj, a.loc)]
    return max(found) if found else None


def _interactions(goal: Goal, events: _Events) -> list[int]:
    """Indices, in the order to perform them, of the takes, transformations, placements and
    lamp uses that achieve the goal."""
    if goal.task_type == "look-at-under-lamp":
        return _look_interactions(goal, events)
    chosen: set[int] = set()
    placed: list[str] = []
    transforms = {i: a for i, a in events.transforms.items() if a.verb == goal.transform}
    for index in sorted(events.puts):
        put = events.puts[index]
        if put.obj is None or put.loc is None or put.obj in placed:
            continue
        if entity_type(put.obj) != goal.obj or entity_type(put.loc) != goal.receptacle:
            continue
        if goal.transform is not None:
            transform = _last_before(transforms, index, put.obj)
            if transform is None:
                continue
            chosen.update(_take_then(events, transform, put.obj))
        chosen.update(_take_then(events, index, put.obj))
        placed.append(put.obj)
        if len(placed) == goal.count:
            return sorted(chosen)
    # Unfinished (the goal was not reached): keep the progress made on one more object.
    takes = [
        i
        for i, a in events.takes.items()
        if a.obj and entity_type(a.obj) == goal.obj and a.obj not in placed
    ]
    if takes:
        take = max(takes)
        chosen.add(take)
        obj = events.takes[take].obj
        later = [i for i, a in transforms.items() if i > take and a.obj == obj]
        if later:
            chosen.add(min(later))
    return sorted(chosen)


def _take_then(events: _Events, index: int, obj: str) -> list[int]:
    """`index` and the latest take of `obj` before it, if any."""
    take = _last_before(events.takes, index, obj)
    return [index] if take is None else [take, index]


def _holds_target(goal: Goal, held: str | None) -> bool:
    return held is not None and entity_type(held) == goal.obj


def _look_interactions(goal: Goal, events: _Events) -> list[int]:
    """Take the object, then use the lamp: the last lamp use, preferably one made while holding
    the object, and the take of that object (or of any object of the type, if none was held)."""
    if not events.lamp_uses:
        return []
    holding = [i for i, held in events.lamp_uses.items() if _holds_target(goal, held)]
    use = max(holding or events.lamp_uses)
    held = events.lamp_uses[use]
    if _holds_target(goal, held):
        take = _last_before(events.takes, use, held) if held else None
    else:
        takes = [i for i, a in events.takes.items() if a.obj and entity_type(a.obj) == goal.obj]
        take = max(takes) if takes else None
    return [use] if take is None else [take, use]


def goal_reached(goal: Goal, steps: Sequence[Step]) -> bool:
    """Whether the steps achieve the goal (the last step counts unless known to have failed)."""
    events = _events(steps)
    if goal.task_type == "look-at-under-lamp":
        return any(_holds_target(goal, held) for held in events.lamp_uses.values())
    chosen = _interactions(goal, events)
    return sum(1 for i in chosen if i in events.puts) >= goal.count


def _text(action: Action) -> str:
    obj = entity_type(action.obj) if action.obj else ""
    loc = entity_type(action.loc) if action.loc else ""
    if action.verb == "go":
        return f"go to {loc}"
    if action.verb == "take":
        return f"take {obj} from {loc}"
    if action.verb == "put":
        return f"put {obj} in/on {loc}"
    if action.verb in ("open", "close"):
        return f"{action.verb} {loc}"
    if action.verb in _TRANSFORM_TYPE:
        return f"{action.verb} {obj} with {loc}"
    return f"use {obj}"


def critical_path(goal: Goal, steps: Sequence[Step]) -> list[PathStep]:
    """The steps that achieve the goal, each preceded by the walk and the opening it needs.

    Failed actions, exploration (look, inventory, examine, visits where nothing useful was done),
    objects handled for nothing and placements elsewhere are left out.
    """
    events = _events(steps)
    path: list[PathStep] = []
    here: str | None = None
    opened: set[str] = set()
    for index in _interactions(goal, events):
        action = events.actions[index]
        if action.verb == "use":
            gos = [i for i in events.gos if i < index]
            where = events.gos[max(gos)].loc if gos else None
        else:
            where = action.loc
        if where is not None and where != here:
            go = _last_before(events.gos, index, where)
            if go is not None:
                path.append(PathStep(go, _text(events.gos[go]), events.gos[go]))
            here = where
        if action.verb in ("take", "put") and where is not None and where not in opened:
            opening = _last_before(events.opens, index, where)
            closing = _last_before(events.closes, index, where)
            if opening is not None and (closing is None or closing < opening):
                path.append(PathStep(opening, _text(events.opens[opening]), events.opens[opening]))
                opened.add(where)
        path.append(PathStep(index, _text(action), action))
    return path


@dataclass(frozen=True)
class Exploration:
    """What a trajectory learnt while looking around, as receptacle types (no instance numbers)."""

    looked: list[str]  # visited or opened before the object was found (not there, not its goal)
    found: list[str]  # where the target object was taken from
    places: list[str]  # every place gone to, opened or used as an appliance, first visit first


def explore(goal: Goal, steps: Sequence[Step]) -> Exploration:
    """Where the target object was looked for and found, and every place the trajectory went to,
    opened or used, in order of first visit. Failed actions do not count."""
    events = _events(steps)
    places: list[str] = []
    visits: list[tuple[int, str]] = []
    for index in sorted(events.actions):
        action = events.actions[index]
        if action.verb in ("go", "open") or action.verb in _TRANSFORM_TYPE:
            kind = entity_type(action.loc or "")
            visits.append((index, kind))
            if kind and kind not in places:
                places.append(kind)
    takes = [i for i, a in events.takes.items() if a.obj and entity_type(a.obj) == goal.obj]
    sources = (entity_type(events.takes[i].loc or "") for i in sorted(takes))
    found = list(dict.fromkeys(kind for kind in sources if kind))
    last_take = max(takes, default=-1)
    skip = {*found, goal.receptacle, ""}
    looked = list(dict.fromkeys(
        kind for index, kind in visits if index < last_take and kind not in skip
    ))
    return Exploration(looked=looked, found=found, places=places)
