"""Process-wide state of a running server: one memory service, opened once, shared by all.

The store is opened on first use (or by the warm-up right after start) inside the serving
event loop, never per connection: SSE runs an MCP lifespan per connection, and each
assistant's stdio server is its own process already.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

import anyio

from habitus.core.config import Settings
from habitus.core.project.scope import Scope, detect_scope, resolve_scope, scope_from_roots

if TYPE_CHECKING:
    from habitus.core.service import MemoryService
    from habitus.lifecycle.handler import Lifecycle
    from habitus.plugins.manager import PluginManager

__all__ = ["Runtime"]

log = logging.getLogger("habitus.server")


class Runtime:
    """Opens the memory service lazily and remembers each client session's project scope."""

    def __init__(
        self,
        settings: Settings,
        default_scope: Scope | None = None,
        plugins: PluginManager | None = None,
    ) -> None:
        self.settings = settings
        self.default_scope = default_scope or detect_scope()
        if plugins is None:
            from habitus.plugins.manager import PluginManager

            plugins = PluginManager.from_environment(self.default_scope.root)
        self.plugins = plugins.load()
        self.plugins.bind(self.service)
        self._service: MemoryService | None = None
        self._lifecycle: Lifecycle | None = None
        self._lock = anyio.Lock()
        # Keyed by the client connection; an entry goes when its connection is collected.
        self._projects: weakref.WeakKeyDictionary[object, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    async def service(self) -> MemoryService:
        """The shared service, opened on first call."""
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    from habitus.core.service import MemoryService  # heavy: LanceDB

                    service = await MemoryService.open(self.settings)
                    service.hooks = self.plugins
                    self._service = service
                    log.info("store open at %s", self._service.store.uri)
        return self._service

    async def lifecycle(self) -> Lifecycle:
        """The handler of assistants' lifecycle hooks for this store, built on first call."""
        if self._lifecycle is None:
            from habitus.lifecycle.handler import Lifecycle

            self._lifecycle = Lifecycle(await self.service(), db=self.settings.resolved_db(),
                                        plugins=self.plugins)
        return self._lifecycle

    async def warm_up(self) -> None:
        """Open the store and load the embedder in the background after start-up."""
        try:
            service = await self.service()
            await service.warm_up()
            log.info("embedder ready: %s", service.embedder_status)
        except Exception:
            log.exception("warm-up failed; the first request will retry")

    async def close(self) -> None:
        if self._service is not None:
            await self._service.close()
            self._service = None

    def project_for(self, connection: object, roots: list[str] | None) -> tuple[str, str]:
        """The project scope and working tree of a client connection: from its roots once
        known, else the server's own. Kept as long as the connection lives, never longer."""
        if roots is not None and connection not in self._projects:
            found = scope_from_roots(roots)
            root = found.root if found is not None and found.root is not None else None
            self._projects[connection] = (
                resolve_scope(roots, self.default_scope.root).id, str(root) if root else "")
        scope, workdir = self._projects.get(connection, (self.default_scope.id, ""))
        default_root = self.default_scope.root
        return scope, workdir or (str(default_root) if default_root else "")

    def knows_roots(self, connection: object) -> bool:
        return connection in self._projects
