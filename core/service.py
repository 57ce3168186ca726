"""The memory service: remember, recall, reflect, forget and link, over one store.

A thin facade: it builds the pipelines from their collaborators (store, encoder, journal,
access log, plugin hooks) and exposes the public operations to its adapters (MCP server, CLI,
hooks, web view); it holds no MCP types. Each operation's steps live in their own modules.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from habitus.core.annotate import annotate, confirm, edit
from habitus.core.browse import Facets, facets, newest, one
from habitus.core.config import Settings
from habitus.core.embedding.embedders import Embedder, load_embedder
from habitus.core.embedding.encoder import Encoder
from habitus.core.filters import read_scopes
from habitus.core.forget import Forget
from habitus.core.history.journal import Journal
from habitus.core.history.undo import undo
from habitus.core.history.versions import timeline
from habitus.core.links.edges import links_of
from habitus.core.links.linking import link
from habitus.core.maintenance import erasure
from habitus.core.maintenance.stats import store_stats
from habitus.core.models import (
    CallContext,
    ForgetResult,
    History,
    LinkResult,
    Memory,
    Operation,
    RecallResult,
    ReflectBundle,
    RememberResult,
    StoreStats,
    UndoResult,
)
from habitus.core.plugin_hooks import PluginHooks, ServiceHooks
from habitus.core.recall.access import AccessLog
from habitus.core.recall.pipeline import Recall
from habitus.core.reflection.llm import configured_model
from habitus.core.reflection.reflect import Reflect
from habitus.core.remember.pipeline import Remember
from habitus.core.requests import (
    ConfirmRequest,
    ForgetRequest,
    HistoryRequest,
    LinkRequest,
    NewMemory,
    RecallRequest,
    ReflectRequest,
    UndoRequest,
)
from habitus.core.text.tokens import count_tokens
from habitus.core.validation import check_ids
from habitus.store import Store

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
        # The optional configured language model, used by reflect (None: none, or why not).
        self.llm, self.llm_error = configured_model(settings)
        self._remember = Remember(store, self.journal, self.encoder, self.plugins,
                                  redact_secrets=settings.redact_secrets, author=settings.author)
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
                                 embedding_model=model,
                                 storage_options=settings.resolved_storage_options())
        service = cls(store, embedder, settings)
        service.encoder.check_store(dimension)
        return service

    async def close(self) -> None:
        """Flush bookkeeping and pending writes."""
        await self.store.close()

    @property
    def hooks(self) -> ServiceHooks | None:
        """The plugin manager whose hooks the operations call (None: no plugins)."""
        return self.plugins.manager

    @hooks.setter
    def hooks(self, manager: ServiceHooks | None) -> None:
        self.plugins.manager = manager

    @property
    def embedding_model(self) -> str:
        return self.encoder.model_id

    @property
    def embedder_status(self) -> str:
        """'ok', or why vector search is off."""
        return self.encoder.status

    async def warm_up(self) -> None:
        """Load the embedding model and the token encoding in a worker thread, and the
        memories into the store's caches, so the first call does not wait for them."""
        await self.encoder.embed(["warm up"])
        await anyio.to_thread.run_sync(count_tokens, "warm up")
        await self.store.warm_rows()

    async def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors of `texts` (one row each) from the store's embedder, computed in a
        worker thread; None when vector search is off."""
        return await self.encoder.embed(list(texts))

    async def remember(
        self, *memory: Any, ctx: CallContext | None = None, **fields: Any
    ) -> RememberResult:
        """Store a memory (a `NewMemory`, or its fields: `remember("text", tags=[...])`), or
        reinforce the live memory with the same content in that scope.

        A near-duplicate reinforces the memory it repeats (`absorbed_by`); a new version of a
        fact (given in `supersedes`, or detected) supersedes the old one, which stays as history.
        """
        # One memory asked for: content over the bound is refused, not stored in parts.
        item = NewMemory.of(*memory, **fields)
        return (await self._remember([item], ctx or CallContext(), in_parts=False))[0]

    async def remember_many(
        self, items: Sequence[NewMemory], *, ctx: CallContext | None = None
    ) -> list[RememberResult]:
        """Store many memories with one embedding batch and one commit (imports, evaluations).
        Content longer than one memory holds (in a `BatchMemory`) is stored in linked parts
        (`parts`), or, too long even for those, refused alone (status "refused"): the rest of
        the batch is stored."""
        return await self._remember(items, ctx or CallContext())

    async def recall(
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> RecallResult:
        """Memories most relevant to a `RecallRequest` (or its fields: `recall("query",
        limit=5)`), best first, that fit its token budget.

        Only current versions of facts are served unless `include_history` (old versions then
        rank lower and name their successor); `as_of` answers from the memory as it was at that
        time; `follow_links` adds the linked neighbours of the top results (one hop, discounted).
        `now` is when the question is asked (default: the clock): time expressions ("last
        week", "3 days ago") and recency count from it, every memory stays visible.
        Hits anchored to code are checked against the working tree and marked `stale`.
        """
        return await self._recall(RecallRequest.of(*request, **fields), ctx or CallContext())

    async def reflect(
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> ReflectBundle:
        """Gather memories worth consolidating, with instructions, and draft consolidations with
        the best helper available (see `reflection.consolidate`), as a `ReflectRequest` (or its
        fields) asks: its `draft` from the client's model (sampling), else the configured model
        (unless `use_model` is false), else the calling assistant gets the evidence (mode
        'assistant').

        With `consolidate`, the drafted consolidations (or LLM-free ones: merged near-duplicates,
        summaries of related episodes) become `actions`, each derived from its sources; they are
        written with remember(derived_from=…) unless `dry_run`. Never deletes, archives or
        supersedes anything; distilling already distilled memories is bounded."""
        return await self._reflect(ReflectRequest.of(*request, **fields), ctx or CallContext())

    async def forget(
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> ForgetResult:
        """Soft-delete (or with `purge`, erase) memories by id or by search, as a
        `ForgetRequest` (or its fields: `forget([id], purge=True)`) says.

        Forgetting by search previews what it would remove unless `dry_run=False` is given.
        `decayed` archives (soft-deletes) current memories whose strength fell below
        `threshold`, also previewed first. Forgetting the newest version of a fact makes the
        version it had superseded current again. `restore` undoes a soft delete of `ids`.
        """
        return await self._forget(ForgetRequest.of(*request, **fields), ctx or CallContext())

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
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> LinkResult:
        """Add the typed edge of a `LinkRequest` (or its fields: `link(source, target,
        "supersedes")`) between two live memories; the same edge twice is merged."""
        return await link(self.store, self.journal, LinkRequest.of(*request, **fields),
                          ctx or CallContext(), redact_secrets=self.settings.redact_secrets)

    async def links_of(self, memory_id: str) -> list[LinkResult]:
        """Every edge that starts or ends at a memory."""
        return await links_of(self.store, memory_id)

    async def history(self, *request: Any, **fields: Any) -> History:
        """The timeline of the fact a memory belongs to (a `HistoryRequest`, or the memory's
        id): every version, oldest first."""
        memory_id = HistoryRequest.of(*request, **fields).memory_id
        return await timeline(self.store, check_ids([memory_id])[0])

    async def undo(
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> UndoResult:
        """Revert the last operation, or the one an `UndoRequest` (or an operation id) names;
        an erasure cannot be undone."""
        operation = UndoRequest.of(*request, **fields).operation
        if operation is not None:
            operation = check_ids([operation])[0]
        return await undo(self.store, self.journal, operation, ctx or CallContext())

    async def operations(self, limit: int = 20) -> list[Operation]:
        """The most recent journaled operations, newest first, with the table versions made."""
        return await self.journal.operations(limit)

    async def get(self, memory_id: str) -> Memory:
        """One memory by id, deleted or not."""
        return await one(self.store, check_ids([memory_id])[0])

    async def annotate(
        self, memory_id: str, metadata: dict[str, Any], *, ctx: CallContext | None = None
    ) -> Memory:
        """Set top-level keys of a live memory's metadata (a plugin's bookkeeping, such as a
        procedure's record of uses); the content is unchanged. Journaled with the old metadata."""
        return await annotate(self.store, self.journal, memory_id, metadata, ctx or CallContext())

    async def confirm(
        self, *request: Any, ctx: CallContext | None = None, **fields: Any
    ) -> list[Memory]:
        """A person vouches for memories (a `ConfirmRequest`, or their ids): trusted from now
        on, even if written by a tool or flagged suspicious (see `trust`); undoable."""
        ids = ConfirmRequest.of(*request, **fields).ids
        return await confirm(self.store, self.journal, ids, ctx or CallContext())

    async def edit(
        self, memory_id: str, *, tags: Sequence[str] | None = None,
        importance: float | None = None, ctx: CallContext | None = None,
    ) -> Memory:
        """A person sets a memory's tags or importance; undoable."""
        return await edit(self.store, self.journal, check_ids([memory_id])[0],
                          ctx or CallContext(), tags=tags, importance=importance)

    async def recent(
        self, *, scope: str | None = None, limit: int = 20, kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None, branch: str | None = None,
        ctx: CallContext | None = None,
    ) -> list[Memory]:
        """The newest live memories of the read scopes (of `kinds`, any of `tags`, `branch`)."""
        scopes = read_scopes(scope, ctx or CallContext())
        return await newest(self.store, scopes, kinds=kinds, tags=tags, branch=branch,
                            limit=limit)

    async def facets(self, *, scope: str | None = None, ctx: CallContext | None = None) -> Facets:
        """The live memories of the read scopes counted by kind, tag, branch and day."""
        return await facets(self.store, read_scopes(scope, ctx or CallContext()))

    async def stats(self) -> StoreStats:
        """How much is stored, where, and by which model."""
        return await store_stats(self.store)
