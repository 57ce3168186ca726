"""A store shared through object storage, kept current and in shape in the background.

On a local disk every read asks LanceDB for the latest version (a directory listing, cheap).
On object storage that listing is a request, and a server made several per operation. So a
store on object storage opens its tables without read consistency, and this task refreshes
the memories and their links (`checkout_latest`) every `REFRESH_EVERY` seconds and catches the
caches up with what the other servers wrote, off every caller's path: a server sees another's
writes within about that time. A read that finds its table's last refresh older than
`STALE_AFTER` (the task stalled, the machine slept; the journal and the uses, which are read
rarely and only refreshed then) refreshes it first. Writes other than appends refresh their
table first (see `Writer`), so an update never misses a row another server just added.

Compaction, index updates and the cleanup of old versions are done by one server at a time,
the holder of the store's `maintenance` lease (`lease`): every `MAINTAIN_EVERY` seconds each
server tries to take or keep it, and the holder compacts the tables that have gathered more
than `COMPACT_FRAGMENTS` fragments (on a connection of its own, beside its writes) and, now
and then, builds the vector index when due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import lancedb
from lancedb.table import AsyncTable

from .lease import Lease
from .writer import VERSION_RETENTION

__all__ = ["Upkeep", "REFRESH_EVERY", "STALE_AFTER", "MAINTAIN_EVERY", "LEASE_FOR",
           "COMPACT_FRAGMENTS"]

log = logging.getLogger("habitus.store.upkeep")

REFRESH_EVERY = 0.5
STALE_AFTER = 3.0
MAINTAIN_EVERY = 2.0
# The lease is taken for this long and renewed once half of it has passed: a holder that dies
# leaves the maintenance undone for at most this long.
LEASE_FOR = timedelta(seconds=30)
# A table made of more fragments than this is compacted (every append makes one).
COMPACT_FRAGMENTS = 16
# Seconds between two checks of whether the vector index is due (a count over the vectors).
INDEX_EVERY = 60.0


class Upkeep:
    """The background refresh and maintenance of one store on object storage."""

    def __init__(
        self, tables: Sequence[AsyncTable], lease: Lease,
        on_refresh: Callable[[], Awaitable[None]],
        index_vectors: Callable[[], Awaitable[bool]],
        connect: Callable[[], Awaitable[lancedb.AsyncConnection]],
        *, on_demand: Sequence[AsyncTable] = (),
    ) -> None:
        self.tables = list(tables)  # refreshed in the background
        self.on_demand = list(on_demand)  # refreshed when read, if stale
        self.lease = lease
        self.on_refresh = on_refresh
        self.index_vectors = index_vectors
        # Compaction runs on a connection of its own: LanceDB holds a table's handle while it
        # compacts it, and this server's appends through the store's handles must go on.
        self.connect = connect
        self._handles: dict[str, AsyncTable] = {}
        self.refreshed_at = time.monotonic()
        self._read_at = {t.name: time.monotonic() for t in self.on_demand}
        self._indexed_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {"refreshes": 0, "maintenance": 0, "compactions": 0}

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._every(REFRESH_EVERY, self.refresh), name="habitus-refresh"),
                loop.create_task(self._every(MAINTAIN_EVERY, self.maintain),
                                 name="habitus-maintenance"),
            ]

    async def close(self) -> None:
        """Stop, and give the lease up so another server takes over at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for handle in self._handles.values():
            handle.close()
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def fresh(self, table: AsyncTable | None = None) -> None:
        """Refresh now if the background has not lately (a read calls this first); `table`:
        one of the tables refreshed on demand, refreshed if it has not been lately."""
        if table is not None and table.name in self._read_at:
            if time.monotonic() - self._read_at[table.name] > STALE_AFTER:
                await table.checkout_latest()
                self._read_at[table.name] = time.monotonic()
            return
        if time.monotonic() - self.refreshed_at > STALE_AFTER:
            await self.refresh()

    async def refresh(self) -> None:
        """Point every table at its latest version and catch the caches up (one refresh at a
        time: a caller arriving meanwhile waits for the one under way)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
        await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        await asyncio.gather(*(t.checkout_latest() for t in self.tables))
        self.refreshed_at = time.monotonic()
        self.stats["refreshes"] += 1
        await self.on_refresh()

    @staticmethod
    async def _every(seconds: float, step: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the object store unreachable for a moment: next round
                log.warning("keeping the store current failed (%s); trying again", exc)

    async def maintain(self) -> bool:
        """Compact what is due if this server holds (or can take) the lease; True if it did
        the maintenance round."""
        if not await self._hold():
            return False
        names = [t.name for t in (*self.tables, *self.on_demand, self.lease.table)]
        for name in names:
            table = await self._handle(name)
            await table.checkout_latest()
            stats = await table.stats()
            if int(stats["fragment_stats"]["num_fragments"]) > COMPACT_FRAGMENTS:
                started = time.perf_counter()
                await table.optimize(cleanup_older_than=VERSION_RETENTION)
                self.stats["compactions"] += 1
                log.debug("compacted %s in %.3fs", name, time.perf_counter() - started)
        if time.monotonic() - self._indexed_at >= INDEX_EVERY:
            self._indexed_at = time.monotonic()
            await self.index_vectors()
        self.stats["maintenance"] += 1
        return True

    async def _handle(self, name: str) -> AsyncTable:
        """The maintenance connection's handle on the table `name`."""
        if name not in self._handles:
            if not self._handles:
                self._db = await self.connect()
            self._handles[name] = await self._db.open_table(name)
        return self._handles[name]

    async def _hold(self) -> bool:
        """Whether this server holds the lease, renewing it once half its time has passed."""
        until = self.lease.held_until
        if until is not None and until - LEASE_FOR / 2 > datetime.now(UTC):
            return True
        return await self.lease.acquire(LEASE_FOR)
