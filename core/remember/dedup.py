"""Remember, resolve stage: what a new memory is to what exists — an exact or near duplicate
(reinforced instead), a new version of a fact (supersedes it), a contradiction across branches,
or related (linked); code anchors are recorded and distillation depth is bounded here too.

For each new semantic or procedural memory the closest current memories of the same scope and
kind are read (vector search; one matrix product against the scope for large batches) and each
pair is classified by `claims.classify`:

- duplicate → the existing memory is reinforced instead (its importance, use count and tags grow,
  the new wording is kept in `habitus.variants`), and the answer names it in `absorbed_by`;
- new version → stored, and the old one is superseded (history keeps it);
- related (cosine ≥ `links.AUTO_LINK`) → linked `related_to`.

Episodes (kind `episodic`) are events: two similar episodes are two occurrences, so they are only
linked, never absorbed or superseded — `reflect` groups them instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from habitus.base.errors import InvalidInput, NotFound
from habitus.core.history.journal import Journal
from habitus.core.links.edges import AUTO_LINK, AUTO_LINK_MAX
from habitus.core.meta import branch_of, meta_of, with_meta
from habitus.core.models import CallContext, NewMemory
from habitus.core.project import anchors as anchor_mod
from habitus.core.remember.claims import SAME_SUBJECT_COSINE, classify
from habitus.core.text.terms import search_text, with_tags
from habitus.core.validation import Draft, check_ids

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = [
    "Decision", "prepare", "find_exact", "reinforce", "resolve", "same_line", "add_variant",
    "MAX_GENERATION", "FACT_KINDS",
]

FACT_KINDS = ("semantic", "procedural")
# A memory distilled from raw memories has generation 1; one distilled from those, 2. Deeper
# distillation is refused: memory distilled from distilled memory degrades (self-consuming
# collapse) — distil from the original episodes instead.
MAX_GENERATION = 2
# Neighbours read per new memory.
NEIGHBOURS = 8
# Below this similarity a neighbour is neither the same fact (`claims`) nor linked (`links`).
CLOSE = min(SAME_SUBJECT_COSINE, AUTO_LINK)
# What deciding and reinforcing need of a neighbour (its search text, long with the windows of
# episodes, is read only when reinforcing adds tags to it).
NEIGHBOUR_COLUMNS = (
    "id", "kind", "content", "scope", "metadata", "tags", "importance", "access_count",
    "updated_at",
)
MAX_VARIANTS = 5


@dataclass
class Decision:
    """What a new memory is to the store: absorbed by a duplicate, or kept, superseding,
    contradicting (another branch's value) and related to others."""

    absorbed_by: str | None = None
    absorbed_row: dict[str, Any] | None = None
    similarity: float | None = None
    supersedes: list[str] = field(default_factory=list)
    related: list[tuple[str, float]] = field(default_factory=list)
    contradicts: list[tuple[str, float]] = field(default_factory=list)


async def prepare(
    store: Store, items: list[NewMemory], prepared: list[Draft], ctx: CallContext
) -> None:
    """Validate supersedes, resolve anchors and set the distillation generation, in place."""
    sources = list({i for p in prepared for i in p["derived_from"]})
    generations: dict[str, int] = {}
    if sources:
        for row in await store.get_memories(sources):
            generations[row["id"]] = int(meta_of(row)[1].get("generation", 0) or 0)
    wanted = [i for item in items for i in item.supersedes]
    if wanted:
        rows = await store.get_memories(check_ids(wanted))
        known = {r["id"] for r in rows if r["deleted_at"] is None}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise NotFound(f"no live memory with id {missing[0]!r} to supersede")
    for item, p in zip(items, prepared, strict=True):
        meta, section = meta_of({"metadata": p["metadata"]})
        if p["derived_from"]:
            generation = 1 + max(generations.get(i, 0) for i in p["derived_from"])
            if generation > MAX_GENERATION:
                deep = [i for i in p["derived_from"] if generations.get(i, 0) >= MAX_GENERATION]
                raise InvalidInput(
                    f"{deep[0]} is already distilled {generations[deep[0]]} times; distil from "
                    "the memories it was derived from (see its derived_from) to avoid "
                    "compounding errors"
                )
            section["generation"] = generation
        if item.anchors:
            section["anchors"] = [
                anchor_mod.make_anchor(a, ctx.workdir or None) for a in item.anchors
            ]
        if ctx.branch and p["scope"] == ctx.project_scope:
            section["branch"] = ctx.branch
        p["metadata"] = with_meta(meta)
        p["supersedes"] = list(dict.fromkeys(item.supersedes))
        p["dedup"] = item.dedup


async def find_exact(store: Store, drafts: list[Draft]) -> dict[tuple[str, str], dict[str, Any]]:
    """Current memories with the same content as a draft, by (scope, content hash)."""
    m = store.where.memories
    digests = await store.known_hashes(list({p["content_hash"] for p in drafts}))
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(digests), 500):
        rows = await store.scan(
            m.is_null("deleted_at") & m.is_null("valid_until")
            & m.isin("content_hash", digests[start:start + 500])
        )
        for row in rows:
            existing.setdefault((row["scope"], row["content_hash"]), row)
    return existing


async def reinforce(
    store: Store, journal: Journal, row: dict[str, Any], draft: Draft, now: datetime,
    ctx: CallContext, variant: str | None = None,
) -> None:
    """Strengthen the existing memory `row` that `draft` repeats: its importance, use count and
    tags grow, and a near-duplicate's wording is kept as a `variant`."""
    values: dict[str, Any] = {
        "updated_at": now,
        "importance": max(float(row["importance"] or 0), draft["importance"]),
        "access_count": int(row["access_count"] or 0) + 1,
    }
    tags = list(dict.fromkeys(list(row["tags"] or []) + draft["tags"]))
    if tags != list(row["tags"] or []):
        if "search_text" not in row:
            row["search_text"] = (await store.scan(store.where.memories.eq("id", row["id"]),
                                                   columns=["search_text"]))[0]["search_text"]
        values["tags"] = tags
        values["search_text"] = with_tags(
            row.get("search_text") or search_text(row["content"]), tags)
    if variant is not None:
        values["metadata"] = add_variant(row, variant)
    before = {k: row.get(k) for k in values if k != "updated_at"}
    before["updated_at"] = row["updated_at"].isoformat() if row.get("updated_at") else None
    await store.update_memories(store.where.memories.eq("id", row["id"]), values)
    await journal.append("reinforce", [row["id"]], ctx, {"before": {row["id"]: before}})


async def _neighbours(
    store: Store, fresh: list[dict[str, Any]], vectors: np.ndarray
) -> list[list[tuple[dict[str, Any], float]]]:
    """For each new memory, the closest current memories of its scope, most similar first:
    candidates from the in-memory vectors, and only those similar enough to matter (`CLOSE`)
    read back (those searches met before come from the store's row cache) — most new
    memories have none, and cost no read."""
    m = store.where.memories
    base = m.is_null("deleted_at") & m.is_null("valid_until")
    candidates: list[list[tuple[str, float]]] = [[] for _ in fresh]
    for scope in {r["scope"] for r in fresh}:
        members = [i for i, r in enumerate(fresh) if r["scope"] == scope]
        found = await store.nearest_ids(vectors[members], [scope], 2 * NEIGHBOURS, CLOSE)
        for i, near in zip(members, found, strict=True):
            candidates[i] = near
    wanted = list({memory_id for near in candidates for memory_id, _ in near})
    rows = await store.fetch(wanted, base, NEIGHBOUR_COLUMNS) if wanted else {}
    return [[(rows[i], sim) for i, sim in near if i in rows][:NEIGHBOURS] for near in candidates]


async def resolve(
    store: Store, fresh: list[dict[str, Any]], vectors: np.ndarray | None
) -> list[Decision]:
    """Decide, for each new memory in order, what it is to the store and to earlier ones."""
    decisions = [Decision() for _ in fresh]
    if vectors is None or not fresh:
        return decisions
    neighbours = await _neighbours(store, fresh, vectors)
    for i, r in enumerate(fresh):
        decision = decisions[i]
        candidates = list(neighbours[i])
        # Earlier memories of the same batch that were kept.
        for j in range(i):
            if decisions[j].absorbed_by is None and fresh[j]["scope"] == r["scope"]:
                candidates.append((fresh[j], float(vectors[i] @ vectors[j])))
        candidates.sort(key=lambda c: c[1], reverse=True)
        explicit = set(r.get("supersedes") or [])
        for row, sim in candidates:
            if row["id"] in explicit:
                continue
            if r.get("dedup", True) and r["kind"] in FACT_KINDS and row["kind"] == r["kind"]:
                relation = classify(r["content"], row["content"], sim)
                if relation == "duplicate" and not explicit and not decision.supersedes:
                    decision.absorbed_by, decision.absorbed_row, decision.similarity = (
                        row["id"],
                        row,
                        sim,
                    )
                    break
                if relation == "supersedes":
                    if same_line(r, row):
                        decision.supersedes.append(row["id"])
                    else:  # another branch's value: both stay current, the conflict is kept
                        decision.contradicts.append((row["id"], sim))
                    continue
            if sim >= AUTO_LINK and len(decision.related) < AUTO_LINK_MAX:
                decision.related.append((row["id"], sim))
    return decisions


def same_line(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether `new` may replace `old` as the current version without being told: not when
    they were written on different branches (a fact changed on a feature branch still holds on
    the others until someone says it is replaced there too)."""
    a, b = branch_of(new), branch_of(old)
    return a is None or b is None or a == b


def add_variant(row: dict[str, Any], text: str) -> str:
    """The row's metadata with `text` kept as one more wording of the same memory."""
    meta, section = meta_of(row)
    variants = [v for v in section.get("variants", []) if v != text]
    section["variants"] = (variants + [text[:500]])[-MAX_VARIANTS:]
    return with_meta(meta)
