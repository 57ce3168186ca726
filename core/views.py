"""Rows as the core answers with them: a recall hit (score, age, tokens, history, anchors) and
a memory with its provenance."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from habitus.core import decay
from habitus.core.clock import age
from habitus.core.meta import meta_of
from habitus.core.models import Memory, RecallHit
from habitus.core.project import anchors
from habitus.core.trust.policy import verdict

__all__ = ["hit_of", "memory_of"]


def hit_of(row: dict[str, Any], score: float, tokens: int, now: datetime) -> RecallHit:
    """A search result of `row`: its content with what a reader needs to weigh it."""
    meta, section = meta_of(row)
    meta.pop("habitus", None)
    hit = RecallHit(
        id=row["id"],
        kind=row["kind"],
        scope=row["scope"],
        content=row["content"],
        tags=list(row["tags"] or []),
        score=round(float(score), 4),
        age=age(row["created_at"], now),
        created_at=row["created_at"],
        importance=round(float(row["importance"] or 0), 3),
        tokens=tokens,
        metadata=meta,
        supersedes=list(section.get("supersedes", [])),
        superseded_by=section.get("superseded_by") if row.get("valid_until") else None,
        valid_until=row.get("valid_until"),
        strength=round(decay.strength(row, now), 3) if row.get("updated_at") else None,
        anchors=[anchors.describe(a) for a in section.get("anchors", [])],
        branch=section.get("branch") or None,
        **_provenance(row["content"], section),
    )
    if section.get("anchors"):
        hit._anchors = section["anchors"]
    return hit


def memory_of(row: dict[str, Any]) -> Memory:
    """The whole memory of `row`, deleted or not, with who wrote it and when."""
    return Memory(
        id=row["id"], kind=row["kind"], content=row["content"], tags=list(row["tags"] or []),
        scope=row["scope"], importance=float(row["importance"] or 0),
        created_at=row["created_at"], updated_at=row["updated_at"],
        access_count=int(row["access_count"] or 0), last_access=row["last_access"],
        client=row["client"] or "", session=row["session"] or "", tool=row["tool"] or "",
        derived_from=list(row["derived_from"] or []),
        metadata=json.loads(row["metadata"] or "{}"),
        embedding_model=row["embedding_model"] or "", deleted=row["deleted_at"] is not None,
        **_provenance(row["content"], meta_of(row)[1]),
    )


def _provenance(content: str, section: dict[str, Any]) -> dict[str, Any]:
    """Source, trust and suspicion as the trust policy judges them (the marking every recall
    result and memory carries), and the person whose server wrote it."""
    judged = verdict(content, section)
    return {"source": judged.source, "trust": judged.trust, "suspicious": judged.suspicious,
            "author": section.get("author") or None}
