"""Facts over time: superseding, timelines, the operation journal, undo and time travel.

- **Superseding** never deletes: the old version gets `valid_until` (the end of its validity), a
  `supersedes` edge from its successor and `habitus.superseded_by` in its metadata; the new one
  lists `habitus.supersedes`. Recall serves current versions (`valid_until IS NULL`) and says
  when older ones exist; `timeline` walks the `supersedes` edges both ways.
- **Journal**: every write appends a row (`op`, `ids`, `at`) whose `detail` JSON holds the
  operation it belongs to (one `remember` may write several rows: the memory, a supersession,
  links), the table versions it produced (`versions`) and what undo needs to put back (`before`).
- **Undo** is logical: each journal row is reverted by its inverse (a remembered memory is
  soft-deleted, a reinforcement restores the previous values, a supersession gives the old
  version its validity back, a link is removed, a forget is restored). It works across
  processes and is not bounded by LanceDB's version retention. An erasure (`purge`) cannot be
  undone, by design.
- **Time travel**: `recall(as_of=T)` filters on the validity interval of each memory
  (created_at ≤ T < valid_until, and not deleted at T), so it answers from the past for as long
  as the history is kept — forever, unless purged. The exact table state of a past moment is
  also reachable through the versions each journal row records, but only within the writer's
  VERSION_RETENTION (minutes); older versions are compacted away.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput, NotFound
from .models import CallContext, History, Operation, UndoResult, VersionEntry

if TYPE_CHECKING:
    from habitus.store import Predicate

    from .service import MemoryService

__all__ = [
    "operation",
    "current_operation",
    "meta_of",
    "with_meta",
    "supersede",
    "timeline",
    "undo",
    "operations",
    "as_of_filter",
    "current_filter",
    "demote_superseded",
]

# An old version keeps this share of its score when history is included.
SUPERSEDED_PENALTY = 0.5

_OPERATION: contextvars.ContextVar[str | None] = contextvars.ContextVar("habitus_op", default=None)
UNDOABLE_NOT = {"purge", "undo"}


@contextmanager
def operation(new_id: Any) -> Iterator[str]:
    """Group every journal row written inside into one undoable operation."""
    current = _OPERATION.get()
    if current is not None:
        yield current
        return
    op_id = new_id()
    token = _OPERATION.set(op_id)
    try:
        yield op_id
    finally:
        _OPERATION.reset(token)


def current_operation() -> str | None:
    return _OPERATION.get()


def _now() -> datetime:
    return datetime.now(UTC)


# --- metadata -------------------------------------------------------------------------------


def meta_of(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's metadata and its `habitus` section (created if absent)."""
    try:
        meta = json.loads(row.get("metadata") or "{}")
    except (TypeError, ValueError):
        meta = {}
    if not isinstance(meta, dict):
        meta = {"value": meta}
    section = meta.get("habitus")
    if not isinstance(section, dict):
        section = {}
        meta["habitus"] = section
    return meta, section


def branch_of(row: dict[str, Any], metadata: dict[str, Any] | None = None) -> str | None:
    """The git branch a memory was written on (None: not recorded, or not about a project);
    `metadata` is the row's, when it is already parsed."""
    section = (meta_of(row)[0] if metadata is None else metadata).get("habitus")
    return (section.get("branch") or None) if isinstance(section, dict) else None


def with_meta(meta: dict[str, Any]) -> str:
    if not meta.get("habitus"):
        meta = {k: v for k, v in meta.items() if k != "habitus"}
    return json.dumps(meta, ensure_ascii=False, default=str)


# --- filters --------------------------------------------------------------------------------


def current_filter(service: MemoryService) -> Predicate:
    """Current versions only: not superseded."""
    return service.store.m.is_null("valid_until")


def as_of_filter(service: MemoryService, when: datetime) -> Predicate:
    """Memories that were stored, valid and not forgotten at `when`."""
    m = service.store.m
    return m.lt("created_at", when) & (m.is_null("valid_until") | m.ge("valid_until", when))


# --- superseding ----------------------------------------------------------------------------


async def supersede(
    service: MemoryService,
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
        service, [(new_id, list(old_ids), detected)], ctx, when=when, add_links=add_links
    )
    return done.get(new_id, [])


async def supersede_many(
    service: MemoryService,
    pairs: Sequence[tuple[str, Sequence[str], bool]],
    ctx: CallContext,
    *,
    when: datetime | None = None,
    add_links: bool = True,
) -> dict[str, list[str]]:
    """Several supersessions (new id, old ids, detected?) in one commit and one journal row."""
    import pyarrow as pa

    store = service.store
    when = when or _now()
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
        schema = await store.memories.schema()
        table = pa.Table.from_pylist(
            [{k: r.get(k) for k in schema.names} for r in changed.values()], schema=schema
        )
        await store.merge_memories(table)  # type: ignore[arg-type]
    ids = list(dict.fromkeys(i for new, olds in done.items() for i in (new, *olds)))
    await service._journal(
        "supersede",
        ids,
        ctx,
        {
            "before": before,
            "detected": [n for n, _, d in pairs if d and n in done],
        },
    )
    if add_links:
        from .links import add_links_bulk

        await add_links_bulk(service, edges, ctx)
    return done


async def reinstate(
    service: MemoryService, forgotten: Sequence[str], ctx: CallContext
) -> list[str]:
    """Make the versions that `forgotten` memories had superseded current again."""
    store = service.store
    edges = await store.find_links(
        store.l.eq("relation", "supersedes") & store.l.isin("source", list(forgotten)), limit=10_000
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
            store.m.eq("id", row["id"]), {"valid_until": None, "metadata": with_meta(meta)}
        )
        back.append(row["id"])
    if back:
        await service._journal("reinstate", back, ctx, {"before": before})
    return back


async def timeline(service: MemoryService, memory_id: str) -> History:
    """Every version of the fact `memory_id` belongs to, oldest first."""
    store = service.store
    l_ = store.l
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


# --- journal and undo -----------------------------------------------------------------------


async def _journal_rows(service: MemoryService) -> list[dict[str, Any]]:
    rows = await service.store.read_journal(None, limit=10_000_000)
    for row in rows:
        try:
            row["_detail"] = json.loads(row.get("detail") or "{}")
        except ValueError:
            row["_detail"] = {}
        row["_op"] = row["_detail"].get("operation") or row["id"]
    rows.sort(key=lambda r: (r["at"], r["id"]))
    return rows


async def operations(service: MemoryService, limit: int = 20) -> list[Operation]:
    """The most recent operations, newest first."""
    rows = await _journal_rows(service)
    grouped: dict[str, Operation] = {}
    for row in rows:
        op = grouped.get(row["_op"])
        if op is None:
            grouped[row["_op"]] = Operation(
                id=row["_op"],
                op=row["op"],
                ids=list(row["ids"] or []),
                at=row["at"],
                versions=row["_detail"].get("versions", {}),
            )
        else:
            op.ids = list(dict.fromkeys([*op.ids, *(row["ids"] or [])]))
            op.versions = row["_detail"].get("versions", op.versions)
    return sorted(grouped.values(), key=lambda o: o.at, reverse=True)[:limit]


async def undo(service: MemoryService, op_id: str | None, ctx: CallContext) -> UndoResult:
    """Revert the last operation not yet undone, or the operation (or journal row) `op_id`."""
    rows = await _journal_rows(service)
    undone = {r["_detail"].get("undoes") for r in rows if r["op"] == "undo"}
    if op_id:
        target = next((r["_op"] for r in rows if op_id in (r["id"], r["_op"])), None)
        if target is None:
            raise NotFound(f"no operation {op_id!r} in the journal")
        if target in undone:
            raise InvalidInput(f"operation {op_id!r} was already undone")
    else:
        target = None
        for row in reversed(rows):
            if row["op"] == "undo" or row["_op"] in undone:
                continue
            if row["op"] == "purge":
                raise InvalidInput(
                    "the last operation was an erasure (purge), which cannot be undone"
                )
            if row["op"] in ("access",):
                continue
            target = row["_op"]
            break
        if target is None:
            raise InvalidInput("nothing to undo")
    entries = [r for r in rows if r["_op"] == target]
    if any(r["op"] == "purge" for r in entries):
        raise InvalidInput("an erasure (purge) cannot be undone")
    if any(r["op"] == "undo" for r in entries):
        raise InvalidInput("an undo cannot itself be undone; remember or restore instead")
    affected: list[str] = []
    for entry in reversed(entries):
        affected.extend(await _revert(service, entry))
    affected = list(dict.fromkeys(affected))
    await service._journal("undo", affected, ctx, {"undoes": target})
    return UndoResult(
        operation=target,
        ops=[e["op"] for e in reversed(entries)],
        ids=affected,
        at=entries[-1]["at"],
    )


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _revert(service: MemoryService, entry: dict[str, Any]) -> list[str]:
    """Apply the inverse of one journal row; returns the memory ids it touched."""
    store = service.store
    m = store.m
    op, ids, detail = entry["op"], list(entry["ids"] or []), entry["_detail"]
    before: dict[str, Any] = detail.get("before", {})
    present = {r["id"]: r for r in await store.get_memories(ids)} if ids else {}
    if op in ("remember", "consolidate"):
        live = [i for i in ids if i in present and present[i]["deleted_at"] is None]
        if live:
            await store.update_memories(m.isin("id", live), {"deleted_at": _now()})
        return ids
    if op in ("forget", "archive"):
        gone = [i for i in ids if i in present and present[i]["deleted_at"] is not None]
        if gone:
            await store.update_memories(m.isin("id", gone), {"deleted_at": None})
        return ids
    if op == "restore":
        back = [i for i in ids if i in present and present[i]["deleted_at"] is None]
        if back:
            await store.update_memories(m.isin("id", back), {"deleted_at": _now()})
        return ids
    if op == "reinforce":
        for memory_id, values in before.items():
            if memory_id not in present:
                continue
            restored: dict[str, Any] = {}
            for key in ("importance", "access_count", "metadata", "search_text"):
                if key in values:
                    restored[key] = values[key]
            if "tags" in values:
                restored["tags"] = values["tags"]
            if values.get("updated_at"):
                restored["updated_at"] = _ts(values["updated_at"])
            if restored:
                await store.update_memories(m.eq("id", memory_id), restored)
        return ids
    if op in ("supersede", "reinstate"):
        for memory_id, values in before.items():
            if memory_id not in present:
                continue
            restored = {"metadata": values.get("metadata")}
            if "valid_until" in values:
                restored["valid_until"] = _ts(values["valid_until"])
            await store.update_memories(m.eq("id", memory_id), restored)
        return ids
    if op == "link":
        if detail.get("links") and detail.get("created"):
            await store.delete_links(store.l.isin("id", detail["links"]))
            return []
        link_id = detail.get("link")
        if link_id:
            if detail.get("created"):
                await store.delete_links(store.l.eq("id", link_id))
            elif detail.get("before"):
                await store.update_link(link_id, detail["before"])
        return []
    return []


def demote_superseded(ranked: list[Any]) -> list[Any]:
    """Old versions rank below current ones of similar relevance."""
    for cand in ranked:
        if cand.row.get("valid_until") is not None:
            cand.score *= SUPERSEDED_PENALTY
    return sorted(ranked, key=lambda c: c.score, reverse=True)
