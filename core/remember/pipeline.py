"""The remember pipeline: clean (private parts, secrets) → parts (content over the bound) →
enrich → validate → reinforce exact duplicates → embed → resolve → absorb near-duplicates →
write → supersede → link.

Every stage is a named step over one `Batch`; everything written belongs to one journaled,
undoable operation. The decisions themselves live in their modules: `validation` (what may be
stored), `privacy` (private parts, secrets), `dedup` and `claims` (duplicate, new version,
contradiction, related), `write` (rows and indexes), `history` (supersession), `links` (edges).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from habitus.core.clock import utc_now
from habitus.core.embedding.encoder import Encoder
from habitus.core.filters import require_live
from habitus.core.history.journal import Journal, operation
from habitus.core.history.versions import supersede_many
from habitus.core.ids import new_id
from habitus.core.links.edges import add_link, add_links_bulk
from habitus.core.models import CallContext, NewMemory, RememberResult
from habitus.core.plugin_hooks import PluginHooks
from habitus.core.remember import dedup
from habitus.core.remember.parts import Plan, longest, plan_parts
from habitus.core.remember.write import write_new
from habitus.core.text.terms import content_hash, embedding_text, metadata_dict
from habitus.core.trust import privacy
from habitus.core.trust.provenance import stamp
from habitus.core.validation import Draft, draft_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Remember", "Batch"]


@dataclass
class Batch:
    """The memories of one remember call on their way through the pipeline."""

    drafts: list[Draft]  # one per item, checked
    results: list[RememberResult]  # one per item, filled in as the stages decide
    now: datetime
    fresh: list[Draft] = field(default_factory=list)  # not exact duplicates: to embed, resolve
    # The new memories stored, each with what `dedup.resolve` found about it.
    kept: list[tuple[Draft, dedup.Decision]] = field(default_factory=list)
    absorbed_into: dict[str, str] = field(default_factory=dict)  # new id → the memory it joined
    # New id → the vectors of its passages past the embedder's window (long content only).
    passages: dict[str, np.ndarray] = field(default_factory=dict)

    def result_of(self, draft: Draft) -> RememberResult:
        return self.results[draft["_result"]]


class Remember:
    """Stores new memories, or reinforces the memories they repeat."""

    def __init__(
        self, store: Store, journal: Journal, encoder: Encoder, hooks: PluginHooks,
        *, redact_secrets: bool = True, author: str = "",
    ) -> None:
        self.store = store
        self.author = author  # the person whose server writes: recorded with each new memory
        self.journal = journal
        self.encoder = encoder
        self.hooks = hooks
        self.redact_secrets = redact_secrets

    async def __call__(
        self, items: Sequence[NewMemory], ctx: CallContext, *, in_parts: bool = True
    ) -> list[RememberResult]:
        """One result per item, in order: stored (`in_parts` when longer than a memory holds,
        else refused with an error), reinforced, or refused alone (`status` "refused", `error`
        saying why)."""
        items = self.clean(list(items))  # before anything else sees them, plugins included
        plan = plan_parts(items, split=in_parts)
        stored: list[RememberResult] = []
        if plan.items:
            enriched = await self.hooks.enrich(plan.items, ctx)
            with operation():
                early = await self.embed_early(enriched)
                try:
                    batch = await self.validate(enriched, ctx)
                    await self.reinforce_exact(batch, ctx)
                except BaseException:
                    await early.abandon()
                    raise
                vectors = await self.embed(batch, early)
                decisions, vectors = await self.resolve(batch, vectors)
                kept_vectors = await self.absorb(batch, decisions, vectors, ctx)
                await self.write(batch, kept_vectors, ctx)
                await self.supersede(batch, ctx)
                await self.link(batch, ctx)
                await self.link_parts(plan, batch.results, ctx)
            stored = batch.results
        return _per_item(items, plan, stored, ctx)

    def clean(self, items: list[NewMemory]) -> list[NewMemory]:
        """Items without their private parts and, when configured, with their secrets
        replaced, in content, tags and metadata at any depth."""
        return [_cleaned(item, secrets=self.redact_secrets) for item in items]

    async def validate(self, items: list[NewMemory], ctx: CallContext) -> Batch:
        """Check every item, that what it names exists, and record anchors, branch and depth."""
        drafts = [draft_of(item, ctx) for item in items]
        await require_live(
            self.store,
            [i for d in drafts for i in d["derived_from"]]
            + [t for d in drafts for t, _ in d["links"]],
        )
        await dedup.prepare(self.store, items, drafts, ctx)
        for d in drafts:  # where it comes from, and whether it tries to instruct the model
            d["metadata"] = stamp(d["metadata"], d["content"], ctx.source, self.author)
        return Batch(drafts=drafts, results=[], now=utc_now())

    async def reinforce_exact(self, batch: Batch, ctx: CallContext) -> None:
        """The same content again in a scope reinforces the memory there; the rest is fresh."""
        existing = await dedup.find_exact(self.store, batch.drafts)
        for d in batch.drafts:
            key = (d["scope"], d["content_hash"])
            if key in existing:
                row = existing[key]
                if row["id"] not in {f["id"] for f in batch.fresh}:
                    await dedup.reinforce(self.store, self.journal, row, d, batch.now, ctx)
                batch.results.append(_result(row["id"], "reinforced", d))
                continue
            fresh = {**d, "id": new_id(), "created_at": d["occurred_at"] or batch.now,
                     "updated_at": batch.now, "_result": len(batch.results)}
            existing[key] = fresh
            batch.fresh.append(fresh)
            batch.results.append(_result(fresh["id"], "created", d))

    async def embed_early(self, items: list[NewMemory]) -> EarlyVectors:
        """Start embedding, in a worker thread, the items the store cannot already hold (by
        content hash; each content once), so that the model runs while validation and the
        trust checks take the interpreter."""
        hashes = [content_hash(i.content.strip()) for i in items]
        held = set(await self.store.known_hashes(list(set(hashes))))
        rows: dict[int, int] = {}
        first: dict[str, int] = {}
        for position, (item, digest) in enumerate(zip(items, hashes, strict=True)):
            if digest not in held and item.content.strip():
                rows[position] = first.setdefault(digest, len(first))
        # What the embedder reads of each, as `embed` reads it of the draft.
        texts = {first[hashes[p]]: embedding_text(items[p].content.strip(), items[p].metadata)
                 for p in rows}
        if not texts:
            return EarlyVectors(None, {})
        task = asyncio.ensure_future(
            self.encoder.embed_passages([texts[r] for r in range(len(texts))]))
        await asyncio.sleep(0)  # let the task hand its texts to the worker thread
        return EarlyVectors(task, rows)

    async def embed(self, batch: Batch, early: EarlyVectors) -> np.ndarray | None:
        """One vector per fresh memory (None: vector search is off), and the vectors of its
        later passages when it is long (`batch.passages`): those embedded early, and the rest
        now, in one batch."""
        if not batch.fresh:
            await early.abandon()
            return None
        found = await early.task if early.task is not None else None
        if early.task is not None and found is None:
            return None  # vector search is off
        rest = [d for d in batch.fresh if d["_result"] not in early.rows]
        more = await self.encoder.embed_passages(
            [embedding_text(d["content"], metadata_dict(d["metadata"])) for d in rest]
        ) if rest else None
        if rest and more is None:
            return None
        later = {d["_result"]: i for i, d in enumerate(rest)}
        vectors = []
        for d in batch.fresh:
            source, row = ((found, early.rows[d["_result"]]) if d["_result"] in early.rows
                           else (more, later[d["_result"]]))
            vectors.append(source[0][row])  # type: ignore[index]
            if len(source[1][row]):  # type: ignore[index]
                batch.passages[d["id"]] = source[1][row]  # type: ignore[index]
        return np.stack(vectors)

    async def resolve(
        self, batch: Batch, vectors: np.ndarray | None
    ) -> tuple[list[dedup.Decision], np.ndarray | None]:
        """What each fresh memory is to the store (see `dedup.resolve`); if the store was
        re-embedded meanwhile, stored without vectors instead."""
        if not batch.fresh:
            return [], vectors
        try:
            return await dedup.resolve(self.store, batch.fresh, vectors), vectors
        except Exception:
            if not await self.encoder.reembedded():
                raise
            return await dedup.resolve(self.store, batch.fresh, None), None

    async def absorb(
        self, batch: Batch, decisions: list[dedup.Decision], vectors: np.ndarray | None,
        ctx: CallContext,
    ) -> list[np.ndarray | None]:
        """Near-duplicates reinforce what they repeat; the others are kept. Returns the kept
        memories' vectors."""
        kept_vectors: list[np.ndarray | None] = []
        for i, (d, decision) in enumerate(zip(batch.fresh, decisions, strict=True)):
            result = batch.result_of(d)
            if decision.absorbed_by is None:
                batch.kept.append((d, decision))
                kept_vectors.append(vectors[i] if vectors is not None else None)
                continue
            target = batch.absorbed_into.get(decision.absorbed_by, decision.absorbed_by)
            batch.absorbed_into[d["id"]] = target
            result.id, result.status = target, "reinforced"
            result.absorbed_by = target
            result.similarity = round(float(decision.similarity or 0), 4)
            if decision.absorbed_row is not None and "_result" not in decision.absorbed_row:
                await dedup.reinforce(self.store, self.journal, decision.absorbed_row, d,
                                      batch.now, ctx, variant=d["content"])
        return kept_vectors

    async def write(
        self, batch: Batch, vectors: list[np.ndarray | None], ctx: CallContext
    ) -> None:
        """The kept memories, in one commit, and the passages of the long ones."""
        await write_new(self.store, self.journal, [d for d, _ in batch.kept], vectors,
                        self.encoder.model_id, ctx, batch.passages)

    async def supersede(self, batch: Batch, ctx: CallContext) -> None:
        """New versions of facts, given or detected, supersede the old ones."""
        pairs: list[tuple[str, list[str], bool]] = []
        for d, decision in batch.kept:
            explicit = [i for i in d["supersedes"] if i != d["id"]]
            detected = [batch.absorbed_into.get(i, i) for i in decision.supersedes]
            detected = [i for i in detected if i not in explicit and i != d["id"]]
            if explicit:
                pairs.append((d["id"], explicit, False))
            if detected:
                pairs.append((d["id"], detected, True))
        superseded = (
            await supersede_many(self.store, self.journal, pairs, ctx) if pairs else {}
        )
        detected_ids = {n for n, _, was_detected in pairs if was_detected}
        for d, _ in batch.kept:
            result = batch.result_of(d)
            result.supersedes = superseded.get(d["id"], [])
            result.detected = bool(result.supersedes) and d["id"] in detected_ids

    async def link_parts(
        self, plan: Plan, results: list[RememberResult], ctx: CallContext
    ) -> None:
        """Each later part of a content stored in parts linked `part_of` its first part."""
        edges = []
        for positions in plan.positions:
            first = results[positions[0]].id if positions else ""
            for p in positions[1:]:
                if results[p].id != first and first not in results[p].links:
                    edges.append((results[p].id, first, "part_of", 1.0))
                    results[p].links.append(first)
        if edges:
            await add_links_bulk(self.store, self.journal, list(dict.fromkeys(edges)), ctx)

    async def link(self, batch: Batch, ctx: CallContext) -> None:
        """Automatic edges (related, contradicting) from the new memories, then the edges the
        caller asked for (`links`, `derived_from`)."""
        auto_edges: list[tuple[str, str, str, float]] = []
        for d, decision in batch.kept:
            result = batch.result_of(d)
            linked = {t for t, _ in d["links"]} | set(d["derived_from"]) | set(result.supersedes)
            found = [(t, sim, "contradicts") for t, sim in decision.contradicts]
            found += [(t, sim, "related_to") for t, sim in decision.related]
            for target, sim, relation in found:
                target = batch.absorbed_into.get(target, target)
                if target not in linked and target != d["id"]:
                    auto_edges.append((d["id"], target, relation, round(sim, 4)))
                    listed = result.contradicts if relation == "contradicts" else result.related
                    listed.append(target)
                    linked.add(target)
        if auto_edges:
            await add_links_bulk(self.store, self.journal, auto_edges, ctx, from_new=True)
        for result, d in zip(batch.results, batch.drafts, strict=True):
            if result.absorbed_by is not None:
                continue
            edges = [(s, "derived_from") for s in d["derived_from"]] + d["links"]
            for target, relation in edges:
                if target != result.id:
                    await add_link(self.store, self.journal, result.id, target, relation, "",
                                   1.0, ctx)
                    result.links.append(target)


@dataclass
class EarlyVectors:
    """Vectors being computed for a batch before it is validated: the task, and for each
    item position embedded, its row in the task's result."""

    task: asyncio.Future[tuple[np.ndarray, list[np.ndarray]] | None] | None
    rows: dict[int, int]

    async def abandon(self) -> None:
        """The batch failed or needs no vectors: let the embedding end unheard."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def _per_item(
    items: list[NewMemory], plan: Plan, stored: list[RememberResult], ctx: CallContext
) -> list[RememberResult]:
    """The results of the items given: a content stored in parts answers with its first
    part's result and every part's id; a refused one with why."""
    results = []
    for index, (item, positions) in enumerate(zip(items, plan.positions, strict=True)):
        if index in plan.refused:
            results.append(RememberResult(
                id="", status="refused", kind=item.kind,  # type: ignore[arg-type]
                scope=item.scope or ctx.project_scope, error=plan.refused[index]))
            continue
        result = stored[positions[0]]
        if len(positions) > 1:
            result.parts = [stored[p].id for p in positions]
        results.append(result)
    return results


def _cleaned(item: NewMemory, *, secrets: bool) -> NewMemory:
    """`item` as `privacy` lets it in (the whole content, before it is cut into parts); an
    item too large to store even in parts is left as it is, to be refused."""
    if not isinstance(item.content, str) or len(item.content) > longest():
        return item
    content, kinds = privacy.clean_text(item.content, secrets=secrets)
    metadata, in_metadata = privacy.clean_data(item.metadata, secrets=secrets)
    tags, in_tags = privacy.clean_data(item.tags, secrets=secrets)
    if (content, metadata, tags) == (item.content, item.metadata, item.tags):
        return item
    clean = item.model_copy(update={"content": content, "metadata": metadata, "tags": tags})
    clean._redacted = sorted({*kinds, *in_metadata, *in_tags})
    return clean


def _result(memory_id: str, status: str, draft: Draft) -> RememberResult:
    return RememberResult(
        id=memory_id, status=status, kind=draft["kind"], scope=draft["scope"],  # type: ignore[arg-type]
        redacted=draft["redacted"],
    )


