"""An independent, non-Python MCP client (the official TypeScript SDK) drives all five tools.

`tests/js/client.mjs` lists the tools, remembers, recalls, links, reflects, forgets and sends
invalid calls, asserting each answer; it exits non-zero with a message on any failure. Here it
runs against habitus over stdio (spawned by the client, as assistants do), streamable HTTP and
SSE (a `habitus serve` subprocess on a free loopback port), each with a fresh store.

Needs Node >= 18 and `tests/js/node_modules`; when that is missing the first test runs
`npm ci --prefix tests/js` (the npm registry must be reachable). Without node/npm, or when the
install fails, the tests skip, unless HABITUS_TEST_REQUIRE_NPM=1 turns that into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.npm

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "client.mjs"
SDK_MARKER = JS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
TOOLS = ["find_procedures", "forget", "link", "recall", "reflect", "remember", "report_outcome",
         "submit_trajectory"]
STEPS = ["list", "remember", "recall", "link", "reflect", "forget", "errors"]
CLIENT_TIMEOUT = 90  # seconds for one client run; normally 2-5 s
SERVER_START_TIMEOUT = 30  # seconds until an HTTP server accepts connections; normally ~2 s


def _unavailable(reason: str) -> None:
    """Skip, or fail when the environment demands the npm tests run."""
    if os.environ.get("HABITUS_TEST_REQUIRE_NPM", "") not in ("", "0"):
        pytest.fail(f"{reason} (HABITUS_TEST_REQUIRE_NPM is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with the TypeScript SDK installed in tests/js (installing it once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the independent-client tests")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = int(version.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < 18:
        _unavailable(f"Node >= 18 is needed, found {version.stdout.strip()}")
    if not SDK_MARKER.exists():
        try:
            done = subprocess.run(
                [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            _unavailable("`npm ci --prefix tests/js` timed out (is the npm registry reachable?)")
        if done.returncode != 0 or not SDK_MARKER.exists():
            tail = (done.stdout + done.stderr).strip()[-1500:]
            _unavailable(
                f"tests/js/node_modules is missing and `npm ci --prefix tests/js` failed:\n{tail}"
            )
    return node


@pytest.fixture(scope="session")
def habitus_exe() -> str:
    """The `habitus` console script of this environment."""
    beside = Path(sys.executable).with_name("habitus")
    found = str(beside) if beside.exists() else shutil.which("habitus")
    if found is None:
        pytest.fail("the `habitus` command is not installed (pip install -e .)")
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HABITUS_SCOPE", None)  # the scope must come from the client's roots
    env.pop("HABITUS_DB", None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_client(node: str, cwd: Path, *args: str) -> dict[str, object]:
    """Run client.mjs with `args`; return its JSON summary, or fail with its own explanation."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [node, str(SCRIPT), *args],
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"client.mjs {args[0]} did not finish within {CLIENT_TIMEOUT} s:\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"client.mjs {args[0]} exited {done.returncode}:\n{done.stderr}{done.stdout}")
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one line of JSON, got:\n{done.stdout}"
    summary = json.loads(lines[0])
    summary["wall_s"] = round(time.monotonic() - started, 2)
    return summary


def check_summary(summary: dict[str, object], transport: str) -> None:
    assert summary["ok"] is True
    assert summary["transport"] == transport
    assert summary["tools"] == TOOLS
    assert summary["steps"] == STEPS
    assert str(summary["server"]).startswith("habitus ")
    assert str(summary["sdk"]).startswith("@modelcontextprotocol/sdk@1.")
    assert str(summary["scope"]).startswith("dir:/")  # from the client's roots
    # Roots are asked once per connection, not before every call (the server once keyed its
    # cache by the per-request session object, which also let connections swap scopes).
    assert summary["roots_requests"] == 1, summary


# --- stdio ---------------------------------------------------------------------------------


def test_stdio(node: str, habitus_exe: str, tmp_path: Path) -> None:
    summary = run_client(node, tmp_path, "stdio", habitus_exe, str(tmp_path / "db"))
    check_summary(summary, "stdio")
    assert (tmp_path / "db").exists(), "the server should have used the --db directory"


# --- streamable HTTP and SSE -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # the server's normal Ctrl-C shutdown
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def http_server(request: pytest.FixtureRequest, habitus_exe: str, tmp_path: Path) -> Iterator[str]:
    """A `habitus serve --transport T` subprocess on a free loopback port; yields its URL."""
    transport = request.param
    port = _free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                habitus_exe,
                "--db",
                str(tmp_path / "db"),
                "serve",
                "--transport",
                transport,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=tmp_path,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"habitus serve exited {process.returncode}:\n{log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"habitus serve did not listen on port {port} within "
                        f"{SERVER_START_TIMEOUT} s:\n{log_path.read_text()}"
                    )
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}"
        assert process.poll() is None, f"the server died during the test:\n{log_path.read_text()}"
    finally:
        _stop(process)
    log_text = log_path.read_text(errors="replace")
    assert "Traceback" not in log_text, f"the server logged an exception:\n{log_text}"


@pytest.mark.parametrize("http_server", ["http", "sse"], indirect=True)
def test_http_transports(node: str, http_server: str, tmp_path: Path) -> None:
    transport = "sse" if http_server.endswith("/sse") else "http"
    summary = run_client(node, tmp_path, transport, http_server)
    check_summary(summary, transport)
