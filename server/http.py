"""Serving over HTTP (streamable HTTP or SSE): the MCP app, guarded for where it listens.

On a loopback address the SDK's own checks apply (the Host and Origin of every request must be
this machine: no web page can reach the server through DNS rebinding). Beyond loopback, every
request must also carry the user's access token (`Authorization: Bearer …`, see
`base.access_token`), and Host and Origin must be this machine or a name allowed with
`--allow-host`. Idle connections are closed after a few seconds.
"""

from __future__ import annotations

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

# Seconds an idle keep-alive connection is held open.
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
                            timeout_keep_alive=IDLE_TIMEOUT)
    http = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        if listening is not None:
            tasks.start_soon(_tell_when_started, http, listening)
        await http.serve()
        tasks.cancel_scope.cancel()


async def _tell_when_started(http: Any, listening: anyio.Event) -> None:
    while not http.started:
        await anyio.sleep(0.01)
    listening.set()
