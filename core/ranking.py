"""Fusing the lexical and vector legs of a search into one ranking.

Each leg gives a ranked list of rows. Reciprocal-rank fusion combines the ranks, then
importance and recency nudge the result; near-identical memories are kept from filling
the top of the list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .decay import rank_factor

__all__ = ["Candidate", "fuse"]

RRF_K = 60.0


@dataclass
class Candidate:
    """One memory found by at least one leg, with what each leg said about it."""

    row: dict[str, Any]
    lexical_rank: int | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    score: float = 0.0


def fuse(
    lexical: Sequence[dict[str, Any]],
    vector: Sequence[dict[str, Any]],
    *,
    now: datetime,
    lexical_weight: float = 1.0,
    vector_weight: float = 1.0,
    half_life_days: float = 90.0,
) -> list[Candidate]:
    """Rank the union of both legs, best first."""
    found: dict[str, Candidate] = {}
    for rank, row in enumerate(lexical):
        found.setdefault(row["id"], Candidate(row)).lexical_rank = rank
    for rank, row in enumerate(vector):
        cand = found.setdefault(row["id"], Candidate(row))
        cand.vector_rank = rank
        cand.similarity = 1.0 - float(row.get("_distance", 1.0))
    best = (lexical_weight + vector_weight) / (RRF_K + 1)
    for cand in found.values():
        score = 0.0
        if cand.lexical_rank is not None:
            score += lexical_weight / (RRF_K + 1 + cand.lexical_rank)
        if cand.vector_rank is not None:
            score += vector_weight / (RRF_K + 1 + cand.vector_rank)
        score /= best
        importance = float(cand.row.get("importance") or 0.5)
        age_days = max(0.0, (now - cand.row["created_at"]).total_seconds() / 86400)
        recency = math.exp(-math.log(2) * age_days / half_life_days)
        cand.score = score * (0.85 + 0.1 * importance + 0.05 * recency) * rank_factor(cand.row, now)
    return sorted(found.values(), key=lambda c: c.score, reverse=True)
