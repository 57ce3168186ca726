"""The operation journal: one row per write, grouped into undoable operations.

Every write appends a row (`op`, `ids`, `at`) whose `detail` JSON holds the operation it belongs
to (one `remember` may write several rows: the memory, a supersession, links), the table
versions it produced (`versions`) and what undo needs to put back (`before`). Rows are deferred
by the store's writer and share one commit (flushed before any journal read and on close).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from habitus.core.clock import utc_now
from habitus.core.ids import new_id
from habitus.core.models import CallContext, Operation

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["Journal", "operation", "current_operation"]

log = logging.getLogger("habitus.core")

_OPERATION: contextvars.ContextVar[str | None] = contextvars.ContextVar("habitus_op", default=None)


@contextmanager
def operation() -> Iterator[str]:
    """Group every journal row written inside into one undoable operation (nesting joins the
    outer one)."""
    current = _OPERATION.get()
    if current is not None:
        yield current
        return
    token = _OPERATION.set(new_id())
    try:
        yield _OPERATION.get() or ""
    finally:
        _OPERATION.reset(token)


def current_operation() -> str | None:
    """The operation the journal rows written now belong to, if one is open."""
    return _OPERATION.get()


class Journal:
    """Appends journal rows for a store and reads them back, parsed and in order."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def append(
        self, op: str, ids: list[str], ctx: CallContext, detail: dict[str, Any] | None = None
    ) -> None:
        """Record one write: what was done (`op`) to which memories, by whom, with `detail`."""
        entry = new_id()
        detail = dict(detail or {})
        detail["operation"] = current_operation() or entry
        try:  # the table versions this operation produced, for audit and time travel
            detail["versions"] = await self.store.table_versions()
        except Exception:  # a closed or remote table: the journal row matters more
            log.debug("table versions unavailable", exc_info=True)
        self.store.append_journal([{
            "id": entry, "op": op, "ids": ids, "at": utc_now(), "client": ctx.client,
            "session": ctx.session, "detail": json.dumps(detail, default=str),
        }])

    async def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first, with its parsed detail (`_detail`) and operation (`_op`)."""
        rows = await self.store.read_journal(None, limit=10_000_000)
        for row in rows:
            try:
                row["_detail"] = json.loads(row.get("detail") or "{}")
            except ValueError:
                row["_detail"] = {}
            row["_op"] = row["_detail"].get("operation") or row["id"]
        rows.sort(key=lambda r: (r["at"], r["id"]))
        return rows

    async def operations(self, limit: int = 20) -> list[Operation]:
        """The most recent operations, newest first, with the table versions they made."""
        grouped: dict[str, Operation] = {}
        for row in await self.rows():
            op = grouped.get(row["_op"])
            if op is None:
                grouped[row["_op"]] = Operation(
                    id=row["_op"],
                    op=row["op"],
                    ids=list(row["ids"] or []),
                    at=row["at"],
                    versions=row["_detail"].get("versions", {}),
                )
            else:
                op.ids = list(dict.fromkeys([*op.ids, *(row["ids"] or [])]))
                op.versions = row["_detail"].get("versions", op.versions)
        return sorted(grouped.values(), key=lambda o: o.at, reverse=True)[:limit]
