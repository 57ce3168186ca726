"""Export and import: JSON Lines a team can keep in git, and the reference server's graph.

A habitus export holds one object per line: `{"type": "memory", ...}` with every field of a
memory but its vector (vectors are recomputed on import, so exports survive model changes),
then `{"type": "link", ...}`. Import also reads the official MCP memory server's JSONL
knowledge graph (`{"type": "entity", ...}` / `{"type": "relation", ...}`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from habitus.base.errors import InvalidInput
from habitus.core.models import BatchMemory, CallContext, NewMemory
from habitus.core.service import MemoryService
from habitus.core.views import memory_of

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["export_jsonl", "import_jsonl"]

MAX_IMPORT_BYTES = 512 * 1024 * 1024


async def export_jsonl(
    store: Store, path: Path, *, with_deleted: bool = False
) -> dict[str, int]:
    """Write the memories and links of `store` to `path` ('-' = stdout); returns the counts
    written."""
    where = None if with_deleted else store.where.memories.is_null("deleted_at")
    rows = await store.scan(where)
    rows.sort(key=lambda r: r["created_at"])
    ids = {r["id"] for r in rows}
    links = [
        link
        for link in await store.find_links(store.where.links.not_null("id"), limit=10_000_000)
        if link["source"] in ids and link["target"] in ids
    ]
    lines = []
    for row in rows:
        memory = memory_of(row).model_dump(mode="json")
        lines.append(json.dumps({"type": "memory", **memory}, ensure_ascii=False))
    for link in links:
        lines.append(
            json.dumps(
                {
                    "type": "link",
                    "source": link["source"],
                    "target": link["target"],
                    "relation": link["relation"],
                    "weight": link["weight"],
                    "note": link["note"] or "",
                },
                ensure_ascii=False,
            )
        )
    text = "\n".join(lines) + ("\n" if lines else "")
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return {"memories": len(rows), "links": len(links)}


async def import_jsonl(service: MemoryService, path: Path, *, ctx: CallContext) -> dict[str, Any]:
    """Read a habitus export or a reference-server graph; returns what was stored."""
    imported = ctx.model_copy(update={"source": "imported"})
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise InvalidInput(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MiB")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "type" not in record:
            raise InvalidInput(f"{path}:{number}: each line must be an object with a 'type'")
        records.append(record)

    items: list[NewMemory] = []
    old_ids: list[str] = []
    for record in records:
        if record["type"] == "memory":
            items.append(
                BatchMemory(
                    content=record["content"],
                    kind=record.get("kind", "semantic"),
                    tags=record.get("tags", []),
                    scope=record.get("scope"),
                    importance=record.get("importance", 0.5),
                    metadata=record.get("metadata", {}),
                    occurred_at=record.get("created_at"),
                )
            )
            old_ids.append(record.get("id", ""))
        elif record["type"] == "entity":
            observations = "; ".join(str(o) for o in record.get("observations", []))
            entity_type = str(record.get("entityType", "entity"))
            items.append(
                BatchMemory(
                    content=f"{record['name']} ({entity_type}): {observations}",
                    tags=[entity_type[:64]],
                    metadata={"entity": record["name"]},
                )
            )
            old_ids.append(f"entity:{record['name']}")
    results = []
    for start in range(0, len(items), 256):
        results += await service.remember_many(items[start : start + 256], ctx=imported)
    new_id = dict(zip(old_ids, (r.id for r in results), strict=True))

    links = 0
    for record in records:
        if record["type"] == "link":
            source, target = new_id.get(record["source"]), new_id.get(record["target"])
            relation, note = record.get("relation", "related_to"), record.get("note", "")
        elif record["type"] == "relation":
            source = new_id.get(f"entity:{record.get('from')}")
            target = new_id.get(f"entity:{record.get('to')}")
            relation, note = "related_to", str(record.get("relationType", ""))
        else:
            continue
        if source and target and source != target:
            await service.link(source, target, relation, note, ctx=ctx)
            links += 1
    count = {status: sum(r.status == status for r in results)
             for status in ("created", "reinforced", "refused")}
    return {**count, "links": links,
            "errors": [f"{old or 'record'}: {r.error}" for old, r in zip(old_ids, results,
                                                                     strict=True) if r.error]}
