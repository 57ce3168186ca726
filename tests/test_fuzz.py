"""Every tool's arguments, generated from its own input schema and then bent out of shape,
sent to a real server over stdio: each call answers, an argument the schema refuses is refused
with a clear error, none is an internal error, and the server still works afterwards.

Bounded for the suite (`EXAMPLES` per tool); `bench/bench_fuzz.py` runs the long campaign and
watches the server's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import jsonschema
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from mcp import Client

from .hostile import arguments_for, is_internal_error
from .servers import stdio_params

EXAMPLES = 60
TOOLS = ["remember", "recall", "reflect", "forget", "link", "submit_trajectory",
         "find_procedures", "report_outcome"]


class Server:
    """One stdio server for the module, driven from synchronous Hypothesis tests."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client
        self.schemas: dict[str, dict[str, Any]] = {}

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
        async def run() -> Any:
            with anyio.fail_after(60):  # a hang fails the test instead of stalling it
                return await self.client.call_tool(tool, arguments)

        result = self.portal.call(run)
        text = " ".join(getattr(c, "text", "") for c in result.content)
        return bool(result.is_error), text, result.structured_content


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("fuzz")
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    env = {"HABITUS_PLUGINS_DIR": str(base / "plugins"), "XDG_STATE_HOME": str(base / "state"),
           "XDG_RUNTIME_DIR": str(runtime), "HABITUS_HOOKS_DAEMON": "0",
           "HABITUS_CACHE_DIR": str(base / "cache")}
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(
            portal.wrap_async_context_manager(Client(stdio_params(base / "store", **env)))
        )
        server = Server(portal, client)
        listed = portal.call(client.list_tools)
        server.schemas = {t.name: t.input_schema for t in listed.tools}
        # Something for ids, queries and links to find.
        for i in range(5):
            server.call("remember", {"content": f"fuzz seed fact {i}: port 80{i} is the proxy"})
        yield server


def test_every_fuzzed_tool_is_served(server: Server) -> None:
    assert set(TOOLS) <= set(server.schemas), sorted(server.schemas)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_tool_answers_every_argument_with_a_result_or_a_clear_error(
    server: Server, tool: str
) -> None:
    schema = server.schemas[tool]
    validator = jsonschema.Draft202012Validator(schema)

    # No shrinking: each try is a round trip to a server, and the message shows the arguments.
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(arguments=arguments_for(schema))
    def check(arguments: dict[str, Any]) -> None:
        refused, text, _ = server.call(tool, arguments)
        shown = json.dumps(arguments)[:300]
        assert not is_internal_error(text), f"{tool}({shown}) → {text[:500]}"
        if not validator.is_valid(arguments):
            assert refused, f"{tool} accepted what its schema refuses: {shown}"
            assert text.strip(), f"{tool}({shown}) refused without saying why"

    check()


def test_the_server_still_remembers_and_recalls_after_the_fuzzing(server: Server) -> None:
    refused, text, stored = server.call(
        "remember", {"content": "after the fuzz: canary 90210 lives here", "scope": "global"}
    )
    assert not refused, text
    refused, text, found = server.call(
        "recall", {"query": "canary 90210", "scope": "global", "limit": 3}
    )
    assert not refused, text
    assert found["memories"][0]["id"] == stored["id"]


def test_the_argument_generator_bends_values_out_of_their_schema() -> None:
    """The generator produces what a schema refuses as well as what it takes (else the fuzz
    proves little)."""
    schema = {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1,
                                                         "maximum": 5}}, "required": ["limit"]}
    seen: list[dict[str, Any]] = []

    @settings(max_examples=100, database=None)
    @given(arguments_for(schema))
    def draw(arguments: dict[str, Any]) -> None:
        seen.append(arguments)

    draw()
    validator = jsonschema.Draft202012Validator(schema)
    assert any(not validator.is_valid(a) for a in seen)
    assert any(validator.is_valid(a) for a in seen)
    assert any(isinstance(a.get("limit"), bool) for a in seen)
