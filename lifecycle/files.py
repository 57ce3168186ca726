"""What hook processes share on disk: the spool of events waiting for a server, and the last
session-start context of each project.

A hook must answer at once, and opening the store takes seconds; so when no server runs for the
store, the hook appends its (already cleaned) event to the spool and returns, and the next server
to start drains it in order. A new session with no server yet is answered from the context the
server last computed for that project. Files live in the user's state directory, readable only
by the user. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from habitus.base import spool
from habitus.base.dirs import state_dir
from habitus.core.trust.privacy import clean_data, clean_text

__all__ = [
    "store_key", "append_event", "spool_waiting", "take_events", "project_key",
    "write_context", "read_context", "scrub_files",
]

MAX_SPOOL_BYTES = 64 * 1024 * 1024  # past this, events are dropped (and logged) until drained


def store_key(db: str) -> str:
    """A short name for the store `db` (an absolute path or a URI)."""
    return hashlib.sha256(db.encode("utf-8")).hexdigest()[:16]


def _spool(db: str) -> Path:
    return state_dir() / f"spool-{store_key(db)}.jsonl"


def append_event(db: str, event: dict[str, Any]) -> bool:
    """Append one event to the store's spool; False when the spool is full."""
    return spool.append(_spool(db), [event], max_bytes=MAX_SPOOL_BYTES)


def spool_waiting(db: str) -> bool:
    """Whether events wait in the spool of `db` (a cheap check, made often)."""
    path = _spool(db)
    return path.exists() or any(path.parent.glob(f"{path.stem}.*{spool.TAKEN}"))


def take_events(db: str) -> tuple[list[dict[str, Any]], list[Path]]:
    """The spooled events of `db`, oldest first, and the files to delete once they are handled.

    The spool is taken by renaming it, so hooks keep appending to a fresh one and two servers
    never take the same events; what a server that died had taken is taken again (see
    `base.spool`).
    """
    path = _spool(db)
    taken = spool.abandoned(path.parent, f"{path.stem}.")
    mine = spool.take(path)
    if mine is not None:
        taken.append(mine)
    return [event for file in taken for event in spool.records(file)], taken


def project_key(scope: str, branch: str) -> str:
    """The key a project's session-start context is kept under: its scope and branch."""
    return f"{scope}\n{branch}"


def _context_file(db: str, project: str) -> Path:
    return state_dir() / f"context-{store_key(db)}-{store_key(project)}.json"


def write_context(db: str, project: str, context: str, ids: list[str]) -> None:
    """Keep the session-start context of `project` (a scope and branch) for the next session
    (cleaned again: nothing private reaches the disk, even from a memory stored unclean)."""
    context = clean_text(context)[0]
    path = _context_file(db, project)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"context": context, "ids": ids}, out, ensure_ascii=False)
    os.replace(tmp, path)


def read_context(db: str, project: str) -> tuple[str, list[str]]:
    """The last session-start context kept for `project` ("" when there is none)."""
    try:
        data = json.loads(_context_file(db, project).read_text(encoding="utf-8"))
        return str(data.get("context") or ""), [str(i) for i in data.get("ids") or []]
    except (OSError, ValueError, AttributeError):
        return "", []


def _files_of(db: str) -> list[Path]:
    """Every file the hooks and the daemon keep for the store `db`."""
    key = store_key(db)
    folder = state_dir()
    return sorted({*folder.glob(f"context-{key}-*.json"), *folder.glob(f"spool-{key}*"),
                   *folder.glob(f"daemon-{key}.log*")})


def scrub_files(db: str, *, apply: bool = False) -> dict[str, Any]:
    """Secrets and private text in the files kept for `db` (session-start contexts, the spool,
    the daemon's log): counted, and with `apply` replaced in place."""
    kinds: set[str] = set()
    dirty: list[str] = []
    for path in _files_of(db):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".log":
            cleaned, found = clean_text(text)
        else:  # JSON, one value or one per line: clean the values, not the quoting
            cleaned, found = _clean_json_lines(text)
        if not found:
            continue
        kinds.update(found)
        dirty.append(path.name)
        if apply:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.scrub")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(cleaned)
            os.replace(tmp, path)
    return {"files": dirty, "kinds": sorted(kinds), "applied": apply and bool(dirty)}


def _clean_json_lines(text: str) -> tuple[str, list[str]]:
    found: set[str] = set()
    out = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            cleaned, kinds = clean_text(line)
        else:
            data, kinds = clean_data(value)
            cleaned = json.dumps(data, ensure_ascii=False)
        found.update(kinds)
        out.append(cleaned)
    return "\n".join(out) + ("\n" if text.endswith("\n") else ""), sorted(found)
