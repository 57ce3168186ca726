"""Procedural memory, the storage-free half: trajectories, their readers, and distillation.

A `Trajectory` records how an agent did a task; readers build it from SWE-agent, ALFWorld,
Claude Code and habitus JSON files; `distill` turns it into a `Procedure` whose `render()` is the
text of a "procedural" memory and whose `to_metadata()` holds its structured parts.
"""

from __future__ import annotations

from habitus.core.trajectory.claude_code import read_claude_code
from habitus.core.trajectory.model import (
    MAX_FIELD_CHARS,
    MAX_STEPS,
    Outcome,
    Step,
    Trajectory,
)
from habitus.plugins.procedural.distill import DistillStats, Procedure, distill, distill_stats
from habitus.plugins.procedural.readers import (
    FORMATS,
    detect_format,
    read_alfworld,
    read_habitus,
    read_swe_agent,
    read_trajectories,
)

__all__ = [
    "FORMATS",
    "MAX_FIELD_CHARS",
    "MAX_STEPS",
    "DistillStats",
    "Outcome",
    "Procedure",
    "Step",
    "Trajectory",
    "detect_format",
    "distill",
    "distill_stats",
    "read_alfworld",
    "read_claude_code",
    "read_habitus",
    "read_swe_agent",
    "read_trajectories",
]
