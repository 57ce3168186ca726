"""Facts over time: superseding and timelines.

Superseding never deletes: the old version gets `valid_until` (the end of its validity), a
`supersedes` edge from its successor and `habitus.superseded_by` in its metadata; the new one
lists `habitus.supersedes`. Recall serves current versions (`valid_until IS NULL`) and says when
older ones exist; `timeline` walks the `supersedes` edges both ways. Forgetting the newest
version makes the one it had superseded current again (`reinstate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from habitus.base.errors import NotFound
from habitus.core.clock import utc_now
from habitus.core.history.journal import Journal
from habitus.core.links.edges import add_links_bulk
from habitus.core.meta import meta_of, with_meta
from habitus.core.models import CallContext, History, VersionEntry

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["supersede", "supersede_many", "reinstate", "timeline"]


# --- superseding ----------------------------------------------------------------------------


async def supersede(
    store: Store,
    journal: Journal,
    new_id: str,
    old_ids: Sequence[str],
    ctx: CallContext,
    *,
    detected: bool = False,
    when: datetime | None = None,
    add_links: bool = True,
) -> list[str]:
    """Mark `old_ids` as replaced by `new_id`: end of validity, edges, metadata. Deletes nothing.

    Returns the ids actually superseded (unknown ids raise; already-old versions only get the edge).
    """
    done = await supersede_many(
        store, journal, [(new_id, list(old_ids), detected)], ctx, when=when, add_links=add_links
    )
    return done.get(new_id, [])


async def supersede_many(
    store: Store,
    journal: Journal,
    pairs: Sequence[tuple[str, Sequence[str], bool]],
    ctx: CallContext,
    *,
    when: datetime | None = None,
    add_links: bool = True,
) -> dict[str, list[str]]:
    """Several supersessions (new id, old ids, detected?) in one commit and one journal row."""
    when = when or utc_now()
    wanted = {i for new, olds, _ in pairs for i in (new, *olds)}
    rows = {r["id"]: r for r in await store.get_memories(sorted(wanted))}
    missing = sorted(wanted - set(rows))
    if missing:
        raise NotFound(f"no memory with id {missing[0]!r} to supersede")
    before: dict[str, Any] = {}
    changed: dict[str, dict[str, Any]] = {}
    done: dict[str, list[str]] = {}
    edges: list[tuple[str, str, str, float]] = []

    def remember_before(row: dict[str, Any]) -> None:
        before.setdefault(
            row["id"],
            {
                "metadata": row.get("metadata"),
                "valid_until": row["valid_until"].isoformat() if row.get("valid_until") else None,
            },
        )

    for new_id, olds, detected in pairs:
        for old_id in dict.fromkeys(olds):
            if old_id == new_id:
                continue
            old = changed.get(old_id, rows[old_id])
            edges.append((new_id, old_id, "supersedes", 1.0))
            done.setdefault(new_id, []).append(old_id)
            if old.get("valid_until") is not None:
                continue  # already an old version: only the edge is added
            remember_before(old)
            meta, section = meta_of(old)
            section["superseded_by"] = new_id
            if detected:
                section["superseded_detected"] = True
            changed[old_id] = {**old, "valid_until": when, "metadata": with_meta(meta)}
        if done.get(new_id):
            new = changed.get(new_id, rows[new_id])
            remember_before(new)
            meta, section = meta_of(new)
            section["supersedes"] = list(
                dict.fromkeys([*section.get("supersedes", []), *done[new_id]])
            )
            changed[new_id] = {**new, "metadata": with_meta(meta)}
    if not done:
        return {}
    if changed:
        await store.replace_memories(list(changed.values()))
    ids = list(dict.fromkeys(i for new, olds in done.items() for i in (new, *olds)))
    await journal.append(
        "supersede",
        ids,
        ctx,
        {
            "before": before,
            "detected": [n for n, _, d in pairs if d and n in done],
        },
    )
    if add_links:
        await add_links_bulk(store, journal, edges, ctx)
    return done


async def reinstate(
    store: Store, journal: Journal, forgotten: Sequence[str], ctx: CallContext
) -> list[str]:
    """Make the versions that `forgotten` memories had superseded current again."""
    links = store.where.links
    edges = await store.find_links(
        links.eq("relation", "supersedes") & links.isin("source", list(forgotten)), limit=10_000
    )
    targets = list({e["target"] for e in edges} - set(forgotten))
    if not targets:
        return []
    before: dict[str, Any] = {}
    back: list[str] = []
    for row in await store.get_memories(targets):
        meta, section = meta_of(row)
        if row["valid_until"] is None or section.get("superseded_by") not in forgotten:
            continue
        before[row["id"]] = {
            "metadata": row.get("metadata"),
            "valid_until": row["valid_until"].isoformat(),
        }
        section.pop("superseded_by", None)
        section.pop("superseded_detected", None)
        await store.update_memories(
            store.where.memories.eq("id", row["id"]),
            {"valid_until": None, "metadata": with_meta(meta)},
        )
        back.append(row["id"])
    if back:
        await journal.append("reinstate", back, ctx, {"before": before})
    return back


async def timeline(store: Store, memory_id: str) -> History:
    """Every version of the fact `memory_id` belongs to, oldest first."""
    l_ = store.where.links
    seen: set[str] = {memory_id}
    frontier = [memory_id]
    while frontier:
        edges = await store.find_links(
            l_.eq("relation", "supersedes")
            & (l_.isin("source", frontier) | l_.isin("target", frontier)),
            limit=10_000,
        )
        frontier = []
        for edge in edges:
            for other in (edge["source"], edge["target"]):
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        if len(seen) > 1000:
            break
    rows = await store.get_memories(sorted(seen))
    if not any(r["id"] == memory_id for r in rows):
        raise NotFound(f"no memory with id {memory_id!r}")
    rows.sort(key=lambda r: (r["created_at"], r["id"]))
    versions = []
    for r in rows:
        _, section = meta_of(r)
        status = (
            "deleted"
            if r["deleted_at"] is not None
            else "superseded"
            if r["valid_until"] is not None
            else "current"
        )
        versions.append(
            VersionEntry(
                id=r["id"],
                content=r["content"],
                created_at=r["created_at"],
                valid_until=r["valid_until"],
                status=status,  # type: ignore[arg-type]
                supersedes=list(section.get("supersedes", [])),
                superseded_by=section.get("superseded_by"),
            )
        )
    current = [v.id for v in versions if v.status == "current"]
    return History(id=memory_id, current=current[-1] if current else None, versions=versions)
