"""Superseding, timelines, undo and time travel on a real store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput
from habitus.core.models import CallContext
from habitus.core.requests import LinkSpec

from .memtools import open_service

pytestmark = pytest.mark.anyio


async def test_supersede_history_undo_and_as_of(tmp_path: Path) -> None:
    ctx = CallContext(project_scope="repo:example.com/acme/history")
    service = await open_service(tmp_path / "store")
    try:
        v1 = await service.remember("The default branch is main.", ctx=ctx)
        await asyncio.sleep(0.05)
        between = datetime.now(UTC)
        await asyncio.sleep(0.05)
        v2 = await service.remember("The default branch is now develop.", ctx=ctx)
        assert v2.supersedes == [v1.id] and v2.detected
        v3 = await service.remember("We release from the trunk branch", supersedes=[v2.id], ctx=ctx)
        assert v3.supersedes == [v2.id] and not v3.detected

        hits = (await service.recall("default branch", ctx=ctx)).memories
        assert [h.id for h in hits][:1] == [v3.id] and hits[0].supersedes == [v2.id]
        assert v1.id not in {h.id for h in hits} and v2.id not in {h.id for h in hits}
        with_old = (await service.recall("default branch", include_history=True, ctx=ctx)).memories
        old = next(h for h in with_old if h.id == v1.id)
        assert old.superseded_by == v2.id and old.valid_until is not None

        timeline = await service.history(v1.id)
        assert [v.id for v in timeline.versions] == [v1.id, v2.id, v3.id]
        assert [v.status for v in timeline.versions] == ["superseded", "superseded", "current"]
        assert timeline.current == v3.id

        past = (await service.recall("default branch", as_of=between, ctx=ctx)).memories
        assert [h.id for h in past] == [v1.id]

        undone = await service.undo(ctx=ctx)  # the explicit supersession by v3
        assert "supersede" in undone.ops and v3.id in undone.ids
        now_ids = {h.id for h in (await service.recall("default branch", ctx=ctx)).memories}
        assert v2.id in now_ids and v3.id not in now_ids
        await service.undo(ctx=ctx)  # v2 and its detected supersession
        assert [h.id for h in (await service.recall("default branch", ctx=ctx)).memories] == [v1.id]
        assert (await service.history(v1.id)).current == v1.id

        # Forgetting the newest version brings the previous one back; undo restores both.
        v4 = await service.remember("The default branch is release.", ctx=ctx)
        assert v4.supersedes == [v1.id]
        await service.forget([v4.id], ctx=ctx)
        assert [h.id for h in (await service.recall("default branch", ctx=ctx)).memories] == [v1.id]
        await service.undo(ctx=ctx)
        assert [h.id for h in (await service.recall("default branch", ctx=ctx)).memories] == [v4.id]

        ops = await service.operations()
        assert ops[0].op == "undo" and ops[0].versions["memories"] > 0
        with pytest.raises(InvalidInput, match="already undone"):
            await service.undo(undone.operation, ctx=ctx)
    finally:
        await service.close()


async def test_links_are_automatic_merged_and_followed(tmp_path: Path) -> None:
    ctx = CallContext(project_scope="repo:example.com/acme/links")
    service = await open_service(tmp_path / "store")
    try:
        a = await service.remember(
            "The payment webhook retries failed deliveries five times", ctx=ctx
        )
        b = await service.remember(
            "Failed payment webhook deliveries are retried with backoff", ctx=ctx
        )
        assert b.related == [a.id]
        assert (await service.link(a.id, b.id, "related_to", ctx=ctx)).created is False  # merged
        assert len(await service.links_of(a.id)) == 1
        c = await service.remember(
            "Backoff doubles up to one hour", links=[LinkSpec(target=b.id, relation="part_of")],
            ctx=ctx,
        )
        plain = (await service.recall("payment webhook", limit=2, ctx=ctx)).memories
        assert c.id not in {h.id for h in plain}
        followed = (
            await service.recall("payment webhook", limit=2, follow_links=True, ctx=ctx)
        ).memories
        hop = next(h for h in followed if h.id == c.id)
        assert hop.via == b.id and hop.score < min(h.score for h in followed if h.via is None)
    finally:
        await service.close()
