"""Procedural memory as served: stored procedures, outcomes, revisions and deprecation, and the
MCP tools of the built-in plugin (real store, real embedder, in-memory MCP client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.project.scope import Scope
from habitus.core.trajectory.outcomes import OutcomeReport
from habitus.plugins.manager import PluginManager
from habitus.plugins.procedural import Outcome, Step, Trajectory, distill
from habitus.plugins.procedural.memory import (
    find_procedures,
    record_outcome,
    store_procedures,
)
from habitus.server.app import build_server
from habitus.server.runtime import Runtime

pytestmark = pytest.mark.anyio

CTX = CallContext(project_scope="repo:example.com/acme/app", client="pytest")


def _fix_test(task: str = "Fix the failing date parsing test in tests/test_dates.py") -> Trajectory:
    return Trajectory(
        task=task,
        steps=[
            Step(action="pytest tests/test_dates.py", observation="1 failed", success=False),
            Step(action="grep -rn parse_date src", observation="src/dates.py:10", success=True),
            Step(action="edit src/dates.py", observation="edited", success=True),
            Step(action="pytest tests/test_dates.py", observation="1 passed", success=True),
        ],
        outcome=Outcome(success=True, summary="parse_date handles time zones"),
        metadata={"cwd": "/home/me/app"},
    )


async def test_outcomes_revise_then_deprecate_with_history_intact(service) -> None:
    service.hooks = PluginManager(entry_points=()).load()  # the built-in plugin, as served
    first, other = distill(_fix_test()), distill(_fix_test(
        "Fix the failing date parsing test when the input has a time zone"))
    (stored, alternative) = await store_procedures(service, [first, other], ctx=CTX)
    current = stored.id

    for _ in range(2):
        ok = await record_outcome(service, current, OutcomeReport(success=True), ctx=CTX)
    assert (ok.record.uses, ok.record.successes, ok.revised) == (2, 2, False)

    versions = [current]
    for n in (1, 2):
        failed = await record_outcome(service, current, OutcomeReport(
            success=False, summary=f"pytest not installed ({n})", failed_step=1), ctx=CTX)
        assert failed.revised and failed.current_id != current
        current = failed.current_id
        versions.append(current)
    latest = await service.get(current)
    record = latest.metadata["record"]
    assert (record["uses"], record["successes"], record["version"]) == (4, 2, 3)
    assert record["previous_versions"] == versions[:-1]
    assert "caution: version 2 failed at step 1: pytest not installed (2)" in latest.content

    # A third failure: 5 uses, 2 successes (< 50%) → deprecated, not revised again.
    last = await record_outcome(service, current, OutcomeReport(success=False, summary="no"),
                                ctx=CTX)
    assert last.deprecated and not last.revised and last.current_id == current
    for old in versions[:-1]:  # every earlier version is kept, not deleted
        assert not (await service.get(old)).deleted
    timeline = await service.history(current)
    assert [v.id for v in timeline.versions] == versions

    # The deprecated procedure is no longer served first.
    hits = await find_procedures(service, "fix the failing date parsing test", ctx=CTX)
    assert hits[0].id == alternative.id
    assert hits[-1].id == current and hits[-1].record.status == "deprecated"
    assert hits[-1].provenance == first.source_ids


async def test_validation_keeps_only_successful_runs(service) -> None:
    (stored,) = await store_procedures(service, [distill(_fix_test())], ctx=CTX)
    failed_run = _fix_test("Fix the flaky network test")
    result = await record_outcome(service, stored.id, OutcomeReport(success=False),
                                  strategy="validation", trajectory=failed_run, ctx=CTX)
    assert result.stored == [] and not result.revised
    won = await record_outcome(service, stored.id, OutcomeReport(success=True),
                               strategy="validation", trajectory=failed_run, ctx=CTX)
    assert len(won.stored) == 1
    appended = await record_outcome(service, stored.id, OutcomeReport(success=False),
                                    strategy="append", trajectory=_fix_test("Fix the CI"), ctx=CTX)
    assert len(appended.stored) == 1


async def test_assistant_submits_a_trajectory_and_reports_an_outcome(tmp_path: Path) -> None:
    scope = Scope(id="repo:example.com/acme/app", kind="repo", root=None)
    runtime = Runtime(Settings(db=str(tmp_path / "store"), embedder="minilm"), scope,
                      plugins=PluginManager(entry_points=()))
    async with Client(build_server(runtime)) as client:
        submitted = await client.call_tool("submit_trajectory",
                                           {"trajectory": _fix_test().to_dict()})
        assert not submitted.is_error, submitted.content
        (procedure,) = submitted.structured_content["procedures"]
        assert procedure["status"] == "created" and procedure["task_type"] == "bugfix"

        found = await client.call_tool("find_procedures", {"task": "date parsing test fails"})
        hit = found.structured_content["procedures"][0]
        assert hit["id"] == procedure["id"]
        assert hit["provenance"] == [_fix_test().id] and hit["record"]["uses"] == 0
        assert "edit src/dates.py" in hit["content"] and "/home/me" not in hit["content"]

        recalled = await client.call_tool("recall", {"query": "date parsing",
                                                     "kinds": ["procedural"]})
        assert recalled.structured_content["memories"][0]["id"] == procedure["id"]

        reported = await client.call_tool("report_outcome", {
            "procedure_id": procedure["id"], "success": False, "summary": "tz database missing"})
        assert reported.structured_content["revised"] is True
        bad = await client.call_tool("report_outcome", {"procedure_id": "nope", "success": True})
        assert bad.is_error
    await runtime.close()


async def test_one_procedure_per_way_of_doing_a_task(service) -> None:
    again = Trajectory(id="run-2", task="Fix the failing date parsing test in tests/test_dates.py",
                       steps=_fix_test().steps, outcome=Outcome(success=True))
    other_way = Trajectory(
        task="Fix the failing date parsing test in tests/test_dates.py",
        steps=[Step(action="pip install python-dateutil", observation="ok", success=True),
               Step(action="edit requirements.txt", observation="edited", success=True),
               Step(action="tox -e py311", observation="ok", success=True)],
        outcome=Outcome(success=True))
    unrelated = _fix_test("Add a --verbose flag to the export command")
    first = await store_procedures(service, [distill(_fix_test())], ctx=CTX)
    results = await store_procedures(
        service, [distill(again), distill(other_way), distill(unrelated)], ctx=CTX)
    assert [r.status for r in results] == ["reinforced", "created", "created"]
    assert results[0].id == first[0].id and len({r.id for r in results}) == 3
    hits = await find_procedures(service, again.task, limit=5, ctx=CTX)
    assert [h.id for h in hits].count(first[0].id) == 1, [(h.id, h.content[:60]) for h in hits]
    known = next(h for h in hits if h.id == first[0].id)
    assert (known.record.uses, known.record.successes) == (1, 1)
    assert set(known.provenance) == {_fix_test().id, again.id}
