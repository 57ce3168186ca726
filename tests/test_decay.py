"""The forgetting curve: strength fades with disuse, grows with use, feeds ranking and archiving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from habitus.core import decay
from habitus.core.models import CallContext

from .memtools import open_service

pytestmark = pytest.mark.anyio


@pytest.mark.fast
def test_strength_curve() -> None:
    now = datetime.now(UTC)
    row = {
        "importance": 0.5,
        "access_count": 0,
        "created_at": now - timedelta(days=30),
        "updated_at": now - timedelta(days=30),
        "last_access": None,
    }
    assert decay.strength(row, now) == pytest.approx(0.3679, abs=1e-3)  # e^-1 after BASE_DAYS
    used = {**row, "access_count": 4}
    assert decay.strength(used, now) > decay.strength(row, now)
    recent = {**row, "last_access": now - timedelta(days=1)}
    assert decay.strength(recent, now) > 0.95
    # Ranking follows what was written, not what was recalled: a recall must not change the
    # answer to the next one (same store, same query, same results).
    assert decay.rank_factor(recent, now) == decay.rank_factor(row, now)
    rewritten = {**row, "updated_at": now - timedelta(days=1)}
    assert decay.rank_factor(row, now) < decay.rank_factor(rewritten, now) <= 1.0


async def test_decayed_memories_are_previewed_then_archived(tmp_path: Path) -> None:
    ctx = CallContext(project_scope="repo:example.com/acme/decay")
    service = await open_service(tmp_path / "store")
    try:
        long_ago = datetime.now(UTC) - timedelta(days=400)
        old = await service.remember(
            "The legacy FTP importer runs on Sundays", occurred_at=long_ago, ctx=ctx
        )
        m = service.store.where.memories
        await service.store.update_memories(m.eq("id", old.id), {"updated_at": long_ago})
        fresh = await service.remember("The FTP importer was replaced by an S3 sync", ctx=ctx)
        preview = await service.forget(decayed=True, ctx=ctx)
        assert preview.dry_run and preview.ids == [old.id] and "strength" in preview.previews[0]
        assert (await service.stats()).memories == 2
        done = await service.forget(decayed=True, dry_run=False, ctx=ctx)
        assert done.ids == [old.id] and (await service.get(old.id)).deleted
        await service.undo(ctx=ctx)
        assert not (await service.get(old.id)).deleted
        ranked = (await service.recall("FTP importer", ctx=ctx)).memories
        strengths = {h.id: h.strength for h in ranked}
        assert strengths[old.id] < 0.01 and strengths[fresh.id] > 0.99
        # Recalled just now, the old memory is in use again: no longer faded.
        assert (await service.forget(decayed=True, ctx=ctx)).ids == []
    finally:
        await service.close()
