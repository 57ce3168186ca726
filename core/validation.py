"""The checks behind the requests: names normalised and checked (tags, kinds, ids, relations),
queries, scopes and times made sure, and each new memory checked again as plugins left it.

Each entry point (MCP, CLI, web, plugins) reaches the core through a request (`requests`),
whose fields carry the bounds of `limits`; the pipelines check here what a type cannot say,
so all of them get the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from habitus.base.errors import InvalidInput
from habitus.core.clock import as_utc
from habitus.core.kinds import KINDS, RELATIONS
from habitus.core.limits import LIMITS
from habitus.core.models import CallContext
from habitus.core.project.scope import validate_scope
from habitus.core.requests import NewMemory
from habitus.core.text.terms import content_hash, normalize

__all__ = [
    "LIMITS",
    "Draft",
    "check_tags",
    "check_kinds",
    "check_ids",
    "check_relation",
    "check_query",
    "check_time",
    "draft_of",
]

# A new memory, checked and normalised: the fields of its future row (`draft_of`), completed by
# the remember pipeline (`supersedes`, `dedup`, then `id`, `created_at`, `updated_at`).
Draft = dict[str, Any]


def check_tags(tags: Sequence[str] | None) -> list[str]:
    """Tags lower-cased, de-duplicated, each 1–64 printable characters, at most 32."""
    if not tags:
        return []
    if len(tags) > LIMITS["tags"]:
        raise InvalidInput(f"at most {LIMITS['tags']} tags, got {len(tags)}")
    clean: list[str] = []
    for tag in tags:
        tag = normalize(str(tag)).lower()
        if not tag or len(tag) > LIMITS["tag_chars"] or any(ord(c) < 32 for c in tag):
            raise InvalidInput(
                f"tag {tag[:80]!r} must be 1–{LIMITS['tag_chars']} printable characters"
            )
        if tag not in clean:
            clean.append(tag)
    return clean


def check_importance(value: float) -> float:
    """An importance between 0 and 1."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise InvalidInput("importance must be between 0 and 1")
    return float(value)


def check_kinds(kinds: Sequence[str] | None) -> list[str] | None:
    """Known memory kinds, de-duplicated; None for no filter."""
    if not kinds:
        return None
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InvalidInput(f"unknown kind {bad[0]!r}; use one of {', '.join(KINDS)}")
    return list(dict.fromkeys(kinds))


def check_ids(ids: Sequence[str]) -> list[str]:
    """Memory ids, de-duplicated in order; at most 1,000, each printable and short."""
    if len(ids) > LIMITS["ids"]:
        raise InvalidInput(f"at most {LIMITS['ids']} ids at once, got {len(ids)}")
    clean = []
    for i in ids:
        if not isinstance(i, str) or not i or len(i) > LIMITS["id_chars"] or not i.isprintable():
            raise InvalidInput(f"{str(i)[:80]!r} is not a memory id")
        clean.append(i)
    return list(dict.fromkeys(clean))


def check_relation(relation: str) -> None:
    """A link relation the store knows."""
    if relation not in RELATIONS:
        raise InvalidInput(f"unknown relation {relation!r}; use one of {', '.join(RELATIONS)}")


def check_query(query: Any) -> str:
    """A search query, normalised, non-empty and bounded."""
    query = normalize(query) if isinstance(query, str) else ""
    if not query:
        raise InvalidInput("query is empty: say what to look for")
    if len(query) > LIMITS["query_chars"]:
        raise InvalidInput(f"query is longer than {LIMITS['query_chars']} characters")
    return query


def check_time(value: datetime | None, name: str) -> datetime | None:
    """A time as aware UTC, within the years 1000–9999 (None stays None)."""
    if value is None:
        return None
    try:
        when = as_utc(value).astimezone(UTC)  # type: ignore[union-attr]
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(f"{name} is out of range: {value}") from exc
    if not 1000 <= when.year <= 9999:
        raise InvalidInput(f"{name} must fall within the years 1000–9999, got {when.year}")
    return when


def draft_of(item: NewMemory, ctx: CallContext) -> Draft:
    """Check one new memory and return the fields of its row (scope resolved for `ctx`)."""
    content = item.content.strip() if isinstance(item.content, str) else ""
    if not content:
        raise InvalidInput("content is empty: say what to remember")
    if len(content) > LIMITS["content_chars"]:
        raise InvalidInput(
            f"content has {len(content)} characters, more than {LIMITS['content_chars']}; "
            "store the essentials or split it into several memories"
        )
    check_kinds([item.kind])
    check_importance(item.importance)
    meta_text = json.dumps(item.metadata, ensure_ascii=False, default=str)
    if len(meta_text) > LIMITS["metadata_chars"]:
        raise InvalidInput(f"metadata is larger than {LIMITS['metadata_chars']} characters")
    for edge in item.links:
        check_relation(edge.relation)
    return {
        "content": content,
        "kind": item.kind,
        "tags": check_tags(item.tags),
        "scope": validate_scope(item.scope) if item.scope else ctx.project_scope,
        "importance": float(item.importance),
        "derived_from": check_ids(item.derived_from),
        "links": [(check_ids([edge.target])[0], edge.relation) for edge in item.links],
        "metadata": meta_text,
        "content_hash": content_hash(content),
        "occurred_at": check_time(item.occurred_at, "occurred_at"),
        "redacted": list(item._redacted),
    }
