"""The plugin API: the hooks a plugin may implement and the narrow context it receives.

A plugin is a Python module (or object) with functions decorated by `habitus.plugins.hookimpl`
and named after the hooks below. It may implement any subset of the hooks, and each function may
accept any subset of the hook's arguments (pluggy matches them by name), so hooks can grow new
arguments without breaking plugins. Hook functions may be plain or `async def`.

Plugins are found through the `habitus.plugins` entry-point group and in plugin folders; see
docs/plugins.md. Built-in behaviour (procedural memory) ships as a default plugin registered the
same way, with `trylast=True` so that user plugins can override it.

A plugin sees only `PluginContext`: memory operations (`context.memory`), token counting, an
optional language model, its configuration and a logger; never the store or the server.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from habitus.core.models import (
    CallContext,
    ForgetResult,
    LinkResult,
    Memory,
    NewMemory,
    RecallResult,
    ReflectBundle,
    RememberResult,
)

if TYPE_CHECKING:
    from habitus.core.service import MemoryService
    from habitus.core.trajectory.model import Trajectory

__all__ = [
    "PROJECT_NAME",
    "HookSpecs",
    "LanguageModel",
    "MemoryOperations",
    "PluginContext",
    "hookimpl",
    "hookspec",
    "maybe_await",
    "current_call",
]

PROJECT_NAME = "habitus"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# The caller of the MCP tool (or CLI command) being served, so that plugin tools act in the
# caller's project scope without taking it as an argument.
current_call: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "habitus_current_call", default=None
)


async def maybe_await(value: Any) -> Any:
    """The value, awaited if a hook implementation was `async def`."""
    return await value if inspect.isawaitable(value) else value


class HookSpecs:
    """Every hook habitus calls. Each is documented in docs/plugins.md under its signature. A
    plugin may add hooks of its own for other plugins (its module's `HOOKSPECS` class), as the
    built-in procedural plugin does."""

    @hookspec
    def register_tools(self, register: Callable[..., None], context: PluginContext) -> None:
        """Contribute MCP tools: call `register(fn, name=None, description=None)` for each.

        `fn` is a plain (async) function whose typed parameters become the tool's schema, as
        with any MCP tool; it returns a JSON-able value or a pydantic model. A tool name already
        taken (by habitus or another plugin) is refused, naming both plugins."""

    @hookspec
    def register_embedders(self, register: Callable[[str, Callable[[], Any]], None]) -> None:
        """Provide embedders: `register(name, factory)`; `factory()` returns an object with
        `model_id`, `dimension` and `embed(texts) -> float32 array`. Choose it with
        `--embedder NAME` / `HABITUS_EMBEDDER`."""

    @hookspec
    def enrich_memory(self, memory: NewMemory, context: PluginContext) -> NewMemory | None:
        """Called before a memory is stored: return a changed copy (keywords, tags, links,
        metadata) or None to leave it as it is. Runs for every write, so keep it fast."""

    @hookspec
    def rerank_recall(
        self, query: str, result: RecallResult, context: PluginContext
    ) -> RecallResult | None:
        """Called after a search with up to 50 candidates: return the result reordered,
        filtered or expanded (or None to leave it). habitus then keeps the first `limit` hits
        and applies the token budget."""

    @hookspec
    def trajectory_finished(
        self, trajectory: Trajectory, scope: str, ctx: CallContext, context: PluginContext
    ) -> list[str] | None:
        """Called when a task is done and done well (a Claude Code session that ended with
        nothing left failing, read from its transcript): learn from how it went. Return the ids
        of the memories written or reinforced, or None. Called again, with more steps, when
        the same session goes on."""

    @hookspec
    def consolidate(self, bundle: ReflectBundle, context: PluginContext) -> ReflectBundle | None:
        """Called at the end of `reflect`: add groups, actions or instructions to the bundle
        (return the changed bundle, or None)."""


class LanguageModel(Protocol):
    """A language model a plugin may use when one is available."""

    name: str

    async def complete(self, prompt: str, *, system: str | None = None,
                       max_tokens: int = 800) -> str:
        """The model's answer to `prompt`."""
        ...


# The model of the current MCP request (sampling through the client), when it offers one.
current_model: contextvars.ContextVar[LanguageModel | None] = contextvars.ContextVar(
    "habitus_current_model", default=None
)


class MemoryOperations:
    """The memory operations a plugin may use; each acts in the current caller's scope unless
    a `ctx` is given. They are the service's public methods, nothing more."""

    def __init__(self, service: Callable[[], Awaitable[MemoryService]]) -> None:
        self._service = service

    @staticmethod
    def _ctx(ctx: CallContext | None) -> CallContext:
        return ctx or current_call.get() or CallContext(client="plugin", tool="plugin")

    async def remember(self, *memory: Any, ctx: CallContext | None = None,
                       **fields: Any) -> RememberResult:
        """Store a memory: a `NewMemory`, or its fields (`remember("text", tags=[...])`)."""
        return await (await self._service()).remember(*memory, ctx=self._ctx(ctx), **fields)

    async def remember_many(self, items: Sequence[NewMemory], *,
                            ctx: CallContext | None = None) -> list[RememberResult]:
        return await (await self._service()).remember_many(items, ctx=self._ctx(ctx))

    async def recall(self, *request: Any, ctx: CallContext | None = None,
                     **fields: Any) -> RecallResult:
        """Search: a `RecallRequest`, or its fields (`recall("query", limit=5)`)."""
        return await (await self._service()).recall(*request, ctx=self._ctx(ctx), **fields)

    async def get(self, memory_id: str) -> Memory:
        return await (await self._service()).get(memory_id)

    async def embed(self, texts: Sequence[str]) -> Any:
        """The embedder's unit vectors for `texts` (numpy, one row each), or None without one."""
        return await (await self._service()).embed(list(texts))

    async def annotate(self, memory_id: str, metadata: dict[str, Any], *,
                       ctx: CallContext | None = None) -> Memory:
        return await (await self._service()).annotate(memory_id, metadata, ctx=self._ctx(ctx))

    async def forget(self, *request: Any, ctx: CallContext | None = None,
                     **fields: Any) -> ForgetResult:
        """Forget: a `ForgetRequest`, or its fields (`forget([id])`)."""
        return await (await self._service()).forget(*request, ctx=self._ctx(ctx), **fields)

    async def link(self, *request: Any, ctx: CallContext | None = None,
                   **fields: Any) -> LinkResult:
        """Link: a `LinkRequest`, or its fields (`link(source, target, "depends_on")`)."""
        return await (await self._service()).link(*request, ctx=self._ctx(ctx), **fields)


@dataclass
class PluginContext:
    """What a plugin gets: memory operations, token counting, an optional model, its
    configuration and a logger."""

    plugin: str
    memory: MemoryOperations
    config: dict[str, str] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("habitus.plugins"))
    configured_model: LanguageModel | None = None
    call_hook: Callable[..., Awaitable[Any]] | None = field(default=None, repr=False)
    """`await context.call_hook("distill_trajectory", firstresult=True, trajectory=t)` runs a
    hook across all plugins, isolated like every hook call."""

    @property
    def llm(self) -> LanguageModel | None:
        """The client's model (MCP sampling) during a request that offers it, else the
        configured endpoint, else None: plugins must work without one."""
        return current_model.get() or self.configured_model

    async def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors for `texts` from the embedder recall uses (a numpy float32 array, one
        row per text, so a dot product is a cosine), or None when vector search is off."""
        return await self.memory.embed(texts)

    @staticmethod
    def count_tokens(text: str) -> int:
        """Tokens `text` takes (o200k_base), as recall counts them."""
        from habitus.core.text.tokens import count_many

        return count_many([text])[0]


def plugin_config(name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """`HABITUS_PLUGIN_<NAME>_<KEY>=value` environment variables, and `HABITUS_PLUGIN_<NAME>`
    holding a JSON object, as the plugin's configuration (keys lower-cased)."""
    environ = dict(os.environ if environ is None else environ)
    prefix = "HABITUS_PLUGIN_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    config: dict[str, str] = {}
    raw = environ.get(prefix)
    if raw:
        try:
            loaded = json.loads(raw)
            if isinstance(loaded, dict):
                config.update({str(k).lower(): str(v) for k, v in loaded.items()})
        except ValueError:
            pass
    for key, value in environ.items():
        if key.startswith(prefix + "_"):
            config[key[len(prefix) + 1:].lower()] = value
    return config
