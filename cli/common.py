"""What every command group shares: the group's options, opening the service, printing.

Errors are one clean line; set `HABITUS_DEBUG=1` for tracebacks. Nothing heavy is imported
here: each command imports what it uses when it runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from habitus.core.config import Settings
from habitus.core.errors import HabitusError
from habitus.core.kinds import KINDS

__all__ = [
    "State",
    "pass_state",
    "run_service",
    "run_with_plugins",
    "load_plugins",
    "emit",
    "json_option",
    "scope_option",
    "kind_choice",
    "split_tags",
]

T = TypeVar("T")


class State:
    """Options of the group, handed to every command."""

    def __init__(self, db: str, embedder: str) -> None:
        self.settings = Settings(db=db, embedder=embedder)

    def context(self) -> Any:
        """The call context of this command: the project of the working directory."""
        from habitus.core.models import CallContext
        from habitus.core.scope import detect_scope

        scope = detect_scope()
        return CallContext(
            project_scope=scope.id,
            client="cli",
            tool="cli",
            workdir=str(scope.root) if scope.root else os.getcwd(),
            branch=scope.branch or "",
        )


pass_state = click.make_pass_decorator(State)


def run_service(state: State, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the service with the plugins' hooks, run `fn(service)`, close it; habitus errors
    become one-line click errors (`HABITUS_DEBUG=1` shows the traceback)."""
    return run_with_plugins(state.settings, lambda service, _plugins: fn(service))


def load_plugins() -> Any:
    """The plugin manager for this directory: built-ins, entry points and plugin folders."""
    from habitus.core.scope import detect_scope
    from habitus.plugins.manager import PluginManager

    return PluginManager.from_environment(detect_scope().root).load()


def run_with_plugins(
    settings: Settings, fn: Callable[[Any, Any], Awaitable[T]], plugins: Any = None
) -> T:
    """Open the service with `plugins` (default: `load_plugins()`), run `fn(service, plugins)`."""
    import anyio

    from habitus.core.service import MemoryService

    plugins = plugins or load_plugins()

    async def main() -> T:
        service = await MemoryService.open(settings)
        service.hooks = plugins

        async def get() -> Any:
            return service

        plugins.bind(get)
        try:
            return await fn(service, plugins)
        finally:
            await service.close()

    try:
        return anyio.run(main, backend="asyncio")
    except HabitusError as exc:
        if os.environ.get("HABITUS_DEBUG"):
            raise
        raise click.ClickException(str(exc)) from exc


def emit(value: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print `value` as JSON or through `human`."""
    if as_json:
        data = _plain(value)
        if isinstance(data, list):
            data = [_plain(v) for v in data]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human(value))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
scope_option = click.option("--scope", help="Scope id; default: this project (+ global for reads).")
kind_choice = click.Choice(KINDS)


def split_tags(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def _plain(value: Any) -> Any:
    """A result model as JSON-ready data (anything else as it is)."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
