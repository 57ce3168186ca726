"""`habitus serve` over stdio: the client is answered at once while the full server loads.

An assistant spawns the server and asks for its tools straight away, and importing the MCP SDK
alone takes most of a second. So the process starts as this front, standard library only:

- it owns stdin and stdout: the protocol moves to private descriptors, fd 0 then reads
  /dev/null and fd 1 writes to stderr, so the stray output of a library never corrupts the
  protocol;
- it answers the client's first requests from the manifest filed for this installation
  (`manifest`, `early`) and keeps every other message (`handover`);
- the full server (the MCP SDK server and plugins, then the store) loads in a background
  thread and, once it serves, takes the kept messages and all that follow, in order;
- on SIGINT or SIGTERM it stops reading, lets the full server stop and close the store, and
  exits within `STOP_GRACE` seconds (tens of milliseconds) in any case: a tool answers only
  once what it wrote is committed (or, for the rows the store defers, in its durable log), so
  leaving loses nothing acknowledged.

The main thread only waits for events (data from stdin, its end, a signal, the full server
done), so a signal is handled at once whatever the other threads are doing.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from habitus.core.config import Settings

from .handover import Handover
from .manifest import Manifest, current_key, find_manifest

__all__ = ["STOP_GRACE", "serve_stdio"]

log = logging.getLogger("habitus.server")

# Seconds from SIGINT/SIGTERM to exit, at most: Claude Code sends SIGTERM 0.1 s after SIGINT.
# Leaving sooner loses nothing acknowledged (see the module docstring); the next process to
# open the store commits the deferred rows a stop cut short.
STOP_GRACE = 0.06
_READ_SIZE = 1 << 16
# ("data", bytes), ("eof", None), ("signal", number), ("done", exit code)
Events = queue.SimpleQueue[tuple[str, Any]]


def _claim_stdio() -> tuple[int, int]:
    """Move the protocol to private descriptors; fd 0 reads /dev/null, fd 1 goes to stderr."""
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return wire_in, wire_out


def _manifest() -> tuple[dict[str, Any] | None, Manifest | None]:
    """The manifest key of this installation and project, and the manifest filed under it."""
    from habitus.core.project.scope import detect_scope

    try:
        root = detect_scope().root
        key = current_key(Path(root) if root else None)
    except Exception as exc:  # the full server reports a bad setting itself
        log.debug("no early answers: %s", exc)
        return None, None
    manifest = find_manifest(key)
    if manifest is None:
        log.info("no start-up manifest for %s yet: the first answers wait for the server", key)
    return key, manifest


def _read(wire_in: int, events: Events) -> None:
    """Post what stdin brings (run in a thread)."""
    while True:
        try:
            data = os.read(wire_in, _READ_SIZE)
        except OSError as exc:
            log.debug("stdin closed: %s", exc)
            data = b""
        if not data:
            events.put(("eof", None))
            return
        events.put(("data", data))


def _load_server(handover: Handover, settings: Settings, events: Events) -> None:
    """Import, build and run the full server behind `handover` (run in a thread). The process
    may end as soon as the store is closed, before the event loop has wound down."""
    code = 0
    try:
        from .serve import serve_behind

        serve_behind(settings, handover, lambda: events.put(("done", 0)))
    except BaseException:
        log.exception("the server failed")
        code = 1
    events.put(("done", code))


def _run(handover: Handover, events: Events) -> int:
    """Take the client's messages until the end; the exit code."""
    partial: list[bytes] = []  # the start of a line still coming, in pieces
    while True:
        kind, value = events.get()
        if kind == "data":
            *lines, rest = value.split(b"\n")
            for raw in lines:
                if partial:
                    raw = b"".join([*partial, raw])
                    partial.clear()
                handover.take(raw.decode("utf-8", errors="replace") + "\n")
            if rest:
                partial.append(rest)
        elif kind == "eof":
            if partial:
                handover.take(b"".join(partial).decode("utf-8", errors="replace"))
            return _wait_for_server(handover, events, None) if handover.end_of_input() else 0
        elif kind == "signal":
            log.info("signal %d: stopping", value)
            return _wait_for_server(handover, events, STOP_GRACE) if handover.stop() else 0
        elif kind == "done":
            return int(value)


def _wait_for_server(handover: Handover, events: Events, grace: float | None) -> int:
    """Wait until the full server is done; after a signal, `STOP_GRACE` at most."""
    deadline = None if grace is None else time.monotonic() + grace
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            kind, value = events.get(timeout=timeout)
        except queue.Empty:
            log.warning("the server did not stop within %.1f s; leaving (what was "
                        "acknowledged is committed)", STOP_GRACE)
            return 0
        if kind == "done":
            return int(value)
        if kind == "signal" and deadline is None:
            handover.stop()
            deadline = time.monotonic() + STOP_GRACE


def serve_stdio(settings: Settings) -> NoReturn:
    """Serve one client over stdin and stdout until it leaves or a signal comes, then end the
    process (without waiting for the libraries' threads)."""
    key, manifest = _manifest()
    wire_in, wire_out = _claim_stdio()
    handover = Handover(key, manifest, wire_out)
    events: Events = queue.SimpleQueue()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: events.put(("signal", number)))
    threading.Thread(target=_read, args=(wire_in, events), name="habitus-stdin",
                     daemon=True).start()
    threading.Thread(target=_load_server, args=(handover, settings, events),
                     name="habitus-server", daemon=True).start()
    code = _run(handover, events)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)
