"""One writer per process: queued writes, batched into as few LanceDB commits as possible.

LanceDB makes one fragment and one table version per write. Requests that arrive while a
commit is in flight are grouped: consecutive appends to one table become a single `add`.
When the queue runs dry and enough commits have piled up, the writer compacts the table
(`optimize`) beside the next writes, so that thousands of single writes slow neither reads
(every fragment is a file each query opens) nor the writes themselves.

Appends that nobody waits on (the operation journal) are *deferred*: they are committed together
once the writer has been idle for a moment, when enough have gathered, or before anyone reads or
closes the table, so an operation costs one commit for its data instead of two. They are
committed in the background, beside the queue: a write waits for none of them (on object
storage, where commits contend across servers, such a commit can take seconds). Rows whose
commit met other servers' commits once too often are tried again with the next ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lancedb.table import AsyncTable

from habitus.base.errors import StoreError

from .deferred_log import DeferredLog

__all__ = ["Writer", "is_conflict"]

log = logging.getLogger("habitus.store.writer")

# Commits to a table, or rows added to it, after which it is compacted (and its indexes take
# in the new rows) once the queue is idle: many single writes, or a few large ones (an import).
COMPACT_AFTER_COMMITS = 16
COMPACT_AFTER_ROWS = 2000
# Old table versions are kept this long: long enough for a read under way in another process
# to finish. Every version is a manifest file that each read and write looks past (finding the
# latest lists them), so under a stream of single writes they must not pile up: kept 5 minutes,
# a burst of 2,500 single remembers grew their p50 from 37 to 105 ms; kept 10 s, it stayed at
# 44–52 ms. Undo and time travel work from the journal and the memories' validity, not from
# old versions.
VERSION_RETENTION = timedelta(seconds=20)
# At most this many queued requests are folded into one batch.
MAX_BATCH = 1024
# Deferred rows are committed after this much idle time, or at this many rows, or this age.
DEFER_IDLE = 0.25
DEFER_ROWS = 256
DEFER_AGE = 1.0
CLOSED = "the store is closed (its writer has stopped); open it again to write"


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` is LanceDB refusing a commit because another process committed first
    (expected with several processes on one store, and retried)."""
    text = str(exc).lower()
    return "conflict" in text or "concurrent" in text or "retryable" in text


def _raise_if_cancelled() -> None:
    """Raise CancelledError when the current task was asked to stop (and went on)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass
class _Request:
    table: AsyncTable | None
    kind: str  # "add" | "call" | "flush"
    rows: list[dict[str, Any]] = field(default_factory=list)
    call: Callable[[], Awaitable[Any]] | None = None
    urgent: bool = False
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Writer:
    """Serialises every write of one process and batches appends."""

    def __init__(
        self, *, compact_after: int = COMPACT_AFTER_COMMITS, log: DeferredLog | None = None,
        auto_compact: bool = True, refresh_before_calls: bool = False,
    ) -> None:
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._commits: dict[str, int] = {}
        self._rows: dict[str, int] = {}  # rows added since the last compaction
        self._tables: dict[str, AsyncTable] = {}
        self._compact_after = compact_after
        # Compact tables by itself once due (a store on object storage leaves it to the
        # holder of its maintenance lease, see `upkeep`).
        self.auto_compact = auto_compact
        # Point a table at its latest version before an update, delete or merge (a store on
        # object storage reads without consistency checks: another server's new rows must be
        # seen by the write that changes them).
        self.refresh_before_calls = refresh_before_calls
        self._deferred: dict[str, tuple[AsyncTable, list[dict[str, Any]]]] = {}
        self._deferred_since = 0.0
        self._flushing: asyncio.Task[None] | None = None  # deferred rows being committed
        self._unsettled: list[Path] = []  # log segments whose rows were put back to retry
        self._compacting: dict[str, asyncio.Task[None]] = {}  # table name → compaction
        self.stats = {"requests": 0, "commits": 0, "compactions": 0}
        self.log = log  # where deferred rows wait, durable, until committed
        # Told of each commit: table, version made, the rows appended (None: not an append).
        self.on_commit: Callable[[str, int, list[dict[str, Any]] | None], None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="habitus-writer")

    async def add(self, table: AsyncTable, rows: list[dict[str, Any]]) -> None:
        """Append rows; resolves once they are committed."""
        await self._submit(_Request(table, "add", rows=rows))

    def defer(self, table: AsyncTable, rows: list[dict[str, Any]]) -> None:
        """Append rows soon, in one commit with other deferred rows; returns at once."""
        if self._task is None or self._task.done():
            raise StoreError(CLOSED)
        if self.log is not None:
            self.log.record(table.name, rows)
        if not self._deferred:
            self._deferred_since = time.monotonic()
        self._deferred.setdefault(table.name, (table, []))[1].extend(rows)
        self._queue.put_nowait(_Request(None, "flush"))

    async def flush(self) -> None:
        """Commit every deferred row now (before reading what was deferred).

        Goes through the queue even when nothing is deferred: a flush may be in flight."""
        if self._task is not None and not self._task.done():
            await self._submit(_Request(None, "flush", urgent=True))

    async def call(self, table: AsyncTable, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run any other write (update, delete, merge) in turn with the rest; returns its result."""
        return await self._submit(_Request(table, "call", call=fn))

    async def _submit(self, request: _Request) -> Any:
        if self._task is None or self._task.done():
            raise StoreError(CLOSED)
        self.stats["requests"] += 1
        await self._queue.put(request)
        return await request.done

    async def compact(
        self, table: AsyncTable, *, cleanup_older_than: timedelta | None = None
    ) -> None:
        """Compact now (in turn with the writes, after any compaction under way), folding new
        rows into the indexes."""
        await self.call(table, lambda: self._optimize(table, cleanup_older_than))

    async def close(self) -> None:
        """Finish queued writes, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        await self._compacted()
        self._task = None
        if self.log is not None:
            self.log.close()

    async def _run(self) -> None:
        while True:
            first = await self._next()
            if first is None:
                await self._flush_now()
                return
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    await self._execute(batch)
                    await self._flush_now()
                    return
                batch.append(item)
            await self._execute(batch)
            if self._queue.empty() and self.auto_compact:
                await self._maybe_compact()

    async def _next(self) -> _Request | None:
        """The next request; deferred rows are committed once the queue is idle (or they are
        many, or old), one commit of them at a time. A cancellation that a commit swallowed
        (LanceDB's awaitables may) still ends the writer: the loop shutting down must not wait
        for a request forever."""
        while self._deferred and not self._flush_running():
            _raise_if_cancelled()
            if self._deferred_rows() >= DEFER_ROWS or (
                time.monotonic() - self._deferred_since >= DEFER_AGE
            ):
                self._flush_soon()
                break
            try:
                return await asyncio.wait_for(self._queue.get(), DEFER_IDLE)
            except TimeoutError:
                self._flush_soon()
        _raise_if_cancelled()
        return await self._queue.get()

    def _flush_running(self) -> bool:
        return self._flushing is not None and not self._flushing.done()

    def _flush_soon(self) -> None:
        """Commit the deferred rows in the background; when done, the queue is woken to see
        to those deferred meanwhile."""
        self._flushing = asyncio.get_running_loop().create_task(self._flush_deferred())
        self._flushing.add_done_callback(
            lambda _: self._queue.put_nowait(_Request(None, "flush")))

    async def _flush_now(self) -> None:
        """Commit every row deferred so far: after the commit under way, the rest."""
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        await self._flush_deferred()

    def _deferred_rows(self) -> int:
        return sum(len(rows) for _, rows in self._deferred.values())

    async def _flush_deferred(self) -> None:
        """Commit the deferred rows, one commit per table, the tables' at once. Rows that met
        too many concurrent commits are put back, to go with the next; the log segments
        holding them are forgotten only once they are committed."""
        pending, self._deferred = self._deferred, {}
        if not pending:
            return
        segment = self.log.rotate() if self.log is not None else None
        done = await asyncio.gather(*(self._append_deferred(table, rows)
                                      for table, rows in pending.values()))
        retry = [(table, rows) for (table, rows), ok in zip(pending.values(), done, strict=True)
                 if ok is None]
        for table, rows in retry:
            if not self._deferred:
                self._deferred_since = time.monotonic()
            self._deferred.setdefault(table.name, (table, []))[1][:0] = rows
        if segment is None or self.log is None or any(ok is False for ok in done):
            return  # a segment with rows that cannot be committed stays for the next process
        if retry:
            self._unsettled.append(segment)
        else:
            for settled in (*self._unsettled, segment):
                self.log.committed(settled)
            self._unsettled = []

    async def _append_deferred(
        self, table: AsyncTable, rows: list[dict[str, Any]]
    ) -> bool | None:
        """Append deferred rows: True when committed, None when to be tried again (other
        commits kept winning), False when they cannot be (kept in the log for the next
        process to open the store)."""
        try:
            await table.add(rows)
        except Exception as exc:
            if is_conflict(exc):
                log.info("deferred rows for %s met other commits; trying again", table.name)
                return None
            log.exception("could not write %d deferred rows to %s (kept for the next "
                          "process to open the store)", len(rows), table.name)
            return False
        self._tables[table.name] = table
        self._commits[table.name] = self._commits.get(table.name, 0) + 1
        self.stats["commits"] += 1
        return True

    async def _execute(self, batch: list[_Request]) -> None:
        i = 0
        while i < len(batch):
            req = batch[i]
            if req.kind == "flush":
                if req.urgent:
                    await self._flush_now()
                if not req.done.done():
                    req.done.set_result(None)
                i += 1
            elif req.kind == "add":
                group = [req]
                while (
                    i + len(group) < len(batch)
                    and batch[i + len(group)].kind == "add"
                    and batch[i + len(group)].table is req.table
                ):
                    group.append(batch[i + len(group)])
                rows = [row for r in group for row in r.rows]
                await self._settle(group, lambda t=req.table, rows=rows: t.add(rows), req.table,
                                   appended=rows)
                i += len(group)
            else:
                assert req.call is not None
                # Updates, deletes and rewrites wait for this process's compactions: they
                # may touch the fragments being rewritten (appends never do).
                await self._compacted()
                await self._settle([req], self._on_latest(req.table, req.call), req.table)
                i += 1

    def _on_latest(
        self, table: AsyncTable | None, fn: Callable[[], Awaitable[Any]]
    ) -> Callable[[], Awaitable[Any]]:
        """`fn`, run on the table's latest version when the writer is told to refresh first."""
        if not self.refresh_before_calls or table is None:
            return fn

        async def run() -> Any:
            await table.checkout_latest()
            return await fn()

        return run

    async def _settle(
        self, group: list[_Request], fn: Callable[[], Awaitable[Any]], table: AsyncTable,
        appended: list[dict[str, Any]] | None = None,
    ) -> None:
        try:
            result = await fn()
        except Exception as exc:  # handed to every caller in the group
            for r in group:
                if not r.done.done():
                    r.done.set_exception(exc)
            return
        self._tables[table.name] = table
        self._commits[table.name] = self._commits.get(table.name, 0) + 1
        self._rows[table.name] = self._rows.get(table.name, 0) + len(appended or ())
        self.stats["commits"] += 1
        version = getattr(result, "version", None)
        if self.on_commit is not None and isinstance(version, int):
            self.on_commit(table.name, version, appended)
        for r in group:
            if not r.done.done():
                r.done.set_result(result)

    async def _maybe_compact(self) -> None:
        """Start compacting the tables that are due, beside the writes rather than before
        them: an append that arrives meanwhile is committed at once (appends and a compaction
        commit together); other writes wait for it (`_execute`)."""
        for name, commits in list(self._commits.items()):
            due = commits >= self._compact_after or self._rows.get(name, 0) >= COMPACT_AFTER_ROWS
            if due and name not in self._compacting:
                self._compacting[name] = asyncio.create_task(self._compact(name))

    async def _compact(self, name: str) -> None:
        try:
            await self._optimize(self._tables[name], VERSION_RETENTION)
        except Exception as exc:  # another process may be compacting: try again later
            if is_conflict(exc):
                log.info("compaction of %s met another commit; will retry", name)
            else:
                log.warning("compaction of %s failed; will retry", name, exc_info=True)
        finally:
            del self._compacting[name]

    async def _compacted(self) -> None:
        """Wait for the compactions under way."""
        while self._compacting:
            await asyncio.gather(*self._compacting.values(), return_exceptions=True)

    async def _optimize(self, table: AsyncTable, cleanup_older_than: timedelta | None) -> None:
        started = time.perf_counter()
        commits, rows = self._commits.get(table.name, 0), self._rows.get(table.name, 0)
        with warnings.catch_warnings():
            # A zero retention is asked for on purpose (erasure); LanceDB warns about it.
            warnings.simplefilter("ignore", UserWarning)
            await table.optimize(cleanup_older_than=cleanup_older_than)
        # What was written while compacting waits for the next compaction.
        self._commits[table.name] = max(0, self._commits.get(table.name, 0) - commits)
        self._rows[table.name] = max(0, self._rows.get(table.name, 0) - rows)
        self.stats["compactions"] += 1
        log.debug("compacted %s in %.3fs", table.name, time.perf_counter() - started)
