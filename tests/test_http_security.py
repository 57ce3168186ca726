"""A server listening beyond loopback: the access token is required, Host and Origin are still
checked (with `--allow-host`), and a client with the token works as on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from habitus.server.http import is_loopback

from .servers import http_server

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789abcdef"
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "probe", "version": "1"}},
}


def post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(INITIALIZE).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_what_counts_as_loopback() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.4", "example.com"]))


async def test_beyond_loopback_needs_the_token_and_a_known_host(db_path: Path) -> None:
    with http_server(db_path, host="0.0.0.0", args=("--allow-host", "memory.internal"),
                     env={"HABITUS_TOKEN": TOKEN}) as url:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert post(url, {}) == 401, "no token: refused"
        assert post(url, {"Authorization": "Bearer wrong"}) == 401
        assert post(url, bearer) == 200
        assert post(url, {**bearer, "Host": "evil.example"}) == 421, "DNS rebinding refused"
        assert post(url, {**bearer, "Origin": "http://evil.example"}) == 403
        assert post(url, {**bearer, "Host": "memory.internal:80"}) == 200, "--allow-host"

        http = create_mcp_http_client(headers=bearer)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            stored = await client.call_tool("remember", {"content": "Deploys run from CI only."})
            assert not stored.is_error
            found = await client.call_tool("recall", {"query": "how do deploys run"})
            assert found.structured_content["memories"][0]["content"] == (
                "Deploys run from CI only.")


async def test_loopback_needs_no_token(db_path: Path) -> None:
    with http_server(db_path) as url:
        assert post(url, {}) == 200
        assert post(url, {"Host": "evil.example"}) == 421


def _request(peer: str, headers: dict[str, str], body: list[bytes] | None = None) -> Any:
    from starlette.requests import Request

    chunks = body if body is not None else []

    async def receive() -> dict[str, Any]:
        more = len(chunks) > 1
        return {"type": "http.request", "body": chunks.pop(0) if chunks else b"",
                "more_body": more}

    scope = {"type": "http", "method": "POST", "path": "/hooks", "client": (peer, 40000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope, receive)


def test_local_is_the_peer_address_never_a_header() -> None:
    from habitus.server.hook_route import local_only

    json_from = {"Content-Type": "application/json"}
    assert local_only(_request("127.0.0.1", {**json_from, "Host": "127.0.0.1:8765"})) is None
    assert local_only(_request("::1", {**json_from, "Host": "[::1]:8765"})) is None
    assert local_only(_request("127.0.0.1", {**json_from, "Host": "evil.example"}))
    for host in ("127.0.0.1", "localhost", "[::1]:8765"):  # a header claiming to be local
        assert local_only(_request("192.168.7.20", {**json_from, "Host": host}))
    assert local_only(_request("127.0.0.1", {**json_from, "Origin": "http://evil.example"}))
    assert local_only(_request("127.0.0.1", {"Content-Type": "text/plain"}))


async def test_a_body_is_read_only_up_to_its_bound() -> None:
    from habitus.server.hook_route import bounded_body

    read = []
    chunks = [b"x" * 1000 for _ in range(100)]

    class Counting(list):  # the chunks the server was made to take in
        def pop(self, i: int = -1) -> bytes:
            read.append(i)
            return super().pop(i)

    chunked = _request("127.0.0.1", {"Content-Type": "application/json"}, Counting(chunks))
    assert await bounded_body(chunked, 5_000) is None and 5 <= len(read) <= 6
    declared = _request("127.0.0.1", {"Content-Length": str(10**9)}, [b"{}"])
    assert await bounded_body(declared, 5_000) is None
    small = _request("127.0.0.1", {}, [b'{"a":', b" 1}"])
    assert await bounded_body(small, 5_000) == b'{"a": 1}'
