"""Links that work: edge identity, automatic links on write (A-MEM) and one-hop link following.

- An edge is identified by (source, relation, target); for the symmetric relations
  (`related_to`, `contradicts`) the two ends are ordered first, so A→B and B→A are one edge and
  adding it twice merges it (the higher weight and the latest note win).
- On `remember`, memories above `AUTO_LINK` cosine similarity (at most `AUTO_LINK_MAX`) are
  linked `related_to` with the similarity as weight.
- `recall(follow_links=True)` adds the neighbours of the top results, one hop, scored
  `parent score × edge weight × FOLLOW_DISCOUNT`, each marked with `via`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from habitus.core.clock import utc_now
from habitus.core.history.journal import Journal
from habitus.core.models import CallContext, LinkResult
from habitus.core.recall.ranking import Candidate
from habitus.core.text.terms import content_hash

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = [
    "link_key", "SYMMETRIC", "add_link", "add_links_bulk", "links_of", "follow", "AUTO_LINK",
    "AUTO_LINK_MAX",
]

SYMMETRIC = frozenset({"related_to", "contradicts"})
AUTO_LINK = 0.70
AUTO_LINK_MAX = 3
FOLLOW_DISCOUNT = 0.5
# Relations worth following from a hit: not the history edges (those are served by history()).
FOLLOWED = ("related_to", "depends_on", "part_of", "example_of", "derived_from", "contradicts")


def link_key(source: str, target: str, relation: str) -> str:
    if relation in SYMMETRIC and target < source:
        source, target = target, source
    return content_hash(f"{source}\x00{relation}\x00{target}")[:24]


async def add_link(
    store: Store, journal: Journal, source: str, target: str, relation: str, note: str,
    weight: float, ctx: CallContext,
) -> LinkResult:
    """Add one edge, or merge it into the same edge (the higher weight, the newer note)."""
    link_id = link_key(source, target, relation)
    existing = await store.find_links(store.where.links.eq("id", link_id), limit=1)
    before: dict[str, Any] = {}
    if existing:
        values: dict[str, Any] = {"weight": max(weight, float(existing[0]["weight"] or 0))}
        if note:
            values["note"] = note
        before = {k: existing[0][k] for k in values}
        await store.update_link(link_id, values)
        created = False
    else:
        await store.add_links([{
            "id": link_id, "source": source, "target": target, "relation": relation,
            "weight": weight, "note": note, "created_at": utc_now(),
        }])
        created = True
    await journal.append("link", [source, target], ctx, {
        "relation": relation, "link": link_id, "created": created, "before": before,
    })
    return LinkResult(
        source=source, target=target, relation=relation,  # type: ignore[arg-type]
        note=note or (existing[0]["note"] if existing else ""), weight=weight, created=created,
    )


async def add_links_bulk(
    store: Store,
    journal: Journal,
    edges: list[tuple[str, str, str, float]],
    ctx: CallContext,
    *,
    from_new: bool = False,
) -> list[tuple[str, str]]:
    """Add many new edges in one commit (existing ones are left as they are); journaled once.

    `from_new` says every edge starts at a memory created just now, which has no edges yet,
    so there is nothing to look up; such edges are committed with the journal's rows (see
    `Store.add_links`)."""
    wanted: dict[str, tuple[str, str, str, float]] = {}
    for source, target, relation, weight in edges:
        if source != target:
            wanted.setdefault(
                link_key(source, target, relation), (source, target, relation, weight)
            )
    if not wanted:
        return []
    existing = set() if from_new else {
        r["id"] for r in await store.find_links(store.where.links.isin("id", list(wanted)),
                                                limit=len(wanted))
    }
    now = utc_now()
    rows = [
        {
            "id": key,
            "source": s,
            "target": t,
            "relation": rel,
            "weight": float(w),
            "note": "",
            "created_at": now,
        }
        for key, (s, t, rel, w) in wanted.items()
        if key not in existing
    ]
    if not rows:
        return []
    await store.add_links(rows, deferred=from_new)
    await journal.append(
        "link",
        list(dict.fromkeys(i for r in rows for i in (r["source"], r["target"]))),
        ctx,
        {"links": [r["id"] for r in rows], "created": True, "auto": True},
    )
    return [(r["source"], r["target"]) for r in rows]


async def links_of(store: Store, memory_id: str) -> list[LinkResult]:
    """Every edge that starts or ends at a memory."""
    l_ = store.where.links
    rows = await store.find_links(l_.eq("source", memory_id) | l_.eq("target", memory_id))
    return [LinkResult(source=r["source"], target=r["target"], relation=r["relation"],
                       note=r["note"] or "", weight=float(r["weight"]), created=False)
            for r in rows]


async def follow(
    store: Store, ranked: list[Candidate], top: int, where: Any
) -> tuple[list[Candidate], dict[str, str]]:
    """`ranked` with the one-hop neighbours of its first `top` entries merged into the top.

    Returns the new ranking and, for each added memory, the id of the hit it was reached from;
    the caller shows `top + len(via)` results.
    """
    if not ranked:
        return ranked, {}
    l_ = store.where.links
    heads = {c.row["id"]: c for c in ranked[:top]}
    ids = list(heads)
    edges = await store.find_links(
        l_.isin("relation", FOLLOWED) & (l_.isin("source", ids) | l_.isin("target", ids)),
        limit=20 * len(ids),
    )
    present = set(heads)
    reach: dict[str, tuple[float, str]] = {}
    for edge in edges:
        for here, there in ((edge["source"], edge["target"]), (edge["target"], edge["source"])):
            if here in heads and there not in present:
                score = heads[here].score * float(edge["weight"] or 0.5) * FOLLOW_DISCOUNT
                if score > reach.get(there, (0.0, ""))[0]:
                    reach[there] = (score, here)
    if not reach:
        return ranked, {}
    rows = await store.scan(store.where.memories.isin("id", list(reach)) & where, limit=len(reach))
    added = []
    via: dict[str, str] = {}
    for row in rows:
        score, parent = reach[row["id"]]
        added.append(Candidate(row, score=score))
        via[row["id"]] = parent
    # The neighbours join the top results (below any head they outscore is fine); the rest of
    # the ranking follows without them.
    head = sorted([*ranked[:top], *added], key=lambda c: c.score, reverse=True)
    rest = [c for c in ranked[top:] if c.row["id"] not in via]
    return [*head, *rest], via
