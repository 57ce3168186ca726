"""The trajectory format: what an agent did for one task, step by step, and how it ended.

A trajectory is the raw material of procedural memory. Readers turn SWE-agent, ALFWorld and
Claude Code logs into it, and an assistant can submit one directly (as JSON, through an MCP tool)
for a task it has just finished. The JSON form is what `Trajectory.to_dict` returns:

    {
      "id": "fix-timedelta-rounding",          # optional on input: derived from the content
      "task": "TimeDelta serialization ...",     # what was asked, in the asker's words
      "steps": [                                 # in order, at most 500
        {"thought": "Reproduce first.",          # optional: why the action was taken
         "action": "python reproduce.py",        # required: the command or tool call, as text
         "observation": "344",                   # optional: what came back
         "success": true}                        # optional: true, false or null (unknown)
      ],
      "outcome": {"success": true,               # optional: did the task succeed (null: unknown)
                  "summary": "Rounded instead of truncating."},
      "source": "claude-code",                   # optional: producer, default "habitus"
      "metadata": {"cwd": "/home/me/project"}    # optional: free JSON object
    }

Privacy is applied on construction, whoever builds a trajectory (a reader, a tool call, a
plugin): what was marked `<private>` is removed and secrets are redacted in every text and in
the metadata, so nothing distilled from a trajectory can hold them.

Every text field is bounded (20,000 characters; ids 256, sources 64) and so are the number of
steps (500) and the size of `metadata` once serialised (20,000 characters); anything malformed or
out of bounds raises `InvalidInput` naming the offending field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from habitus.base.errors import InvalidInput
from habitus.core.trust.privacy import bound, clean_data, clean_text

__all__ = [
    "MAX_STEPS",
    "MAX_FIELD_CHARS",
    "MAX_ID_CHARS",
    "MAX_SOURCE_CHARS",
    "MAX_METADATA_CHARS",
    "Step",
    "Outcome",
    "Trajectory",
    "clip",
]

MAX_STEPS = 500
MAX_FIELD_CHARS = 20_000
MAX_ID_CHARS = 256
MAX_SOURCE_CHARS = 64
MAX_METADATA_CHARS = 20_000

_Text = Annotated[str, StringConstraints(strict=True, max_length=MAX_FIELD_CHARS)]
_NonEmptyText = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_FIELD_CHARS),
]
_Id = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_ID_CHARS),
]
_Source = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=MAX_SOURCE_CHARS
    ),
]


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` within `limit` characters, its head and its tail kept (see `privacy.bound`):
    readers use it so that long tool output fits the bounds."""
    return bound(text, limit)


def _clean(text: str) -> str:
    return clean_text(text)[0]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Model):
    """One action of the agent and what came back from it."""

    thought: _Text = Field("", description="The agent's reasoning before the action (optional).")
    action: _NonEmptyText = Field(
        description="The command or tool call, as text: a shell command, `Edit path`, ..."
    )
    observation: _Text = Field("", description="What the environment or tool returned.")
    success: StrictBool | None = Field(
        None, description="Whether the action worked: true, false (an error), or null (unknown)."
    )

    @field_validator("thought", "observation", mode="after")
    @classmethod
    def _private_kept_out(cls, value: str) -> str:
        return _clean(value)

    @field_validator("action", mode="after")
    @classmethod
    def _private_action_named(cls, value: str) -> str:
        return _clean(value).strip() or "[private]"


class Outcome(_Model):
    """How the whole task ended."""

    success: StrictBool | None = Field(
        None, description="Whether the task was accomplished; null when unknown."
    )
    summary: _Text = Field("", description="One or two sentences on the result.")

    @field_validator("summary", mode="after")
    @classmethod
    def _private_kept_out(cls, value: str) -> str:
        return _clean(value)


class Trajectory(_Model):
    """An agent's attempt at one task: the task, its steps in order, and the outcome."""

    id: _Id = Field(
        "",
        validate_default=True,
        description="Stable identifier (a session id, an instance id, a file name); derived "
        "from the task and the actions when omitted.",
    )
    task: _NonEmptyText = Field(description="What was asked, in the asker's own words.")
    steps: list[Step] = Field(
        default_factory=list, max_length=MAX_STEPS, description="The steps, in order."
    )
    outcome: Outcome | None = Field(None, description="How the task ended, if known.")
    source: _Source = Field(
        "habitus",
        description='Producer: "claude-code", "swe-agent", "alfworld", or a client name.',
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free JSON object: cwd, repository, timestamps, ..."
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_missing_id(cls, data: Any) -> Any:
        """Give a trajectory without an id one derived from its content, so that submitting the
        same trajectory twice yields the same id."""
        if isinstance(data, dict) and not data.get("id"):
            return {**data, "id": _derived_id(data)}
        return data

    @field_validator("task", mode="after")
    @classmethod
    def _private_kept_out(cls, value: str) -> str:
        cleaned = _clean(value).strip()
        if not cleaned:
            raise ValueError("nothing is left once the private part is removed")
        return cleaned

    @field_validator("metadata")
    @classmethod
    def _metadata_is_small_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        value = clean_data(value)[0]  # type: ignore[assignment]
        try:
            size = len(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"must be a JSON object ({exc})") from None
        if size > MAX_METADATA_CHARS:
            raise ValueError(f"serialises to {size} characters, more than {MAX_METADATA_CHARS}")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form, as documented in this module."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Any) -> Trajectory:
        """Validate `data` (the JSON form) into a trajectory, or raise `InvalidInput`."""
        if not isinstance(data, dict):
            raise InvalidInput(f"trajectory: expected a JSON object, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(_describe(exc)) from None


def _derived_id(data: dict[str, Any]) -> str:
    steps = data.get("steps")
    actions = [s.action if isinstance(s, Step) else s.get("action") if isinstance(s, dict)
               else None for s in steps] if isinstance(steps, list) else []
    digest = hashlib.sha256(
        json.dumps([data.get("task"), actions], sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"traj-{digest[:16]}"


def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming the field like `trajectory.steps[3].action`."""
    problems = []
    for error in exc.errors(include_url=False):
        where = "trajectory"
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {message}")
    return "invalid trajectory: " + "; ".join(problems)
