"""Recall, stage 4: the ranking widened past what matched — old versions of facts ranked below
current ones (with `include_history`), and the linked neighbours of the top results (with
`follow_links`, one hop, each marked with the hit it was reached from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from habitus.core.links.edges import follow
from habitus.core.recall.query import RecallQuery
from habitus.core.recall.ranking import Candidate

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Expanded", "expand", "demote_superseded"]

# An old version keeps this share of its score when history is included.
SUPERSEDED_PENALTY = 0.5


@dataclass
class Expanded:
    """The ranking after expansion, and for each memory reached by a link, where from."""

    ranked: list[Candidate]
    via: dict[str, str] = field(default_factory=dict)


async def expand(store: Store, ranked: list[Candidate], query: RecallQuery) -> Expanded:
    """History and links added to `ranked` as `query` asks."""
    if query.request.include_history and query.as_of is None:
        ranked = demote_superseded(ranked)
    if not query.request.follow_links:
        return Expanded(ranked)
    ranked, via = await follow(store, ranked, query.request.limit, query.where)
    return Expanded(ranked, via)


def demote_superseded(ranked: list[Candidate]) -> list[Candidate]:
    """Old versions rank below current ones of similar relevance."""
    for cand in ranked:
        if cand.row.get("valid_until") is not None:
            cand.score *= SUPERSEDED_PENALTY
    return sorted(ranked, key=lambda c: c.score, reverse=True)
