"""The memory service: remember, recall, reflect, forget and link, over one store.

A thin facade: it builds the pipelines from their collaborators (store, encoder, journal,
access log, plugin hooks) and exposes the public operations. Both the MCP server and the CLI
are adapters over this class; it holds no MCP types. Each operation's steps live in their own
modules: `remember`, `recall`, `reflect`, `forget`, `links`, `history`, `undo`, `erasure`.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from habitus.store import Store

from . import decay, erasure, redaction
from .access import AccessLog
from .config import Settings
from .embedding import Embedder, load_embedder
from .encoder import Encoder
from .errors import InvalidInput, NotFound
from .filters import live, read_scopes, require_live
from .forget import Forget
from .history import supersede, timeline
from .journal import Journal, operation
from .links import add_link, links_of
from .llm import ChatModel, ModelUnavailable
from .models import (
    CallContext,
    ForgetResult,
    History,
    LinkResult,
    Memory,
    NewMemory,
    Operation,
    RecallResult,
    ReflectBundle,
    RememberResult,
    StoreStats,
    UndoResult,
)
from .plugin_hooks import PluginHooks, ServiceHooks
from .recall import Recall
from .reflect import Reflect
from .remember import Remember
from .undo import undo
from .validation import LIMITS, check_ids, check_relation
from .views import memory_of

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MemoryService"]

log = logging.getLogger("habitus.core")


class MemoryService:
    """Long-term memory operations over one store, shared by every request of a process."""

    def __init__(self, store: Store, embedder: Embedder | None, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.encoder = Encoder(store, embedder, settings.embedder)
        self.journal = Journal(store)
        self.access = AccessLog(store)
        self.plugins = PluginHooks()
        # The optional configured language model (core.llm), used by reflect; None: none.
        self.llm: ChatModel | None = None
        self.llm_error: str | None = None
        try:
            self.llm = ChatModel.from_config(settings.llm_url, settings.llm_model,
                                             settings.llm_api_key, timeout=settings.llm_timeout)
        except ModelUnavailable as exc:
            log.error("configured model ignored: %s", exc)
            self.llm_error = str(exc)
        self._remember = Remember(store, self.journal, self.encoder, self.plugins,
                                  redact_secrets=settings.redact_secrets)
        self._recall = Recall(store, self.encoder, self.access, self.plugins)
        self._reflect = Reflect(store, self._recall, self.remember, self.plugins, self.llm,
                                self.llm_error)
        self._forget = Forget(store, self.journal, self._recall)

    @classmethod
    async def open(cls, settings: Settings | None = None) -> MemoryService:
        """Open the store and prepare (but not load) the embedder."""
        settings = settings or Settings()
        embedder = load_embedder(settings.embedder)
        dimension = embedder.dimension if embedder else 384
        model = embedder.model_id if embedder else ""
        if settings.is_local:
            os.makedirs(settings.resolved_db(), exist_ok=True)
        store = await Store.open(settings.resolved_db(), dimension=dimension,
                                 embedding_model=model, storage_options=settings.storage_options)
        service = cls(store, embedder, settings)
        if embedder and (store.embedding_model, store.dimension) != (model, dimension):
            service.encoder.disable(
                f"the store was built with {store.embedding_model or 'no model'} "
                f"({store.dimension}-d) but {model} ({dimension}-d) is configured"
            )
        return service

    async def close(self) -> None:
        """Flush bookkeeping and pending writes."""
        await self.access.close()
        await self.store.close()

    @property
    def hooks(self) -> ServiceHooks | None:
        """The plugin manager whose hooks the operations call (None: no plugins)."""
        return self.plugins.manager

    @hooks.setter
    def hooks(self, manager: ServiceHooks | None) -> None:
        self.plugins.manager = manager

    # --- embedder -----------------------------------------------------------------------

    @property
    def embedding_model(self) -> str:
        return self.encoder.model_id

    @property
    def embedder_status(self) -> str:
        """'ok', or why vector search is off."""
        return self.encoder.status

    async def warm_up(self) -> None:
        """Load the embedding model in a worker thread so the first call does not wait for it."""
        await self.encoder.embed(["warm up"])

    async def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors of `texts` (one row each) from the store's embedder, computed in a
        worker thread; None when vector search is off."""
        return await self.encoder.embed(list(texts))

    # --- the operations ------------------------------------------------------------------

    async def remember(
        self, content: str, *, kind: str = "semantic", tags: Sequence[str] | None = None,
        scope: str | None = None, importance: float = 0.5,
        derived_from: Sequence[str] | None = None, links: Sequence[tuple[str, str]] | None = None,
        metadata: dict[str, Any] | None = None, occurred_at: datetime | None = None,
        supersedes: Sequence[str] | None = None, anchors: Sequence[Any] | None = None,
        dedup: bool = True, ctx: CallContext | None = None,
    ) -> RememberResult:
        """Store a memory, or reinforce the live memory with the same content in that scope.

        A near-duplicate reinforces the memory it repeats (`absorbed_by`); a new version of a
        fact (given in `supersedes`, or detected) supersedes the old one, which stays as history.
        """
        item = NewMemory(
            content=content, kind=kind, tags=list(tags or []), scope=scope, importance=importance,
            derived_from=list(derived_from or []), links=list(links or []),
            metadata=metadata or {}, occurred_at=occurred_at,
            supersedes=list(supersedes or []), anchors=list(anchors or []), dedup=dedup,
        )
        return (await self.remember_many([item], ctx=ctx))[0]

    async def remember_many(
        self, items: Sequence[NewMemory], *, ctx: CallContext | None = None
    ) -> list[RememberResult]:
        """Store many memories with one embedding batch and one commit (imports, evaluations)."""
        return await self._remember(items, ctx or CallContext())

    async def recall(
        self, query: str, *, kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None, scope: str | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 10,
        token_budget: int | None = None, ctx: CallContext | None = None,
        legs: Sequence[str] | None = None, as_of: datetime | None = None,
        include_history: bool = False, follow_links: bool = False,
    ) -> RecallResult:
        """Memories most relevant to `query`, best first, that fit `token_budget`.

        `legs` restricts the search to some of its legs ("lexical", "vector"); it exists for
        ablations and diagnostics, the default runs every leg.
        Only current versions of facts are served unless `include_history` (old versions then
        rank lower and name their successor); `as_of` answers from the memory as it was at that
        time; `follow_links` adds the linked neighbours of the top results (one hop, discounted).
        Hits anchored to code are checked against the working tree and marked `stale`.
        """
        return await self._recall(
            query, ctx=ctx or CallContext(), kinds=kinds, tags=tags, scope=scope, since=since,
            until=until, limit=limit, token_budget=token_budget, legs=legs, as_of=as_of,
            include_history=include_history, follow_links=follow_links,
        )

    async def reflect(
        self, *, scope: str | None = None, topic: str | None = None,
        since: datetime | None = None, limit: int = 20, consolidate: bool = False,
        dry_run: bool = True, draft: str | None = None, use_model: bool = True,
        ctx: CallContext | None = None,
    ) -> ReflectBundle:
        """Gather memories worth consolidating, with instructions, and draft consolidations with
        the best helper available (see `core.consolidate`): `draft` from the client's model
        (sampling), else the configured model (unless `use_model` is false), else the calling
        assistant gets the evidence (mode 'assistant').

        With `consolidate`, the drafted consolidations (or LLM-free ones: merged near-duplicates,
        summaries of related episodes) become `actions`, each derived from its sources; they are
        written with remember(derived_from=…) unless `dry_run`. Never deletes, archives or
        supersedes anything; distilling already distilled memories is bounded."""
        return await self._reflect(
            scope=scope, topic=topic, since=since, limit=limit, consolidate=consolidate,
            dry_run=dry_run, draft=draft, use_model=use_model, ctx=ctx or CallContext(),
        )

    async def forget(
        self, ids: Sequence[str] | None = None, *, query: str | None = None,
        kinds: Sequence[str] | None = None, tags: Sequence[str] | None = None,
        scope: str | None = None, purge: bool = False, dry_run: bool | None = None,
        limit: int = 20, decayed: bool = False, threshold: float = decay.DECAYED_BELOW,
        restore: bool = False, ctx: CallContext | None = None,
    ) -> ForgetResult:
        """Soft-delete (or with `purge`, erase) memories by id or by search.

        Forgetting by search previews what it would remove unless `dry_run=False` is given.
        `decayed` archives (soft-deletes) current memories whose strength fell below
        `threshold`, also previewed first. Forgetting the newest version of a fact makes the
        version it had superseded current again. `restore` undoes a soft delete of `ids`.
        """
        return await self._forget(
            ids, query=query, kinds=kinds, tags=tags, scope=scope, purge=purge, dry_run=dry_run,
            limit=limit, decayed=decayed, threshold=threshold, restore=restore,
            ctx=ctx or CallContext(),
        )

    async def restore(self, ids: Sequence[str], ctx: CallContext | None = None) -> list[str]:
        """Undo a soft delete."""
        return await self._forget.restore(ids, ctx or CallContext())

    async def scrub_secrets(
        self, *, apply: bool = False, ctx: CallContext | None = None
    ) -> dict[str, Any]:
        """Secrets already in the store (written before redaction, or with it off): counted,
        and with `apply` replaced everywhere, old versions included (see `erasure`)."""
        return await erasure.scrub_secrets(self.store, self.journal, self.encoder,
                                           ctx or CallContext(), apply=apply)

    async def link(
        self, source: str, target: str, relation: str = "related_to", note: str = "", *,
        weight: float = 1.0, ctx: CallContext | None = None,
    ) -> LinkResult:
        """Add a typed edge between two live memories; the same edge twice is merged."""
        ctx = ctx or CallContext()
        source, target = check_ids([source])[0], check_ids([target])[0]
        if source == target:
            raise InvalidInput("a memory cannot be linked to itself")
        check_relation(relation)
        if len(note) > LIMITS["note_chars"]:
            raise InvalidInput(f"note is longer than {LIMITS['note_chars']} characters")
        if self.settings.redact_secrets:
            note, _ = redaction.redact(note)
        if not 0.0 <= weight <= 1.0:
            raise InvalidInput("weight must be between 0 and 1")
        await require_live(self.store, [source, target])
        with operation():
            result = await add_link(self.store, self.journal, source, target, relation, note,
                                    weight, ctx)
            if relation == "supersedes":
                await supersede(self.store, self.journal, source, [target], ctx, add_links=False)
        return result

    async def links_of(self, memory_id: str) -> list[LinkResult]:
        """Every edge that starts or ends at a memory."""
        return await links_of(self.store, memory_id)

    async def history(self, memory_id: str) -> History:
        """The timeline of the fact `memory_id` belongs to: every version, oldest first."""
        return await timeline(self.store, check_ids([memory_id])[0])

    async def undo(
        self, operation: str | None = None, ctx: CallContext | None = None
    ) -> UndoResult:
        """Revert the last operation (or the given one); an erasure cannot be undone."""
        if operation is not None:
            operation = check_ids([operation])[0]
        return await undo(self.store, self.journal, operation, ctx or CallContext())

    async def operations(self, limit: int = 20) -> list[Operation]:
        """The most recent journaled operations, newest first, with the table versions made."""
        return await self.journal.operations(limit)

    # --- reading and annotating single memories ------------------------------------------

    async def get(self, memory_id: str) -> Memory:
        """One memory by id, deleted or not."""
        rows = await self.store.get_memories(check_ids([memory_id]))
        if not rows:
            raise NotFound(f"no memory with id {memory_id!r}")
        return memory_of(rows[0])

    async def annotate(
        self, memory_id: str, metadata: dict[str, Any], *, ctx: CallContext | None = None
    ) -> Memory:
        """Set top-level keys of a live memory's metadata (a plugin's bookkeeping, such as a
        procedure's record of uses); the content is unchanged. Journaled with the old metadata."""
        await require_live(self.store, [memory_id])
        row = (await self.store.get_memories([memory_id]))[0]
        before = row["metadata"] or "{}"
        text = json.dumps({**json.loads(before), **metadata}, ensure_ascii=False, default=str)
        if len(text) > LIMITS["metadata_chars"]:
            raise InvalidInput(
                f"metadata would be larger than {LIMITS['metadata_chars']} characters"
            )
        await self.store.update_memories(self.store.m.eq("id", memory_id), {"metadata": text})
        await self.journal.append("annotate", [memory_id], ctx or CallContext(),
                                  {"before": {memory_id: {"metadata": before}}})
        row["metadata"] = text
        return memory_of(row)

    async def recent(
        self, *, scope: str | None = None, limit: int = 20, ctx: CallContext | None = None
    ) -> list[Memory]:
        """The most recently stored live memories of the read scopes."""
        rows = await self.store.scan(live(self.store, read_scopes(scope, ctx or CallContext())))
        rows.sort(key=lambda r: r["created_at"], reverse=True)
        return [memory_of(r) for r in rows[:limit]]

    async def stats(self) -> StoreStats:
        """How much is stored, where, and by which model."""
        rows = await self.store.scan(None, columns=["kind", "scope", "deleted_at"])
        alive = [r for r in rows if r["deleted_at"] is None]
        counts = await self.store.table_counts()
        return StoreStats(
            path=self.store.uri, memories=len(alive), deleted=len(rows) - len(alive),
            by_kind=dict(Counter(r["kind"] for r in alive)),
            by_scope=dict(Counter(r["scope"] for r in alive)),
            links=counts["links"], journal=counts["journal"],
            embedding_model=self.store.embedding_model or "none",
            fragments=await self.store.fragments(),
        )
