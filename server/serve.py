"""Running the server on one transport: stdio for assistants, SSE or streamable HTTP on a port."""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Literal

import anyio

from habitus.core import endpoint
from habitus.core.access_token import access_token, token_file
from habitus.core.config import Settings

from .app import build_server
from .http import is_loopback, serve_http
from .plugin_tools import watch_plugins
from .runtime import Runtime

__all__ = ["Transport", "serve"]

log = logging.getLogger("habitus.server")

Transport = Literal["stdio", "sse", "http"]


def serve(
    settings: Settings, transport: Transport = "stdio", host: str = "127.0.0.1", port: int = 8765,
    allow_hosts: Sequence[str] = (),
) -> None:
    """Serve until the client disconnects (stdio) or the process is interrupted (HTTP)."""
    anyio.run(_serve, settings, transport, host, port, tuple(allow_hosts), backend="asyncio")


async def _serve(
    settings: Settings, transport: Transport, host: str, port: int, allow_hosts: tuple[str, ...]
) -> None:
    runtime = Runtime(settings)
    server = build_server(runtime)
    token = None
    if transport != "stdio":
        path = "/sse" if transport == "sse" else "/mcp"
        print(
            f"habitus: serving {transport} on http://{host}:{port}{path} "
            f"(store: {settings.resolved_db()})",
            file=sys.stderr,
            flush=True,
        )
        if not is_loopback(host):
            token = access_token()
            print(
                f"habitus: listening beyond this machine ({host}): every request needs "
                f"'Authorization: Bearer TOKEN' (the token is in {token_file()}, or "
                "HABITUS_TOKEN), and a Host of this machine or --allow-host",
                file=sys.stderr,
                flush=True,
            )
    with contextlib.ExitStack() as published:
        if transport != "stdio":  # light clients (CLI, hooks) find this server by its store
            local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            published.enter_context(endpoint.publish(
                settings.resolved_db(), f"http://{local}:{port}", transport=transport))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_warm_up, runtime)
            tasks.start_soon(watch_plugins, server, runtime)  # hot reload of folder plugins
            try:
                if transport == "stdio":
                    await server.run_stdio_async()
                else:
                    await serve_http(server, transport, host, port, allow_hosts=allow_hosts,
                                     token=token)
            finally:
                tasks.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await runtime.close()


async def _warm_up(runtime: Runtime) -> None:
    # Import the heavy modules off the event loop so the first requests are answered at once.
    await anyio.to_thread.run_sync(importlib.import_module, "habitus.core.service")
    await runtime.warm_up()
