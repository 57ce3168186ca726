"""Recall asked at another time than the clock (`now`): time expressions, recency and ages
count from it, through the service, the MCP tool and the CLI; unlike `as_of` it hides nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from habitus.base.errors import InvalidInput
from habitus.core.models import CallContext, NewMemory

SCOPE = "garden-notes"


async def _two_episodes(service: Any) -> tuple[str, str]:
    ctx = CallContext(project_scope=SCOPE, client="pytest")
    march, may = await service.remember_many([
        NewMemory(content="I repotted the fern into a bigger clay pot.", kind="episodic",
                  scope=SCOPE, occurred_at=datetime(2023, 3, 2, 10, tzinfo=UTC)),
        NewMemory(content="I repotted the basil into a bigger clay pot.", kind="episodic",
                  scope=SCOPE, occurred_at=datetime(2023, 5, 20, 10, tzinfo=UTC)),
    ], ctx=ctx)
    return march.id, may.id


@pytest.mark.anyio
async def test_time_expressions_and_ages_count_from_now(service: Any) -> None:
    march, may = await _two_episodes(service)

    async def ask(now: datetime | None) -> list[Any]:
        result = await service.recall("what did I repot last week", scope=SCOPE, now=now)
        return result.memories

    in_may = await ask(datetime(2023, 5, 24, 12, tzinfo=UTC))
    assert [h.id for h in in_may] == [may, march]
    assert in_may[0].age == "4 days ago"
    in_march = await ask(datetime(2023, 3, 8, 12, tzinfo=UTC))
    assert in_march[0].id == march
    # A memory after `now` stays visible (`as_of` would hide it); its age does not go negative.
    assert {h.id for h in in_march} == {march, may}
    assert next(h for h in in_march if h.id == may).age == "just now"
    # A naive time is read as UTC.
    assert [h.id for h in await ask(datetime(2023, 5, 24, 12))] == [may, march]
    with pytest.raises(InvalidInput, match="now"):
        await ask(datetime(500, 1, 1, tzinfo=UTC))


@pytest.mark.anyio
async def test_mcp_tool_takes_now(db_path: Path) -> None:
    from tests.test_server import in_memory

    async with in_memory(db_path) as client:
        schema = {t.name: t for t in (await client.list_tools()).tools}["recall"].input_schema
        assert "now" in schema["properties"] and "now" not in schema["required"]
        await client.call_tool("remember", {"content": "Deploys go out from the release "
                                            "branch after the smoke tests pass."})
        later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
        found = await client.call_tool("recall", {"query": "release deploys", "now": later})
        assert not found.is_error
        assert found.structured_content["memories"][0]["age"] == "1 week ago"
        bad = await client.call_tool("recall", {"query": "x", "now": "0500-01-01T00:00:00Z"})
        assert bad.is_error and "now" in bad.content[0].text


def test_cli_takes_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from habitus.cli import cli

    monkeypatch.chdir(tmp_path)
    db = ["--db", str(tmp_path / "store")]
    runner = CliRunner()
    stored = runner.invoke(cli, [*db, "remember", "Use uv to build the wheels", "--json"])
    assert stored.exit_code == 0, stored.output
    later = (datetime.now(UTC) + timedelta(days=3, hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    found = runner.invoke(cli, [*db, "recall", "build wheels", "--now", later, "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["memories"][0]["age"] == "3 days ago"
