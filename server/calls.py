"""How a tool call reaches the core: the caller's context (project scope from the connection's
roots, working tree, branch, client) and the guard that turns errors into tool errors.

Shared by the five memory tools and the tools plugins add.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ListRootsResult

from habitus.base.errors import HabitusError
from habitus.core.models import CallContext

from .runtime import Runtime

__all__ = ["call_context", "guard", "connection_key"]

log = logging.getLogger("habitus.server")
T = TypeVar("T")


def call_context(
    ctx: Context, runtime: Runtime, tool: str, roots: ListRootsResult | None
) -> CallContext:
    """The context of a tool call: who calls, from which project, working tree and branch."""
    session = ctx.session
    connection = connection_key(ctx)
    uris = [str(r.uri) for r in roots.roots] if roots is not None else None
    params = getattr(session, "client_params", None)
    client = params.client_info.name if params is not None and params.client_info else "mcp"
    from habitus.core.project.git import current_branch

    scope, workdir = runtime.project_for(connection, uris)
    return CallContext(
        project_scope=scope,
        client=client,
        session=f"{id(connection):x}",
        tool=tool,
        workdir=workdir,
        branch=current_branch(workdir) or "",
        source="assistant",
    )


def connection_key(ctx: Context) -> object:
    """The client connection of a request: stable across its requests, unlike `ctx.session`,
    which mcp 2.3 builds anew for each request (it keeps the connection as `_connection`)."""
    return getattr(ctx.session, "_connection", ctx.session)


async def guard(call: Callable[[], Awaitable[T]]) -> T:
    """Turn habitus errors into clear tool errors and anything else into a logged one."""
    try:
        return await call()
    except HabitusError as exc:
        raise ToolError(str(exc)) from exc
    except Exception as exc:
        log.exception("tool failed")
        raise ToolError(
            f"internal error ({type(exc).__name__}): {exc}; the server keeps running"
        ) from exc
