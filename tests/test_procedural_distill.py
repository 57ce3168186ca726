"""Procedural memory without storage: the trajectory format, the readers, and distillation.

Self-contained tests build small trajectories here; the tests on the public ALFWorld and
SWE-agent data read `../shared/data` next to the repository (or `$HABITUS_DATA_DIR`) and are
skipped when it is absent, as in a fresh clone.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from habitus.base.errors import InvalidInput
from habitus.plugins.procedural import (
    Outcome,
    Procedure,
    Step,
    Trajectory,
    detect_format,
    distill,
    distill_stats,
    read_alfworld,
    read_claude_code,
    read_swe_agent,
    read_trajectories,
)
from habitus.plugins.procedural.alfworld import TASK_TYPES, parse_goal
from habitus.plugins.procedural.coding import Generaliser, coding_task_type

pytestmark = pytest.mark.fast

FIXTURE = Path(__file__).parent / "fixtures" / "claude_code_session.jsonl"
DATA = Path(
    os.environ.get("HABITUS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
ALFWORLD = DATA / "alfworld" / "trajectories.json"
SWE_AGENT = DATA / "swe-agent"

needs_alfworld = pytest.mark.skipif(
    not ALFWORLD.is_file(), reason=f"ALFWorld data not found at {ALFWORLD} (set HABITUS_DATA_DIR)"
)
needs_swe_agent = pytest.mark.skipif(
    not SWE_AGENT.is_dir(), reason=f"SWE-agent data not found at {SWE_AGENT} (set HABITUS_DATA_DIR)"
)


def _alfworld(task: str, actions: list[tuple[str, str]]) -> Trajectory:
    """An ALFWorld trajectory from (action, observation) pairs."""
    steps = [
        Step(action=a, observation=o, success=o.strip().lower() != "nothing happens.")
        for a, o in actions
    ]
    return Trajectory(id="alf-test", task=task, steps=steps, source="alfworld")


# --- the trajectory format ---------------------------------------------------------------------


def test_round_trip_through_json() -> None:
    trajectory = Trajectory(
        id="t1",
        task="Fix the crash on empty config",
        steps=[
            Step(
                thought="Reproduce first.",
                action="pytest -q",
                observation="1 failed",
                success=False,
            ),
            Step(action="Edit src/config.py", success=True),
            Step(action="pytest -q", observation="3 passed"),
        ],
        outcome=Outcome(success=True, summary="Empty configs load."),
        source="claude-code",
        metadata={"cwd": "/home/me/app", "tags": ["a", 1, None]},
    )
    data = json.loads(json.dumps(trajectory.to_dict()))
    assert Trajectory.from_dict(data) == trajectory
    assert data["steps"][2]["success"] is None


def test_missing_id_is_derived_from_the_content() -> None:
    data = {"task": "Do it", "steps": [{"action": "make"}]}
    first, second = Trajectory.from_dict(data), Trajectory.from_dict(dict(data))
    assert first.id == second.id and first.id.startswith("traj-")
    assert Trajectory.from_dict({**data, "task": "Do it again"}).id != first.id
    assert first.source == "habitus" and first.outcome is None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"task": "", "steps": []}, "trajectory.task"),
        ({"task": "x", "steps": [{"action": "   "}]}, "trajectory.steps[0].action"),
        ({"task": "x", "steps": [{"action": "a"}] * 501}, "trajectory.steps"),
        ({"task": "x", "steps": [{"action": "a", "observation": "o" * 20_001}]}, "observation"),
        ({"task": "x", "steps": [{"action": "a", "success": "yes"}]}, "steps[0].success"),
        ({"task": "x", "steps": [], "colour": "red"}, "trajectory.colour: unknown field"),
        ({"task": "x", "metadata": {"big": "m" * 20_001}}, "trajectory.metadata"),
        ({"task": "x", "outcome": {"success": None, "why": "?"}}, "trajectory.outcome.why"),
        ({"task": "x", "id": "i" * 257}, "trajectory.id"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_validation_names_the_offending_field(data: Any, where: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(where)):
        Trajectory.from_dict(data)


# --- ALFWorld distillation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "task_type", "obj", "receptacle"),
    [
        ("put some alarmclock on desk.", "pick-and-place", "alarmclock", "desk"),
        ("put a cd in sidetable.", "pick-and-place", "cd", "sidetable"),
        ("put two keychain in dresser.", "pick-two", "keychain", "dresser"),
        ("find two laptop and put them in bed.", "pick-two", "laptop", "bed"),
        ("clean some fork and put it in drawer.", "clean-then-place", "fork", "drawer"),
        ("put a clean soapbar in garbagecan.", "clean-then-place", "soapbar", "garbagecan"),
        ("heat some mug and put it in coffeemachine.", "heat-then-place", "mug", "coffeemachine"),
        ("put a hot apple in fridge.", "heat-then-place", "apple", "fridge"),
        ("cool some lettuce and put it in garbagecan.", "cool-then-place", "lettuce", "garbagecan"),
        ("put a cool mug in shelf.", "cool-then-place", "mug", "shelf"),
        ("look at laptop under the desklamp.", "look-at-under-lamp", "laptop", None),
        ("examine the bowl with the desklamp.", "look-at-under-lamp", "bowl", None),
    ],
)
def test_task_type_from_the_template(
    task: str, task_type: str, obj: str, receptacle: str | None
) -> None:
    goal = parse_goal(task)
    assert goal is not None
    assert (goal.task_type, goal.obj, goal.receptacle) == (task_type, obj, receptacle)


def test_failed_and_exploratory_steps_are_dropped_and_numbers_generalised() -> None:
    trajectory = _alfworld(
        "put a clean mug in coffeemachine.",
        [
            ("look", "You are in the middle of a room."),
            ("go to countertop 1", "On the countertop 1, you see a bread 1."),
            ("go to cabinet 2", "The cabinet 2 is closed."),
            (
                "open cabinet 2",
                "You open the cabinet 2. The cabinet 2 is open. In it, you see nothing.",
            ),
            ("go to countertop 2", "On the countertop 2, you see a mug 2."),
            ("take mug 2 from countertop 2", "You pick up the mug 2 from the countertop 2."),
            ("inventory", "You are carrying: a mug 2."),
            ("go to sinkbasin 1", "On the sinkbasin 1, you see nothing."),
            ("heat mug 2 with sinkbasin 1", "Nothing happens."),
            ("clean mug 2 with sinkbasin 1", "You clean the mug 2 using the sinkbasin 1."),
            ("examine mug 2", "This is a clean mug."),
            ("go to coffeemachine 1", "On the coffeemachine 1, you see nothing."),
            ("put mug 2 in/on coffeemachine 1", "You put the mug 2 in/on the coffeemachine 1."),
        ],
    )
    procedure = distill(trajectory)
    assert procedure.task_type == "clean-then-place"
    assert procedure.steps == [
        "go to countertop",
        "take mug from countertop",
        "go to sinkbasin",
        "clean mug with sinkbasin",
        "go to coffeemachine",
        "put mug in/on coffeemachine",
    ]
    assert "mug 2" not in procedure.model_dump_json()  # the instance is not kept anywhere
    assert "clean the mug with the sinkbasin" in procedure.key_facts
    assert not re.search(
        r"\d", " ".join([procedure.script, *procedure.key_facts, *procedure.steps])
    )
    assert procedure.source_ids == ["alf-test"]


def test_pick_two_keeps_both_objects_and_drops_a_dead_end() -> None:
    trajectory = _alfworld(
        "put two book in desk.",
        [
            ("go to shelf 1", "On the shelf 1, you see a book 1."),
            ("take book 1 from shelf 1", "You pick up the book 1 from the shelf 1."),
            ("go to bed 1", "On the bed 1, you see nothing."),
            ("put book 1 in/on bed 1", "You put the book 1 in/on the bed 1."),  # wrong place
            ("take book 1 from bed 1", "You pick up the book 1 from the bed 1."),
            ("go to desk 1", "On the desk 1, you see a pen 1."),
            ("put book 1 in/on desk 1", "You put the book 1 in/on the desk 1."),
            ("go to drawer 1", "The drawer 1 is closed."),
            ("open drawer 1", "You open the drawer 1. In it, you see a book 2."),
            ("take book 2 from drawer 1", "You pick up the book 2 from the drawer 1."),
            ("go to desk 1", "On the desk 1, you see a book 1, a pen 1."),
            ("put book 2 in/on desk 1", "You put the book 2 in/on the desk 1."),
        ],
    )
    procedure = distill(trajectory)
    assert procedure.task_type == "pick-two"
    assert procedure.steps == [
        "go to bed",
        "take book from bed",
        "go to desk",
        "put book in/on desk",
        "go to drawer",
        "open drawer",
        "take book from drawer",
        "go to desk",
        "put book in/on desk",
    ]
    assert "the drawer is closed: open it to take the book" in procedure.key_facts
    assert "book 1" not in procedure.model_dump_json()


def test_where_the_object_was_looked_for_and_the_places_are_kept() -> None:
    trajectory = _alfworld(
        "put a keychain in drawer.",
        [
            ("go to countertop 1", "On the countertop 1, you see a mug 1."),
            ("go to cabinet 2", "The cabinet 2 is closed."),
            ("open cabinet 2", "You open the cabinet 2. The cabinet 2 is open. In it, you see "
             "nothing."),
            ("go to sofa 1", "On the sofa 1, you see a keychain 3."),
            ("take keychain 3 from sofa 1", "You pick up the keychain 3 from the sofa 1."),
            ("go to drawer 4", "The drawer 4 is closed."),
            ("open drawer 4", "You open the drawer 4. The drawer 4 is open. In it, you see "
             "nothing."),
            ("put keychain 3 in/on drawer 4", "You put the keychain 3 in/on the drawer 4."),
        ],
    )
    procedure = distill(trajectory)
    assert procedure.steps == [
        "go to sofa", "take keychain from sofa", "go to drawer", "open drawer",
        "put keychain in/on drawer",
    ]
    assert ("where to look for the keychain: found in/on the sofa; not in/on the countertop "
            "(counter top), cabinet") in procedure.key_facts
    assert procedure.destination == "drawer"
    assert procedure.places == ["countertop", "cabinet", "sofa"]  # first visit first
    restored = Procedure.from_metadata(procedure.to_metadata())
    assert (restored.destination, restored.places) == ("drawer", procedure.places)


# --- coding distillation -----------------------------------------------------------------------


def _swe_like() -> Trajectory:
    """A SWE-agent style bug fix with a look-around, a rejected edit and a retried edit."""
    header = "[File: /repo/src/pkg/mod.py (300 lines total)]\n118:    return a/b"
    steps = [
        ("create repro.py", "[File: /repo/repro.py (1 lines total)]\n1:", None),
        ("edit 1:1\nfrom pkg.mod import divide\nprint(divide(1, 0))\nend_of_edit", "ok", None),
        (
            "python repro.py",
            "Traceback (most recent call last):\nZeroDivisionError: division",
            None,
        ),
        ("ls", "repro.py  src  setup.py", None),
        (
            "find_file mod.py src",
            'Found 1 matches for "mod.py" in /repo/src:\n/repo/src/pkg/mod.py',
            None,
        ),
        ("open src/pkg/mod.py 118", header, None),
        (
            "edit 118:118\n    return a/b if b else 0\n  x\nend_of_edit",
            "Your proposed edit has introduced new syntax error(s).",
            None,
        ),
        ("edit 118:118\n    return a / b if b else float('inf')\nend_of_edit", header, None),
        ("python repro.py", "inf", None),
        ("rm repro.py", "", None),
        ("submit", "diff --git a/src/pkg/mod.py b/src/pkg/mod.py", None),
    ]
    return Trajectory(
        id="swe-test",
        task="divide() raises ZeroDivisionError when b is 0; it should return inf instead.",
        steps=[Step(action=a, observation=o, success=s) for a, o, s in steps],
        outcome=Outcome(success=True, summary="exit status: submitted"),
        source="swe-agent",
        metadata={"cwd": "/repo", "repo": "acme/pkg"},
    )


def test_coding_keeps_the_critical_path() -> None:
    procedure = distill(_swe_like())
    assert procedure.task_type == "bugfix"
    assert procedure.steps == [
        "create repro.py: from pkg.mod import divide",
        "run python repro.py",
        "find_file mod.py src",
        "open src/pkg/mod.py at line <line>",
        "edit src/pkg/mod.py at line <line>: return a / b if b else float('inf')",
        "run python repro.py",
        "remove repro.py",
        "submit",
    ]
    assert "repository: acme/pkg" in procedure.key_facts
    assert "error: ZeroDivisionError" in procedure.key_facts
    assert "reproduce with: python repro.py" in procedure.key_facts
    assert "118" not in procedure.model_dump_json()
    assert "/repo" not in procedure.model_dump_json()
    assert procedure.script.startswith("Reproduce the problem")
    assert "/repo" not in procedure.render()


def test_coding_drops_a_dead_end_run_that_was_never_fixed_elsewhere() -> None:
    steps = [
        Step(action="create solve.py", observation="[File: /c/solve.py (1 lines total)]"),
        Step(action="edit 1:1\nprint(decode())\nend_of_edit", observation="[File: /c/solve.py]"),
        Step(action="python solve.py", observation="TypeError: bad operand", success=False),
        Step(action="edit 1:1\nprint(decode(key))\nend_of_edit", observation="ok"),
        Step(action="python solve.py", observation="flag{abc123}"),
        Step(action="submit 'flag{abc123}'", observation=""),
    ]
    trajectory = Trajectory(
        id="ctf",
        task='The CTF challenge is a cryptography problem named "x", worth 10 points.',
        steps=steps,
        metadata={"cwd": "/c"},
    )
    procedure = distill(trajectory)
    assert procedure.task_type == "ctf-crypto"
    assert procedure.steps == [
        "create solve.py: print(decode(key))",
        "run python solve.py",
        "submit",
    ]
    assert distill_stats([trajectory])[0].kept_steps == 3


def test_generaliser_replaces_machine_specific_values() -> None:
    generaliser = Generaliser("/srv/app")
    text = generaliser.text(
        "cd /srv/app && cat /Users/ann/notes.txt /tmp/tmpab12cd/x.py "
        "commit 8da0b9b215ebfad5756051c891def88e426787e7 id 4f35e220-c435-4cf7-b9b9-f40426042847 "
        'File "/srv/app/src/a.py", line 42'
    )
    assert text == (
        'cd . && cat ~/notes.txt <tmp>/x.py commit <hash> id <uuid> File "src/a.py", line <line>'
    )
    assert generaliser.path("/srv/app/src/a.py") == "src/a.py"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("Fix crash when the config file is empty", "bugfix"),
        ("Parsing fails with ValueError on dates ending in Z", "bugfix"),
        ("Add support for YAML configuration files", "feature"),
        ("Add tests for the date parser", "test"),
        ("Refactor the storage layer into smaller modules", "refactor"),
        ("Update the README and the documentation of the CLI", "docs"),
        ('The CTF challenge is a reverse engineering problem named "Rock"', "ctf-rev"),
        ("Hello there", "coding"),
    ],
)
def test_coding_task_type(task: str, expected: str) -> None:
    assert coding_task_type(task, {}) == expected


# --- the procedure as a memory -----------------------------------------------------------------


def test_procedure_metadata_round_trip() -> None:
    procedure = distill(_swe_like())
    metadata = {"other": 1, **json.loads(json.dumps(procedure.to_metadata()))}
    assert Procedure.from_metadata(metadata) == procedure
    with pytest.raises(InvalidInput, match="no procedure"):
        Procedure.from_metadata({"other": 1})
    broken = {"procedure": {**metadata["procedure"], "steps": "not a list"}}
    with pytest.raises(InvalidInput, match="steps"):
        Procedure.from_metadata(broken)


def test_render_leads_with_the_task_and_bounds_the_steps() -> None:
    procedure = Procedure(
        task="put a mug in cabinet.",
        task_type="pick-and-place",
        key_facts=["object: mug; destination: cabinet"],
        script="Find a mug, take it, then put it in the cabinet.",
        steps=[f"step {i}" for i in range(40)],
    )
    lines = procedure.render().splitlines()
    assert lines[0] == "Task: put a mug in cabinet."
    assert lines[1].startswith("Type: pick-and-place (")
    assert "30. step 29" in lines and "31. step 30" not in lines
    assert lines[-1] == "... and 10 more steps"


# --- readers -----------------------------------------------------------------------------------


def test_claude_code_fixture() -> None:
    trajectory = read_claude_code(FIXTURE)
    assert trajectory.id == "7b1c2d9e-4f3a-4b8e-9c1d-2a5e6f7b8c90"
    assert trajectory.source == "claude-code"
    assert trajectory.task.startswith("test_parse_iso_z fails")
    assert trajectory.metadata["cwd"] == "/home/dev/projects/tinycal"
    assert trajectory.metadata["skipped_lines"] == 1
    assert trajectory.metadata["summary"] == "Fix ISO date parsing with a Z suffix"
    actions = [s.action.splitlines()[0] for s in trajectory.steps]
    assert len(actions) == 8 and "ls -la" not in actions  # the sidechain call is skipped
    assert [s.success for s in trajectory.steps] == [
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    assert trajectory.steps[0].thought.startswith("I'll start by running")
    assert "1 failed" in trajectory.steps[0].observation
    assert trajectory.outcome is not None and trajectory.outcome.success is None
    assert trajectory.outcome.summary.startswith("Fixed:")

    procedure = distill(trajectory)
    assert procedure.task_type == "bugfix"
    assert procedure.steps == [
        "run python -m pytest tests/test_parse.py -q",
        "Grep 'def parse_date' src",
        "read src/tinycal/parse.py",
        'edit src/tinycal/parse.py: if text.endswith("Z"):',
        "run python -m pytest tests/test_parse.py -q",
    ]
    assert "/home/dev" not in procedure.render()


def test_formats_are_detected(tmp_path: Path) -> None:
    habitus = tmp_path / "mine.json"
    habitus.write_text(json.dumps([_swe_like().to_dict(), {"task": "t", "steps": []}]))
    lines = tmp_path / "mine.jsonl"
    lines.write_text(json.dumps({"task": "t", "steps": [{"action": "make"}]}) + "\n")
    alf = tmp_path / "alf.json"
    alf.write_text(
        json.dumps(
            {
                "trajectories": [
                    {
                        "task_instance_id": "alfworld_7",
                        "task_description": "put a cd in sidetable.",
                        "state_action_pairs": [
                            {"step_id": 1, "state": "In a room.", "action": "go to desk 1"},
                            {
                                "step_id": 2,
                                "state": "On the desk 1, you see a cd 1.",
                                "action": "take cd 1 from desk 1",
                            },
                            {
                                "step_id": 3,
                                "state": "You pick up the cd 1.",
                                "action": "go to sidetable 1",
                            },
                            {
                                "step_id": 4,
                                "state": "On the sidetable 1, you see nothing.",
                                "action": "put cd 1 in/on sidetable 1",
                            },
                        ],
                    }
                ]
            }
        )
    )
    assert [detect_format(p) for p in (habitus, lines, alf, FIXTURE)] == [
        "habitus",
        "habitus",
        "alfworld",
        "claude-code",
    ]
    assert [t.id for t in read_trajectories(habitus)][0] == "swe-test"
    [alf_trajectory] = read_alfworld(alf)
    assert alf_trajectory.id == "alfworld_7"
    assert alf_trajectory.steps[0].observation == "On the desk 1, you see a cd 1."
    assert alf_trajectory.steps[-1].success is None  # nothing was observed after the last step
    assert alf_trajectory.outcome == Outcome(success=True, summary="goal reached")
    assert len(read_trajectories(tmp_path)) == 4  # a folder: every readable file in it

    with pytest.raises(InvalidInput, match="unknown trajectory format"):
        read_trajectories(habitus, "yaml")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(InvalidInput, match="cannot tell"):
        read_trajectories(tmp_path / "other.json")
    with pytest.raises(InvalidInput, match="no such file"):
        read_trajectories(tmp_path / "missing.traj")


def test_read_swe_agent_from_history(tmp_path: Path) -> None:
    """A `.traj` with only `history`: the problem statement skips the demonstration."""
    history = [
        {"role": "system", "content": "SETTING: ..."},
        {"role": "user", "content": "Here is a demonstration of how to correctly ..."},
        {
            "role": "user",
            "content": "We're currently solving the following issue within our repository. "
            "Here's the issue text:\nISSUE:\nTypo in greeting\n\nINSTRUCTIONS:\nNow, ...\n"
            "(Open file: n/a)\n(Current directory: /acme__hello)\nbash-$",
        },
        {"role": "assistant", "thought": "Look for it.", "action": "search_dir Helo"},
        {
            "role": "tool",
            "content": 'No matches found for "Helo"\n(Open file: n/a)\n'
            "(Current directory: /acme__hello)\nbash-$",
        },
        {"role": "assistant", "thought": "Open it.", "action": "open hello.py"},
        {
            "role": "tool",
            "content": "[File: /acme__hello/hello.py (1 lines total)]\n1:print('Helo')",
        },
    ]
    path = tmp_path / "acme__hello-12.traj"
    path.write_text(json.dumps({"history": history, "info": {"exit_status": "exit_cost"}}))
    trajectory = read_swe_agent(path)
    assert trajectory.id == "acme__hello-12"
    assert trajectory.task == "Typo in greeting"
    assert trajectory.metadata["repo"] == "acme/hello"
    assert trajectory.metadata["cwd"] == "/acme__hello"
    assert [s.success for s in trajectory.steps] == [False, True]
    assert trajectory.steps[0].observation == 'No matches found for "Helo"'
    assert trajectory.outcome == Outcome(success=False, summary="exit status: exit_cost")


# --- the public data ---------------------------------------------------------------------------


@needs_alfworld
def test_alfworld_data() -> None:
    trajectories = read_alfworld(ALFWORLD)
    assert len(trajectories) == 336
    assert trajectories[0].id == "alfworld_0"
    stats = distill_stats(trajectories)
    assert all(s.kept_steps <= s.original_steps for s in stats)
    assert statistics.mean(s.kept_steps for s in stats) < 0.6 * statistics.mean(
        s.original_steps for s in stats
    )
    reached = sum(1 for t in trajectories if t.outcome and t.outcome.success)
    assert reached >= 0.9 * len(trajectories)
    for trajectory in trajectories:
        procedure = distill(trajectory)
        goal = parse_goal(trajectory.task)
        assert goal is not None and procedure.task_type in TASK_TYPES
        assert procedure.steps, trajectory.id
        assert not any(re.search(r"\d", step) for step in procedure.steps), trajectory.id
        head = "\n".join(procedure.render().splitlines()[:4])
        assert goal.obj in head and (goal.receptacle or "desklamp") in head


@needs_swe_agent
def test_swe_agent_data() -> None:
    files = sorted(SWE_AGENT.glob("*.traj"))
    trajectories = read_trajectories(SWE_AGENT)
    assert len(trajectories) == len(files) > 0
    assert {t.id for t in trajectories} == {f.stem for f in files}
    for trajectory in trajectories:
        procedure = distill(trajectory)
        rendered = procedure.render()
        assert 0 < len(procedure.steps) <= len(trajectory.steps), trajectory.id
        assert "syntax error" not in rendered and "Wrong flag" not in rendered
        cwd = trajectory.metadata.get("cwd")
        assert cwd and cwd + "/" not in rendered, trajectory.id
        if "__ctf__" in trajectory.id:
            category = trajectory.id.split("__ctf__")[1].split("__")[0]
            assert procedure.task_type == f"ctf-{category}"
    pydicom = next(t for t in trajectories if t.id.endswith("pydicom-1458"))
    procedure = distill(pydicom)
    edits = [s for s in procedure.steps if s.startswith("edit ")]
    assert edits == [
        "edit pydicom/pixel_data_handlers/numpy_handler.py at line <line>: required_elements = ["
    ]
    assert procedure.steps[0].startswith("create reproduce_bug.py")
    assert procedure.steps[-1] == "submit"
