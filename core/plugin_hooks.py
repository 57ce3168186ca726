"""The points where plugins change what the core does (enrich a new memory, rerank a recall,
add to a reflection), each guarded: a failing plugin is logged and the value goes on unchanged.

The core knows plugins only through the `ServiceHooks` protocol, which the plugin manager
(`habitus.plugins.manager.PluginManager`) implements.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from habitus.core.models import CallContext, NewMemory, RecallResult, ReflectBundle

__all__ = ["ServiceHooks", "PluginHooks"]

log = logging.getLogger("habitus.core")

T = TypeVar("T")


class ServiceHooks(Protocol):
    """What the core asks of the plugins of a process."""

    def has(self, hook: str) -> bool: ...
    async def enrich_memories(
        self, items: list[NewMemory], ctx: CallContext
    ) -> list[NewMemory]: ...
    async def rerank_recall(self, query: str, result: RecallResult,
                            ctx: CallContext) -> RecallResult: ...
    async def consolidate(self, bundle: ReflectBundle, ctx: CallContext) -> ReflectBundle: ...
    def warnings(self, since: float) -> list[str]: ...


class PluginHooks:
    """The plugins the core calls, if any (`manager` None: no plugins, no cost)."""

    def __init__(self) -> None:
        self.manager: ServiceHooks | None = None

    def has(self, hook: str) -> bool:
        return self.manager is not None and self.manager.has(hook)

    async def enrich(self, items: list[NewMemory], ctx: CallContext) -> list[NewMemory]:
        """New memories as `enrich_memory` plugins leave them."""
        if self.manager is None or not self.has("enrich_memory"):
            return items
        return await _guarded("enrich_memories", self.manager.enrich_memories, items, items, ctx)

    async def rerank(self, query: str, result: RecallResult, ctx: CallContext) -> RecallResult:
        """A recall's candidates as `rerank_recall` plugins order them, with their warnings."""
        if self.manager is None:
            return result
        started = time.time()
        result = await _guarded(
            "rerank_recall", self.manager.rerank_recall, result, query, result, ctx
        )
        result.warnings.extend(self.manager.warnings(started))
        return result

    async def consolidate(self, bundle: ReflectBundle, ctx: CallContext) -> ReflectBundle:
        """A reflection as `consolidate` plugins complete it."""
        if self.manager is None or not self.has("consolidate"):
            return bundle
        return await _guarded("consolidate", self.manager.consolidate, bundle, bundle, ctx)


async def _guarded(name: str, hook: Callable[..., Awaitable[T]], fallback: T, *args: Any) -> T:
    try:
        return await hook(*args)
    except Exception:
        log.exception("plugin hook %s failed; continuing without it", name)
        return fallback
