"""The values habitus speaks in: memories, recall hits and the results of each operation.

They are pydantic models so that the MCP server can return them as structured output as they
are, and the CLI can print them as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Kind",
    "KINDS",
    "Relation",
    "RELATIONS",
    "CallContext",
    "Memory",
    "NewMemory",
    "RememberResult",
    "RecallHit",
    "RecallResult",
    "ForgetResult",
    "LinkResult",
    "ReflectGroup",
    "ReflectBundle",
    "StoreStats",
]

Kind = Literal["episodic", "semantic", "procedural"]
KINDS: tuple[str, ...] = ("episodic", "semantic", "procedural")

Relation = Literal[
    "related_to",
    "supersedes",
    "derived_from",
    "contradicts",
    "part_of",
    "depends_on",
    "example_of",
]
RELATIONS: tuple[str, ...] = (
    "related_to",
    "supersedes",
    "derived_from",
    "contradicts",
    "part_of",
    "depends_on",
    "example_of",
)


class CallContext(BaseModel):
    """Who is calling and from where: the project scope and the provenance of writes."""

    project_scope: str = "global"
    client: str = "cli"
    session: str = ""
    tool: str = ""


class Memory(BaseModel):
    """One stored memory, as the core and its callers see it."""

    id: str
    kind: Kind
    content: str
    tags: list[str] = Field(default_factory=list)
    scope: str
    importance: float
    created_at: datetime
    updated_at: datetime
    access_count: int = 0
    last_access: datetime | None = None
    client: str = ""
    session: str = ""
    tool: str = ""
    derived_from: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding_model: str = ""
    deleted: bool = False


class NewMemory(BaseModel):
    """A memory to store, as `remember_many` takes it."""

    content: str
    kind: str = "semantic"
    tags: list[str] = Field(default_factory=list)
    scope: str | None = None
    importance: float = 0.5
    derived_from: list[str] = Field(default_factory=list)
    links: list[tuple[str, str]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = Field(None, description="When it happened; default: now.")


class RememberResult(BaseModel):
    """What `remember` did: stored a new memory or reinforced an existing one."""

    id: str = Field(description="Id of the memory that now holds this content.")
    status: Literal["created", "reinforced"]
    kind: Kind
    scope: str
    links: list[str] = Field(default_factory=list, description="Ids linked to this memory.")


class RecallHit(BaseModel):
    """A memory found by `recall`, with why and how much it costs to read."""

    id: str
    kind: Kind
    scope: str
    content: str
    tags: list[str] = Field(default_factory=list)
    score: float = Field(description="Relevance, higher is better; comparable within one answer.")
    age: str = Field(description="How long ago it was stored, e.g. '3 days ago'.")
    created_at: datetime
    importance: float
    tokens: int = Field(description="Tokens the content takes (o200k_base).")
    metadata: dict[str, Any] = Field(default_factory=dict)


class RecallResult(BaseModel):
    """The answer to `recall`: ranked memories that fit the token budget."""

    query: str
    scopes: list[str] = Field(description="Scopes searched.")
    memories: list[RecallHit]
    tokens_used: int
    omitted: int = Field(0, description="Matches left out by the limit or the token budget.")
    search: Literal["hybrid", "lexical", "vector"] = "hybrid"
    warnings: list[str] = Field(default_factory=list)


class ForgetResult(BaseModel):
    """What `forget` removed, or would remove with `dry_run`."""

    ids: list[str]
    count: int
    dry_run: bool
    purged: bool
    previews: list[str] = Field(default_factory=list, description="First words of each memory.")


class LinkResult(BaseModel):
    """A typed edge between two memories."""

    source: str
    target: str
    relation: Relation
    note: str = ""
    weight: float = 1.0
    created: bool = Field(description="False when the same edge already existed and was merged.")


class ReflectGroup(BaseModel):
    """Memories gathered for one consolidation decision."""

    reason: Literal["near_duplicates", "topic", "recent_episodes"]
    summary: str
    memories: list[RecallHit]


class ReflectBundle(BaseModel):
    """Evidence for consolidation and what to do with it; sources are never deleted."""

    scope: str
    topic: str | None = None
    groups: list[ReflectGroup]
    instructions: str
    draft: str | None = Field(
        None, description="A consolidated memory drafted by the client's model, when offered."
    )


class StoreStats(BaseModel):
    """Counts and whereabouts of a store."""

    path: str
    memories: int
    deleted: int
    by_kind: dict[str, int]
    by_scope: dict[str, int]
    links: int
    journal: int
    embedding_model: str
    fragments: int
