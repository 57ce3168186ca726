"""Real erasure: `forget --purge` removes content from the live data, every old table version
and every file on disk; the journal keeps only that something was erased.

LanceDB deletes lazily: `delete` writes a deletion vector and leaves the row in its data file,
and compaction only rewrites a fragment once enough of it is deleted; old versions keep every
file they reference. So a purge

1. rewrites every fragment (an update leaves the old copy of a row, marked deleted, in its old
   fragment, where no query can find it): the surviving rows are re-inserted with `merge_insert`
   (atomic commits of up to 2,000 rows), then the purged rows are deleted — the same in
   `links` (edges of the purged memories) and `journal` (rows that name them are scrubbed: the ids
   removed and the detail replaced by `{"erased": true}`, since details can hold tags or
   metadata);
2. compacts every table and cleans up *all* old versions (`cleanup_older_than=0`,
   `delete_unverified=True`, which also drops files of failed writes);
3. rebuilds the memories' full-text and tag indexes from the surviving rows.

`scrub_secrets` rewrites the same way to take out secrets stored before redaction existed (or
while it was off): the rows keep their ids, their secrets become `[redacted: kind]` markers.

Caveats, by design: undo and time travel cannot reach versions older than a purge (they are
gone); another process writing to the same store during a purge may see a commit conflict and
retry. An erasure itself cannot be undone.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from habitus.core.embedding.encoder import Encoder
from habitus.core.history.journal import Journal
from habitus.core.models import CallContext

if TYPE_CHECKING:
    from lancedb.table import AsyncTable

    from habitus.store import Store

__all__ = ["purge", "scrub_secrets"]

_CHUNK = 2000


def _in(column: str, values: Sequence[str]) -> str:
    from lancedb.util import value_to_sql

    return f"{column} IN ({', '.join(value_to_sql(v) for v in values)})"


async def _rewrite(
    table: AsyncTable,
    remove: set[str],
    replace: dict[str, dict[str, Any]] | None = None,
) -> int:
    """Physically drop rows `remove` and rewrite rows `replace` (id → new values): the whole
    table is rewritten, so its cost grows with the store (a purge is rare and explicit).

    Must run inside the store's writer (it is a sequence of commits on one table).
    """
    replace = replace or {}
    touched = remove | set(replace)
    if not touched:
        return 0
    # Every fragment is rewritten, not only those holding the live rows: an updated row leaves
    # its old copy, marked deleted, in whatever fragment it was in before — invisible to queries.
    addresses = (await table.query().select(["id"]).to_arrow()).to_pylist()
    if not any(a["id"] in touched for a in addresses):
        return 0
    survivors = [a["id"] for a in addresses if a["id"] not in remove]
    for start in range(0, len(survivors), _CHUNK):
        chunk = survivors[start : start + _CHUNK]
        rows = await table.query().where(_in("id", chunk)).to_arrow()
        if replace:
            records = rows.to_pylist()
            for record in records:
                record.update(replace.get(record["id"], {}))
            import pyarrow as pa

            rows = pa.Table.from_pylist(records, schema=rows.schema)
        # Rewritten as new rows in new fragments; the old ones now hold only deleted rows.
        await table.merge_insert("id").when_matched_update_all().execute(rows)
    gone = sorted(remove)
    for start in range(0, len(gone), _CHUNK):
        await table.delete(_in("id", gone[start : start + _CHUNK]))
    return len(gone)


async def _vacuum(table: AsyncTable) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero retention is the point here
        await table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)


async def purge(
    store: Store, journal: Journal, ids: Sequence[str], ctx: CallContext
) -> dict[str, int]:
    """Erase memories `ids` everywhere in the store; returns counts of what was removed."""
    ids = list(dict.fromkeys(ids))
    gone = set(ids)
    edges = await store.find_links(
        store.l.isin("source", ids) | store.l.isin("target", ids), limit=1_000_000
    )
    named = await store.read_journal(store.j.has_any("ids", ids), limit=1_000_000)
    scrubbed = {
        row["id"]: {
            "ids": [i for i in (row["ids"] or []) if i not in gone],
            "detail": json.dumps({"erased": True}),
        }
        for row in named
    }

    # Other memories may name the purged ones in their metadata (supersedes, superseded_by).
    referring: dict[str, dict[str, Any]] = {}
    for edge in edges:
        for other in (edge["source"], edge["target"]):
            if other not in gone:
                referring.setdefault(other, {})
    if referring:
        from habitus.core.meta import meta_of, with_meta

        for row in await store.get_memories(list(referring)):
            meta, section = meta_of(row)
            changed = False
            if section.get("superseded_by") in gone:
                section.pop("superseded_by")
                changed = True
            if any(i in gone for i in section.get("supersedes", [])):
                section["supersedes"] = [i for i in section["supersedes"] if i not in gone]
                changed = True
            if changed:
                referring[row["id"]] = {"metadata": with_meta(meta)}
    referring = {k: v for k, v in referring.items() if v}

    await _rewrite_store(
        store, memories=(gone, referring), links=({e["id"] for e in edges}, {}),
        journal=scrubbed, passages=set(await store.passage_ids(ids)),
    )
    await journal.append("purge", [], ctx, {"count": len(ids)})
    # The purge row itself is the only trace; fold it in and drop the version it made.
    await store.writer.call(store.journal, lambda: _vacuum(store.journal))
    return {"memories": len(ids), "links": len(edges), "journal_scrubbed": len(scrubbed)}


async def _rewrite_store(
    store: Any,
    *,
    memories: tuple[set[str], dict[str, dict[str, Any]]],
    links: tuple[set[str], dict[str, dict[str, Any]]],
    journal: dict[str, dict[str, Any]],
    passages: set[str],
) -> None:
    """Rewrite the tables (rows to drop, rows to change; passages only dropped), drop every
    old version and rebuild the memories' indexes: nothing of the old rows stays on disk."""

    async def run() -> None:
        await _rewrite(store.memories, *memories)
        await _rewrite(store.links, *links)
        await _rewrite(store.journal, set(), journal)
        await _rewrite(store.passages, passages)
        for table in (store.memories, store.links, store.journal, store.passages):
            await _vacuum(table)
        for index in await store.memories.list_indices():
            config = _index_config(index)
            if config is not None:
                await store.memories.create_index(index.columns[0], config=config, replace=True)

    await store.writer.call(store.memories, run)


async def scrub_secrets(
    store: Store, journal: Journal, encoder: Encoder, ctx: CallContext, *, apply: bool = False
) -> dict[str, Any]:
    """Secrets and private text stored before `privacy` kept them out (or while redaction was
    off): found in memories (content, search text, metadata at any depth), link notes and
    journal details; with `apply`, replaced everywhere as a purge erases (old versions
    included), the changed memories re-embedded."""
    from habitus.core.text.terms import content_hash, embedding_text, metadata_dict
    from habitus.core.trust import privacy

    kinds: set[str] = set()

    def clean(text: str | None) -> str | None:
        """`text` with its secrets replaced, or None when it has none."""
        redacted, found = privacy.clean_text(text or "")
        kinds.update(found)
        return redacted if found else None

    def clean_json(text: str | None) -> str | None:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return clean(text)
        redacted, found = privacy.clean_data(_without_placeholder_map(data))
        if redacted != data:
            found = found or ["placeholder map"]
        kinds.update(found)
        return json.dumps(redacted, ensure_ascii=False, default=str) if found else None

    memories: dict[str, dict[str, Any]] = {}
    embed: dict[str, str] = {}  # id → the text its new vector is computed from
    row_scope: dict[str, str] = {}
    for row in await store.scan(None):
        row_scope[row["id"]] = row["scope"]
        changes = {
            column: new
            for column, new in (("content", clean(row["content"])),
                                ("search_text", clean(row["search_text"])),
                                ("metadata", clean_json(row["metadata"])))
            if new is not None
        }
        if "content" in changes:
            changes["content_hash"] = content_hash(changes["content"])
            if row["vector"] is not None and row["embedding_model"] == encoder.model_id:
                metadata = changes.get("metadata", row["metadata"])
                embed[row["id"]] = embedding_text(changes["content"], metadata_dict(metadata))
        if changes:
            memories[row["id"]] = changes
    links = {
        edge["id"]: {"note": note}
        for edge in await store.find_links(store.l.not_null("id"), limit=10_000_000)
        if (note := clean(edge["note"])) is not None
    }
    details = {
        row["id"]: {"detail": detail}
        for row in await store.read_journal(None, limit=10_000_000)
        if (detail := clean_json(row["detail"])) is not None
    }
    report: dict[str, Any] = {
        "memories": len(memories), "links": len(links), "journal": len(details),
        "kinds": sorted(kinds), "applied": False,
    }
    if not apply or not (memories or links or details):
        return report
    passages: list[dict[str, Any]] = []  # of the re-embedded long memories, added after
    if embed:
        embedded = await encoder.embed_passages(list(embed.values()))
        if embedded is not None:
            for ident, vector, later in zip(embed, *embedded, strict=True):
                memories[ident]["vector"] = vector.tolist()
                passages += [{"id": f"{ident}:{n}", "memory": ident, "scope": row_scope[ident],
                              "content_hash": memories[ident]["content_hash"],
                              "embedding_model": encoder.model_id, "vector": v.tolist()}
                             for n, v in enumerate(later, 1)]
    # The passages of every rewritten content go; those of the re-embedded come back.
    await _rewrite_store(store, memories=(set(), memories), links=(set(), links), journal=details,
                         passages=set(await store.passage_ids(
                             [i for i, c in memories.items() if "content" in c])))
    await store.add_passages(passages)
    await journal.append("scrub", sorted(memories), ctx, {"kinds": sorted(kinds)})
    report["applied"] = True
    return report


def _without_placeholder_map(data: Any) -> Any:
    """Metadata without the placeholder map procedures once kept (`procedure.generalised`):
    it held the values generalising took out of the text, secrets' fragments among them."""
    procedure = data.get("procedure") if isinstance(data, dict) else None
    if isinstance(procedure, dict) and "generalised" in procedure:
        return {**data, "procedure": {k: v for k, v in procedure.items() if k != "generalised"}}
    return data


def _index_config(index: Any) -> Any:
    from lancedb.index import FTS, LabelList

    kind = str(getattr(index, "index_type", ""))
    if kind == "FTS":
        import inspect

        details = dict(getattr(index, "index_details", None) or {})
        details["ngram_min_length"] = details.pop("min_ngram_length", 3)
        details["ngram_max_length"] = details.pop("max_ngram_length", 3)
        accepted = set(inspect.signature(FTS).parameters)
        return FTS(**{k: v for k, v in details.items() if k in accepted and v is not None})
    if kind == "LabelList":
        return LabelList()
    return None
