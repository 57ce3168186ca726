"""Recall, stage 5: the ranked candidates packed into an answer — whole memories, best first,
within the result count and the token budget, each with its score, age and token count."""

from __future__ import annotations

from datetime import datetime

from habitus.core.models import RecallResult
from habitus.core.recall.query import RecallQuery
from habitus.core.recall.ranking import Candidate
from habitus.core.text.tokens import count_many
from habitus.core.views import hit_of

__all__ = ["pack", "fit"]


def pack(
    query: RecallQuery, ranked: list[Candidate], limit: int, token_budget: int | None,
    mode: str, now: datetime,
) -> RecallResult:
    """The first `limit` candidates as hits, skipping any that would overrun `token_budget`."""
    top = ranked[:limit]
    counts = count_many([c.row["content"] for c in top])
    hits = []
    used = 0
    for cand, tokens in zip(top, counts, strict=True):
        if token_budget is not None and used + tokens > token_budget:
            continue
        used += tokens
        hits.append(hit_of(cand.row, cand.score, tokens, now))
    return RecallResult(
        query=query.text,
        scopes=query.scopes or ["all"],
        memories=hits,
        tokens_used=used,
        omitted=len(ranked) - len(hits),
        search=mode,  # type: ignore[arg-type]
    )


def fit(result: RecallResult, limit: int, token_budget: int | None) -> RecallResult:
    """`result` cut to `limit` hits within `token_budget`, in its order (after a rerank)."""
    kept, used = [], 0
    for hit in result.memories:
        if len(kept) >= limit:
            break
        if token_budget is not None and used + hit.tokens > token_budget:
            continue
        kept.append(hit)
        used += hit.tokens
    result.omitted += len(result.memories) - len(kept)
    result.memories, result.tokens_used = kept, used
    return result
