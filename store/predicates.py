"""Safe LanceDB predicates: every literal escaped, every column checked against a schema.

LanceDB has no bind parameters, so a predicate is SQL text. Values are rendered with
`lancedb.util.value_to_sql` (which doubles quotes) and column names must belong to the table's
schema; anything else raises `ValueError` before it reaches LanceDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from lancedb.util import value_to_sql

__all__ = ["Predicate", "Where"]


class Predicate:
    """A SQL boolean expression built only from checked columns and escaped literals."""

    __slots__ = ("sql",)

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __and__(self, other: Predicate) -> Predicate:
        return Predicate(f"({self.sql}) AND ({other.sql})")

    def __or__(self, other: Predicate) -> Predicate:
        return Predicate(f"({self.sql}) OR ({other.sql})")

    def __invert__(self) -> Predicate:
        return Predicate(f"NOT ({self.sql})")

    def __repr__(self) -> str:
        return f"Predicate({self.sql!r})"


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        iso = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"arrow_cast({value_to_sql(iso)}, 'Timestamp(Microsecond, Some(\"UTC\"))')"
    if isinstance(value, bool | int | float | str):
        return value_to_sql(value)
    raise ValueError(f"unsupported literal type {type(value).__name__}")


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
            raise ValueError(f"unknown column {name!r}")
        return name

    def eq(self, column: str, value: Any) -> Predicate:
        return Predicate(f"{self.col(column)} = {_literal(value)}")

    def ne(self, column: str, value: Any) -> Predicate:
        return Predicate(f"{self.col(column)} != {_literal(value)}")

    def ge(self, column: str, value: Any) -> Predicate:
        return Predicate(f"{self.col(column)} >= {_literal(value)}")

    def lt(self, column: str, value: Any) -> Predicate:
        return Predicate(f"{self.col(column)} < {_literal(value)}")

    def isin(self, column: str, values: Iterable[Any]) -> Predicate:
        items = list(values)
        if not items:
            return Predicate("false")
        return Predicate(f"{self.col(column)} IN ({', '.join(_literal(v) for v in items)})")

    def is_null(self, column: str) -> Predicate:
        return Predicate(f"{self.col(column)} IS NULL")

    def not_null(self, column: str) -> Predicate:
        return Predicate(f"{self.col(column)} IS NOT NULL")

    def contains(self, column: str, text: str) -> Predicate:
        """True when the string column holds `text` (literally: no wildcards)."""
        return Predicate(f"strpos({self.col(column)}, {_literal(text)}) > 0")

    def has_any(self, column: str, values: Sequence[str]) -> Predicate:
        """True when the list column shares at least one element with `values`."""
        if not values:
            return Predicate("false")
        items = ", ".join(_literal(v) for v in values)
        return Predicate(f"array_has_any({self.col(column)}, [{items}])")

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
