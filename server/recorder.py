"""Recording what a built server answers to a client's first requests, as a `Manifest`.

The requests go through the MCP SDK's own stdio transport and serving loop (only the pipe is
replaced by lines in memory), so the recorded text is byte for byte what a client reads.

    python -m habitus.server.recorder    # rebuild the shipped manifest (built-in plugins)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)

from .app import initialization_options
from .manifest import HANDSHAKE_METHODS, MODERN_METHODS, SHIPPED, Manifest, save_manifest

__all__ = ["builtin_manifest", "exchange", "record_answers", "result_text"]

_CLIENT = {"name": "habitus-recorder", "version": "1"}
_TIMEOUT = 30.0  # seconds for one recording; it takes tens of milliseconds


class _Exchange:
    """Stands in for stdin and stdout: sends each message once the previous request has its
    answer, and keeps every line the server writes."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self._messages = messages
        self.lines: dict[Any, str] = {}
        self._awaited: Any = None
        self._answered = anyio.Event()

    async def _feed(self) -> AsyncIterator[str]:
        for message in self._messages:
            if "id" in message:
                self._awaited, self._answered = message["id"], anyio.Event()
            yield json.dumps(message) + "\n"
            if "id" in message:
                await self._answered.wait()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._feed()

    async def write(self, text: str) -> None:
        line = json.loads(text)
        self.lines[line.get("id")] = text.rstrip("\n")
        if line.get("id") == self._awaited:
            self._answered.set()

    async def flush(self) -> None:
        return None


def result_text(line: str, request_id: Any) -> str | None:
    """The result of a response line as the text the server wrote; None for an error."""
    prefix = '{"jsonrpc":"2.0","id":' + json.dumps(request_id) + ',"result":'
    if not (line.startswith(prefix) and line.endswith("}")):
        return None
    text = line[len(prefix):-1]
    if json.loads(line)["result"] != json.loads(text):
        raise ValueError(f"unexpected response layout: {line[:200]}")
    return text


async def exchange(server: MCPServer[Any], messages: list[dict[str, Any]]) -> dict[Any, str]:
    """Send `messages` to `server` over one connection, each once the request before it has
    its answer; every line written back, by request id."""
    lines = _Exchange(messages)
    stdio = cast(Any, lines)
    with anyio.fail_after(_TIMEOUT):
        async with stdio_server(stdin=stdio, stdout=stdio) as (read, write):
            await server._lowlevel_server.run(read, write, initialization_options(server))
    return lines.lines


async def _answers(server: MCPServer[Any], messages: list[dict[str, Any]]) -> dict[str, str]:
    """Each request's method → its result text (requests refused are left out)."""
    lines = await exchange(server, messages)
    answers = {}
    for message in messages:
        line = lines.get(message.get("id"))
        if "id" in message and line is not None:
            text = result_text(line, message["id"])
            if text is not None:
                answers[message["method"]] = text
    return answers


def _request(number: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": number, "method": method}
    if params is not None:
        message["params"] = params
    return message


async def record_answers(server: MCPServer[Any], key: dict[str, Any]) -> Manifest:
    """What `server` answers to the first requests of every protocol version it speaks."""
    answers: dict[str, dict[str, str]] = {}
    for version in HANDSHAKE_PROTOCOL_VERSIONS:
        hello = {"protocolVersion": version, "capabilities": {}, "clientInfo": _CLIENT}
        messages = [_request(1, "initialize", hello),
                    {"jsonrpc": "2.0", "method": "notifications/initialized"}]
        messages += [_request(n, m) for n, m in enumerate(HANDSHAKE_METHODS[1:], start=2)]
        answers[version] = await _answers(server, messages)
    for version in MODERN_PROTOCOL_VERSIONS:
        envelope = {"_meta": {PROTOCOL_VERSION_META_KEY: version, CLIENT_INFO_META_KEY: _CLIENT,
                              CLIENT_CAPABILITIES_META_KEY: {}}}
        messages = [_request(n, m, envelope) for n, m in enumerate(MODERN_METHODS, start=1)]
        answers[version] = await _answers(server, messages)
    return Manifest(key=key, handshake_versions=tuple(HANDSHAKE_PROTOCOL_VERSIONS),
                    latest_handshake=LATEST_HANDSHAKE_VERSION,
                    modern_versions=tuple(MODERN_PROTOCOL_VERSIONS), answers=answers)


async def builtin_manifest() -> Manifest:
    """The manifest of a server with the built-in plugins only (what the package ships)."""
    from habitus.core.config import Settings
    from habitus.plugins.manager import PluginManager

    from .app import build_server
    from .manifest import current_key
    from .runtime import Runtime

    runtime = Runtime(Settings(), plugins=PluginManager(entry_points=(), environ={}))
    return await record_answers(build_server(runtime), dict(current_key(None), plugins="builtin"))


def main() -> None:
    """Rebuild the shipped manifest."""
    manifest = anyio.run(builtin_manifest)
    save_manifest(manifest, SHIPPED)
    print(f"wrote {SHIPPED}")


if __name__ == "__main__":
    main()
