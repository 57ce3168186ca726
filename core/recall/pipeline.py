"""The recall pipeline: parse → legs → fuse → expand → pack (plugins may rerank) → anchors.

Each stage is its own module with typed input and output: `query.parse_query` (RecallQuery),
`legs.run_legs` (Legs), `ranking.fuse` (ranked Candidates), `expand.expand` (Expanded),
`pack.pack` (RecallResult), `anchors.mark_stale` (hits whose code changed). What is returned
counts as used (`access`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from habitus.core.embedding.encoder import Encoder
from habitus.core.models import CallContext, RecallResult
from habitus.core.plugin_hooks import PluginHooks
from habitus.core.project import anchors
from habitus.core.recall.access import AccessLog
from habitus.core.recall.expand import Expanded, expand
from habitus.core.recall.legs import Legs, run_legs
from habitus.core.recall.pack import fit, pack
from habitus.core.recall.query import RecallQuery, parse_query
from habitus.core.recall.ranking import DEFAULT_WEIGHTS, Candidate, Weights, fuse
from habitus.core.requests import RecallRequest

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Recall", "RERANK_DEPTH"]

log = logging.getLogger("habitus.core")

# How many candidates `rerank_recall` plugins see.
RERANK_DEPTH = 50


class Recall:
    """Finds the memories most relevant to a query, best first, within a token budget."""

    def __init__(
        self, store: Store, encoder: Encoder, access: AccessLog, hooks: PluginHooks,
        weights: Weights = DEFAULT_WEIGHTS,
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.access = access
        self.hooks = hooks
        self.weights = weights

    async def __call__(self, request: RecallRequest, ctx: CallContext) -> RecallResult:
        """The memories `request` asks for, for the caller `ctx`."""
        started = time.perf_counter()
        query = parse_query(self.store, request, ctx)
        legs = await self.legs(query)
        ranked = self.fuse(query, legs)
        expanded = await expand(self.store, ranked, query)
        result = await self.pack(query, expanded, legs.mode)
        anchors.mark_stale(result.memories, query.ctx.workdir or None)
        self.access.count(hit.id for hit in result.memories)
        log.debug("recall %r: %d lexical, %d vector, %d returned in %.1f ms", query.text,
                  len(legs.lexical), len(legs.vector), len(result.memories),
                  1000 * (time.perf_counter() - started))
        return result

    async def legs(self, query: RecallQuery) -> Legs:
        """Run the search legs; if the store was re-embedded meanwhile, again lexically."""
        try:
            return await run_legs(self.store, self.encoder, query)
        except Exception:
            if not await self.encoder.reembedded():
                raise
            return await run_legs(self.store, self.encoder, query)

    def fuse(self, query: RecallQuery, legs: Legs) -> list[Candidate]:
        """One ranking of both legs, with the priors (importance, recency, branch, period)."""
        return fuse(legs.lexical, legs.vector, now=query.now, weights=self.weights,
                    period=query.period, query=query.terms, branch=query.ctx.branch)

    async def pack(self, query: RecallQuery, expanded: Expanded, mode: str) -> RecallResult:
        """The answer: the best whole memories within the limit and budget. Plugins that rerank
        see up to `RERANK_DEPTH` candidates first; the limit and budget apply after them."""
        limit, budget = query.request.limit, query.request.token_budget
        if self.hooks.has("rerank_recall"):
            depth = max(limit, RERANK_DEPTH)
            result = pack(query, expanded.ranked, depth, None, mode, query.now)
            result.warnings = self.encoder.warnings()
            result = await self.hooks.rerank(query.text, result, query.ctx)
            result = fit(result, limit, budget)
        else:
            result = pack(query, expanded.ranked, limit + len(expanded.via), budget, mode,
                          query.now)
            result.warnings = self.encoder.warnings()
        for hit in result.memories:
            hit.via = expanded.via.get(hit.id)
        return result
