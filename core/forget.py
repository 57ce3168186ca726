"""Forgetting: soft deletes (undoable, and undone by `restore`), previews of forgetting by
search or by decay, and erasure (`purge`, see `erasure`). Forgetting the newest version of a
fact makes the version it had superseded current again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from habitus.base.errors import InvalidInput, NotFound
from habitus.core import decay
from habitus.core.clock import utc_now
from habitus.core.filters import current, live, read_scopes
from habitus.core.history.journal import Journal, operation
from habitus.core.history.versions import reinstate
from habitus.core.maintenance import erasure
from habitus.core.models import CallContext, ForgetResult
from habitus.core.recall.access import with_uses
from habitus.core.recall.pipeline import Recall
from habitus.core.requests import ForgetRequest, RecallRequest
from habitus.core.text.terms import preview
from habitus.core.validation import check_ids

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Forget"]


class Forget:
    """Soft-deletes, archives, restores and erases memories, journaling each."""

    def __init__(self, store: Store, journal: Journal, recall: Recall) -> None:
        self.store = store
        self.journal = journal
        self.recall = recall

    async def __call__(self, request: ForgetRequest, ctx: CallContext) -> ForgetResult:
        """Forget by ids, by search or by decay, as `request` says (see `MemoryService.forget`)."""
        ids, purge, dry_run = request.ids, request.purge, request.dry_run
        if request.restore:
            if not ids or request.query or request.decayed or purge:
                raise InvalidInput("restore takes the ids of forgotten memories and nothing else")
            back = await self.restore(ids, ctx)
            return ForgetResult(ids=back, count=len(back), dry_run=False, purged=False,
                                restored=True)
        if sum(map(bool, (ids, request.query, request.decayed))) > 1:
            raise InvalidInput("give ids, a query or decayed, not several")
        if request.decayed:
            if purge:
                raise InvalidInput("decayed memories are archived (soft), never purged")
            with operation():
                return await self.decayed(request.scope, request.threshold, dry_run,
                                          request.limit, ctx)
        if ids:
            chosen = check_ids(ids)
            rows = await self.store.get_memories(chosen)
            known = {r["id"] for r in rows if purge or r["deleted_at"] is None}
            missing = [i for i in chosen if i not in known]
            if missing:
                raise NotFound(f"no memory with id {missing[0]!r}; recall it first to get its id")
            dry = bool(dry_run)
        elif request.query:
            found = await self.recall(RecallRequest(
                query=request.query, kinds=request.kinds, tags=request.tags, scope=request.scope,
                limit=request.limit), ctx)
            rows = await self.store.get_memories([h.id for h in found.memories])
            dry = True if dry_run is None else dry_run
        else:
            raise InvalidInput("say which memories to forget: ids, or a query to preview")
        chosen_ids = [r["id"] for r in rows]
        result = ForgetResult(
            ids=chosen_ids, count=len(chosen_ids), dry_run=dry, purged=purge and not dry,
            previews=[preview(r["content"]) for r in rows],
        )
        if dry or not chosen_ids:
            return result
        if purge:
            await erasure.purge(self.store, self.journal, chosen_ids, ctx)
            result.previews = []
        else:
            with operation():
                await self.store.update_memories(
                    self.store.where.memories.isin("id", chosen_ids), {"deleted_at": utc_now()}
                )
                await self.journal.append("forget", chosen_ids, ctx)
                await reinstate(self.store, self.journal, chosen_ids, ctx)
        return result

    async def decayed(
        self, scope: str | None, threshold: float, dry_run: bool | None, limit: int,
        ctx: CallContext,
    ) -> ForgetResult:
        """Archive current memories whose strength fell below `threshold` (previewed first)."""
        now = utc_now()
        rows = await self.store.scan(
            live(self.store, read_scopes(scope, ctx)) & current(self.store),
            columns=["id", "content", "importance", "access_count", "last_access", "updated_at",
                     "created_at"],
        )
        rows = await with_uses(self.store, rows)
        faded = sorted(((decay.strength(r, now), r) for r in rows), key=lambda pair: pair[0])
        shown = max(limit, 1) if dry_run is not False else None
        faded = [(s, r) for s, r in faded if s < threshold][:shown]
        dry = True if dry_run is None else dry_run
        chosen = [r["id"] for _, r in faded]
        result = ForgetResult(
            ids=chosen, count=len(chosen), dry_run=dry, purged=False,
            previews=[f"[strength {s:.2f}] {preview(r['content'])}" for s, r in faded],
        )
        if not dry and chosen:
            await self.store.update_memories(
                self.store.where.memories.isin("id", chosen), {"deleted_at": now}
            )
            await self.journal.append(
                "archive", chosen, ctx, {"reason": "decayed", "threshold": threshold}
            )
        return result

    async def restore(self, ids: Sequence[str], ctx: CallContext) -> list[str]:
        """Undo a soft delete."""
        chosen = check_ids(list(ids))
        m = self.store.where.memories
        rows = await self.store.scan(m.isin("id", chosen) & m.not_null("deleted_at"))
        restored = [r["id"] for r in rows]
        if restored:
            await self.store.update_memories(m.isin("id", restored), {"deleted_at": None})
            await self.journal.append("restore", restored, ctx)
        return restored
