"""Running the server on one transport: stdio for assistants, SSE or streamable HTTP on a port."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, Literal

import anyio
import anyio.abc
from mcp.server import MCPServer

from habitus.base import endpoint
from habitus.base.access_token import access_token, token_file
from habitus.core.config import Settings

from .api_route import add_api_route
from .app import build_server
from .hook_route import add_hook_route, drain_spool
from .http import Activity, is_loopback, serve_http
from .plugin_tools import watch_plugins
from .runtime import Runtime

__all__ = ["Transport", "serve"]

log = logging.getLogger("habitus.server")

Transport = Literal["stdio", "sse", "http"]


def serve(
    settings: Settings, transport: Transport = "stdio", host: str = "127.0.0.1", port: int = 8765,
    allow_hosts: Sequence[str] = (), idle_exit: float | None = None,
) -> None:
    """Serve until the client disconnects (stdio), the process is interrupted (HTTP) or, with
    `idle_exit`, no HTTP request came for that many seconds."""
    anyio.run(_serve, settings, transport, host, port, tuple(allow_hosts), idle_exit,
              backend="asyncio")


async def _serve(
    settings: Settings, transport: Transport, host: str, port: int, allow_hosts: tuple[str, ...],
    idle_exit: float | None,
) -> None:
    runtime = Runtime(settings)
    server = build_server(runtime)
    add_hook_route(server, runtime)
    if transport != "stdio":
        add_api_route(server, runtime, access_token())
        _add_web_view(server, runtime, host, allow_hosts)
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
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_warm_up, runtime)
        tasks.start_soon(watch_plugins, server, runtime)  # hot reload of folder plugins
        tasks.start_soon(drain_spool, runtime)  # hook events that came while none ran
        try:
            if transport == "stdio":
                await server.run_stdio_async()
            else:
                activity = Activity
                if idle_exit:
                    activity = _leave_when_idle(tasks, idle_exit)
                listening = anyio.Event()
                local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
                tasks.start_soon(_publish, settings.resolved_db(), f"http://{local}:{port}",
                                 transport, listening)
                await serve_http(server, transport, host, port, allow_hosts=allow_hosts,
                                 token=token, activity=activity, listening=listening)
        finally:
            tasks.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await runtime.close()


async def _publish(db: str, url: str, transport: str, listening: anyio.Event) -> None:
    """Name this server as the one for `db` once it accepts connections, until it stops:
    light clients (the CLI, hooks) find it there."""
    await listening.wait()
    with endpoint.publish(db, url, transport=transport):
        await anyio.sleep_forever()


def _add_web_view(
    server: MCPServer[Any], runtime: Runtime, host: str, allow_hosts: Sequence[str]
) -> None:
    """The web view's pages on the HTTP app, behind the user's access token."""
    from habitus.web.guard import Guard
    from habitus.web.pages import WebView

    names = [*allow_hosts, *([] if host in ("0.0.0.0", "::", "") else [host])]
    root = runtime.default_scope.root
    view = WebView(runtime.service, Guard(access_token(), names),
                   workdir=str(root) if root else None)
    for path, methods, handler in view.routes():
        server.custom_route(path, methods=methods, include_in_schema=False)(handler)


def _leave_when_idle(tasks: anyio.abc.TaskGroup, seconds: float) -> Any:
    """An `Activity` wrapper whose watcher ends the server after `seconds` without requests."""

    def wrap(app: Any) -> Activity:
        activity = Activity(app)

        async def watch() -> None:
            while activity.idle_for() < seconds:
                await anyio.sleep(min(seconds, 30.0))
            log.info("no request for %.0f s; leaving", seconds)
            tasks.cancel_scope.cancel()

        tasks.start_soon(watch)
        return activity

    return wrap


async def _warm_up(runtime: Runtime) -> None:
    # Import the heavy modules off the event loop so the first requests are answered at once.
    await anyio.to_thread.run_sync(importlib.import_module, "habitus.core.service")
    await runtime.warm_up()
