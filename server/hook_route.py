"""Lifecycle hooks over HTTP: `POST /hooks` takes an assistant's hook event (from `habitus hook`,
or straight from a client that posts hooks to a URL) and answers in the hook's format.

Events that only capture are acknowledged at once and handled right after the answer; events
that may add context wait for it. The route is local only: a request must come from this
machine (the connection's peer, not a header), carry no browser Origin and send JSON, so no web
page can post events or read answers; beyond loopback it needs the access token like every
route. A body is read only up to its bound, chunked or not. Hook events spooled while
no server ran are drained here too.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server import MCPServer
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from habitus.base.errors import HookInputError
from habitus.lifecycle.events import INJECTING, MAX_INPUT_BYTES, parse_event

from .http import is_loopback
from .runtime import Runtime

__all__ = ["add_hook_route", "bounded_body", "drain_spool", "local_only"]

log = logging.getLogger("habitus.hooks")

DRAIN_EVERY = 2.0  # seconds between looks at the spool
_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def local_only(request: Request) -> str | None:
    """Why a request is refused unless it comes from a program on this machine, or carries
    the access token (checked before the route, see `http.BearerAuth`): the connection's peer
    must be this machine — whatever the Host header claims — and name it as its Host (no page
    reaches it by rebinding a name), it may carry no browser Origin, and it must send JSON
    (which a web page cannot do without asking first)."""
    if "authorization" not in request.headers:
        peer = request.client.host if request.client else ""
        host = request.headers.get("host") or ""
        name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
        if not is_loopback(peer) or name not in _LOCAL_NAMES:
            return "taken from this machine only"
    if request.headers.get("origin"):
        return "not taken from web pages"
    if not (request.headers.get("content-type") or "").startswith("application/json"):
        return "send JSON (application/json)"
    return None


def add_hook_route(server: MCPServer[Any], runtime: Runtime) -> None:
    """Serve `POST /hooks` (and `/hooks/EVENT`) on `server`'s HTTP app."""

    async def hooks(request: Request) -> Response:
        refusal = local_only(request)
        if refusal:
            return JSONResponse({"error": refusal}, status_code=403)
        body = await bounded_body(request, MAX_INPUT_BYTES)
        if body is None:
            return JSONResponse({"error": "event too large"}, status_code=413)
        try:
            event = parse_event(body, request.path_params.get("event"))
        except HookInputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        lifecycle = await runtime.lifecycle()
        if event.name not in INJECTING:
            return JSONResponse({}, background=BackgroundTask(_handle, lifecycle, event))
        try:
            return JSONResponse(await lifecycle.handle(event) or {})
        except Exception:  # the session goes on without context
            log.exception("%s hook failed", event.name)
            return JSONResponse({})

    server.custom_route("/hooks", methods=["POST"], include_in_schema=False)(hooks)
    server.custom_route("/hooks/{event}", methods=["POST"], include_in_schema=False)(hooks)


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it proves longer than `limit` bytes (what it
    declares or what arrives): a client cannot make the server hold more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _handle(lifecycle: Any, event: Any) -> None:
    try:
        await lifecycle.handle(event)
    except Exception:
        log.exception("%s hook failed", event.name)


async def drain_spool(runtime: Runtime) -> None:
    """Handle spooled hook events now and whenever more arrive, until cancelled."""
    from habitus.lifecycle.files import spool_waiting

    db = runtime.settings.resolved_db()
    while True:
        if spool_waiting(db):
            try:
                count = await (await runtime.lifecycle()).drain()
                log.info("handled %d spooled hook events", count)
            except Exception:
                log.exception("spooled hook events not handled; retrying")
        await anyio.sleep(DRAIN_EVERY)
