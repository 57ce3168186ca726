"""Durable hand-over through files: records appended as JSON lines, taken by renaming the file
(so two processes never take the same records), and taken again from a process that died
before it was done. One mechanism for the hooks' spool of events and the store's log of
deferred rows.

A taken file is named `<name>.<pid>.taken`, the taker's process id inside it; deleting it says
its records are handled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .processes import alive

__all__ = ["append", "take", "abandoned", "records", "TAKEN"]

TAKEN = ".taken"


def append(path: Path, items: Iterable[Any], *, max_bytes: int | None = None) -> bool:
    """Append `items` as JSON lines to `path` (created private), whole lines only, safe beside
    other writers; False (nothing written) when the file would pass `max_bytes`. A file taken
    while this waited for it is not written to: the items go to the fresh one."""
    data = "".join(json.dumps(item, ensure_ascii=False, default=str) + "\n"
                   for item in items).encode("utf-8")
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = -1
            if current != os.fstat(fd).st_ino:
                continue  # taken while we waited: write to the new file
            if max_bytes is not None and os.fstat(fd).st_size + len(data) > max_bytes:
                return False
            os.write(fd, data)
            return True
        finally:
            os.close(fd)


def take(path: Path) -> Path | None:
    """`path` taken by this process (renamed once no writer is halfway through a line), or
    None when there is nothing to take."""
    mine = path.with_name(f"{path.name.split('.')[0]}.{os.getpid()}{TAKEN}")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(path, mine)
    except FileNotFoundError:  # another process took it first
        return None
    finally:
        os.close(fd)
    return mine


def taker(path: Path) -> int | None:
    """The process that took `path`, from its name."""
    try:
        return int(path.name.removesuffix(TAKEN).rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return None


def abandoned(folder: Path, prefix: str) -> list[Path]:
    """The files under `folder` named `prefix…` that a process took and died with, taken
    again by this one, oldest name first."""
    found = []
    for path in sorted(folder.glob(f"{prefix}*{TAKEN}")):
        pid = taker(path)
        if pid is None or pid == os.getpid() or alive(pid):
            continue
        again = take(path)
        if again is not None:
            found.append(again)
    return found


def records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of `path`, one per line; a torn or malformed line is skipped."""
    out: list[dict[str, Any]] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    out.append(item)
    return out
