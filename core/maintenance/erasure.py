"""Real erasure: `forget --purge` removes content from the live data, every old table version
and every file on disk; the journal keeps only that something was erased.

A purge drops the memories, their edges (`links`) and, in other memories' metadata, the
supersession marks that name them, and scrubs the journal rows that name them (the ids removed
and the detail replaced by `{"erased": true}`, since details can hold tags or metadata); the
store's `rewrite_tables` then leaves nothing of the old rows on disk (every fragment rewritten,
every old version dropped, the indexes rebuilt: see `habitus.store.erasure`).

`scrub_secrets` rewrites the same way to take out secrets stored before redaction existed (or
while it was off): the rows keep their ids, their secrets become `[redacted: kind]` markers.

Caveats, by design: undo and time travel cannot reach versions older than a purge (they are
gone); another process writing to the same store during a purge may see a commit conflict and
retry. An erasure itself cannot be undone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from habitus.core.embedding.encoder import Encoder
from habitus.core.history.journal import Journal
from habitus.core.models import CallContext
from habitus.store import Rewrite

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["purge", "scrub_secrets"]


async def purge(
    store: Store, journal: Journal, ids: Sequence[str], ctx: CallContext
) -> dict[str, int]:
    """Erase memories `ids` everywhere in the store; returns counts of what was removed."""
    ids = list(dict.fromkeys(ids))
    gone = set(ids)
    links = store.where.links
    edges = await store.find_links(
        links.isin("source", ids) | links.isin("target", ids), limit=1_000_000
    )
    named = await store.read_journal(store.where.journal.has_any("ids", ids), limit=1_000_000)
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

    await store.rewrite_tables(
        memories=Rewrite(gone, referring), links=Rewrite({e["id"] for e in edges}),
        journal=Rewrite(change=scrubbed), passages=Rewrite(set(await store.passage_ids(ids))),
    )
    await journal.append("purge", [], ctx, {"count": len(ids)})
    # The purge row itself is the only trace; fold it in and drop the version it made.
    await store.vacuum_journal()
    return {"memories": len(ids), "links": len(edges), "journal_scrubbed": len(scrubbed)}


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
        for edge in await store.find_links(store.where.links.not_null("id"), limit=10_000_000)
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
    passages: list[tuple[dict[str, Any], Any]] = []  # of the re-embedded, added after
    if embed:
        embedded = await encoder.embed_passages(list(embed.values()))
        if embedded is not None:
            for ident, vector, later in zip(embed, *embedded, strict=True):
                memories[ident]["vector"] = vector.tolist()
                passages.append(({"id": ident, "scope": row_scope[ident],
                                  "content_hash": memories[ident]["content_hash"]}, later))
    # The passages of every rewritten content go; those of the re-embedded come back.
    rewritten = [i for i, c in memories.items() if "content" in c]
    await store.rewrite_tables(memories=Rewrite(change=memories), links=Rewrite(change=links),
                               journal=Rewrite(change=details),
                               passages=Rewrite(set(await store.passage_ids(rewritten))))
    await store.add_passages(encoder.model_id, passages)
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
