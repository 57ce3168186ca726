"""How a procedure has fared: its record of uses and outcomes, kept in the procedure memory's
metadata (under `record`). The procedural plugin writes it as outcomes are reported; the
lifecycle leaves deprecated procedures out of a session's context and the web view draws their
outcomes over time.

A procedure used at least `DEPRECATE_MIN_USES` times with a success rate under
`DEPRECATE_BELOW` is `deprecated`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["DEPRECATE_BELOW", "DEPRECATE_MIN_USES", "MAX_OUTCOMES", "OutcomeReport",
           "ProcedureRecord", "is_deprecated"]

DEPRECATE_MIN_USES = 3
DEPRECATE_BELOW = 0.5
RECORD_KEY = "record"
MAX_OUTCOMES = 50


class OutcomeReport(BaseModel):
    """How following a procedure went."""

    success: bool = Field(description="Whether the task succeeded when following the procedure.")
    summary: str = Field("", max_length=2_000, description="What happened, e.g. the error.")
    failed_step: int | None = Field(
        None, ge=1, description="The procedure step (1-based) that failed, if known."
    )
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    version: int = Field(1, description="The version of the procedure that was followed.")


class ProcedureRecord(BaseModel):
    """How a procedure has fared: uses, successes, last outcome, version and status."""

    uses: int = 0
    successes: int = 0
    version: int = 1
    status: Literal["active", "deprecated"] = "active"
    last_outcome: OutcomeReport | None = None
    previous_versions: list[str] = Field(
        default_factory=list, description="Ids of the earlier versions, oldest first."
    )
    outcomes: list[OutcomeReport] = Field(
        default_factory=list, description=f"The last {MAX_OUTCOMES} outcomes, oldest first."
    )

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.uses if self.uses else None

    def with_outcome(self, outcome: OutcomeReport) -> ProcedureRecord:
        uses, successes = self.uses + 1, self.successes + int(outcome.success)
        deprecated = uses >= DEPRECATE_MIN_USES and successes / uses < DEPRECATE_BELOW
        return self.model_copy(update={
            "uses": uses,
            "successes": successes,
            "last_outcome": outcome,
            "outcomes": [*self.outcomes, outcome][-MAX_OUTCOMES:],
            "status": "deprecated" if deprecated else "active",
        })

    @classmethod
    def of(cls, metadata: dict[str, Any]) -> ProcedureRecord:
        stored = metadata.get(RECORD_KEY) if isinstance(metadata, dict) else None
        return cls.model_validate(stored) if isinstance(stored, dict) else cls()

    def to_metadata(self) -> dict[str, Any]:
        return {RECORD_KEY: self.model_dump(mode="json")}


def is_deprecated(metadata: dict[str, Any]) -> bool:
    """Whether a memory's metadata records a deprecated procedure."""
    record = metadata.get(RECORD_KEY) if isinstance(metadata, dict) else None
    return isinstance(record, dict) and record.get("status") == "deprecated"
