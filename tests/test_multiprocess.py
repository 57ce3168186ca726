"""Several assistants, each with its own stdio server, on one store: nothing lost, all seen."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from .servers import stdio_params

pytestmark = pytest.mark.anyio

PER_PROCESS = 60


async def test_two_servers_write_at_once_and_lose_nothing(db_path: Path) -> None:
    async with Client(stdio_params(db_path)) as first, Client(stdio_params(db_path)) as second:
        await first.call_tool("recall", {"query": "warm up"})
        await second.call_tool("recall", {"query": "warm up"})
        ids: dict[str, list[str]] = {"first": [], "second": []}

        async def write(name: str, client: Client) -> None:
            async def one(i: int) -> None:
                result = await client.call_tool(
                    "remember",
                    {
                        "content": f"{name} server fact {i}: module_{i} owns feature {i * 7}",
                        "scope": "global",
                    },
                )
                assert not result.is_error, result.content
                ids[name].append(result.structured_content["id"])

            async with anyio.create_task_group() as tasks:
                for i in range(PER_PROCESS):
                    tasks.start_soon(one, i)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write, "first", first)
            tasks.start_soon(write, "second", second)

        assert len(set(ids["first"]) | set(ids["second"])) == 2 * PER_PROCESS
        for client in (first, second):
            found = await client.call_tool("forget", {"query": "server fact", "scope": "global"})
            assert found.structured_content["count"] == 20  # the preview limit, nothing removed

        # A write in one process is visible to the other at once (well within a second).
        stored = await first.call_tool(
            "remember", {"content": "cross-process canary 4711", "scope": "global"}
        )
        hit = await second.call_tool(
            "recall", {"query": "canary 4711", "scope": "global", "limit": 1}
        )
        assert hit.structured_content["memories"][0]["id"] == stored.structured_content["id"]

    from habitus.core.config import Settings
    from habitus.core.service import MemoryService

    service = await MemoryService.open(Settings(db=str(db_path)))
    try:
        stats = await service.stats()
        assert stats.memories == 2 * PER_PROCESS + 1
        rows = await service.store.scan(None, columns=["id"])
        assert len({r["id"] for r in rows}) == len(rows)
    finally:
        await service.close()
