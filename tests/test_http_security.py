"""A server listening beyond loopback: the access token is required, Host and Origin are still
checked (with `--allow-host`), and a client with the token works as on loopback."""

from __future__ import annotations

import contextlib
import json
import sys
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


@pytest.mark.fast
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


@pytest.mark.fast
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


@pytest.mark.fast
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


def test_connections_that_send_no_whole_request_are_closed(tmp_path: Path) -> None:
    import socket
    import time as clock

    from habitus.server.http import IDLE_TIMEOUT

    with http_server(tmp_path / "store") as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        trickling = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        started = clock.monotonic()
        head = b"POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        sent = 0
        while clock.monotonic() - started < IDLE_TIMEOUT + 3 and sent < len(head):
            for connection in trickling:  # a byte at a time, never the end of the head
                with contextlib.suppress(OSError):  # closed already
                    connection.send(head[sent:sent + 1])
            sent += 1
            clock.sleep(0.05)

        def closed(connection: socket.socket) -> bool:
            connection.settimeout(0.5)
            try:
                while connection.recv(1024):  # an answer (408, 400) before the end is fine
                    pass
            except ConnectionResetError:
                pass
            except TimeoutError:
                return False
            return True

        waited = clock.monotonic() - started
        assert [closed(c) for c in silent + trickling] == [True] * 40, waited
        assert post(url, {"Authorization": ""}) in (200, 202)  # the server still answers
        for connection in silent + trickling:
            connection.close()


@pytest.fixture
def other_host() -> Any:
    """A second host on this machine: a network namespace joined by a veth pair (10.23x.y.2),
    from which requests come with a peer address that is not loopback."""
    import os
    import shutil
    import subprocess

    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("a network namespace needs iproute2's `ip` and root")
    tag = f"{os.getpid() % 250}"
    name, here, there = f"hb-peer-{tag}", f"hbh{tag}", f"hbp{tag}"
    net = f"10.{231 + os.getpid() % 20}.{tag}"
    steps = [["ip", "netns", "add", name],
             ["ip", "link", "add", here, "type", "veth", "peer", "name", there],
             ["ip", "link", "set", there, "netns", name],
             ["ip", "addr", "add", f"{net}.1/24", "dev", here], ["ip", "link", "set", here, "up"],
             ["ip", "netns", "exec", name, "ip", "addr", "add", f"{net}.2/24", "dev", there],
             ["ip", "netns", "exec", name, "ip", "link", "set", there, "up"]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode:
                pytest.skip(f"cannot make a network namespace here: {done.stderr.strip()}")

        def request(url: str, headers: dict[str, str], body: bytes = b"{}") -> int:
            code = ("import sys, urllib.request, urllib.error\n"
                    f"r = urllib.request.Request({url!r}, data={body!r}, method='POST', "
                    f"headers={headers!r})\n"
                    "try:\n    print(urllib.request.urlopen(r, timeout=10).status)\n"
                    "except urllib.error.HTTPError as e:\n    print(e.code)\n"
                    "except OSError as e:\n    print(0)\n")
            done = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", code],
                                  capture_output=True, text=True, timeout=60)
            return int(done.stdout.strip() or -1)

        yield f"{net}.1", request
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_from_another_host_a_local_host_header_opens_nothing(
    db_path: Path, other_host: Any
) -> None:
    address, request = other_host
    with http_server(db_path, host="0.0.0.0", env={"HABITUS_TOKEN": TOKEN}) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        base = f"http://{address}:{port}"
        local = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json"}
        event = json.dumps({"hook_event_name": "SessionStart", "session_id": "s",
                            "cwd": "/", "source": "startup"}).encode()
        assert request(f"{base}/hooks", local, event) == 401
        assert request(f"{base}/api/stats", local) in (401, 403)
        assert request(f"{base}/mcp", {**local, "Accept": "application/json"}) == 401
        bearer = {**local, "Authorization": f"Bearer {TOKEN}"}
        assert request(f"{base}/hooks", bearer, event) == 200  # the token opens it, nothing else
    with http_server(db_path) as url:  # on loopback: not reachable from the other host at all
        port = url.rsplit(":", 1)[1].split("/")[0]
        assert request(f"http://{address}:{port}/hooks", local, event) == 0
