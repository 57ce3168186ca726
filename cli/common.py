"""What every command group shares: the group's options, opening the service, printing.

Errors are one clean line; set `HABITUS_DEBUG=1` for tracebacks. Nothing heavy is imported
here: each command imports what it uses when it runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from habitus.base.errors import HabitusError
from habitus.core.config import Settings

__all__ = [
    "State",
    "Fields",
    "pass_state",
    "run_service",
    "call",
    "Answer",
    "run_with_plugins",
    "load_plugins",
    "one_line_errors",
    "emit",
    "json_option",
    "scope_option",
    "split_tags",
]

T = TypeVar("T")


class State:
    """Options of the group, handed to every command."""

    def __init__(self, db: str, embedder: str) -> None:
        self.settings = Settings(db=db, embedder=embedder)

    def context_fields(self) -> dict[str, str]:
        """The call context of this command as plain fields: the project of the working
        directory (light: a command sent to a server builds no model)."""
        from habitus.core.project.scope import detect_scope

        scope = detect_scope()
        return {"project_scope": scope.id, "client": "cli", "tool": "cli",
                "workdir": str(scope.root) if scope.root else os.getcwd(),
                "branch": scope.branch or ""}

    def context(self) -> Any:
        """The call context of this command: the project of the working directory."""
        from habitus.core.models import CallContext

        return CallContext(**self.context_fields())


pass_state = click.make_pass_decorator(State)


class Answer(dict):  # type: ignore[type-arg]
    """A server's JSON answer, read like the result model it stands for (`answer.memories`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _answer(self[name])
        except KeyError:
            raise AttributeError(name) from None

    def model_dump(self, mode: str | None = None) -> dict[str, Any]:
        return dict(self)


def _answer(value: Any) -> Any:
    if isinstance(value, dict):
        return Answer(value)
    return [_answer(v) for v in value] if isinstance(value, list) else value


class Fields:
    """The values a command line gave for a request's fields, built into the request only
    when the command runs here (a server checks them itself)."""

    def __init__(self, operation: str, values: dict[str, Any]) -> None:
        self.operation = operation
        self.values = values

    def build(self) -> Any:
        """The request, checked (a clear one-line error otherwise)."""
        from habitus.core.requests import REQUESTS

        with one_line_errors():
            return REQUESTS[self.operation](**self.values)


def call(state: State, operation: str, request: Any = None) -> Any:
    """Run one operation of the memory service with its request, or the command line's
    `Fields` of it (None: an operation that takes none, such as stats): through the server
    running for the store when there is one (milliseconds; it checks the request), else on the
    store opened here (seconds)."""
    from habitus.base import endpoint

    context = state.context_fields() if request is not None else None
    found = endpoint.find(state.settings.resolved_db())
    if found is not None:
        from habitus.base.access_token import access_token

        if request is None:
            args = {}
        elif isinstance(request, Fields):  # the command line's values, checked by the server
            args = request.values
        else:
            args = request.model_dump(mode="json", exclude_defaults=True)
        try:
            status, data = endpoint.post_json(
                found["url"], f"/api/{operation}", {"args": args, "ctx": context},
                token=access_token(), timeout=300)
        except OSError:
            status, data = 0, None
        if status == 200:
            return _answer(data)
        if status == 400 and isinstance(data, dict):
            raise click.ClickException(str(data.get("error")))
        # Anything else (no answer, an older server): do it here.

    built = request.build() if isinstance(request, Fields) else request

    async def here(service: Any) -> Any:
        if built is None:
            return await getattr(service, operation)()
        return await getattr(service, operation)(built, ctx=state.context())

    return run_service(state, here, embeds=operation in EMBEDDING_OPERATIONS)


# Operations that embed text: run here, they load the embedding model during the imports.
EMBEDDING_OPERATIONS = frozenset({"recall", "remember"})


def run_service(state: State, fn: Callable[[Any], Awaitable[T]], *, embeds: bool = False) -> T:
    """Open the service with the plugins' hooks, run `fn(service)`, close it; habitus errors
    become one-line click errors (`HABITUS_DEBUG=1` shows the traceback). `embeds`: `fn`
    embeds text, so the model starts loading at once."""
    return run_with_plugins(state.settings, lambda service, _plugins: fn(service), embeds=embeds)


def load_plugins() -> Any:
    """The plugin manager for this directory: built-ins, entry points and plugin folders."""
    from habitus.core.project.scope import detect_scope
    from habitus.plugins.manager import PluginManager

    return PluginManager.from_environment(detect_scope().root).load()


def run_with_plugins(
    settings: Settings, fn: Callable[[Any, Any], Awaitable[T]], plugins: Any = None,
    *, embeds: bool = False,
) -> T:
    """Open the service with `plugins` (default: `load_plugins()`), run `fn(service, plugins)`;
    `embeds`: load the embedding model beside the imports (~0.2 s saved)."""
    import anyio

    if embeds:
        from habitus.core.embedding import embedders as embedding

        embedding.preload(settings.embedder)
    from habitus.core.service import MemoryService
    from habitus.core.text import tokens

    # ~0.4 s, overlapped with opening the store and loading the embedder (which, unlike the
    # imports above, leave the interpreter free).
    tokens.preload()
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

    with one_line_errors():
        return anyio.run(main, backend="asyncio")


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Habitus errors become one-line click errors (`HABITUS_DEBUG=1` shows the traceback)."""
    try:
        yield
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


def split_tags(value: str | None) -> list[str]:
    """Comma-separated tags as a list."""
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def _plain(value: Any) -> Any:
    """A result model as JSON-ready data (anything else as it is)."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
