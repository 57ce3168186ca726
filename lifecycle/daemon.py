"""A server for a store started in the background, so hooks and the CLI answer in milliseconds.

`habitus daemon start` and the first hook of a session with no server for its store start one:
`habitus serve` over HTTP on a free loopback port, detached from the terminal, logging to a file
in the state directory, publishing its address (see `base.endpoint`) and leaving after an hour
without requests. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from habitus.base import endpoint
from habitus.base.dirs import state_dir
from habitus.base.processes import alive

from .files import store_key

__all__ = ["spawn", "start", "starting", "stop", "log_file", "IDLE_EXIT"]

IDLE_EXIT = 3600  # seconds without a request before a daemon leaves
_RECENT_START = 30  # seconds during which a start already under way is not repeated


def log_file(db: str) -> Path:
    return state_dir() / f"daemon-{store_key(db)}.log"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _marker(db: str) -> Path:
    return state_dir() / f"daemon-{store_key(db)}.starting"


def starting(db: str) -> bool:
    """Whether a daemon for `db` was started lately and may not be listening yet."""
    try:
        return time.time() - _marker(db).stat().st_mtime < _RECENT_START
    except FileNotFoundError:
        return False


def spawn(db: str, *, idle: int = IDLE_EXIT) -> bool:
    """Start a daemon for `db` in the background unless one runs or is starting; True if one
    was started now."""
    if endpoint.find(db) is not None or starting(db):
        return False
    _marker(db).touch(mode=0o600)
    command = [sys.executable, "-m", "habitus.cli", "--db", db, "serve", "--transport", "http",
               "--port", str(_free_port()), "--idle-exit", str(idle)]
    with open(log_file(db), "ab") as log:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)
    return True


def start(db: str, *, idle: int = IDLE_EXIT, wait: float = 60.0) -> endpoint.Endpoint | None:
    """Start a daemon for `db` (unless one runs) and wait until it answers."""
    spawn(db, idle=idle)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = endpoint.find(db)
        if found is not None:
            return found
        time.sleep(0.1)
    return None


def stop(db: str, *, wait: float = 30.0) -> bool:
    """Stop the server published for `db` and wait until it has finished its work and left;
    False when none runs."""
    found = endpoint.find(db)
    if found is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(found["pid"], signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and alive(found["pid"]):
        time.sleep(0.05)
    return True
