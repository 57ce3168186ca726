"""Safe LanceDB predicates: every literal escaped, every column checked against a schema.

LanceDB has no bind parameters, so a predicate is SQL text. Values are rendered with
`lancedb.util.value_to_sql` (which doubles quotes) and column names must belong to the table's
schema; anything else raises `InvalidInput` (a `ValueError`) before it reaches LanceDB. Each
table's builder is one of `WHERE`'s (`store.where.memories.eq("id", x)`).

A predicate can also be evaluated on a row held in memory (`test`), with SQL's three-valued
logic (a comparison with NULL is unknown, and a row is kept only when the whole predicate is
true), so that a cache can answer a filtered read without reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from lancedb.util import value_to_sql

from habitus.base.errors import InvalidInput

from .schema import journal_schema, links_schema, memories_schema, passages_schema, uses_schema

__all__ = ["Predicate", "Where", "TablePredicates", "WHERE"]


# A predicate evaluated on one row: True, False, or None (unknown: it met a NULL).
Test = Callable[[dict[str, Any]], bool | None]


class Predicate:
    """A SQL boolean expression built only from checked columns and escaped literals, and the
    same expression as a Python test of a row (None when it has none)."""

    __slots__ = ("sql", "_test")

    def __init__(self, sql: str, test: Test | None = None) -> None:
        self.sql = sql
        self._test = test

    def matches(self, row: dict[str, Any]) -> bool | None:
        """Whether LanceDB would return `row` under this predicate (None: cannot tell here —
        the predicate has no Python form, or names a column the row lacks)."""
        if self._test is None:
            return None
        try:
            return self._test(row) is True  # unknown (NULL) is not kept, as in a WHERE clause
        except (KeyError, _CannotTell):
            return None

    def __and__(self, other: Predicate) -> Predicate:
        return Predicate(f"({self.sql}) AND ({other.sql})", _join(self._test, other._test, False))

    def __or__(self, other: Predicate) -> Predicate:
        return Predicate(f"({self.sql}) OR ({other.sql})", _join(self._test, other._test, True))

    def __invert__(self) -> Predicate:
        a = self._test
        test: Test | None = None
        if a is not None:
            def test(row: dict[str, Any]) -> bool | None:
                x = a(row)
                return None if x is None else not x
        return Predicate(f"NOT ({self.sql})", test)

    def __repr__(self) -> str:
        return f"Predicate({self.sql!r})"


def _join(a: Test | None, b: Test | None, decisive: bool) -> Test | None:
    """`a AND b` (`decisive` False) or `a OR b` (True) in three-valued logic: either side
    decisive decides; else unknown if either side is."""
    if a is None or b is None:
        return None

    def test(row: dict[str, Any]) -> bool | None:
        x, y = a(row), b(row)
        if x is decisive or y is decisive:
            return decisive
        return None if x is None or y is None else not decisive

    return test


def _comparable(value: Any) -> Any:
    """A literal as a row holds it: timestamps are UTC-aware (naive ones are taken as UTC)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _CannotTell(Exception):
    """The Python form cannot be sure to agree with LanceDB on this value."""


def _scalar(column: str, check: Callable[[Any], bool]) -> Test:
    """A test of one scalar column: unknown on NULL. A float is not judged here (LanceDB may
    compare a float32 column in float32 or in float64), nor a list (not compared this way)."""
    def test(row: dict[str, Any]) -> bool | None:
        value = row[column]
        if value is None:
            return None
        if isinstance(value, float | list | dict):
            raise _CannotTell(column)
        return check(value)
    return test


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        iso = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"arrow_cast({value_to_sql(iso)}, 'Timestamp(Microsecond, Some(\"UTC\"))')"
    if isinstance(value, bool | int | float | str):
        return value_to_sql(value)
    raise InvalidInput(f"unsupported literal type {type(value).__name__}")


class Where:
    """Builds predicates for one table; refuses columns that are not in its schema."""

    def __init__(self, schema: pa.Schema) -> None:
        self._columns = frozenset(schema.names)

    @staticmethod
    def literal(value: Any) -> str:
        """`value` as an escaped SQL literal (for computed updates)."""
        return _literal(value)

    def col(self, name: str) -> str:
        if name not in self._columns:
            raise InvalidInput(f"unknown column {name!r}")
        return name

    def eq(self, column: str, value: Any) -> Predicate:
        v = _comparable(value)
        return Predicate(f"{self.col(column)} = {_literal(value)}",
                         _scalar(column, lambda x: x == v))

    def ne(self, column: str, value: Any) -> Predicate:
        v = _comparable(value)
        return Predicate(f"{self.col(column)} != {_literal(value)}",
                         _scalar(column, lambda x: x != v))

    def ge(self, column: str, value: Any) -> Predicate:
        v = _comparable(value)
        return Predicate(f"{self.col(column)} >= {_literal(value)}",
                         _scalar(column, lambda x: x >= v))

    def lt(self, column: str, value: Any) -> Predicate:
        v = _comparable(value)
        return Predicate(f"{self.col(column)} < {_literal(value)}",
                         _scalar(column, lambda x: x < v))

    def isin(self, column: str, values: Iterable[Any]) -> Predicate:
        items = list(values)
        if not items:
            return Predicate("false", lambda row: False)
        wanted = {_comparable(v) for v in items}
        return Predicate(f"{self.col(column)} IN ({', '.join(_literal(v) for v in items)})",
                         _scalar(column, lambda x: x in wanted))

    def is_null(self, column: str) -> Predicate:
        return Predicate(f"{self.col(column)} IS NULL", lambda row: row[column] is None)

    def not_null(self, column: str) -> Predicate:
        return Predicate(f"{self.col(column)} IS NOT NULL", lambda row: row[column] is not None)

    def contains(self, column: str, text: str) -> Predicate:
        """True when the string column holds `text` (literally: no wildcards)."""
        return Predicate(f"strpos({self.col(column)}, {_literal(text)}) > 0",
                         _scalar(column, lambda x: text in x))

    def has_any(self, column: str, values: Sequence[str]) -> Predicate:
        """True when the list column shares at least one element with `values`."""
        if not values:
            return Predicate("false", lambda row: False)
        items = ", ".join(_literal(v) for v in values)
        wanted = set(values)

        def test(row: dict[str, Any]) -> bool | None:
            value = row[column]
            return None if value is None else any(v in wanted for v in value)

        return Predicate(f"array_has_any({self.col(column)}, [{items}])", test)

    @staticmethod
    def all(*predicates: Predicate | None) -> Predicate | None:
        """Conjunction of the given predicates, skipping `None`; `None` when there are none."""
        parts = [p for p in predicates if p is not None]
        if not parts:
            return None
        result = parts[0]
        for p in parts[1:]:
            result = result & p
        return result


@dataclass(frozen=True)
class TablePredicates:
    """The predicate builder of each table of a store."""

    memories: Where
    links: Where
    journal: Where
    uses: Where
    passages: Where


# The columns are the same whatever the vectors' model and dimension.
WHERE = TablePredicates(
    memories=Where(memories_schema(384, "")),
    links=Where(links_schema()),
    journal=Where(journal_schema()),
    uses=Where(uses_schema()),
    passages=Where(passages_schema(384, "")),
)
