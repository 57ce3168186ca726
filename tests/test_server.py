"""The MCP server driven by the SDK's client: in memory, and as a real process over stdio,
SSE and streamable HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client

from habitus.core.config import Settings
from habitus.core.project.scope import Scope
from habitus.server import INSTRUCTIONS, Runtime, build_server

from .servers import http_server, stdio_params

pytestmark = pytest.mark.anyio

TOOLS = {
    "remember": {"read_only": False, "destructive": False},
    "recall": {"read_only": True, "destructive": False},
    "reflect": {"read_only": False, "destructive": False},  # consolidate + dry_run=false writes
    "forget": {"read_only": False, "destructive": True},
    "link": {"read_only": False, "destructive": False},
    # contributed by the built-in procedural-memory plugin
    "submit_trajectory": {"read_only": False, "destructive": False},
    "find_procedures": {"read_only": True, "destructive": False},
    "report_outcome": {"read_only": False, "destructive": False},
}


@asynccontextmanager
async def in_memory(db: Path) -> AsyncIterator[Client]:
    runtime = Runtime(
        Settings(db=str(db)), Scope(id="repo:example.com/acme/app", kind="repo", root=None)
    )
    try:
        async with Client(build_server(runtime)) as client:
            yield client
    finally:
        await runtime.close()


async def exercise_all_tools(client: Client) -> dict[str, Any]:
    """Call every tool once the way an assistant would; returns what was stored."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == set(TOOLS)
    first = await client.call_tool(
        "remember",
        {
            "content": "The payments service retries webhooks 5 times with exponential backoff",
            "tags": ["payments"],
            "importance": 0.7,
        },
    )
    assert not first.is_error, first.content
    a = first.structured_content
    assert a["status"] == "created" and a["scope"]
    second = await client.call_tool(
        "remember",
        {
            "content": "Webhook retries were raised from 3 to 5 after the March outage",
            "kind": "episodic",
            "links": [{"target": a["id"], "relation": "related_to"}],
        },
    )
    b = second.structured_content
    assert b["links"] == [a["id"]]

    found = await client.call_tool(
        "recall", {"query": "how often are webhooks retried", "limit": 5}
    )
    assert not found.is_error
    result = found.structured_content
    assert result["memories"][0]["id"] in {a["id"], b["id"]}
    assert {"id", "kind", "scope", "score", "age", "tokens"} <= set(result["memories"][0])
    assert result["tokens_used"] > 0

    linked = await client.call_tool(
        "link", {"source": b["id"], "target": a["id"], "relation": "supersedes"}
    )
    assert linked.structured_content["created"] is True
    bundle = await client.call_tool("reflect", {"topic": "webhooks"})
    assert not bundle.is_error
    assert bundle.structured_content["groups"][0]["reason"] == "topic"

    preview = await client.call_tool("forget", {"query": "webhook outage"})
    assert preview.structured_content["dry_run"] is True
    gone = await client.call_tool("forget", {"ids": [b["id"]]})
    assert gone.structured_content["count"] == 1
    after = await client.call_tool("recall", {"query": "webhook retries outage"})
    assert b["id"] not in {m["id"] for m in after.structured_content["memories"]}
    back = await client.call_tool("forget", {"ids": [b["id"]], "restore": True})
    assert back.structured_content["restored"] is True
    assert back.structured_content["ids"] == [b["id"]]
    again = await client.call_tool("recall", {"query": "webhook retries outage"})
    assert b["id"] in {m["id"] for m in again.structured_content["memories"]}
    await client.call_tool("forget", {"ids": [b["id"]]})
    return {"kept": a["id"], "forgotten": b["id"]}


async def assert_bad_calls_are_clear_errors(client: Client) -> None:
    bad_calls = [
        ("recall", {"query": ""}),
        ("recall", {"query": "x", "limit": 1000}),
        ("remember", {"content": "x", "kind": "dream"}),
        ("remember", {"content": "x", "importance": 7}),
        ("remember", {}),
        ("link", {"source": "a", "target": "a"}),
        ("link", {"source": "nope", "target": "nada"}),
        ("forget", {"ids": ["does-not-exist"]}),
        ("forget", {}),
        ("forget", {"restore": True}),
        ("forget", {"query": "webhooks", "restore": True}),
        ("recall", {"query": "x", "scope": "bad scope!"}),
        # Booleans are not numbers, numbers and strings are not booleans.
        ("recall", {"query": "x", "limit": True}),
        ("recall", {"query": "x", "limit": "5"}),
        ("recall", {"query": "x", "token_budget": True}),
        ("recall", {"query": "x", "include_history": 1}),
        ("remember", {"content": "x", "importance": True}),
        ("forget", {"ids": ["x"], "purge": "yes"}),
        # Times out of range and control characters: validation errors, not internal ones.
        ("recall", {"query": "x", "as_of": "0500-01-01T00:00:00Z"}),
        ("recall", {"query": "x", "since": "0001-01-01T00:00:00+14:00"}),
        ("recall", {"query": "x", "until": "9999-12-31T23:59:59-14:00"}),
        ("remember", {"content": "x", "anchors": ["src/a\x00b.py"]}),
    ]
    for name, args in bad_calls:
        result = await client.call_tool(name, args)
        assert result.is_error, (name, args)
        assert result.content and result.content[0].text.strip(), (name, args)
        assert "internal error" not in result.content[0].text, (name, args, result.content)
    ok = await client.call_tool("recall", {"query": "still serving"})
    assert not ok.is_error


@pytest.mark.fast
async def test_tool_contracts(db_path: Path) -> None:
    async with in_memory(db_path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name, hints in TOOLS.items():
            tool = tools[name]
            assert tool.annotations.read_only_hint is hints["read_only"], name
            assert tool.annotations.destructive_hint is hints["destructive"], name
            assert tool.annotations.open_world_hint is False
            assert tool.description and len(tool.description) > 60
            assert tool.output_schema is not None, name
            assert "ctx" not in tool.input_schema["properties"]
            assert "roots" not in tool.input_schema["properties"]
        assert tools["recall"].input_schema["required"] == ["query"]
        assert tools["remember"].input_schema["required"] == ["content"]
        assert set(tools["link"].input_schema["required"]) == {"source", "target"}
        relation = tools["link"].input_schema["properties"]["relation"]
        assert "supersedes" in str(relation)


async def test_instructions_and_resources(db_path: Path) -> None:
    async with in_memory(db_path) as client:
        assert "recall" in INSTRUCTIONS and "remember" in INSTRUCTIONS
        stored = await client.call_tool("remember", {"content": "CI runs on every push"})
        memory_id = stored.structured_content["id"]
        recent = await client.read_resource("memory://recent")
        assert memory_id in recent.contents[0].text
        one = await client.read_resource(f"memory://{memory_id}")
        assert "CI runs on every push" in one.contents[0].text


async def test_all_tools_in_memory(db_path: Path) -> None:
    async with in_memory(db_path) as client:
        await exercise_all_tools(client)
        await assert_bad_calls_are_clear_errors(client)


async def test_stdio_process_all_tools_and_restart(db_path: Path) -> None:
    async with Client(stdio_params(db_path)) as client:
        init = client.server_capabilities if hasattr(client, "server_capabilities") else None
        del init
        stored = await exercise_all_tools(client)
        await assert_bad_calls_are_clear_errors(client)
    async with Client(stdio_params(db_path)) as client:
        found = await client.call_tool("recall", {"query": "webhook retries backoff"})
        ids = [m["id"] for m in found.structured_content["memories"]]
        assert ids[0] == stored["kept"] and stored["forgotten"] not in ids


async def test_streamable_http_process(db_path: Path) -> None:
    with http_server(db_path, "http") as url:
        async with Client(url) as client:
            await exercise_all_tools(client)
            await assert_bad_calls_are_clear_errors(client)
        async with Client(url, mode="legacy") as client:
            found = await client.call_tool("recall", {"query": "payments webhooks"})
            assert found.structured_content["memories"]


async def test_sse_process(db_path: Path) -> None:
    with http_server(db_path, "sse") as url:
        async with Client(sse_client(url)) as client:
            await exercise_all_tools(client)
            await assert_bad_calls_are_clear_errors(client)
        # A second connection shares the same store (one store per process, not per connection).
        async with Client(sse_client(url)) as client:
            found = await client.call_tool("recall", {"query": "payments webhooks"})
            assert found.structured_content["memories"]


async def test_reflect_drafts_with_sampling_and_scope_follows_roots(
    db_path: Path, tmp_path: Path
) -> None:
    from mcp import types

    project = tmp_path / "checkout"
    project.mkdir()
    prompts: list[str] = []

    async def sample(
        context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        prompts.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            model="test-model",
            content=types.TextContent(type="text", text="- Webhooks retry 5 times (from both ids)"),
        )

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=project.as_uri())])

    runtime = Runtime(Settings(db=str(db_path)), Scope(id="global", kind="global", root=None))
    try:
        async with Client(
            build_server(runtime),
            sampling_callback=sample,
            list_roots_callback=roots,
            mode="legacy",
        ) as client:
            # Episodes: near-duplicate facts would be absorbed at write time (issue 5).
            stored = await client.call_tool(
                "remember", {"content": "webhooks retry 5 times", "kind": "episodic"}
            )
            assert stored.structured_content["scope"] == f"dir:{project.resolve()}"
            await client.call_tool(
                "remember", {"content": "webhooks retry 5 times!", "kind": "episodic"}
            )
            bundle = await client.call_tool("reflect", {})
            assert not bundle.is_error, bundle.content
            assert bundle.structured_content["draft"] == "- Webhooks retry 5 times (from both ids)"
            assert prompts and "webhooks retry 5 times" in prompts[0]
    finally:
        await runtime.close()
