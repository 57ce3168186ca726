"""Re-embed every memory with another model, online and resumably (`habitus reindex`).

Vectors of different models cannot be compared, so changing the embedder means embedding every
memory again. This is done beside the live data, never in place:

1. *Stage.* Two nullable columns are added to `memories`: `vector_next` (a variable-length
   `list<float32>`, so LanceDB never mistakes it for a second vector column and searches keep
   using `vector`) and `embedding_model_next`. The target model and dimension are written on
   the `vector_next` field: that is what makes an interrupted run resumable.
2. *Fill.* Rows whose `vector_next` is null are embedded in batches and merged in by id (only
   the staging columns are written, so nothing else a concurrent writer changes is lost, and a
   row deleted meanwhile is never re-inserted). The loop runs until no null is left, so rows
   other processes write during the fill are caught up too. Search meanwhile runs on `vector`.
3. *Swap.* One `alter_columns` commit renames `vector` → `vector_old` (cast to a plain list) and
   `vector_next` → `vector` (cast to `fixed_size_list<float32, dim>`), and the same for the
   model columns; the field metadata then names the model, the old columns are dropped and the
   ANN index is rebuilt if there was one (LanceDB refuses to cast an indexed column, so it is
   dropped just before the swap; search is exact in between).
4. *Repair.* Rows whose vector is missing or labelled with another model (written by another
   process in the instant around the swap) are embedded straight into `vector`.

Re-running with the same embedder resumes (or, on a finished store, only repairs); re-running
with another one discards the staged vectors and starts over. Row count and ids never change.
The columns and their commits are the store's (`habitus.store.reembedding`); this module
embeds, counts and journals.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import numpy as np

from habitus.base.errors import InvalidInput, StoreError
from habitus.core.embedding.embedders import Embedder
from habitus.core.ids import new_id
from habitus.core.text.terms import embedding_text
from habitus.store import Store

__all__ = ["ReindexResult", "reindex", "DEFAULT_BATCH"]

log = logging.getLogger("habitus.reindex")

DEFAULT_BATCH = 256

Progress = Callable[[int, int], Awaitable[None] | None]


@dataclass
class ReindexResult:
    """What a reindex did; `rows_before`/`rows_after` and the ids are checked to be equal."""

    from_model: str
    to_model: str
    dimension: int
    rows_before: int = 0
    rows_after: int = 0
    embedded: int = 0
    repaired: int = 0
    batches: int = 0
    resumed: bool = False
    ids_unchanged: bool = True
    passages: int = 0  # of long memories, embedded past the first window
    swapped: bool = False
    vector_index: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def reindex(
    store: Store,
    embedder: Embedder | None,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Progress | None = None,
    client: str | None = None,
) -> ReindexResult:
    """Re-embed every memory of `store` with `embedder` (None: drop the vectors, lexical only).

    `on_batch(done, total)` is awaited after each committed batch (progress, tests); an
    exception it raises interrupts the reindex, which a later call resumes.
    """
    if batch_size < 1:
        raise InvalidInput(f"batch size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    await store.flush()
    target = embedder.model_id if embedder is not None else ""
    dimension = await anyio.to_thread.run_sync(lambda: embedder.dimension) if embedder else 0
    columns = await store.embedding_columns()
    dimension = dimension or columns.dimension
    result = ReindexResult(from_model=columns.model, to_model=target, dimension=dimension)
    result.rows_before = await store.count()
    ids_before = await store.memory_ids()

    # A previous run swapped but stopped before cleaning up: finish its swap first.
    if columns.unfinished_swap:
        log.info("finishing the swap of an interrupted reindex")
        await store.finish_swap((target, dimension) if columns.dimension == dimension else None)
        columns = await store.embedding_columns()

    staged = columns.staged is not None
    if staged:
        if columns.staged == (target, str(dimension)):
            result.resumed = True
            log.info("resuming the reindex to %s", target or "no model")
        else:
            log.warning("discarding the vectors staged for another model")
            await store.discard_staged()
            staged = False

    already = (columns.model, columns.dimension) == (target, dimension) and not result.resumed
    mark = time.perf_counter()
    if not already:
        if not staged:
            await store.stage_vectors(target, dimension)
        # Fill (and catch up with rows written meanwhile) until no staged vector is missing.
        total = result.rows_before
        while embedder is not None:
            rows = await store.unstaged(batch_size)
            if not rows:
                break
            vectors = await _embed(embedder, rows, dimension)
            await store.put_staged([r["id"] for r in rows], vectors, target)
            result.embedded += len(rows)
            result.batches += 1
            total = max(total, await store.count()) if result.batches % 16 == 0 else total
            if on_batch is not None:
                outcome = on_batch(min(result.embedded, total), total)
                if inspect.isawaitable(outcome):
                    await outcome
        result.phases["fill"] = round(time.perf_counter() - mark, 3)

        # Swap, in one commit (the ANN index, if any, dropped first).
        mark = time.perf_counter()
        await store.swap_staged(target, dimension)
        result.swapped = True
        result.phases["swap"] = round(time.perf_counter() - mark, 3)

    # Repair: rows without a vector of the target model (written around the swap, or left
    # without one by an earlier failure) are embedded straight into `vector`.
    mark = time.perf_counter()
    if embedder is not None:
        seen: set[str] = set()
        while True:
            rows = [r for r in await store.lacking_vectors(target, batch_size + len(seen))
                    if r["id"] not in seen]
            if not rows:
                break
            seen.update(r["id"] for r in rows)
            vectors = await _embed(embedder, rows, dimension)
            await store.put_vectors([r["id"] for r in rows], vectors, target, dimension)
            result.repaired += len(rows)
    else:
        await store.unlabel_vectors()
    result.phases["repair"] = round(time.perf_counter() - mark, 3)

    await store.adopt_embedding(target, dimension)
    if not already:
        mark = time.perf_counter()
        result.passages = await _passages(store, embedder, batch_size)
        result.phases["passages"] = round(time.perf_counter() - mark, 3)
    if columns.vector_index and embedder is not None:
        mark = time.perf_counter()
        result.vector_index = await store.maybe_index_vectors(min_rows=0)
        result.phases["index"] = round(time.perf_counter() - mark, 3)

    result.rows_after = await store.count()
    ids_after = await store.memory_ids()
    # A reindex never inserts nor deletes; other processes may have meanwhile.
    result.ids_unchanged = ids_after == ids_before
    lost = ids_before - ids_after
    if lost:
        log.warning("%d memories were deleted by another process during the reindex", len(lost))
    result.seconds = round(time.perf_counter() - started, 3)
    _journal(store, result, client)
    await store.flush()
    log.info("reindexed %d memories to %s (%d-d) in %.1fs", result.rows_after,
             target or "no model", dimension, result.seconds)
    return result


async def _embed(embedder: Embedder, rows: list[dict[str, Any]], dimension: int) -> np.ndarray:
    texts = [embedding_text(r["content"] or "", _metadata(r.get("metadata"))) for r in rows]
    vectors = await anyio.to_thread.run_sync(embedder.embed, texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(rows), dimension):
        raise StoreError(
            f"{embedder.model_id} returned vectors of shape {vectors.shape}, "
            f"expected ({len(rows)}, {dimension})"
        )
    return vectors


async def _passages(store: Store, embedder: Embedder | None, batch_size: int) -> int:
    """The old model's passages dropped; the long memories' passages embedded with the new
    one (when it gives passages). Returns how many."""
    await store.reset_passages()
    split = getattr(embedder, "overflow", None)
    if embedder is None or split is None:
        return 0
    done, offset = 0, 0
    while True:
        rows = await store.memory_texts(offset, batch_size)
        if not rows:
            return done
        offset += len(rows)
        texts = [embedding_text(r["content"] or "", _metadata(r.get("metadata"))) for r in rows]
        pieces = await anyio.to_thread.run_sync(lambda texts=texts: [split(t) for t in texts])
        flat = [p for found in pieces for p in found]
        if not flat:
            continue
        vectors = iter(await anyio.to_thread.run_sync(embedder.embed, flat))
        await store.add_passages(embedder.model_id, [
            (r, [next(vectors) for _ in found]) for r, found in zip(rows, pieces, strict=True)
        ])
        done += len(flat)


def _metadata(value: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(value or "{}") if not isinstance(value, dict) else value
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _journal(store: Store, result: ReindexResult, client: str | None) -> None:
    detail = {k: v for k, v in result.as_dict().items()}
    store.append_journal([{
        "id": new_id(), "op": "reindex", "ids": [], "at": datetime.now(UTC),
        "client": client, "session": None, "detail": json.dumps(detail, default=str),
    }])
