"""Starting real habitus server processes for tests: stdio parameters and HTTP listeners."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """End a server process: SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def habitus_command() -> list[str]:
    exe = shutil.which("habitus", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "habitus.cli"]


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HABITUS_")}
    env.update(LANCE_LOG="error", **extra)
    return env


def stdio_params(db: Path, **env: str) -> StdioServerParameters:
    cmd = habitus_command()
    return StdioServerParameters(
        command=cmd[0], args=[*cmd[1:], "--db", str(db), "serve"], env=server_env(**env)
    )


def plugins_of(service: Any) -> Any:
    """The plugins a server of `service` runs (the built-in ones), bound to it."""
    from habitus.plugins.manager import PluginManager

    async def get() -> Any:
        return service

    plugins = PluginManager.from_environment(None).load()
    plugins.bind(get)
    return plugins


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(
    db: Path, transport: str = "http", timeout: float = 30.0, *, host: str = "127.0.0.1",
    args: tuple[str, ...] = (), env: dict[str, str] | None = None, cwd: Path | None = None,
) -> Iterator[str]:
    """Run `habitus serve --transport http|sse` on a free port (bound to `host`, reached on
    127.0.0.1); yields its URL."""
    port = free_port()
    cmd = [
        *habitus_command(),
        "--db",
        str(db),
        "serve",
        "--transport",
        transport,
        "--port",
        str(port),
        "--host",
        host,
        *args,
    ]
    proc = subprocess.Popen(cmd, env=server_env(**(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("server did not start listening in time")
        path = "/sse" if transport == "sse" else "/mcp"
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
