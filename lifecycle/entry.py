"""`habitus hook EVENT`: the command an assistant runs on a lifecycle event.

It reads the event's JSON from standard input and answers on standard output in the client's
format. When a server runs for the store, the event goes to it, in milliseconds; otherwise it is
spooled for the next server (started now in the background), and a new session is answered
from the store, read here (see `first_contact`). A hook never breaks a session:
whatever goes wrong, it exits 0 and prints nothing, and says why on standard error.
Standard library only until it knows it has work.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from habitus.base.errors import HookInputError

from .events import INJECTING, MAX_INPUT_BYTES, HookEvent, answer, parse_event

__all__ = ["main", "run"]



def _say(message: str) -> None:
    """A line on standard error (the logging module costs more to import than a hook takes)."""
    sys.stderr.write(f"habitus hook: {message}\n")

TIMEOUT_INJECT = 5.0  # seconds a server may take to find context for the model
TIMEOUT_CAPTURE = 2.0
WAIT_STARTING = 3.0  # seconds a prompt waits for a server that is starting


def _post(url: str, event: HookEvent, token: str | None) -> dict[str, Any] | None:
    """Send `event` to the server at `url`; its answer (None: nothing to add). Raises OSError
    when no server takes it."""
    from habitus.base.endpoint import post_json

    timeout = TIMEOUT_INJECT if event.name in INJECTING else TIMEOUT_CAPTURE
    status, data = post_json(url, "/hooks", event.to_hook(), token=token, timeout=timeout)
    if status != 200:
        raise OSError(f"the server answered {status}: {str(data)[:200]}")
    return data if isinstance(data, dict) and data else None


def _offline(db: str, event: HookEvent) -> dict[str, Any] | None:
    """No server: start one, answer a new session from the store read here, and spool the
    event (with what was shown) for the server to handle."""
    from . import daemon, files

    if os.environ.get("HABITUS_HOOKS_DAEMON", "1").strip().lower() not in ("0", "false", "no"):
        daemon.spawn(db)
    context = ""
    if event.name == "SessionStart":
        from .first_contact import session_start_here

        shown = session_start_here(db, event)
        context, event = shown.text, event._replace(injected=tuple(shown.ids))
    if not files.append_event(db, event.to_hook()):
        _say(f"the spool is full; the {event.name} event is dropped")
    return answer(event.name, context)


def run(event_name: str | None, raw: bytes, db: str) -> dict[str, Any] | None:
    """The answer to one hook call (None: print nothing)."""
    event = parse_event(raw, event_name)._replace(event_id=os.urandom(8).hex())
    from habitus.base import endpoint

    found = endpoint.find(db)
    if found is None and event.name == "UserPromptSubmit":
        from .daemon import starting

        deadline = time.monotonic() + WAIT_STARTING
        while found is None and starting(db) and time.monotonic() < deadline:
            time.sleep(0.05)
            found = endpoint.find(db)
    if found is not None:
        try:
            return _post(found["url"], event, found.get("token"))
        except (OSError, ValueError) as exc:
            _say(f"the server for {db} did not take the {event.name} event ({exc}); spooled")
    return _offline(db, event)


def _read_input() -> bytes:
    data = sys.stdin.buffer.read(MAX_INPUT_BYTES)
    while sys.stdin.buffer.read(1 << 20):  # the rest of an oversized input is dropped
        pass
    return data


def main(argv: list[str]) -> int:
    """Handle one hook call; always exit 0."""
    args = list(argv)
    db = os.environ.get("HABITUS_DB") or ""
    if "--db" in args[:-1]:
        at = args.index("--db")
        db = args[at + 1]
        del args[at: at + 2]
    try:
        if not db:
            from habitus.core.config import default_db_path

            db = default_db_path()
        if "://" not in db:
            db = os.path.realpath(os.path.expanduser(db))
        out = run(args[0] if args else None, _read_input(), db)
        if out:
            sys.stdout.write(json.dumps(out, ensure_ascii=False))
            sys.stdout.flush()
    except HookInputError as exc:
        _say(f"ignored: {exc}")
    except Exception as exc:  # a hook never breaks the session
        if os.environ.get("HABITUS_DEBUG"):
            import traceback

            traceback.print_exc()
        _say(f"failed: {exc!r}")
    return 0
