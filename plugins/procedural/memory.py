"""Procedures as memories: store them, find them for a new task, and learn from outcomes (Memp).

A procedure is a `procedural` memory whose content is `Procedure.render()` and whose metadata
holds `procedure` (the structured procedure, with `source_ids`: the trajectories it came from)
and `record` (a `ProcedureRecord`: uses, successes, last outcome, version, status).

Update strategies, after the assistant reports which procedure it followed and how it went:

- `append`: record the outcome; a submitted trajectory becomes a new procedure, success or not.
- `validation`: record the outcome; a submitted trajectory becomes a procedure only if it succeeded.
- `adjustment` (default): record the outcome; on failure, revise the procedure into a new version
  that supersedes the old one (every version stays, linked, in its history); on success, as
  validation.

Counts belong to the procedure's lineage (a revision inherits them). A procedure used at least
`DEPRECATE_MIN_USES` times with a success rate under `DEPRECATE_BELOW` is `deprecated`: it is no
longer revised and recall serves it after every procedure that is not.

Everything here goes through the public memory operations (`remember_many`, `recall`, `get`,
`annotate`) of a `MemoryService` or of a plugin's `context.memory`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from habitus.base.errors import InvalidInput
from habitus.core.models import CallContext, Memory, NewMemory, RecallResult, RememberResult
from habitus.core.trajectory.model import Trajectory
from habitus.core.trajectory.outcomes import OutcomeReport, ProcedureRecord
from habitus.plugins.procedural.distill import Procedure, distill

__all__ = [
    "STRATEGIES",
    "MemoryOps",
    "OutcomeResult",
    "ProcedureHit",
    "Reviser",
    "find_procedures",
    "new_memories",
    "record_outcome",
    "revise_without_model",
    "same_way",
    "store_procedures",
    "store_trajectories",
]

# A procedure repeats a stored one when their tasks are this close in meaning (cosine of the
# task texts) and this share of their steps is the same (Jaccard): see `same_way`.
SAME_TASK = 0.8
SAME_STEPS = 0.5
STRATEGIES = ("append", "validation", "adjustment")
Strategy = Literal["append", "validation", "adjustment"]
PROCEDURE_TAG = "procedure"


class MemoryOps(Protocol):
    """The memory operations procedures need (a `MemoryService` or a plugin's context.memory)."""

    async def remember_many(
        self, items: Sequence[NewMemory], *, ctx: CallContext | None = None
    ) -> list[RememberResult]: ...

    async def recall(self, query: str, **kwargs: Any) -> RecallResult: ...

    async def embed(self, texts: Sequence[str]) -> Any: ...

    async def get(self, memory_id: str) -> Memory: ...

    async def annotate(
        self, memory_id: str, metadata: dict[str, Any], *, ctx: CallContext | None = None
    ) -> Memory: ...


class ProcedureHit(BaseModel):
    """A procedure found for a task, with its record and where it came from."""

    id: str
    score: float
    content: str = Field(description="The procedure as text: task, key facts, workflow, steps.")
    procedure: Procedure
    record: ProcedureRecord
    provenance: list[str] = Field(description="Ids of the trajectories it was distilled from.")
    current: bool = Field(True, description="False for an old version kept as history.")


class OutcomeResult(BaseModel):
    """What reporting an outcome did."""

    procedure_id: str = Field(description="The procedure the outcome was reported for.")
    current_id: str = Field(description="The procedure to follow next time (a new version?).")
    strategy: Strategy
    record: ProcedureRecord
    revised: bool = Field(False, description="A new version was written (adjustment).")
    deprecated: bool = False
    stored: list[str] = Field(
        default_factory=list, description="Procedures distilled from the submitted trajectory."
    )


Reviser = Callable[[Procedure, ProcedureRecord, OutcomeReport], Awaitable[Procedure | None]]


def _tags(procedure: Procedure) -> list[str]:
    return [PROCEDURE_TAG, procedure.task_type[:64]]


def new_memories(
    procedures: Sequence[Procedure], *, scope: str | None = None,
    record: ProcedureRecord | None = None,
) -> list[NewMemory]:
    """One `procedural` memory per distinct procedure text; identical procedures distilled from
    several trajectories become one memory listing every source trajectory."""
    merged: dict[str, Procedure] = {}
    for procedure in procedures:
        text = procedure.render()
        if text in merged:
            known = merged[text]
            ids = list(dict.fromkeys([*known.source_ids, *procedure.source_ids]))
            merged[text] = known.model_copy(update={"source_ids": ids})
        else:
            merged[text] = procedure
    record = record or ProcedureRecord()
    return [
        NewMemory(
            content=text, kind="procedural", tags=_tags(p), scope=scope,
            metadata={**p.to_metadata(), **record.to_metadata()}, dedup=False,
        )
        for text, p in merged.items()
    ]


def _words(step: str) -> str:
    return " ".join(step.lower().split())


def same_way(new: Procedure, old: Procedure, task_similarity: float) -> bool:
    """Whether `new` does the task of `old` the way `old` does: a task close in meaning, of
    the same type, through mostly the same steps."""
    if new.task_type != old.task_type or task_similarity < SAME_TASK:
        return False
    ours, theirs = {_words(s) for s in new.steps}, {_words(s) for s in old.steps}
    if not ours or not theirs:
        return ours == theirs
    return len(ours & theirs) / len(ours | theirs) >= SAME_STEPS


async def _known(
    ops: MemoryOps, procedure: Procedure, scope: str | None, ctx: CallContext | None
) -> tuple[ProcedureHit, bool] | None:
    """The stored procedure `procedure` is a copy of, and whether it came from the same
    trajectory (a longer transcript of the same session); None when it is new."""
    hits = await find_procedures(ops, procedure.task, limit=8, scope=scope, ctx=ctx)
    hits = [h for h in hits if h.current and h.record.status == "active"]
    mine = set(procedure.source_ids)
    for hit in hits:
        if mine & set(hit.procedure.source_ids):
            return hit, True
    if not hits:
        return None
    vectors = await ops.embed([procedure.task, *(h.procedure.task for h in hits)])
    for i, hit in enumerate(hits, 1):
        similarity = float(vectors[0] @ vectors[i]) if vectors is not None else float(
            _words(procedure.task) == _words(hit.procedure.task))
        if same_way(procedure, hit.procedure, similarity):
            return hit, False
    return None


async def store_procedures(
    ops: MemoryOps, procedures: Sequence[Procedure], *, scope: str | None = None,
    ctx: CallContext | None = None,
) -> list[RememberResult]:
    """Store procedures, one memory per way of doing a task (Memp's update path): the same task
    done the same way again reinforces the procedure it repeats (a success on its record, the
    trajectory among its sources) instead of adding a copy; a procedure distilled again from a
    trajectory it came from (a longer transcript of the same session) becomes its new version.
    One result per procedure, in order."""
    distilled = ctx.model_copy(update={"source": "distilled"}) if ctx is not None else None
    results: list[RememberResult] = []
    for procedure in procedures:
        known = await _known(ops, procedure, scope, ctx)
        if known is None:
            (result,) = await ops.remember_many(new_memories([procedure], scope=scope),
                                                ctx=distilled)
        elif known[1]:
            result = await _new_version(ops, known[0], procedure, distilled)
        else:
            result = await _reinforce(ops, known[0], procedure, ctx)
        results.append(result)
    return results


async def _reinforce(ops: MemoryOps, hit: ProcedureHit, procedure: Procedure,
                     ctx: CallContext | None) -> RememberResult:
    """The same way worked again: a success on the record, the new sources added."""
    sources = list(dict.fromkeys([*hit.procedure.source_ids, *procedure.source_ids]))
    outcome = OutcomeReport(success=True, summary="done this way again: "
                            + ", ".join(procedure.source_ids)[:200], version=hit.record.version)
    record = hit.record.with_outcome(outcome)
    merged = hit.procedure.model_copy(update={"source_ids": sources})
    memory = await ops.annotate(hit.id, {**merged.to_metadata(), **record.to_metadata()},
                                ctx=ctx)
    return RememberResult(id=hit.id, status="reinforced", kind="procedural", scope=memory.scope)


async def _new_version(ops: MemoryOps, hit: ProcedureHit, procedure: Procedure,
                       ctx: CallContext | None) -> RememberResult:
    """More of the same trajectory: a new version that supersedes what it had given."""
    sources = list(dict.fromkeys([*hit.procedure.source_ids, *procedure.source_ids]))
    revised = procedure.model_copy(update={"source_ids": sources})
    memory = await ops.get(hit.id)
    (item,) = new_memories([revised], scope=memory.scope, record=hit.record)
    (result,) = await ops.remember_many([item.model_copy(update={"supersedes": [hit.id]})],
                                        ctx=ctx)
    return result


async def store_trajectories(
    ops: MemoryOps, trajectories: Sequence[Trajectory], *, scope: str | None = None,
    distiller: Callable[[Trajectory], Sequence[Procedure]] | None = None,
    ctx: CallContext | None = None,
) -> list[RememberResult]:
    """Distil trajectories and store their procedures."""
    make = distiller or (lambda t: [distill(t)])
    procedures = [p for t in trajectories for p in make(t)]
    return await store_procedures(ops, procedures, scope=scope, ctx=ctx) if procedures else []


def hit_of(memory_id: str, score: float, content: str, metadata: dict[str, Any],
           current: bool = True) -> ProcedureHit | None:
    try:
        procedure = Procedure.from_metadata(metadata)
    except InvalidInput:
        return None
    return ProcedureHit(
        id=memory_id, score=score, content=content, procedure=procedure,
        record=ProcedureRecord.of(metadata), provenance=procedure.source_ids, current=current,
    )


async def find_procedures(
    ops: MemoryOps, task: str, *, limit: int = 5, scope: str | None = None,
    ctx: CallContext | None = None,
) -> list[ProcedureHit]:
    """Procedures for a task, best first, through the same `recall` as every other search."""
    found = await ops.recall(task, kinds=["procedural"], limit=limit, scope=scope, ctx=ctx)
    hits = []
    for h in found.memories:
        hit = hit_of(h.id, h.score, h.content, h.metadata, current=h.superseded_by is None)
        if hit is not None:
            hits.append(hit)
    return hits


async def revise_without_model(
    procedure: Procedure, record: ProcedureRecord, outcome: OutcomeReport
) -> Procedure:
    """The LLM-free adjustment: the failure becomes a caution up front and a note on its step."""
    what = outcome.summary.strip() or "no details given"
    where = f" at step {outcome.failed_step}" if outcome.failed_step else ""
    caution = f"caution: version {record.version} failed{where}: {what}"
    facts = [*procedure.key_facts, caution][-20:]
    steps = list(procedure.steps)
    if outcome.failed_step and outcome.failed_step <= len(steps):
        i = outcome.failed_step - 1
        steps[i] = f"{steps[i]} (failed once: {what[:150]}; check before relying on it)"
    return procedure.model_copy(update={"key_facts": facts, "steps": steps})


async def record_outcome(
    ops: MemoryOps,
    procedure_id: str,
    outcome: OutcomeReport,
    *,
    strategy: Strategy = "adjustment",
    trajectory: Trajectory | None = None,
    reviser: Reviser | None = None,
    distiller: Callable[[Trajectory], Sequence[Procedure]] | None = None,
    ctx: CallContext | None = None,
) -> OutcomeResult:
    """Record that a procedure was followed and how it went, then apply `strategy`."""
    if strategy not in STRATEGIES:
        raise InvalidInput(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    memory = await ops.get(procedure_id)
    if memory.kind != "procedural" or memory.deleted:
        raise InvalidInput(f"memory {procedure_id!r} is not a live procedure")
    procedure = Procedure.from_metadata(memory.metadata)
    record = ProcedureRecord.of(memory.metadata)
    outcome = outcome.model_copy(update={"version": record.version})
    updated = record.with_outcome(outcome)
    await ops.annotate(procedure_id, updated.to_metadata(), ctx=ctx)
    result = OutcomeResult(
        procedure_id=procedure_id, current_id=procedure_id, strategy=strategy, record=updated,
        deprecated=updated.status == "deprecated",
    )
    keep_run = trajectory is not None and (strategy == "append" or outcome.success)
    if keep_run and trajectory is not None:
        stored = await store_trajectories(ops, [trajectory], scope=memory.scope,
                                          distiller=distiller, ctx=ctx)
        result.stored = [r.id for r in stored]
    if strategy == "adjustment" and not outcome.success and updated.status != "deprecated":
        revised = await (reviser or revise_without_model)(procedure, updated, outcome)
        if revised is None:
            revised = await revise_without_model(procedure, updated, outcome)
        lineage = updated.model_copy(update={
            "version": updated.version + 1,
            "previous_versions": [*updated.previous_versions, procedure_id],
        })
        item = NewMemory(
            content=revised.render(), kind="procedural", tags=_tags(revised), scope=memory.scope,
            metadata={**revised.to_metadata(), **lineage.to_metadata()},
            supersedes=[procedure_id], dedup=False,
        )
        (written,) = await ops.remember_many([item], ctx=ctx)
        result.current_id, result.revised, result.record = written.id, True, lineage
    return result
