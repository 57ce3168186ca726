"""The built-in procedural-memory plugin: distil trajectories into procedures, find them for a
new task, and improve them from reported outcomes (Memp).

Its hook implementations are `trylast`, so a user plugin can replace the distiller or the
reviser by returning a result first. It contributes three MCP tools:

- `submit_trajectory`: an assistant submits the trajectory of a task it has just finished;
- `find_procedures`: procedures for a new task, each with its record and provenance;
- `report_outcome`: which procedure was followed and how it went (append, validation or
  adjustment), deprecating a procedure that keeps failing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from habitus.core.models import CallContext, RecallResult
from habitus.core.trajectory.model import Trajectory
from habitus.core.trajectory.outcomes import OutcomeReport, ProcedureRecord, is_deprecated
from habitus.plugins.api import PluginContext, hookimpl, hookspec
from habitus.plugins.procedural.distill import Procedure, distill
from habitus.plugins.procedural.memory import (
    OutcomeResult,
    ProcedureHit,
    find_procedures,
    record_outcome,
    revise_without_model,
    store_procedures,
)
from habitus.plugins.procedural.retrieval import rerank_procedures

__all__ = ["SubmitResult", "FoundProcedures", "distill_with_plugins"]


class StoredProcedure(BaseModel):
    id: str
    status: str = Field(description="'created', or 'reinforced' when it was already known.")
    task_type: str
    steps: int


class SubmitResult(BaseModel):
    """What submitting a trajectory stored."""

    trajectory_id: str
    procedures: list[StoredProcedure]


class FoundProcedures(BaseModel):
    """Procedures for a task, best first."""

    task: str
    procedures: list[ProcedureHit]


async def distill_with_plugins(trajectory: Trajectory, context: PluginContext) -> list[Procedure]:
    """Procedures from the first plugin whose `distill_trajectory` answers (finally ours)."""
    if context.call_hook is not None:
        found = await context.call_hook("distill_trajectory", firstresult=True,
                                        trajectory=trajectory)
        if found:
            return list(found)
    return [distill(trajectory)]


class ProceduralHookSpecs:
    """The hooks of procedural memory, for plugins that distil or revise procedures their own
    way (documented in docs/plugins.md)."""

    @hookspec(firstresult=True)
    def distill_trajectory(
        self, trajectory: Trajectory, context: PluginContext
    ) -> list[Procedure] | None:
        """Turn a finished task's trajectory into procedures. The first plugin that returns a
        list wins; the built-in distiller (rule-based, no model needed) runs last."""

    @hookspec(firstresult=True)
    def update_procedure(
        self, procedure: Procedure, record: ProcedureRecord, outcome: OutcomeReport,
        context: PluginContext,
    ) -> Procedure | None:
        """Revise a procedure that failed (the `adjustment` strategy). Return the new version
        or None to let the next plugin (finally the built-in rule-based reviser) decide."""


HOOKSPECS = ProceduralHookSpecs


@hookimpl(trylast=True)
def distill_trajectory(trajectory: Trajectory) -> list[Procedure]:
    return [distill(trajectory)]


@hookimpl
async def trajectory_finished(trajectory: Trajectory, scope: str, ctx: CallContext,
                              context: PluginContext) -> list[str]:
    """A session's work as procedures: a new way of doing its task, or a success on the
    procedure it repeats (see `store_procedures`)."""
    procedures = await distill_with_plugins(trajectory, context)
    results = await store_procedures(context.memory, procedures, scope=scope, ctx=ctx)
    return [r.id for r in results]


_REVISE_PROMPT = """A procedure an assistant followed has failed. Revise it so that the failure
does not happen again. Keep what worked; change or add only the steps the failure calls for.

Procedure:
{procedure}

Failure (at step {step}): {summary}

Answer with the revised numbered steps only, one per line."""


@hookimpl(trylast=True)
async def update_procedure(procedure: Procedure, record: ProcedureRecord,
                           outcome: OutcomeReport, context: PluginContext) -> Procedure:
    model = context.llm
    if model is not None:
        try:
            text = await model.complete(_REVISE_PROMPT.format(
                procedure=procedure.render(), step=outcome.failed_step or "unknown",
                summary=outcome.summary or "no details"), max_tokens=800)
            steps = [re.sub(r"^\s*\d+[.)]\s*", "", line).strip()
                     for line in text.splitlines() if re.match(r"^\s*\d+[.)]", line)]
            if steps:
                revised = await revise_without_model(procedure, record, outcome)
                return revised.model_copy(update={"steps": steps[:200]})
        except Exception as exc:  # the model is optional: fall back to the rules
            context.log.warning("revising with %s failed (%s); using rules", model.name, exc)
    return await revise_without_model(procedure, record, outcome)


@hookimpl
async def rerank_recall(query: str, result: RecallResult,
                        context: PluginContext) -> RecallResult | None:
    """Procedures are reordered among themselves by similarity to the task and by its key
    terms (see `retrieval`); other kinds keep their places. Deprecated procedures are served
    after every other result."""
    memories = list(result.memories)
    slots = [i for i, h in enumerate(memories) if h.kind == "procedural"]
    if not slots:
        return None
    embed = context.embed if context is not None else None
    ordered = await rerank_procedures(query, [memories[i] for i in slots], embed)
    for i, hit in zip(slots, ordered, strict=True):
        memories[i] = hit
    last = [h for h in memories if h.kind == "procedural" and is_deprecated(h.metadata)]
    keep = [h for h in memories if h not in last]
    return result.model_copy(update={"memories": keep + last})


@hookimpl
def register_tools(register: Any, context: PluginContext) -> None:
    async def submit_trajectory(
        trajectory: Annotated[Trajectory, Field(description=(
            "What you did for the task you just finished: the task in the user's words, the "
            "steps (action, optional thought, observation, success) and the outcome."))],
        scope: Annotated[str | None, Field(max_length=256, description=(
            "Scope to store the procedures in; default: the current project."))] = None,
    ) -> SubmitResult:
        """Submit the trajectory of a task you just finished; habitus distils it into a reusable
        procedure (critical successful steps only, concrete values generalised) for next time."""
        procedures = await distill_with_plugins(trajectory, context)
        results = await store_procedures(context.memory, procedures, scope=scope)
        return SubmitResult(trajectory_id=trajectory.id, procedures=[
            StoredProcedure(id=r.id, status=r.status, task_type=p.task_type, steps=len(p.steps))
            for r, p in zip(results, procedures, strict=False)])

    async def find_procedures_tool(
        task: Annotated[str, Field(min_length=1, max_length=2_000,
                                   description="The task you are about to do.")],
        limit: Annotated[int, Field(ge=1, le=20)] = 3,
        scope: Annotated[str | None, Field(max_length=256)] = None,
    ) -> FoundProcedures:
        """Procedures that worked for similar tasks, best first, each with its record (uses,
        successes, version) and the trajectories it came from. Tell report_outcome how it went."""
        hits = await find_procedures(context.memory, task, limit=limit, scope=scope)
        return FoundProcedures(task=task, procedures=hits)

    async def report_outcome(
        procedure_id: Annotated[str, Field(min_length=1, max_length=64,
                                           description="The procedure you followed.")],
        success: Annotated[bool, Field(description="Whether the task succeeded.")],
        summary: Annotated[str, Field(max_length=2_000, description=(
            "What happened; on failure, the error or what went wrong."))] = "",
        failed_step: Annotated[int | None, Field(ge=1, description=(
            "The step of the procedure that failed, if you know it."))] = None,
        strategy: Literal["append", "validation", "adjustment"] = "adjustment",
        trajectory: Annotated[Trajectory | None, Field(description=(
            "Optionally, what you did: kept as a new procedure (validation: only on success)."
        ))] = None,
    ) -> OutcomeResult:
        """Report how following a procedure went. On failure (adjustment) the procedure is
        revised into a new version, older versions kept; one that fails at least half of 3+
        uses is deprecated and no longer served first."""
        outcome = OutcomeReport(success=success, summary=summary, failed_step=failed_step)

        async def reviser(p: Procedure, r: ProcedureRecord, o: OutcomeReport) -> Procedure | None:
            if context.call_hook is None:
                return None
            return await context.call_hook("update_procedure", firstresult=True, procedure=p,
                                           record=r, outcome=o)

        async def distiller_async(t: Trajectory) -> list[Procedure]:
            return await distill_with_plugins(t, context)

        procedures = await distiller_async(trajectory) if trajectory is not None else None
        return await record_outcome(
            context.memory, procedure_id, outcome, strategy=strategy, trajectory=trajectory,
            reviser=reviser, distiller=(lambda _t: procedures or []) if procedures else None,
        )

    register(submit_trajectory, annotations={"title": "Submit trajectory", "read_only": False,
                                             "destructive": False, "idempotent": True})
    register(find_procedures_tool, name="find_procedures", annotations={
        "title": "Find procedures", "read_only": True, "destructive": False, "idempotent": True})
    register(report_outcome, annotations={"title": "Report outcome", "read_only": False,
                                          "destructive": False, "idempotent": False})
