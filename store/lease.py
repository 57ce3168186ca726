"""A lease in the store: which of the servers sharing an object store keeps its tables in shape.

Compaction, index updates and the cleanup of old versions rewrite what every server reads; run
by each server they conflict with one another and multiply the requests to the object store.
So on object storage one server at a time holds the `maintenance` lease and does that work
for all. The lease is a row of the `leases` table: its holder, an expiry and an epoch. Taking
or renewing it is a compare-and-set through LanceDB's own commit: an update of the row *where
the epoch is still the one read*. Two servers trying at once both commit an update; LanceDB
retries the loser against the winner's version, where its predicate no longer matches, so it
updates nothing and knows it lost. A holder that dies stops renewing; the lease then expires
and the next server to try takes it.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

import lancedb
import pyarrow as pa
from lancedb.table import AsyncTable
from lancedb.util import value_to_sql

__all__ = ["Lease", "open_leases", "LEASES", "MAINTENANCE"]

LEASES = "leases"
MAINTENANCE = "maintenance"
_TS = pa.timestamp("us", tz="UTC")


def leases_schema() -> pa.Schema:
    """Schema of `leases`: one row per lease."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("holder", pa.string(), nullable=False),
            pa.field("epoch", pa.int64(), nullable=False),
            pa.field("expires", _TS, nullable=False),
        ],
        metadata={"habitus.table": LEASES},
    )


async def open_leases(db: lancedb.AsyncConnection) -> AsyncTable:
    """The `leases` table, created with a free `maintenance` lease when absent (two servers
    creating it at once: one creates, the other opens what it made)."""
    try:
        return await db.open_table(LEASES)
    except (ValueError, FileNotFoundError):
        pass
    free = {"id": MAINTENANCE, "holder": "", "epoch": 0,
            "expires": datetime.fromtimestamp(0, UTC)}
    try:
        return await db.create_table(
            LEASES, data=pa.Table.from_pylist([free], schema=leases_schema()), exist_ok=True)
    except Exception:  # made by another server just now: its commit won
        return await db.open_table(LEASES)


class Lease:
    """One named lease, as seen by this process."""

    def __init__(self, table: AsyncTable, name: str = MAINTENANCE) -> None:
        self.table = table
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.held_until: datetime | None = None  # while this process holds it

    @property
    def held(self) -> bool:
        """Whether this process holds the lease now (by its own clock)."""
        return self.held_until is not None and datetime.now(UTC) < self.held_until

    async def acquire(self, duration: timedelta) -> bool:
        """Take the lease, or renew it when held, for `duration`; False when another process
        holds it unexpired (or took it first just now)."""
        await self.table.checkout_latest()
        rows = await self.table.query().where(f"id = {value_to_sql(self.name)}").select(
            ["holder", "epoch", "expires"]).to_list()
        if not rows:
            return False
        current = max(rows, key=lambda r: r["epoch"])
        now = datetime.now(UTC)
        if current["holder"] != self.holder and current["expires"] > now:
            self.held_until = None
            return False
        until = now + duration
        result = await self.table.update(
            updates_sql={"holder": value_to_sql(self.holder),
                         "epoch": str(current["epoch"] + 1),
                         "expires": _timestamp(until)},
            where=f"id = {value_to_sql(self.name)} AND epoch = {int(current['epoch'])}",
        )
        won = int(getattr(result, "rows_updated", 0)) > 0
        self.held_until = until if won else None
        return won

    async def release(self) -> None:
        """Give the lease up (when held), so another server may take it at once."""
        if self.held_until is None:
            return
        self.held_until = None
        await self.table.update(
            updates_sql={"expires": _timestamp(datetime.fromtimestamp(0, UTC))},
            where=f"id = {value_to_sql(self.name)} AND holder = {value_to_sql(self.holder)}",
        )


def _timestamp(at: datetime) -> str:
    return f"arrow_cast({value_to_sql(at.isoformat())}, 'Timestamp(Microsecond, Some(\"UTC\"))')"
