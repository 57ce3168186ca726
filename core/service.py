"""The memory service: remember, recall, reflect, forget and link, over a store.

Both the MCP server and the CLI are thin adapters over this class; it holds no MCP types.
Every write is journaled. Inputs are validated here, at the boundary of the core, so that
every entry point gets the same clear errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import numpy as np

from habitus.store import Predicate, Store

from . import anchors, decay, dedup, erasure, history, redaction, retrieval
from . import links as links_mod
from .config import Settings
from .embedding import Embedder, load_embedder
from .errors import EmbedderUnavailable, InvalidInput, NotFound
from .llm import ChatModel, ModelUnavailable
from .models import (
    KINDS,
    RELATIONS,
    CallContext,
    ForgetResult,
    History,
    LinkResult,
    Memory,
    NewMemory,
    Operation,
    RecallHit,
    RecallResult,
    ReflectBundle,
    ReflectGroup,
    RememberResult,
    StoreStats,
    UndoResult,
)
from .ranking import Candidate
from .scope import validate_scope
from .text import (
    content_hash,
    embedding_text,
    metadata_dict,
    normalize,
    preview,
    search_text,
    with_tags,
)
from .tokens import count_many

__all__ = ["MemoryService", "LIMITS"]

log = logging.getLogger("habitus.core")

LIMITS = {
    "content_chars": 32_000,
    "query_chars": 2_000,
    "tags": 32,
    "tag_chars": 64,
    "ids": 1_000,
    "recall_limit": 100,
    "token_budget": 200_000,
    "note_chars": 2_000,
    "metadata_chars": 64_000,
}
ALL_SCOPES = ("all", "*")
# How many candidates each search leg contributes before fusion.
LEG_DEPTH = 50
# How many candidates `rerank_recall` plugins see.
RERANK_DEPTH = 50
# Cosine similarity above which two memories count as near-duplicates in reflect.
NEAR_DUPLICATE = 0.92
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id() -> str:
    """A 26-character, time-sortable, random id (ULID layout, lower-case)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _now() -> datetime:
    return datetime.now(UTC)


def _age(then: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("week", 604_800),
                       ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def _check_tags(tags: Sequence[str] | None) -> list[str]:
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


def _without_secrets(item: NewMemory) -> NewMemory:
    """`item` with the secrets in its content and metadata replaced (see `redaction`); an item
    too large to store is left for `_prepare` to refuse."""
    if not isinstance(item.content, str) or len(item.content) > LIMITS["content_chars"]:
        return item
    content, kinds = redaction.redact(item.content)
    metadata, in_metadata = redaction.redact_data(item.metadata)
    if not kinds and not in_metadata:
        return item
    clean = item.model_copy(update={"content": content, "metadata": metadata})
    clean._redacted = sorted({*kinds, *in_metadata})
    return clean


def _check_kinds(kinds: Sequence[str] | None) -> list[str] | None:
    if not kinds:
        return None
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InvalidInput(f"unknown kind {bad[0]!r}; use one of {', '.join(KINDS)}")
    return list(dict.fromkeys(kinds))


def _check_ids(ids: Sequence[str]) -> list[str]:
    if len(ids) > LIMITS["ids"]:
        raise InvalidInput(f"at most {LIMITS['ids']} ids at once, got {len(ids)}")
    clean = []
    for i in ids:
        if not isinstance(i, str) or not i or len(i) > 64 or not i.isprintable():
            raise InvalidInput(f"{str(i)[:80]!r} is not a memory id")
        clean.append(i)
    return list(dict.fromkeys(clean))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class MemoryService:
    """Long-term memory operations over one store, shared by every request of a process."""

    def __init__(self, store: Store, embedder: Embedder | None, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._embedder = embedder
        self._embedder_error: str | None = None if embedder else "no embedder configured"
        self._pending_access: Counter[str] = Counter()
        self._flusher: asyncio.Task[None] | None = None
        # Plugin hooks (habitus.plugins.manager.PluginManager); None: no plugins, no cost.
        self.hooks: Any = None
        # The optional configured language model (core.llm), used by reflect; None: none.
        self.llm: ChatModel | None = None
        self.llm_error: str | None = None
        try:
            self.llm = ChatModel.from_config(settings.llm_url, settings.llm_model,
                                             settings.llm_api_key, timeout=settings.llm_timeout)
        except ModelUnavailable as exc:
            log.error("configured model ignored: %s", exc)
            self.llm_error = str(exc)

    @classmethod
    async def open(cls, settings: Settings | None = None) -> MemoryService:
        """Open the store and prepare (but not load) the embedder."""
        settings = settings or Settings()
        embedder = load_embedder(settings.embedder)
        dimension = embedder.dimension if embedder else 384
        model = embedder.model_id if embedder else ""
        if settings.is_local:
            os.makedirs(settings.resolved_db(), exist_ok=True)
        store = await Store.open(
            settings.resolved_db(),
            dimension=dimension,
            embedding_model=model,
            storage_options=settings.storage_options,
        )
        service = cls(store, embedder, settings)
        if embedder and (store.embedding_model, store.dimension) != (model, dimension):
            service._disable_vectors(
                f"the store was built with {store.embedding_model or 'no model'} "
                f"({store.dimension}-d) but {model} ({dimension}-d) is configured"
            )
        return service

    async def close(self) -> None:
        """Flush bookkeeping and pending writes."""
        if self._flusher is not None:
            self._flusher.cancel()
        await self._flush_access()
        await self.store.close()

    # --- embedder -----------------------------------------------------------------------

    @property
    def embedding_model(self) -> str:
        return self._embedder.model_id if self._embedder else ""

    @property
    def embedder_status(self) -> str:
        """'ok', or why vector search is off."""
        return self._embedder_error or "ok"

    def _disable_vectors(self, reason: str) -> None:
        log.error("vector search is off, lexical search only: %s", reason)
        self._embedder = None
        self._embedder_error = reason

    async def warm_up(self) -> None:
        """Load the embedding model in a worker thread so the first call does not wait for it."""
        if self._embedder is not None:
            await self._embed(["warm up"])

    async def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Unit vectors of `texts` (one row each) from the store's embedder, computed in a
        worker thread; None when vector search is off."""
        return await self._embed(list(texts)) if texts else None

    async def _embed(self, texts: list[str]) -> np.ndarray | None:
        embedder = self._embedder
        if embedder is None:
            return None
        if embedder.model_id != self.store.embedding_model:  # re-embedded since (reindex)
            self._disable_vectors(
                f"the store was re-embedded with {self.store.embedding_model or 'no model'} "
                f"({self.store.dimension}-d) but {embedder.model_id} is configured"
            )
            return None
        try:
            return await anyio.to_thread.run_sync(embedder.embed, texts)
        except EmbedderUnavailable as exc:
            self._disable_vectors(str(exc))
            return None

    def _warnings(self) -> list[str]:
        if self._embedder_error and self.settings.embedder != "none":
            return [f"vector search unavailable ({self._embedder_error}); results are lexical only"]
        return []

    # --- scope ---------------------------------------------------------------------------

    def _write_scope(self, scope: str | None, ctx: CallContext) -> str:
        return validate_scope(scope) if scope else ctx.project_scope

    def _read_scopes(self, scope: str | None, ctx: CallContext) -> list[str] | None:
        """Scopes a read covers: project + global by default, `None` meaning every scope."""
        if scope in ALL_SCOPES:
            return None
        if scope:
            return [validate_scope(scope)]
        return list(dict.fromkeys([ctx.project_scope, "global"]))

    def _live(self, scopes: list[str] | None = None) -> Predicate:
        m = self.store.m
        where = m.is_null("deleted_at")
        if scopes is not None:
            where = where & m.isin("scope", scopes)
        return where

    # --- remember ------------------------------------------------------------------------

    async def remember(
        self,
        content: str,
        *,
        kind: str = "semantic",
        tags: Sequence[str] | None = None,
        scope: str | None = None,
        importance: float = 0.5,
        derived_from: Sequence[str] | None = None,
        links: Sequence[tuple[str, str]] | None = None,
        metadata: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        supersedes: Sequence[str] | None = None,
        anchors: Sequence[Any] | None = None,
        dedup: bool = True,
        ctx: CallContext | None = None,
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
        if self.settings.redact_secrets:  # before anything else sees them, plugins included
            items = [_without_secrets(item) for item in items]
        if self.hooks is not None and self.hooks.has("enrich_memory"):
            items = await self._plugin_hook("enrich_memories", list(items), ctx or CallContext())
        with history.operation(new_id):
            return await self._remember_many(items, ctx=ctx)

    async def _remember_many(
        self, items: Sequence[NewMemory], *, ctx: CallContext | None = None
    ) -> list[RememberResult]:
        ctx = ctx or CallContext()
        now = _now()
        items = list(items)
        prepared = [self._prepare(item, ctx) for item in items]
        await self._require_live(
            [i for p in prepared for i in p["derived_from"]]
            + [t for p in prepared for t, _ in p["links"]]
        )
        await dedup.prepare(self, items, prepared, ctx)
        m = self.store.m
        digests = list({p["content_hash"] for p in prepared})
        existing: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(digests), 500):
            rows = await self.store.scan(
                self._live() & m.is_null("valid_until")
                & m.isin("content_hash", digests[start:start + 500])
            )
            for row in rows:
                existing.setdefault((row["scope"], row["content_hash"]), row)

        results: list[RememberResult] = []
        fresh: list[dict[str, Any]] = []
        for p in prepared:
            key = (p["scope"], p["content_hash"])
            if key in existing:
                row = existing[key]
                if row["id"] not in {r["id"] for r in fresh}:
                    await self._reinforce(row, p, now, ctx)
                results.append(self._result(row["id"], "reinforced", p))
                continue
            row = {**p, "id": new_id(), "created_at": p["occurred_at"] or now, "updated_at": now,
                   "_result": len(results)}
            existing[key] = row
            fresh.append(row)
            results.append(self._result(row["id"], "created", p))

        decisions: list[dedup.Decision] = []
        if fresh:
            vectors = await self._embed(
                [embedding_text(r["content"], metadata_dict(r["metadata"])) for r in fresh]
            )
            try:
                decisions = await dedup.resolve(self, fresh, vectors)
            except Exception:
                if not await self._reembedded():
                    raise
                vectors = None
                decisions = await dedup.resolve(self, fresh, vectors)
            model = self.embedding_model if vectors is not None else ""
            rows = []
            kept: list[tuple[dict[str, Any], dedup.Decision]] = []
            absorbed_into: dict[str, str] = {}
            for i, (r, decision) in enumerate(zip(fresh, decisions, strict=True)):
                result = results[r["_result"]]
                if decision.absorbed_by is not None:
                    target = absorbed_into.get(decision.absorbed_by, decision.absorbed_by)
                    absorbed_into[r["id"]] = target
                    result.id, result.status = target, "reinforced"
                    result.absorbed_by = target
                    result.similarity = round(float(decision.similarity or 0), 4)
                    if decision.absorbed_row is not None and "_result" not in decision.absorbed_row:
                        await self._reinforce(
                            decision.absorbed_row, r, now, ctx, variant=r["content"]
                        )
                    continue
                kept.append((r, decision))
                rows.append({
                    "id": r["id"], "kind": r["kind"], "content": r["content"],
                    "search_text": search_text(r["content"], r["tags"]), "tags": r["tags"],
                    "scope": r["scope"], "importance": r["importance"], "client": ctx.client,
                    "session": ctx.session, "tool": ctx.tool, "created_at": r["created_at"],
                    "updated_at": r["updated_at"], "access_count": 0, "last_access": None,
                    "content_hash": r["content_hash"], "deleted_at": None, "valid_until": None,
                    "derived_from": r["derived_from"], "metadata": r["metadata"],
                    "embedding_model": model,
                    "vector": vectors[i].tolist() if vectors is not None else None,
                })
            if rows:
                await retrieval.index_rows(self, rows)
                await self.store.add_memories(rows)
                redacted = {r["id"]: r["redacted"] for r, _ in kept if r["redacted"]}
                await self._journal("remember", [r["id"] for r in rows], ctx,
                                    {"redacted": redacted} if redacted else None)
            auto_edges: list[tuple[str, str, str, float]] = []
            pairs: list[tuple[str, list[str], bool]] = []
            for r, decision in kept:
                explicit = [i for i in r["supersedes"] if i != r["id"]]
                detected = [absorbed_into.get(i, i) for i in decision.supersedes]
                detected = [i for i in detected if i not in explicit and i != r["id"]]
                if explicit:
                    pairs.append((r["id"], explicit, False))
                if detected:
                    pairs.append((r["id"], detected, True))
            superseded = await history.supersede_many(self, pairs, ctx) if pairs else {}
            detected_ids = {n for n, _, d in pairs if d}
            for r, decision in kept:
                result = results[r["_result"]]
                result.supersedes = superseded.get(r["id"], [])
                result.detected = bool(result.supersedes) and r["id"] in detected_ids
                linked = {t for t, _ in r["links"]} | set(r["derived_from"])
                linked |= set(result.supersedes)
                found = [(t, sim, "contradicts") for t, sim in decision.contradicts]
                found += [(t, sim, "related_to") for t, sim in decision.related]
                for target, sim, relation in found:
                    target = absorbed_into.get(target, target)
                    if target not in linked and target != r["id"]:
                        auto_edges.append((r["id"], target, relation, round(sim, 4)))
                        listed = result.contradicts if relation == "contradicts" else result.related
                        listed.append(target)
                        linked.add(target)
            if auto_edges:
                await links_mod.add_links_bulk(self, auto_edges, ctx, from_new=True)

        for result, p in zip(results, prepared, strict=True):
            if result.absorbed_by is not None:
                continue
            edges = [(s, "derived_from") for s in p["derived_from"]] + p["links"]
            for target, relation in edges:
                if target != result.id:
                    await self._add_link(result.id, target, relation, "", 1.0, ctx)
                    result.links.append(target)
        return results

    def _prepare(self, item: NewMemory, ctx: CallContext) -> dict[str, Any]:
        """Validate one new memory and return its row fields."""
        content = item.content.strip() if isinstance(item.content, str) else ""
        if not content:
            raise InvalidInput("content is empty: say what to remember")
        if len(content) > LIMITS["content_chars"]:
            raise InvalidInput(
                f"content has {len(content)} characters, more than {LIMITS['content_chars']}; "
                "store the essentials or split it into several memories"
            )
        _check_kinds([item.kind])
        if not 0.0 <= item.importance <= 1.0:
            raise InvalidInput("importance must be between 0 and 1")
        meta_text = json.dumps(item.metadata, ensure_ascii=False, default=str)
        if len(meta_text) > LIMITS["metadata_chars"]:
            raise InvalidInput(f"metadata is larger than {LIMITS['metadata_chars']} characters")
        for _, relation in item.links:
            self._check_relation(relation)
        return {
            "content": content,
            "kind": item.kind,
            "tags": _check_tags(item.tags),
            "scope": self._write_scope(item.scope, ctx),
            "importance": float(item.importance),
            "derived_from": _check_ids(item.derived_from),
            "links": [(_check_ids([t])[0], r) for t, r in item.links],
            "metadata": meta_text,
            "content_hash": content_hash(content),
            "occurred_at": _utc(item.occurred_at),
            "redacted": list(item._redacted),
        }

    async def _reinforce(
        self, row: dict[str, Any], p: dict[str, Any], now: datetime, ctx: CallContext,
        variant: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "updated_at": now,
            "importance": max(float(row["importance"] or 0), p["importance"]),
            "access_count": int(row["access_count"] or 0) + 1,
        }
        tags = list(dict.fromkeys(list(row["tags"] or []) + p["tags"]))
        if tags != list(row["tags"] or []):
            values["tags"] = tags
            values["search_text"] = with_tags(
                row.get("search_text") or search_text(row["content"]), tags)
        if variant is not None:
            values["metadata"] = dedup.add_variant(row, variant)
        before = {k: row.get(k) for k in values if k != "updated_at"}
        before["updated_at"] = row["updated_at"].isoformat() if row.get("updated_at") else None
        await self.store.update_memories(self.store.m.eq("id", row["id"]), values)
        await self._journal("reinforce", [row["id"]], ctx, {"before": {row["id"]: before}})

    @staticmethod
    def _result(memory_id: str, status: str, p: dict[str, Any]) -> RememberResult:
        return RememberResult(
            id=memory_id, status=status, kind=p["kind"], scope=p["scope"],  # type: ignore[arg-type]
            redacted=p["redacted"],
        )

    # --- recall --------------------------------------------------------------------------

    async def recall(
        self,
        query: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        scope: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        token_budget: int | None = None,
        ctx: CallContext | None = None,
        legs: Sequence[str] | None = None,
        as_of: datetime | None = None,
        include_history: bool = False,
        follow_links: bool = False,
    ) -> RecallResult:
        """Memories most relevant to `query`, best first, that fit `token_budget`.

        `legs` restricts the search to some of its legs ("lexical", "vector"); it exists for
        ablations and diagnostics, the default runs every leg.
        Only current versions of facts are served unless `include_history` (old versions then
        rank lower and name their successor); `as_of` answers from the memory as it was at that
        time; `follow_links` adds the linked neighbours of the top results (one hop, discounted).
        Hits anchored to code are checked against the working tree and marked `stale`.
        """
        ctx = ctx or CallContext()
        query = normalize(query) if isinstance(query, str) else ""
        if not query:
            raise InvalidInput("query is empty: say what to look for")
        if len(query) > LIMITS["query_chars"]:
            raise InvalidInput(f"query is longer than {LIMITS['query_chars']} characters")
        if not 1 <= limit <= LIMITS["recall_limit"]:
            raise InvalidInput(f"limit must be between 1 and {LIMITS['recall_limit']}")
        if token_budget is not None and not 1 <= token_budget <= LIMITS["token_budget"]:
            raise InvalidInput(f"token_budget must be between 1 and {LIMITS['token_budget']}")
        scopes = self._read_scopes(scope, ctx)
        where = self._filters(
            scopes, _check_kinds(kinds), _check_tags(tags), since, until,
            as_of=_utc(as_of), include_history=include_history,
        )

        ranked, mode = await self._search(
            query, where, max(LEG_DEPTH, limit * 3), legs, branch=ctx.branch
        )
        if include_history and as_of is None:
            ranked = history.demote_superseded(ranked)
        via: dict[str, str] = {}
        if follow_links:
            ranked, via = await links_mod.follow(self, ranked, limit, where)
        rerank = self.hooks is not None and self.hooks.has("rerank_recall")
        if rerank:  # plugins see up to RERANK_DEPTH candidates; the limit and budget apply after
            result = self._pack(query, scopes, ranked, max(limit, RERANK_DEPTH), None, mode)
            result = await self._rerank(query, result, limit, token_budget, ctx)
        else:
            result = self._pack(query, scopes, ranked, limit + len(via), token_budget, mode)
        for hit in result.memories:
            hit.via = via.get(hit.id)
        anchors.mark_stale(result.memories, ctx.workdir or None)
        return result

    async def _plugin_hook(self, name: str, value: Any, *args: Any) -> Any:
        """Run a plugin hook on `value`; any failure is logged and `value` goes on unchanged."""
        try:
            return await getattr(self.hooks, name)(value, *args)
        except Exception:
            log.exception("plugin hook %s failed; continuing without it", name)
            return value

    async def _rerank(
        self, query: str, result: RecallResult, limit: int, token_budget: int | None,
        ctx: CallContext,
    ) -> RecallResult:
        """Let plugins reorder the candidates, then keep `limit` hits within the budget."""
        started = time.time()
        try:
            result = await self.hooks.rerank_recall(query, result, ctx)
        except Exception:
            log.exception("plugin hook rerank_recall failed; continuing without it")
        kept, used = [], 0
        for hit in result.memories:
            if len(kept) >= limit:
                break
            if token_budget is not None and used + hit.tokens > token_budget:
                continue
            kept.append(hit)
            used += hit.tokens
        dropped = {h.id for h in result.memories} - {h.id for h in kept}
        for memory_id in dropped:  # only what is returned counts as recalled
            if self._pending_access.get(memory_id):
                self._pending_access[memory_id] -= 1
                if not self._pending_access[memory_id]:
                    del self._pending_access[memory_id]
        result.omitted += len(result.memories) - len(kept)
        result.memories, result.tokens_used = kept, used
        result.warnings.extend(getattr(self.hooks, "warnings", lambda _: [])(started))
        return result

    async def _search(
        self, query: str, where: Predicate, depth: int, legs: Sequence[str] | None = None,
        branch: str = "",
    ) -> tuple[list[Candidate], str]:
        """The legs of the search, fused (see `retrieval.search`): candidates and legs that ran."""
        try:
            return await retrieval.search(self, query, where, depth, legs, branch=branch)
        except Exception:
            if not await self._reembedded():
                raise
            return await retrieval.search(self, query, where, depth, legs, branch=branch)

    async def _reembedded(self) -> bool:
        """After a failure: was the store re-embedded by another process (`habitus reindex`)?
        If so, vector search is turned off here (loudly) so the caller can retry lexically."""
        if self._embedder is None or not await self.store.refresh_embedding():
            return False
        self._disable_vectors(
            f"the store was re-embedded with {self.store.embedding_model or 'no model'} "
            f"({self.store.dimension}-d) but {self._embedder.model_id} is configured; "
            "restart with that embedder"
        )
        return True

    def _filters(
        self,
        scopes: list[str] | None,
        kinds: list[str] | None,
        tags: list[str],
        since: datetime | None,
        until: datetime | None,
        *,
        as_of: datetime | None = None,
        include_history: bool = False,
    ) -> Predicate:
        m = self.store.m
        if as_of is not None:  # what was stored, valid and not yet forgotten at that time
            where = (m.is_null("deleted_at") | m.ge("deleted_at", as_of)) & history.as_of_filter(
                self, as_of)
            if scopes is not None:
                where = where & m.isin("scope", scopes)
        else:
            where = self._live(scopes)
            if not include_history:
                where = where & history.current_filter(self)
        if kinds:
            where = where & m.isin("kind", kinds)
        if tags:
            where = where & m.has_any("tags", tags)
        if since is not None:
            where = where & m.ge("created_at", _utc(since))
        if until is not None:
            where = where & m.lt("created_at", _utc(until))
        return where

    def _pack(
        self,
        query: str,
        scopes: list[str] | None,
        ranked: list[Candidate],
        limit: int,
        token_budget: int | None,
        mode: str,
    ) -> RecallResult:
        now = _now()
        top = ranked[:limit]
        counts = count_many([c.row["content"] for c in top])
        hits: list[RecallHit] = []
        used = 0
        for cand, tokens in zip(top, counts, strict=True):
            if token_budget is not None and used + tokens > token_budget:
                continue
            used += tokens
            hits.append(self._hit(cand.row, cand.score, tokens, now))
        for hit in hits:
            self._pending_access[hit.id] += 1
        self._schedule_flush()
        return RecallResult(
            query=query,
            scopes=scopes or ["all"],
            memories=hits,
            tokens_used=used,
            omitted=len(ranked) - len(hits),
            search=mode,  # type: ignore[arg-type]
            warnings=self._warnings(),
        )

    @staticmethod
    def _hit(row: dict[str, Any], score: float, tokens: int, now: datetime) -> RecallHit:
        meta, section = history.meta_of(row)
        meta.pop("habitus", None)
        hit = RecallHit(
            id=row["id"],
            kind=row["kind"],
            scope=row["scope"],
            content=row["content"],
            tags=list(row["tags"] or []),
            score=round(float(score), 4),
            age=_age(row["created_at"], now),
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
        )
        if section.get("anchors"):
            hit._anchors = section["anchors"]
        return hit

    # --- bookkeeping of use --------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._pending_access and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(2.0)
        await self._flush_access()

    async def _flush_access(self) -> None:
        """Write recall counts in one commit per distinct increment, not one per recall."""
        pending, self._pending_access = self._pending_access, Counter()
        if not pending:
            return
        by_increment: dict[int, list[str]] = {}
        for memory_id, n in pending.items():
            by_increment.setdefault(n, []).append(memory_id)
        now = _now()
        m = self.store.m
        for n, ids in by_increment.items():
            try:
                await self.store.writer.call(
                    self.store.memories,
                    lambda ids=ids, n=n: self.store.memories.update(
                        where=m.isin("id", ids).sql,
                        updates_sql={"access_count": f"access_count + {int(n)}"},
                    ),
                )
                await self.store.update_memories(m.isin("id", ids), {"last_access": now})
            except Exception:
                log.warning("could not record recall counts", exc_info=True)

    # --- reflect -------------------------------------------------------------------------

    async def reflect(
        self,
        *,
        scope: str | None = None,
        topic: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
        consolidate: bool = False,
        dry_run: bool = True,
        draft: str | None = None,
        use_model: bool = True,
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
        ctx = ctx or CallContext()
        if not 1 <= limit <= LIMITS["recall_limit"]:
            raise InvalidInput(f"limit must be between 1 and {LIMITS['recall_limit']}")
        scopes = self._read_scopes(scope, ctx)
        now = _now()
        groups: list[ReflectGroup] = []
        if topic:
            found = await self.recall(topic, scope=scope, limit=limit, ctx=ctx)
            if found.memories:
                groups.append(ReflectGroup(
                    reason="topic",
                    summary=f"{len(found.memories)} memories about {topic!r}",
                    memories=found.memories,
                ))
        groups.extend(await self._near_duplicates(scopes, limit, now))
        groups.extend(await self._stale(scopes, limit, now, ctx))
        since = _utc(since) or now - timedelta(days=7)
        m = self.store.m
        episodes = await self.store.scan(
            self._live(scopes) & m.eq("kind", "episodic") & m.ge("created_at", since),
            limit=500,
        )
        episodes.sort(key=lambda r: r["created_at"], reverse=True)
        episodes = episodes[:limit]
        if episodes:
            counts = count_many([r["content"] for r in episodes])
            groups.append(ReflectGroup(
                reason="recent_episodes",
                summary=f"{len(episodes)} episodes since {since:%Y-%m-%d}",
                memories=[self._hit(r, 1.0, t, now) for r, t in zip(episodes, counts, strict=True)],
            ))
        bundle = ReflectBundle(
            scope=", ".join(scopes or ["all"]),
            topic=topic,
            groups=groups,
            instructions=_REFLECT_INSTRUCTIONS if groups else "Nothing to consolidate right now.",
        )
        if self.hooks is not None and self.hooks.has("consolidate"):
            bundle = await self._plugin_hook("consolidate", bundle, ctx)
        from . import consolidate as consolidation

        return await consolidation.run(
            self, bundle, draft=draft, use_model=use_model, consolidate=consolidate,
            dry_run=dry_run, ctx=ctx,
        )

    async def _stale(
        self, scopes: list[str] | None, limit: int, now: datetime, ctx: CallContext
    ) -> list[ReflectGroup]:
        """Current memories whose code anchors no longer match the working tree."""
        rows = await self.store.scan(self._live(scopes) & history.current_filter(self))
        hits = []
        for row in rows:
            if '"anchors"' not in (row["metadata"] or ""):
                continue
            hit = self._hit(row, 1.0, 0, now)
            anchors.mark_stale([hit], ctx.workdir or None)
            if hit.stale:
                hits.append(hit)
        if not hits:
            return []
        return [ReflectGroup(
            reason="stale",
            summary=f"{len(hits)} memories about code that changed since they were written: "
            "check each, then remember the corrected fact with supersedes=[its id]",
            memories=hits[:limit],
        )]

    async def _near_duplicates(
        self, scopes: list[str] | None, limit: int, now: datetime
    ) -> list[ReflectGroup]:
        rows = await self.store.scan(
            self._live(scopes) & self.store.m.not_null("vector"), limit=2000
        )
        if len(rows) < 2:
            return []
        matrix = np.asarray([r["vector"] for r in rows], dtype=np.float32)
        sims = matrix @ matrix.T
        np.fill_diagonal(sims, 0.0)
        seen: set[int] = set()
        groups: list[ReflectGroup] = []
        for i in np.argsort(-sims.max(axis=1)):
            if i in seen or sims[i].max() < NEAR_DUPLICATE:
                continue
            members = [int(j) for j in np.flatnonzero(sims[i] >= NEAR_DUPLICATE) if j not in seen]
            if not members:
                continue
            cluster = [int(i), *members]
            seen.update(cluster)
            chosen = [rows[j] for j in cluster]
            counts = count_many([r["content"] for r in chosen])
            groups.append(ReflectGroup(
                reason="near_duplicates",
                summary=f"{len(chosen)} memories that say nearly the same thing",
                memories=[self._hit(r, float(sims[i, j]) if j != i else 1.0, t, now)
                          for r, j, t in zip(chosen, cluster, counts, strict=True)],
            ))
            if len(groups) >= limit:
                break
        return groups

    # --- forget --------------------------------------------------------------------------

    async def forget(
        self,
        ids: Sequence[str] | None = None,
        *,
        query: str | None = None,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        scope: str | None = None,
        purge: bool = False,
        dry_run: bool | None = None,
        limit: int = 20,
        decayed: bool = False,
        threshold: float = decay.DECAYED_BELOW,
        restore: bool = False,
        ctx: CallContext | None = None,
    ) -> ForgetResult:
        """Soft-delete (or with `purge`, erase) memories by id or by search.

        Forgetting by search previews what it would remove unless `dry_run=False` is given.
        `decayed` archives (soft-deletes) current memories whose strength fell below
        `threshold`, also previewed first. Forgetting the newest version of a fact makes the
        version it had superseded current again. `restore` undoes a soft delete of `ids`.
        """
        ctx = ctx or CallContext()
        if restore:
            if not ids or query or decayed or purge:
                raise InvalidInput("restore takes the ids of forgotten memories and nothing else")
            back = await self.restore(ids, ctx)
            return ForgetResult(ids=back, count=len(back), dry_run=False, purged=False,
                                restored=True)
        if sum(map(bool, (ids, query, decayed))) > 1:
            raise InvalidInput("give ids, a query or decayed, not several")
        if decayed:
            if purge:
                raise InvalidInput("decayed memories are archived (soft), never purged")
            with history.operation(new_id):
                return await self._forget_decayed(scope, threshold, dry_run, limit, ctx)
        if ids:
            chosen = _check_ids(list(ids))
            rows = await self.store.get_memories(chosen)
            known = {r["id"] for r in rows if purge or r["deleted_at"] is None}
            missing = [i for i in chosen if i not in known]
            if missing:
                raise NotFound(f"no memory with id {missing[0]!r}; recall it first to get its id")
            dry = bool(dry_run)
        elif query:
            found = await self.recall(
                query, kinds=kinds, tags=tags, scope=scope, limit=limit, ctx=ctx
            )
            rows = await self.store.get_memories([h.id for h in found.memories])
            dry = True if dry_run is None else dry_run
        else:
            raise InvalidInput("say which memories to forget: ids, or a query to preview")
        chosen_ids = [r["id"] for r in rows]
        result = ForgetResult(
            ids=chosen_ids, count=len(chosen_ids), dry_run=dry, purged=purge and not dry,
            previews=[preview(r["content"]) for r in rows],
        )
        if dry or not chosen_ids:
            return result
        m = self.store.m
        if purge:
            await erasure.purge(self, chosen_ids, ctx)
            result.previews = []
        else:
            with history.operation(new_id):
                await self.store.update_memories(m.isin("id", chosen_ids), {"deleted_at": _now()})
                await self._journal("forget", chosen_ids, ctx)
                await history.reinstate(self, chosen_ids, ctx)
        return result

    async def _forget_decayed(
        self, scope: str | None, threshold: float, dry_run: bool | None, limit: int,
        ctx: CallContext,
    ) -> ForgetResult:
        if not 0.0 < threshold < 1.0:
            raise InvalidInput("threshold must be between 0 and 1")
        now = _now()
        rows = await self.store.scan(
            self._live(self._read_scopes(scope, ctx)) & history.current_filter(self),
            columns=["id", "content", "importance", "access_count", "last_access", "updated_at",
                     "created_at"],
        )
        faded = sorted(
            ((decay.strength(r, now), r) for r in rows), key=lambda pair: pair[0]
        )
        shown = max(limit, 1) if dry_run is not False else None
        faded = [(s, r) for s, r in faded if s < threshold][:shown]
        dry = True if dry_run is None else dry_run
        chosen = [r["id"] for _, r in faded]
        result = ForgetResult(
            ids=chosen, count=len(chosen), dry_run=dry, purged=False,
            previews=[f"[strength {s:.2f}] {preview(r['content'])}" for s, r in faded],
        )
        if not dry and chosen:
            await self.store.update_memories(self.store.m.isin("id", chosen), {"deleted_at": now})
            await self._journal(
                "archive", chosen, ctx, {"reason": "decayed", "threshold": threshold}
            )
        return result

    async def scrub_secrets(
        self, *, apply: bool = False, ctx: CallContext | None = None
    ) -> dict[str, Any]:
        """Secrets already in the store (written before redaction, or with it off): counted,
        and with `apply` replaced everywhere, old versions included (see `erasure`)."""
        return await erasure.scrub_secrets(self, ctx or CallContext(), apply=apply)

    async def restore(self, ids: Sequence[str], ctx: CallContext | None = None) -> list[str]:
        """Undo a soft delete."""
        chosen = _check_ids(list(ids))
        m = self.store.m
        rows = await self.store.scan(m.isin("id", chosen) & m.not_null("deleted_at"))
        restored = [r["id"] for r in rows]
        if restored:
            await self.store.update_memories(m.isin("id", restored), {"deleted_at": None})
            await self._journal("restore", restored, ctx or CallContext())
        return restored

    # --- link ----------------------------------------------------------------------------

    async def link(
        self,
        source: str,
        target: str,
        relation: str = "related_to",
        note: str = "",
        *,
        weight: float = 1.0,
        ctx: CallContext | None = None,
    ) -> LinkResult:
        """Add a typed edge between two live memories; the same edge twice is merged."""
        ctx = ctx or CallContext()
        source, target = _check_ids([source])[0], _check_ids([target])[0]
        if source == target:
            raise InvalidInput("a memory cannot be linked to itself")
        self._check_relation(relation)
        if len(note) > LIMITS["note_chars"]:
            raise InvalidInput(f"note is longer than {LIMITS['note_chars']} characters")
        if self.settings.redact_secrets:
            note, _ = redaction.redact(note)
        if not 0.0 <= weight <= 1.0:
            raise InvalidInput("weight must be between 0 and 1")
        await self._require_live([source, target])
        with history.operation(new_id):
            result = await self._add_link(source, target, relation, note, weight, ctx)
            if relation == "supersedes":
                await history.supersede(self, source, [target], ctx, add_links=False)
        return result

    @staticmethod
    def _check_relation(relation: str) -> None:
        if relation not in RELATIONS:
            raise InvalidInput(f"unknown relation {relation!r}; use one of {', '.join(RELATIONS)}")

    async def _add_link(
        self, source: str, target: str, relation: str, note: str, weight: float, ctx: CallContext
    ) -> LinkResult:
        link_id = links_mod.link_key(source, target, relation)
        existing = await self.store.find_links(self.store.l.eq("id", link_id), limit=1)
        before: dict[str, Any] = {}
        if existing:
            values: dict[str, Any] = {"weight": max(weight, float(existing[0]["weight"] or 0))}
            if note:
                values["note"] = note
            before = {k: existing[0][k] for k in values}
            await self.store.update_link(link_id, values)
            created = False
        else:
            await self.store.add_links([{
                "id": link_id, "source": source, "target": target, "relation": relation,
                "weight": weight, "note": note, "created_at": _now(),
            }])
            created = True
        await self._journal("link", [source, target], ctx, {
            "relation": relation, "link": link_id, "created": created, "before": before,
        })
        return LinkResult(
            source=source, target=target, relation=relation,  # type: ignore[arg-type]
            note=note or (existing[0]["note"] if existing else ""), weight=weight, created=created,
        )

    async def links_of(self, memory_id: str) -> list[LinkResult]:
        """Every edge that starts or ends at a memory."""
        l_ = self.store.l
        rows = await self.store.find_links(l_.eq("source", memory_id) | l_.eq("target", memory_id))
        return [LinkResult(source=r["source"], target=r["target"], relation=r["relation"],
                           note=r["note"] or "", weight=float(r["weight"]), created=False)
                for r in rows]

    # --- history, undo ------------------------------------------------------------------

    async def history(self, memory_id: str) -> History:
        """The timeline of the fact `memory_id` belongs to: every version, oldest first."""
        return await history.timeline(self, _check_ids([memory_id])[0])

    async def undo(
        self, operation: str | None = None, ctx: CallContext | None = None
    ) -> UndoResult:
        """Revert the last operation (or the given one); an erasure cannot be undone."""
        if operation is not None:
            operation = _check_ids([operation])[0]
        return await history.undo(self, operation, ctx or CallContext())

    async def operations(self, limit: int = 20) -> list[Operation]:
        """The most recent journaled operations, newest first, with the table versions made."""
        return await history.operations(self, limit)

    # --- reading single memories -------------------------------------------------------

    async def get(self, memory_id: str) -> Memory:
        """One memory by id, deleted or not."""
        rows = await self.store.get_memories(_check_ids([memory_id]))
        if not rows:
            raise NotFound(f"no memory with id {memory_id!r}")
        return self._memory(rows[0])

    async def annotate(
        self, memory_id: str, metadata: dict[str, Any], *, ctx: CallContext | None = None
    ) -> Memory:
        """Set top-level keys of a live memory's metadata (a plugin's bookkeeping, such as a
        procedure's record of uses); the content is unchanged. Journaled with the old metadata."""
        ctx = ctx or CallContext()
        await self._require_live([memory_id])
        row = (await self.store.get_memories([memory_id]))[0]
        before = row["metadata"] or "{}"
        merged = {**json.loads(before), **metadata}
        text = json.dumps(merged, ensure_ascii=False, default=str)
        if len(text) > LIMITS["metadata_chars"]:
            raise InvalidInput(
                f"metadata would be larger than {LIMITS['metadata_chars']} characters"
            )
        await self.store.update_memories(self.store.m.eq("id", memory_id), {"metadata": text})
        await self._journal(
            "annotate", [memory_id], ctx, {"before": {memory_id: {"metadata": before}}}
        )
        row["metadata"] = text
        return self._memory(row)

    async def recent(
        self, *, scope: str | None = None, limit: int = 20, ctx: CallContext | None = None
    ) -> list[Memory]:
        """The most recently stored live memories of the read scopes."""
        scopes = self._read_scopes(scope, ctx or CallContext())
        rows = await self.store.scan(self._live(scopes))
        rows.sort(key=lambda r: r["created_at"], reverse=True)
        return [self._memory(r) for r in rows[:limit]]

    @staticmethod
    def _memory(row: dict[str, Any]) -> Memory:
        return Memory(
            id=row["id"], kind=row["kind"], content=row["content"], tags=list(row["tags"] or []),
            scope=row["scope"], importance=float(row["importance"] or 0),
            created_at=row["created_at"], updated_at=row["updated_at"],
            access_count=int(row["access_count"] or 0), last_access=row["last_access"],
            client=row["client"] or "", session=row["session"] or "", tool=row["tool"] or "",
            derived_from=list(row["derived_from"] or []),
            metadata=json.loads(row["metadata"] or "{}"),
            embedding_model=row["embedding_model"] or "", deleted=row["deleted_at"] is not None,
        )

    async def _require_live(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        wanted = _check_ids(list(ids))
        rows = await self.store.scan(
            self.store.m.isin("id", wanted) & self.store.m.is_null("deleted_at"), columns=["id"]
        )
        found = {r["id"] for r in rows}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound(f"no live memory with id {missing[0]!r}")

    # --- journal and stats ---------------------------------------------------------------

    async def _journal(
        self, op: str, ids: list[str], ctx: CallContext, detail: dict[str, Any] | None = None
    ) -> None:
        entry = new_id()
        detail = dict(detail or {})
        detail["operation"] = history.current_operation() or entry
        try:  # the table versions this operation produced, for audit and time travel
            detail["versions"] = {
                "memories": await self.store.memories.version(),
                "links": await self.store.links.version(),
            }
        except Exception:  # a closed or remote table: the journal row matters more
            log.debug("table versions unavailable", exc_info=True)
        self.store.append_journal([{
            "id": entry, "op": op, "ids": ids, "at": _now(), "client": ctx.client,
            "session": ctx.session, "detail": json.dumps(detail, default=str),
        }])

    async def stats(self) -> StoreStats:
        """How much is stored, where, and by which model."""
        rows = await self.store.scan(None, columns=["kind", "scope", "deleted_at"])
        live = [r for r in rows if r["deleted_at"] is None]
        counts = await self.store.table_counts()
        return StoreStats(
            path=self.store.uri,
            memories=len(live),
            deleted=len(rows) - len(live),
            by_kind=dict(Counter(r["kind"] for r in live)),
            by_scope=dict(Counter(r["scope"] for r in live)),
            links=counts["links"],
            journal=counts["journal"],
            embedding_model=self.store.embedding_model or "none",
            fragments=await self.store.fragments(),
        )


_REFLECT_INSTRUCTIONS = """\
Consolidate these memories; nothing has been changed yet.
- near_duplicates: write one memory that keeps every distinct detail, with
  remember(content=..., derived_from=[the ids]); then forget the duplicates if they add nothing.
- topic: write the durable conclusion (a fact, decision or convention) as a semantic memory with
  derived_from set to the ids it rests on.
- recent_episodes: extract lessons, conventions or procedures worth keeping, each as its own
  memory with derived_from; leave the episodes in place.
Write only what the evidence supports; if memories contradict each other, say so and link them
with relation 'contradicts'."""
