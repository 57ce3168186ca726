"""Serving over HTTP (streamable HTTP or SSE): the MCP app, guarded for where it listens.

On a loopback address the SDK's own checks apply (the Host and Origin of every request must be
this machine: no web page can reach the server through DNS rebinding). Beyond loopback, every
request must also carry the user's access token (`Authorization: Bearer …`, see
`base.access_token`), and Host and Origin must be this machine or a name allowed with
`--allow-host`. A connection that sends no whole request head within a few seconds (idle,
or trickling its headers) is closed.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Sequence
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

__all__ = ["is_loopback", "transport_security", "BearerAuth", "Activity", "serve_http"]

# Seconds a connection may wait without a whole request head: new ones that send nothing or
# trickle their headers, and idle keep-alive ones alike.
IDLE_TIMEOUT = 5

ASGIApp = Any


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(host: str, allow_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """Host and Origin checks: this machine's names, the bound address and `allow_hosts`."""
    names = ["127.0.0.1", "localhost", "[::1]", socket.gethostname(), *allow_hosts]
    if host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]" if ":" in host else host)
    names = list(dict.fromkeys(names))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + names,
        allowed_origins=[f"{scheme}://{n}{port}" for n in names for scheme in ("http", "https")
                         for port in (":*", "")],
    )


class BearerAuth:
    """Refuses (401) every request to the MCP endpoints that does not carry the access token
    (the web view checks the same token itself, through a session cookie)."""

    PATHS = ("/mcp", "/sse", "/messages", "/hooks")

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and any(path == p or path.startswith(p + "/")
                                           for p in self.PATHS):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "missing or wrong access token: send "
                                   "'Authorization: Bearer TOKEN' (habitus token prints it)"})
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="habitus"')]})
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)


class Activity:
    """Notes when the last HTTP request came, for a server that leaves when idle."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last = time.monotonic()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.last = time.monotonic()
        await self.app(scope, receive, send)

    def idle_for(self) -> float:
        return time.monotonic() - self.last


async def serve_http(
    server: MCPServer[Any], transport: str, host: str, port: int, *,
    allow_hosts: Sequence[str] = (), token: str | None = None, activity: Any = None,
    listening: anyio.Event | None = None,
) -> None:
    """Serve `server` on `host:port` until cancelled; `token` is required beyond loopback;
    `activity(app)` wraps the app to watch requests; `listening` is set once connections are
    accepted."""
    import uvicorn

    security = None if is_loopback(host) else transport_security(host, allow_hosts)
    if transport == "sse":
        app = server.sse_app(host=host, transport_security=security)
    else:
        app = server.streamable_http_app(host=host, transport_security=security)
    if not is_loopback(host):
        if not token:
            raise ValueError("serving beyond loopback needs an access token")
        app = BearerAuth(app, token)
    if activity is not None:
        app = activity(app)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            timeout_keep_alive=IDLE_TIMEOUT, http=_head_deadline_protocol())
    http = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        if listening is not None:
            tasks.start_soon(_tell_when_started, http, listening)
        await http.serve()
        tasks.cancel_scope.cancel()


def _head_deadline_protocol() -> type:
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request head: its own keep-alive
    timer starts only after a response, and stops at the first byte of the next request."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):  # type: ignore[misc]
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(IDLE_TIMEOUT, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request head arrived whole
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadDeadline


async def _tell_when_started(http: Any, listening: anyio.Event) -> None:
    while not http.started:
        await anyio.sleep(0.01)
    listening.set()
