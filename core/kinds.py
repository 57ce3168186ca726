"""The kinds of memory and of link the store knows (light: the CLI reads them at start-up)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["Kind", "KINDS", "Relation", "RELATIONS"]

Kind = Literal["episodic", "semantic", "procedural"]
KINDS: tuple[str, ...] = get_args(Kind)

Relation = Literal[
    "related_to",
    "supersedes",
    "derived_from",
    "contradicts",
    "part_of",
    "depends_on",
    "example_of",
]
RELATIONS: tuple[str, ...] = get_args(Relation)
