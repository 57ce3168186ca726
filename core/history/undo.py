"""Undo: each journal row reverted by its inverse.

A remembered memory is soft-deleted, a reinforcement restores the previous values, a
supersession gives the old version its validity back, a link is removed, a forget is restored.
Undo is logical: it works across processes and is not bounded by LanceDB's version retention.
An erasure (`purge`) cannot be undone, by design.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from habitus.base.errors import InvalidInput, NotFound
from habitus.core.clock import utc_now
from habitus.core.history.journal import Journal
from habitus.core.models import CallContext, UndoResult

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["undo"]


async def undo(
    store: Store, journal: Journal, op_id: str | None, ctx: CallContext
) -> UndoResult:
    """Revert the last operation not yet undone, or the operation (or journal row) `op_id`."""
    rows = await journal.rows()
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
        affected.extend(await _revert(store, entry))
    affected = list(dict.fromkeys(affected))
    await journal.append("undo", affected, ctx, {"undoes": target})
    return UndoResult(
        operation=target,
        ops=[e["op"] for e in reversed(entries)],
        ids=affected,
        at=entries[-1]["at"],
    )


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _revert(store: Store, entry: dict[str, Any]) -> list[str]:
    """Apply the inverse of one journal row; returns the memory ids it touched."""
    m = store.where.memories
    op, ids, detail = entry["op"], list(entry["ids"] or []), entry["_detail"]
    before: dict[str, Any] = detail.get("before", {})
    present = {r["id"]: r for r in await store.get_memories(ids)} if ids else {}
    if op in ("remember", "consolidate"):
        live = [i for i in ids if i in present and present[i]["deleted_at"] is None]
        if live:
            await store.update_memories(m.isin("id", live), {"deleted_at": utc_now()})
        return ids
    if op in ("forget", "archive"):
        gone = [i for i in ids if i in present and present[i]["deleted_at"] is not None]
        if gone:
            await store.update_memories(m.isin("id", gone), {"deleted_at": None})
        return ids
    if op == "restore":
        back = [i for i in ids if i in present and present[i]["deleted_at"] is None]
        if back:
            await store.update_memories(m.isin("id", back), {"deleted_at": utc_now()})
        return ids
    if op in ("reinforce", "annotate"):
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
            await store.delete_links(store.where.links.isin("id", detail["links"]))
            return []
        link_id = detail.get("link")
        if link_id:
            if detail.get("created"):
                await store.delete_links(store.where.links.eq("id", link_id))
            elif detail.get("before"):
                await store.update_link(link_id, detail["before"])
        return []
    return []
