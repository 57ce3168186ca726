"""Rows that searches read back by id, kept in memory so that the next search meeting the same
memory under the same filter reads nothing.

What is kept is an answer to "this memory, under this filter, with these columns": the row, or
None when the filter excludes it. Appending rows changes none of those answers (a new row has a
new id), so this process's appends keep the cache; anything else — an update, a delete, a
commit of another process, a compaction — may change them and clears it. A read that started
before a clear is not kept (`generation`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

__all__ = ["RowCache"]

# Characters of content, search text and metadata kept at most (about as many bytes).
MAX_CHARS = 16_000_000
# Per-row overhead counted on top of its text (dict, timestamps, tags).
ROW_OVERHEAD = 400

_Key = tuple[str, tuple[str, ...], str]  # filter, columns, id


class RowCache:
    """Rows by (filter, columns, id), least recently used dropped first, cleared on change."""

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        self.generation = 0  # bumped by every clear
        self._rows: OrderedDict[_Key, dict[str, Any] | None] = OrderedDict()
        self._chars = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """About the memory held (characters kept, plus a per-row overhead)."""
        return self._chars

    def clear(self) -> None:
        """Forget everything: the table changed other than by this process's appends."""
        self._rows.clear()
        self._chars = 0
        self.generation += 1

    def lookup(
        self, where: str, columns: Sequence[str], ids: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
        """What is known of `ids` (a copy of each row, None: excluded by the filter), and the
        ids to read."""
        known: dict[str, dict[str, Any] | None] = {}
        missing = []
        cols = tuple(columns)
        for memory_id in ids:
            key = (where, cols, memory_id)
            if key in self._rows:
                self._rows.move_to_end(key)
                row = self._rows[key]
                known[memory_id] = dict(row) if row is not None else None
            else:
                missing.append(memory_id)
        self.hits += len(known)
        self.misses += len(missing)
        return known, missing

    def keep(
        self, where: str, columns: Sequence[str], asked: Sequence[str],
        rows: Sequence[dict[str, Any]], generation: int,
    ) -> None:
        """Keep what a read of `asked` under `where` returned (`rows`; an id asked and not
        returned is excluded by the filter), unless the cache was cleared since the read
        started (`generation`)."""
        if generation != self.generation:
            return
        cols = tuple(columns)
        by_id = {r["id"]: r for r in rows}
        for memory_id in asked:
            row = by_id.get(memory_id)
            key = (where, cols, memory_id)
            if key in self._rows:
                continue
            self._rows[key] = dict(row) if row is not None else None
            self._chars += _size(row)
        while self._chars > self.max_chars and self._rows:
            _, dropped = self._rows.popitem(last=False)
            self._chars -= _size(dropped)


def _size(row: dict[str, Any] | None) -> int:
    if row is None:
        return ROW_OVERHEAD
    return ROW_OVERHEAD + sum(
        len(v) for k in ("content", "search_text", "metadata") if isinstance(v := row.get(k), str)
    )
