"""Real erasure: after `forget --purge` a unique string is nowhere under the store's directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput, NotFound
from habitus.core.models import CallContext, NewMemory

from .memtools import open_service

pytestmark = pytest.mark.anyio

SECRET = "Zqxplumbus7781Vortigaunt"


def files_containing(root: Path, needle: str) -> list[str]:
    """Files under `root` whose bytes hold `needle` (as written, lower- or upper-case)."""
    variants = {needle.encode(), needle.lower().encode(), needle.upper().encode()}
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and any(v in p.read_bytes() for v in variants)
    ]


async def test_purge_leaves_no_trace_on_disk(tmp_path: Path) -> None:
    ctx = CallContext(project_scope="repo:example.com/acme/erase")
    root = tmp_path / "store"
    service = await open_service(root)
    try:
        # The secret lands in a big fragment with other rows, is updated (a new version of the
        # row), reinforced, tagged and linked: every path by which LanceDB keeps old copies.
        others = [
            NewMemory(content=f"Unrelated fact number {i} about module m{i}.") for i in range(150)
        ]
        batch = (
            others[:75]
            + [NewMemory(content=f"The deploy token is {SECRET}", tags=[SECRET.lower()[:20]])]
            + others[75:]
        )
        results = await service.remember_many(batch, ctx=ctx)
        secret_id = results[75].id
        await service.remember(f"The deploy token is {SECRET}", ctx=ctx)  # reinforce
        keep = await service.remember("Deploys run from the release branch", ctx=ctx)
        await service.link(keep.id, secret_id, "related_to", note=f"see {SECRET}", ctx=ctx)
        await service.store.compact()
        await service.forget([secret_id], ctx=ctx)  # soft: still on disk
        await service.restore([secret_id], ctx=ctx)
        assert files_containing(root, SECRET), "the check must see the string before the purge"

        erased = await service.forget([secret_id], purge=True, ctx=ctx)
        assert erased.purged and erased.previews == []
        leftovers = files_containing(root, SECRET)
        print(f"\nerasure: files containing the string after purge: {leftovers}")
        assert leftovers == []

        with pytest.raises(NotFound):
            await service.get(secret_id)
        assert not any(
            SECRET in h.content for h in (await service.recall(SECRET, ctx=ctx)).memories
        )
        # Everything else survived, still searchable, links of others intact.
        assert (await service.stats()).memories == 151
        found = await service.recall("unrelated fact number 42 module m42", ctx=ctx)
        assert found.memories and "42" in found.memories[0].content
        # The journal keeps only that something was erased.
        journal = await service.store.read_journal(None, limit=10_000)
        assert not any(secret_id in (row["ids"] or []) for row in journal)
        assert any(row["op"] == "purge" for row in journal)
        with pytest.raises(InvalidInput, match="erasure"):
            await service.undo(ctx=ctx)
    finally:
        await service.close()
