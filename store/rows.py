"""Rows that searches read back by id, kept in memory so that the next search meeting the same
memory reads nothing.

Two kinds of entry are kept:
- what a read returned: "this memory, under this filter, with these columns" — the row, or
  None when the filter excludes it;
- the whole rows this process has just appended (as a read returns them, without the vector):
  any filter with a Python form (`Predicate.matches`) is answered from them, so that a new
  memory is met again — by the next write's duplicate check, by a recall — without a read.

Appending rows changes no answer (a new row has a new id). When rows change, the store forgets
them by id (`forget`), or everything (`clear`) when it cannot tell which rows changed. A read
that started before either is not kept (`generation`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .predicates import Predicate

__all__ = ["RowCache"]

# Characters of content, search text and metadata kept at most (about as many bytes).
MAX_CHARS = 16_000_000
# Per-row overhead counted on top of its text (dict, timestamps, tags).
ROW_OVERHEAD = 400

_Key = tuple[str | None, tuple[str, ...], str]  # filter, columns, id; (None, (), id): whole row


class RowCache:
    """Rows by (filter, columns, id) and whole appended rows by id, least recently used dropped
    first."""

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        self.generation = 0  # bumped by every forget and clear
        self._rows: OrderedDict[_Key, dict[str, Any] | None] = OrderedDict()
        self._keys: dict[str, set[_Key]] = {}  # id → its entries
        self._chars = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        """About the memory held (characters kept, plus a per-row overhead)."""
        return self._chars

    def clear(self) -> None:
        """Forget everything: rows changed, and which is not known."""
        self._rows.clear()
        self._keys.clear()
        self._chars = 0
        self.generation += 1

    def forget(self, ids: Sequence[str]) -> None:
        """Forget what is known of these rows: they changed."""
        self.generation += 1
        for memory_id in ids:
            for key in self._keys.pop(memory_id, ()):
                self._chars -= _size(self._rows.pop(key))

    def lookup(
        self, where: Predicate | None, columns: Sequence[str], ids: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
        """What is known of `ids` (a copy of each row, None: excluded by the filter), and the
        ids to read."""
        known: dict[str, dict[str, Any] | None] = {}
        missing = []
        sql, cols = _filter(where), tuple(columns)
        for memory_id in ids:
            key = (sql, cols, memory_id)
            if key in self._rows:
                self._rows.move_to_end(key)
                row = self._rows[key]
                known[memory_id] = dict(row) if row is not None else None
                continue
            whole = self._rows.get((None, (), memory_id))
            verdict = None
            if whole is not None and all(c in whole for c in cols):
                verdict = True if where is None else where.matches(whole)
            if verdict is None:
                missing.append(memory_id)
                continue
            self._rows.move_to_end((None, (), memory_id))
            known[memory_id] = {c: whole[c] for c in cols} if verdict else None  # type: ignore[index]
        self.hits += len(known)
        self.misses += len(missing)
        return known, missing

    def keep(
        self, where: Predicate | None, columns: Sequence[str], asked: Sequence[str],
        rows: Sequence[dict[str, Any]], generation: int,
    ) -> None:
        """Keep what a read of `asked` under `where` returned (`rows`; an id asked and not
        returned is excluded by the filter), unless rows were forgotten since the read started
        (`generation`)."""
        if generation != self.generation:
            return
        sql, cols = _filter(where), tuple(columns)
        by_id = {r["id"]: r for r in rows}
        for memory_id in asked:
            row = by_id.get(memory_id)
            self._put((sql, cols, memory_id), dict(row) if row is not None else None)
        self._bound()

    def prime(self, rows: Sequence[dict[str, Any]], generation: int | None = None) -> None:
        """Keep whole rows, as a read returns them: rows this process has just appended, or
        rows read whole — unless rows were forgotten since that read started (`generation`)."""
        if generation is not None and generation != self.generation:
            return
        for row in rows:
            self._put((None, (), row["id"]), row)
        self._bound()

    def room_for(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Whether `rows` fit beside what is kept, none dropped."""
        return self._chars + sum(_size(r) for r in rows) <= self.max_chars

    def _put(self, key: _Key, row: dict[str, Any] | None) -> None:
        if key in self._rows:
            return
        self._rows[key] = row
        self._keys.setdefault(key[2], set()).add(key)
        self._chars += _size(row)

    def _bound(self) -> None:
        while self._chars > self.max_chars and self._rows:
            key, dropped = self._rows.popitem(last=False)
            self._chars -= _size(dropped)
            entries = self._keys.get(key[2])
            if entries is not None:
                entries.discard(key)
                if not entries:
                    del self._keys[key[2]]


def _filter(where: Predicate | None) -> str:
    return where.sql if where is not None else ""


def _size(row: dict[str, Any] | None) -> int:
    if row is None:
        return ROW_OVERHEAD
    return ROW_OVERHEAD + sum(
        len(v) for k in ("content", "search_text", "metadata") if isinstance(v := row.get(k), str)
    )
