"""Whether a process runs: the one check for servers' endpoints, spool files being handled and
the write logs of processes that may have died."""

from __future__ import annotations

import os

__all__ = ["alive"]


def alive(pid: int) -> bool:
    """Whether `pid` is a running process of this user. Another user's process with that
    number (the number reused) means the one we knew is gone."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError, ValueError):
        return False
    return True
