"""A memory's metadata and its `habitus` section: what the core records about a memory beside
its content (supersession, branch, anchors, generation, variants)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["meta_of", "with_meta", "branch_of"]


def meta_of(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's metadata and its `habitus` section (created if absent)."""
    try:
        meta = json.loads(row.get("metadata") or "{}")
    except (TypeError, ValueError):
        meta = {}
    if not isinstance(meta, dict):
        meta = {"value": meta}
    section = meta.get("habitus")
    if not isinstance(section, dict):
        section = {}
        meta["habitus"] = section
    return meta, section


def branch_of(row: dict[str, Any], metadata: dict[str, Any] | None = None) -> str | None:
    """The git branch a memory was written on (None: not recorded, or not about a project);
    `metadata` is the row's, when it is already parsed."""
    section = (meta_of(row)[0] if metadata is None else metadata).get("habitus")
    return (section.get("branch") or None) if isinstance(section, dict) else None


def with_meta(meta: dict[str, Any]) -> str:
    """`meta` as the JSON stored in the row (an empty `habitus` section left out)."""
    if not meta.get("habitus"):
        meta = {k: v for k, v in meta.items() if k != "habitus"}
    return json.dumps(meta, ensure_ascii=False, default=str)
