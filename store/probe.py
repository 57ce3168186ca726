"""Trying a store before opening it: whether its location answers, whether what is there can be
read, and whether a table can be written and removed (`habitus doctor`). Each step runs with
few retries and short timeouts, so an unreachable endpoint is reported in seconds rather than
after LanceDB's minutes of retrying.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass, field
from datetime import timedelta

import lancedb
import pyarrow as pa

from .opening import on_object_storage

__all__ = ["Probe", "probe"]

# Retries and timeouts for the probe, unless the user set their own.
_QUICK = {"client_max_retries": "1", "client_retry_timeout": "20", "connect_timeout": "5s",
          "timeout": "20s"}
PROBE_TABLE = "habitus_probe_"


@dataclass
class Probe:
    """What the probe found: the tables present, and the step that failed with its error."""

    tables: list[str] = field(default_factory=list)
    failed: str | None = None  # "reach" (connect and list) | "write" | "delete"
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


async def probe(uri: str, storage_options: dict[str, str] | None) -> Probe:
    """Connect to `uri` and list its tables, then write a one-row table and drop it again."""
    options = dict(storage_options or {})
    if on_object_storage(uri):
        options = {**_QUICK, **options}
    found = Probe()
    try:
        db = await lancedb.connect_async(uri, storage_options=options or None,
                                         read_consistency_interval=timedelta(0))
        with warnings.catch_warnings():
            # Its successor, list_tables, answers with the REST namespace client's models,
            # whose import costs seconds (see `lazy_imports`).
            warnings.simplefilter("ignore", DeprecationWarning)
            found.tables = list(await db.table_names())
    except Exception as exc:
        found.failed, found.error = "reach", exc
        return found
    name = PROBE_TABLE + secrets.token_hex(4)
    try:
        table = await db.create_table(
            name, data=pa.table({"id": ["probe"]}), mode="create")
        await table.count_rows()
        table.close()
    except Exception as exc:
        found.failed, found.error = "write", exc
        return found
    try:
        await db.drop_table(name)
    except Exception as exc:
        found.failed, found.error = "delete", exc
    return found
