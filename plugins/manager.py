"""Finding, loading, isolating, listing and hot-reloading plugins.

Plugins come from three places, in this order: the built-in default plugins, the
`habitus.plugins` entry-point group (installed packages), and plugin folders (the user's folder,
`$HABITUS_PLUGINS_DIR` or `<user config dir>/habitus/plugins`, and the project's
`.habitus/plugins/`). In a folder, each `*.py` file or package directory is one plugin named
after it. `HABITUS_PLUGINS=builtin` loads only the built-in plugins (no entry points, no folders).

Isolation: a plugin that fails to import is reported and skipped; a hook that raises is logged,
recorded in `errors` (shown by `habitus plugins list`), and skipped, so the other plugins still
run and the memory operation goes on with the value it had (no write is lost). A folder plugin
whose new version fails to import keeps its previous version running.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from habitus.base.dirs import plugins_dir
from habitus.base.errors import HabitusError
from habitus.core.models import CallContext, NewMemory, RecallResult, ReflectBundle
from habitus.core.reflection.llm import ChatModel
from habitus.plugins.api import (
    PROJECT_NAME,
    HookSpecs,
    MemoryOperations,
    PluginContext,
    maybe_await,
    plugin_config,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "ToolSpec",
]

log = logging.getLogger("habitus.plugins")

ENTRY_POINT_GROUP = "habitus.plugins"
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("procedural", "habitus.plugins.procedural.plugin"),
)
_FOLDER_MODULE_PREFIX = "habitus_folder_plugin_"
MAX_FAILURES = 100



@dataclass
class PluginFailure:
    """A plugin failure: where (`load` or a hook name) and what."""

    plugin: str
    where: str
    message: str
    at: float = field(default_factory=time.time)


@dataclass
class PluginInfo:
    """A loaded plugin and where it came from."""

    name: str
    origin: str  # "builtin", "entry point" or "folder"
    location: str
    hooks: list[str]
    version: int = 1


@dataclass
class ToolSpec:
    """An MCP tool contributed by a plugin."""

    name: str
    fn: Callable[..., Any]
    plugin: str
    description: str | None = None
    annotations: Any = None


@dataclass
class _Folder:
    path: Path
    digest: str


class PluginManager:
    """The plugins of one process, and the hooks the memory service calls on them."""

    def __init__(
        self,
        *,
        builtins: bool = True,
        entry_points: Iterable[Any] | None = (),
        folders: Sequence[str | Path] = (),
        environ: dict[str, str] | None = None,
    ) -> None:
        """`entry_points`: the entry points to load (objects with `.name` and `.load()`);
        None reads the installed `habitus.plugins` group. Loading happens in `load()`."""
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(HookSpecs)
        self._builtins = builtins
        self._entry_points = entry_points
        self.folders = [Path(f) for f in folders]
        self._environ = environ
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self._contexts: dict[str, PluginContext] = {}
        self._from_folder: dict[str, _Folder] = {}
        self._refused: set[tuple[str, str]] = set()
        self._service: Callable[[], Awaitable[Any]] | None = None
        self.memory = MemoryOperations(self._get_service)
        self._model = _configured_model()
        self._loaded = False

    @classmethod
    def from_environment(cls, project_root: str | Path | None = None) -> PluginManager:
        """Built-ins, installed entry points and the user's and project's plugin folders, unless
        `HABITUS_PLUGINS=builtin`."""
        if os.environ.get("HABITUS_PLUGINS", "").strip().lower() in ("builtin", "none", "off"):
            return cls(entry_points=())
        folders = [plugins_dir()]
        if project_root:
            folders.append(Path(project_root) / ".habitus" / "plugins")
        return cls(entry_points=None, folders=folders)

    # --- loading -------------------------------------------------------------------------

    def load(self) -> PluginManager:
        """Load every plugin once (later calls do nothing)."""
        if self._loaded:
            return self
        self._loaded = True
        if self._builtins:
            for name, module in BUILTIN_PLUGINS:
                self._load_module(name, "builtin", module,
                                  lambda m=module: importlib.import_module(m))
        entry_points = self._entry_points
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in entry_points:
            where = getattr(ep, "value", repr(ep))
            self._load_module(ep.name, "entry point", where, ep.load)
        self.reload_folders()
        return self

    def _record(self, plugin: str, where: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        log.error("plugin %s failed in %s: %s", plugin, where, message,
                  exc_info=exc if isinstance(exc, BaseException) else None)
        self.failures.append(PluginFailure(plugin, where, message))
        del self.failures[:-MAX_FAILURES]

    def _load_module(self, name: str, origin: str, location: str,
                     loader: Callable[[], Any]) -> bool:
        if name in self.infos:
            known = self.infos[name]
            self._record(name, "load", f"a plugin named {name!r} is already loaded from "
                         f"{known.location} ({known.origin}); {location} ({origin}) was refused")
            return False
        try:
            plugin = loader()
        except Exception as exc:
            self._record(name, "load", exc)
            return False
        return self.register(plugin, name, origin=origin, location=location)

    def register(self, plugin: Any, name: str, *, origin: str = "code",
                 location: str = "") -> bool:
        """Register a plugin object (a module, a class instance); False if refused."""
        if self.pm.has_plugin(name) or name in self.infos:
            known = self.infos.get(name)
            where = f"{known.location} ({known.origin})" if known else "elsewhere"
            self._record(name, "load", f"a plugin named {name!r} is already loaded from {where}; "
                         f"{location or 'the new one'} ({origin}) was refused")
            return False
        try:
            specs = getattr(plugin, "HOOKSPECS", None)
            if specs is not None:  # the plugin's own hooks, for other plugins to implement
                self.pm.add_hookspecs(specs)
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation: unknown hook names, bad arguments
            self._record(name, "load", exc)
            return False
        hooks = sorted({c.name for c in self.pm.get_hookcallers(plugin) or []})
        where = location or getattr(plugin, "__file__", "")
        self.infos[name] = PluginInfo(name, origin, where, hooks)
        self._contexts[name] = PluginContext(
            plugin=name, memory=self.memory, config=plugin_config(name, self._environ),
            log=logging.getLogger(f"habitus.plugins.{name}"), configured_model=self._model,
            call_hook=self.call,
        )
        if "register_embedders" in hooks:
            self._register_embedders(name)
        return True

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.infos.pop(name, None)
        self._contexts.pop(name, None)
        self._from_folder.pop(name, None)

    # --- folders and hot reload ----------------------------------------------------------

    @staticmethod
    def _folder_plugins(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        if not folder.is_dir():
            return found
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith((".", "_")):
                continue
            if entry.suffix == ".py" and entry.is_file():
                found[entry.stem] = entry
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                found[entry.name] = entry / "__init__.py"
        return found

    @staticmethod
    def _digest(path: Path) -> str:
        files = [path] if path.name != "__init__.py" else sorted(path.parent.rglob("*.py"))
        h = hashlib.sha256()
        for f in files:
            with contextlib.suppress(OSError):
                h.update(f.read_bytes())
        return h.hexdigest()

    @staticmethod
    def _import_file(name: str, path: Path) -> types.ModuleType:
        module_name = f"{_FOLDER_MODULE_PREFIX}{name}_{time.monotonic_ns()}"
        locations = [str(path.parent)] if path.name == "__init__.py" else None
        spec = importlib.util.spec_from_file_location(
            module_name, path, submodule_search_locations=locations
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        return module

    def reload_folders(self) -> list[str]:
        """Load new folder plugins, reload changed ones, drop removed ones; the names changed.

        A changed plugin that no longer imports keeps its previous version (the error is
        recorded)."""
        changed: list[str] = []
        seen: set[str] = set()
        for folder in self.folders:
            for name, path in self._folder_plugins(folder).items():
                if name in seen:
                    continue
                seen.add(name)
                digest = self._digest(path)
                known = self._from_folder.get(name)
                if known is not None and known.digest == digest:
                    continue
                if known is None and name in self.infos:  # taken by a built-in or entry point
                    if (name, digest) in self._refused:
                        continue
                    self._refused.add((name, digest))
                    self._record(name, "load", f"a plugin named {name!r} is already loaded from "
                                 f"{self.infos[name].location} ({self.infos[name].origin}); "
                                 f"{path} (folder) was refused")
                    continue
                try:
                    module = self._import_file(name, path)
                except Exception as exc:
                    self._record(name, "load", exc)
                    if known is not None:
                        known.digest = digest  # keep the old version until the next change
                    continue
                version = 1
                if known is not None:
                    version = self.infos[name].version + 1
                    self.unregister(name)
                if self.register(module, name, origin="folder", location=str(path)):
                    self.infos[name].version = version
                    self._from_folder[name] = _Folder(path, digest)
                    changed.append(name)
        for name in [n for n in self._from_folder if n not in seen]:
            self.unregister(name)
            changed.append(name)
        return changed

    async def watch(self, on_change: Callable[[list[str]], Awaitable[None]] | None = None,
                    stop_event: Any = None) -> None:
        """Reload folder plugins whenever their files change (until `stop_event` is set)."""
        import watchfiles

        folders = [str(f) for f in self.folders if f.is_dir()]
        if not folders:
            return
        async for _ in watchfiles.awatch(*folders, stop_event=stop_event, debounce=200,
                                         step=50, recursive=True):
            changed = self.reload_folders()
            if changed:
                log.info("plugins reloaded: %s", ", ".join(changed))
                if on_change is not None:
                    try:
                        await on_change(changed)
                    except Exception:
                        log.exception("applying reloaded plugins failed")

    # --- the service and contexts ----------------------------------------------------------

    def bind(self, service: Callable[[], Awaitable[Any]]) -> None:
        """Give plugins' `context.memory` the service (a coroutine function returning it)."""
        self._service = service

    async def _get_service(self) -> Any:
        if self._service is None:
            raise HabitusError("memory operations are not available to plugins here")
        return await self._service()

    def context(self, plugin: str) -> PluginContext:
        return self._contexts[plugin]

    # --- calling hooks, isolated ---------------------------------------------------------

    def _impls(self, hook: str) -> list[Any]:
        # pluggy calls the last registered first; tryfirst/trylast order is already applied.
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    def has(self, hook: str) -> bool:
        return bool(getattr(self.pm.hook, hook).get_hookimpls())

    def _arguments(self, impl: Any, values: dict[str, Any]) -> dict[str, Any]:
        """What a hook implementation accepts of `values`, `context` being its plugin's own."""
        values = {**values, "context": self._contexts.get(impl.plugin_name)}
        return {a: values[a] for a in impl.argnames}

    async def _answers(self, hook: str, values: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        """Each plugin's answer to `hook`, in calling order: a failure is recorded and skipped.
        `values` is read again for each plugin, so a caller may change it between answers."""
        for impl in self._impls(hook):
            try:
                out = await maybe_await(impl.function(**self._arguments(impl, values)))
            except Exception as exc:
                self._record(impl.plugin_name, hook, exc)
                continue
            yield impl.plugin_name, out

    async def call(self, hook: str, *, firstresult: bool = False, **kwargs: Any) -> Any:
        """Call `hook` on every plugin (each with the arguments it accepts, `context` being its
        own); failures are recorded and skipped. Returns the list of non-None results, or the
        first one with `firstresult`."""
        results = []
        async for _, out in self._answers(hook, kwargs):
            if out is not None:
                if firstresult:
                    return out
                results.append(out)
        return None if firstresult else results

    async def _chain(self, hook: str, arg: str, value: Any, kind: type, **kwargs: Any) -> Any:
        """Pass `value` through every plugin of `hook` in turn (None keeps it)."""
        values = {**kwargs, arg: value}
        async for name, out in self._answers(hook, values):
            if out is None:
                continue
            if not isinstance(out, kind):
                self._record(name, hook, f"returned {type(out).__name__}, not {kind.__name__}")
                continue
            values[arg] = out
        return values[arg]

    # The ServiceHooks protocol of the memory service.

    async def enrich_memories(self, items: list[NewMemory], ctx: CallContext) -> list[NewMemory]:
        return [await self._chain("enrich_memory", "memory", item, NewMemory) for item in items]

    async def rerank_recall(self, query: str, result: RecallResult,
                            ctx: CallContext) -> RecallResult:
        return await self._chain("rerank_recall", "result", result, RecallResult, query=query)

    async def consolidate(self, bundle: ReflectBundle, ctx: CallContext) -> ReflectBundle:
        return await self._chain("consolidate", "bundle", bundle, ReflectBundle)

    def warnings(self, since: float) -> list[str]:
        return [f"plugin {e.plugin} failed in {e.where}: {e.message}"
                for e in self.failures if e.at >= since]

    # --- registries rebuilt from hooks ---------------------------------------------------

    def tools(self, reserved: Iterable[str] = ()) -> list[ToolSpec]:
        """The plugins' MCP tools; a name already taken is refused, naming both owners."""
        owners = {name: "habitus" for name in reserved}
        specs: list[ToolSpec] = []
        for impl in self._impls("register_tools"):
            plugin = impl.plugin_name

            def register(fn: Callable[..., Any], name: str | None = None,
                         description: str | None = None, annotations: Any = None,
                         plugin: str = plugin) -> None:
                tool = name or fn.__name__
                if tool in owners:
                    self._record(plugin, "register_tools",
                                 f"tool {tool!r} of plugin {plugin!r} refused: the name is taken "
                                 f"by plugin {owners[tool]!r}")
                    return
                owners[tool] = plugin
                specs.append(ToolSpec(tool, fn, plugin, description, annotations))

            try:
                impl.function(**self._arguments(impl, {"register": register}))
            except Exception as exc:
                self._record(plugin, "register_tools", exc)
        return specs

    def _register_embedders(self, plugin_name: str) -> None:
        from habitus.core.embedding.embedders import register_embedder

        def register(name: str, factory: Callable[[], Any]) -> None:
            try:
                register_embedder(name, factory, owner=plugin_name)
            except HabitusError as exc:
                self._record(plugin_name, "register_embedders", exc)

        for impl in self.pm.hook.register_embedders.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            try:
                impl.function(**self._arguments(impl, {"register": register}))
            except Exception as exc:
                self._record(plugin_name, "register_embedders", exc)

    def listing(self) -> list[dict[str, Any]]:
        """What is loaded and from where, with the errors of each plugin."""
        rows = []
        for info in self.infos.values():
            failed = [e.message for e in self.failures if e.plugin == info.name]
            rows.append({"name": info.name, "origin": info.origin, "location": info.location,
                         "hooks": info.hooks, "version": info.version, "errors": failed[-5:]})
        loaded = set(self.infos)
        for e in self.failures:
            if e.plugin not in loaded and e.where == "load":
                rows.append({"name": e.plugin, "origin": "failed", "location": "", "hooks": [],
                             "version": 0, "errors": [e.message]})
                loaded.add(e.plugin)
        return rows


def _configured_model() -> ChatModel | None:
    """The OpenAI-compatible model named by HABITUS_LLM_*, if any; a bad setting is logged."""
    try:
        return ChatModel.from_config(
            os.environ.get("HABITUS_LLM_URL"), os.environ.get("HABITUS_LLM_MODEL"),
            os.environ.get("HABITUS_LLM_API_KEY"),
        )
    except HabitusError as exc:
        log.warning("no language model for plugins: %s", exc)
        return None
