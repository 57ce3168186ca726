"""Deferred rows made durable: what a process has acknowledged but not yet committed is kept in
a small file beside the tables until the commit, so a crash (kill -9) loses none of it.

The writer defers journal, use and link rows for up to a second to share one commit. Each
deferred row is first appended to this process's current log segment (a plain write: what a
killed process wrote to a file survives it). At each flush the segment is closed and a new one
opened; once the flush is committed the closed segment is deleted. A process opening the store
commits the segments that dead processes left behind (taking each by renaming it, so two
openers never replay the same one: see `base.spool`) and skips rows already committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from habitus.base import spool
from habitus.base.processes import alive

__all__ = ["DeferredLog"]

# The timestamp columns of deferred rows (journal `at`, link `created_at`), stored as text.
_TIMES = ("at", "created_at")


class DeferredLog:
    """The log segments of one process in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._segment = 0
        self._fd: int | None = None

    def _path(self, segment: int) -> Path:
        return self.folder / f"{self._name}-{segment}.jsonl"

    def record(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        """Keep `rows` (deferred to `table`) until they are committed."""
        if self._fd is None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(self._path(self._segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                               0o600)
        data = "".join(json.dumps({"table": table, "row": row}, default=str) + "\n"
                       for row in rows)
        os.write(self._fd, data.encode("utf-8"))

    def rotate(self) -> Path | None:
        """Close the current segment (its rows are being committed now) and start a new one;
        the closed segment's path, for `committed`."""
        if self._fd is None:
            return None
        os.close(self._fd)
        self._fd = None
        closed = self._path(self._segment)
        self._segment += 1
        return closed

    @staticmethod
    def committed(segment: Path | None) -> None:
        """The rows of `segment` are in their tables: forget them."""
        if segment is not None:
            segment.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._path(self._segment).unlink(missing_ok=True)

    def take_orphans(self) -> dict[str, list[dict[str, Any]]]:
        """The rows dead processes deferred and never committed, by table, and the segments
        they came from taken out of everyone else's reach (delete them with
        `orphans_committed`)."""
        self._orphans: list[Path] = []
        if not self.folder.is_dir():
            return {}
        for path in sorted(self.folder.glob("*.jsonl")):  # a segment names its writer first
            writer = path.name.split("-", 1)[0]
            if writer.isdigit() and int(writer) != os.getpid() and not alive(int(writer)):
                taken = spool.take(path)
                if taken is not None:
                    self._orphans.append(taken)
        self._orphans += spool.abandoned(self.folder, "")
        found: dict[str, list[dict[str, Any]]] = {}
        for path in self._orphans:
            for item in spool.records(path):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    row = item["row"]
                    for key in _TIMES:
                        if isinstance(row.get(key), str):
                            row[key] = datetime.fromisoformat(row[key])
                    found.setdefault(item["table"], []).append(row)
        return found

    def orphans_committed(self) -> None:
        for path in getattr(self, "_orphans", []):
            path.unlink(missing_ok=True)
        self._orphans = []
