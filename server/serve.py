"""Running the server: SSE or streamable HTTP on a port, or over stdio behind the stdio front
(`front`), which has answered the client's first requests while this loaded."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import anyio
import anyio.abc
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server

from habitus.base import endpoint
from habitus.base.access_token import access_token, token_file
from habitus.core.config import Settings

from .api_route import add_api_route
from .app import build_server, initialization_options
from .hook_route import add_hook_route, drain_spool
from .http import Activity, is_loopback, serve_http
from .manifest import cache_file, save_manifest
from .plugin_tools import watch_plugins
from .recorder import record_answers
from .runtime import Runtime

if TYPE_CHECKING:
    from .handover import Handover

__all__ = ["Transport", "serve", "serve_behind"]

log = logging.getLogger("habitus.server")

Transport = Literal["sse", "http"]  # stdio: see front.serve_stdio
_CHECK_WAIT = 10.0  # seconds a stdio session that ends waits for its answers to be filed


def serve(
    settings: Settings, transport: Transport = "http", host: str = "127.0.0.1", port: int = 8765,
    allow_hosts: Sequence[str] = (), idle_exit: float | None = None,
) -> None:
    """Serve over HTTP until the process is interrupted or, with `idle_exit`, no request came
    for that many seconds."""
    anyio.run(_serve, settings, transport, host, port, tuple(allow_hosts), idle_exit,
              backend="asyncio")


def serve_behind(settings: Settings, handover: Handover, stopped: Callable[[], None]) -> None:
    """Run the full stdio server behind `handover`, which has answered the client so far,
    until the client's input ends; `stopped` is called once the store is closed (run in the
    front's background thread)."""
    anyio.run(_serve_behind, settings, handover, stopped, backend="asyncio")


class _Inbox:
    """The client's messages as the SDK's stdio transport reads them (None ends them)."""

    def __init__(self, lines: asyncio.Queue[str | None]) -> None:
        self._lines = lines

    def __aiter__(self) -> _Inbox:
        return self

    async def __anext__(self) -> str:
        line = await self._lines.get()
        if line is None:
            raise StopAsyncIteration
        return line


class _Outbox:
    """The SDK's stdio transport writing to the client, through the hand-over."""

    def __init__(self, handover: Handover) -> None:
        self._handover = handover

    async def write(self, text: str) -> None:
        await anyio.to_thread.run_sync(self._handover.from_server, text)

    async def flush(self) -> None:
        return None


async def _serve_behind(settings: Settings, handover: Handover,
                        stopped: Callable[[], None]) -> None:
    runtime = Runtime(settings)
    server = build_server(runtime)
    add_hook_route(server, runtime)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    if not handover.attach(lines.put_nowait,
                           lambda line: loop.call_soon_threadsafe(lines.put_nowait, line)):
        return  # stopped while loading
    # The warm-up may sit in a worker thread loading the model: outside the task group, so
    # that stopping never waits for it (it touches the store only between threads).
    warming = asyncio.ensure_future(_warm_up(runtime))
    checked = anyio.Event()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_check_early_answers, server, handover, checked)
            tasks.start_soon(watch_plugins, server, runtime, None, handover.tools_changed)
            tasks.start_soon(drain_spool, runtime)
            try:
                # The SDK's own stdio transport over the hand-over's lines; MCPServer serves
                # stdio only on the process's streams, its low-level server on any.
                stdin, stdout = cast(Any, _Inbox(lines)), cast(Any, _Outbox(handover))
                async with stdio_server(stdin=stdin, stdout=stdout) as (read, write):
                    await server._lowlevel_server.run(read, write, initialization_options(server))
                if not handover.stopping:  # even a short session files its answers
                    with anyio.move_on_after(_CHECK_WAIT):
                        await checked.wait()
            finally:
                tasks.cancel_scope.cancel()
    finally:
        warming.cancel()
        with anyio.CancelScope(shield=True):
            await runtime.close()
    stopped()


async def _check_early_answers(server: MCPServer[Any], handover: Handover,
                               checked: anyio.Event) -> None:
    """Compare the early answers with this server's: correct the client, and file this
    server's answers for the next start when they are new."""
    try:
        if handover.key is None:
            return
        actual = await record_answers(server, handover.key)
        wrong = handover.correct(actual)
        if wrong:
            log.warning("answers given before the server had loaded were out of date (%s); "
                        "the client was told to fetch the tool list again",
                        ", ".join(f"{method} at {version}" for version, method in wrong))
        if actual != handover.early.manifest:
            try:
                await anyio.to_thread.run_sync(save_manifest, actual, cache_file(handover.key))
            except OSError as exc:
                log.info("start-up manifest not saved: %s", exc)
    finally:
        checked.set()


async def _serve(
    settings: Settings, transport: Transport, host: str, port: int, allow_hosts: tuple[str, ...],
    idle_exit: float | None,
) -> None:
    """Serve SSE or streamable HTTP."""
    runtime = Runtime(settings)
    server = build_server(runtime)
    add_hook_route(server, runtime)
    add_api_route(server, runtime, access_token())
    _add_web_view(server, runtime, host, allow_hosts)
    token = None
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
    local = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_warm_up, runtime)
        tasks.start_soon(watch_plugins, server, runtime)  # hot reload of folder plugins
        tasks.start_soon(drain_spool, runtime)  # hook events that came while none ran
        try:
            activity = Activity
            if idle_exit:
                activity = _leave_when_idle(tasks, idle_exit)
            listening = anyio.Event()
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
    # Import the heavy modules off the event loop so the first requests are answered at once;
    # a stop does not wait for the import to finish.
    await anyio.to_thread.run_sync(importlib.import_module, "habitus.core.service",
                                   abandon_on_cancel=True)
    await runtime.warm_up()
