"""Reflection: the memories worth consolidating — on a topic, near-duplicates, memories about
code that changed, recent episodes — gathered with instructions, then drafted and (on request)
written by `consolidate`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from habitus.core.clock import utc_now
from habitus.core.filters import current, live, read_scopes
from habitus.core.models import CallContext, ReflectBundle, ReflectGroup
from habitus.core.plugin_hooks import PluginHooks
from habitus.core.project import anchors
from habitus.core.recall.pipeline import Recall
from habitus.core.reflection import consolidate as consolidation
from habitus.core.reflection.consolidate import RememberFn
from habitus.core.reflection.llm import ChatModel
from habitus.core.requests import RecallRequest, ReflectRequest
from habitus.core.text.tokens import count_many
from habitus.core.validation import check_time
from habitus.core.views import hit_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Reflect", "NEAR_DUPLICATE"]

# Cosine similarity above which two memories count as near-duplicates in reflect.
NEAR_DUPLICATE = 0.92

INSTRUCTIONS = """\
Consolidate these memories; nothing has been changed yet.
- near_duplicates: write one memory that keeps every distinct detail, with
  remember(content=..., derived_from=[the ids]); then forget the duplicates if they add nothing.
- topic: write the durable conclusion (a fact, decision or convention) as a semantic memory with
  derived_from set to the ids it rests on.
- recent_episodes: extract lessons, conventions or procedures worth keeping, each as its own
  memory with derived_from; leave the episodes in place.
Write only what the evidence supports; if memories contradict each other, say so and link them
with relation 'contradicts'."""


class Reflect:
    """Gathers evidence for consolidation and hands it to the best drafter available."""

    def __init__(
        self, store: Store, recall: Recall, remember: RememberFn, hooks: PluginHooks,
        llm: ChatModel | None, llm_error: str | None,
    ) -> None:
        self.store = store
        self.recall = recall
        self.remember = remember
        self.hooks = hooks
        self.llm = llm
        self.llm_error = llm_error

    async def __call__(self, request: ReflectRequest, ctx: CallContext) -> ReflectBundle:
        """The evidence and instructions `request` asks for (see `MemoryService.reflect`)."""
        limit, topic = request.limit, request.topic
        scopes = read_scopes(request.scope, ctx)
        now = utc_now()
        groups: list[ReflectGroup] = []
        if topic:
            groups.extend(await self.topic(topic, request.scope, limit, ctx))
        groups.extend(await self.near_duplicates(scopes, limit, now))
        groups.extend(await self.stale(scopes, limit, now, ctx))
        groups.extend(await self.suspicious(scopes, limit, now))
        since = check_time(request.since, "since")
        groups.extend(await self.recent_episodes(scopes, since, limit, now))
        bundle = ReflectBundle(
            scope=", ".join(scopes or ["all"]),
            topic=topic,
            groups=groups,
            instructions=INSTRUCTIONS if groups else "Nothing to consolidate right now.",
        )
        bundle = await self.hooks.consolidate(bundle, ctx)
        return await consolidation.run(
            self.store, self.remember, bundle, llm=self.llm, llm_error=self.llm_error,
            draft=request.draft, use_model=request.use_model, consolidate=request.consolidate,
            dry_run=request.dry_run, ctx=ctx,
        )

    async def topic(
        self, topic: str, scope: str | None, limit: int, ctx: CallContext
    ) -> list[ReflectGroup]:
        """The memories recall finds on `topic`."""
        found = await self.recall(RecallRequest(query=topic, scope=scope, limit=limit), ctx)
        if not found.memories:
            return []
        return [ReflectGroup(
            reason="topic",
            summary=f"{len(found.memories)} memories about {topic!r}",
            memories=found.memories,
        )]

    async def near_duplicates(
        self, scopes: list[str] | None, limit: int, now: datetime
    ) -> list[ReflectGroup]:
        """Clusters of current memories that say nearly the same thing (cosine ≥
        `NEAR_DUPLICATE`): a superseded version is history, never a duplicate of its
        successor to merge back."""
        rows = await self.store.scan(
            live(self.store, scopes) & current(self.store)
            & self.store.where.memories.not_null("vector"),
            limit=2000,
        )
        if len(rows) < 2:
            return []
        matrix = np.asarray([r["vector"] for r in rows], dtype=np.float32)
        sims = matrix @ matrix.T
        np.fill_diagonal(sims, 0.0)
        seen: set[int] = set()
        groups: list[ReflectGroup] = []
        for i in np.argsort(-sims.max(axis=1)):
            if i in seen or sims[i].max() < NEAR_DUPLICATE:
                continue
            members = [int(j) for j in np.flatnonzero(sims[i] >= NEAR_DUPLICATE) if j not in seen]
            if not members:
                continue
            cluster = [int(i), *members]
            seen.update(cluster)
            chosen = [rows[j] for j in cluster]
            counts = count_many([r["content"] for r in chosen])
            groups.append(ReflectGroup(
                reason="near_duplicates",
                summary=f"{len(chosen)} memories that say nearly the same thing",
                memories=[hit_of(r, float(sims[i, j]) if j != i else 1.0, t, now)
                          for r, j, t in zip(chosen, cluster, counts, strict=True)],
            ))
            if len(groups) >= limit:
                break
        return groups

    async def stale(
        self, scopes: list[str] | None, limit: int, now: datetime, ctx: CallContext
    ) -> list[ReflectGroup]:
        """Current memories whose code anchors no longer match the working tree."""
        rows = await self.store.scan(live(self.store, scopes) & current(self.store))
        hits = []
        for row in rows:
            if '"anchors"' not in (row["metadata"] or ""):
                continue
            hit = hit_of(row, 1.0, 0, now)
            anchors.mark_stale([hit], ctx.workdir or None)
            if hit.stale:
                hits.append(hit)
        if not hits:
            return []
        return [ReflectGroup(
            reason="stale",
            summary=f"{len(hits)} memories about code that changed since they were written: "
            "check each, then remember the corrected fact with supersedes=[its id]",
            memories=hits[:limit],
        )]

    async def suspicious(
        self, scopes: list[str] | None, limit: int, now: datetime
    ) -> list[ReflectGroup]:
        """Memories whose content reads as instructions to the model, not yet confirmed."""
        rows = await self.store.scan(
            live(self.store, scopes)
            & self.store.where.memories.contains("metadata", '"suspicious"'),
        )
        hits = [hit_of(r, 1.0, 0, now) for r in rows]
        hits = [h for h in hits if h.suspicious and h.trust != "confirmed"]
        if not hits:
            return []
        return [ReflectGroup(
            reason="suspicious",
            summary=f"{len(hits)} memories that read as instructions to the model (kept as data, "
            "out of the brief and compiled files): forget each, or confirm it if a person wrote "
            "it on purpose (habitus confirm ID)",
            memories=hits[:limit],
        )]

    async def recent_episodes(
        self, scopes: list[str] | None, since: datetime | None, limit: int, now: datetime
    ) -> list[ReflectGroup]:
        """The latest episodes since `since` (default: the last seven days)."""
        since = since or now - timedelta(days=7)
        m = self.store.where.memories
        episodes = await self.store.scan(
            live(self.store, scopes) & m.eq("kind", "episodic") & m.ge("created_at", since),
            limit=500,
        )
        episodes.sort(key=lambda r: r["created_at"], reverse=True)
        episodes = episodes[:limit]
        if not episodes:
            return []
        counts = count_many([r["content"] for r in episodes])
        return [ReflectGroup(
            reason="recent_episodes",
            summary=f"{len(episodes)} episodes since {since:%Y-%m-%d}",
            memories=[hit_of(r, 1.0, t, now) for r, t in zip(episodes, counts, strict=True)],
        )]
