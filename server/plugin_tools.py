"""Plugins' MCP tools: wrapped so they act in the caller's scope, errors become tool errors,
and hot reload replaces them (an existing tool is removed before its new version is added,
since `add_tool` on a taken name keeps the old one)."""

from __future__ import annotations

import inspect
import logging
import types
import typing
import warnings
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import SamplingMessage, TextContent, ToolAnnotations
from pydantic import Strict

from habitus.plugins.api import current_call, current_model, maybe_await
from habitus.plugins.manager import ToolSpec

from .calls import call_context, guard  # the same caller scope and error handling as core tools
from .runtime import Runtime

__all__ = ["install_plugin_tools", "reload_plugin_tools", "watch_plugins"]

log = logging.getLogger("habitus.server")
_CONTEXT_PARAM = "mcp_context"


class SamplingModel:
    """The client's model, through MCP sampling, for the duration of one tool call."""

    name = "mcp-sampling"

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def complete(self, prompt: str, *, system: str | None = None,
                       max_tokens: int = 800) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = await self._ctx.session.create_message(
                [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                max_tokens=max_tokens, system_prompt=system,
            )
        content = result.content
        return content.text if isinstance(content, TextContent) else str(content)


def _strict(annotation: Any) -> Any:
    """A number or flag parameter that takes only its own JSON type (`true` is not 1), as
    the core tools' do."""
    inner = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated \
        else annotation
    union = typing.get_origin(inner) in (typing.Union, types.UnionType)
    members = set(typing.get_args(inner)) - {type(None)} if union else {inner}
    return Annotated[annotation, Strict()] if members and members <= {int, float, bool} \
        else annotation


def _wrap(spec: ToolSpec, runtime: Runtime) -> Any:
    fn = spec.fn
    hints = typing.get_type_hints(fn, include_extras=True)
    signature = inspect.signature(fn)
    params = [p.replace(annotation=_strict(hints.get(p.name, p.annotation)))
              for p in signature.parameters.values()]
    params.append(inspect.Parameter(_CONTEXT_PARAM, inspect.Parameter.KEYWORD_ONLY,
                                    annotation=Context))

    async def tool(*args: Any, **kwargs: Any) -> Any:
        ctx: Context = kwargs.pop(_CONTEXT_PARAM)
        caps = ctx.client_capabilities
        call = current_call.set(call_context(ctx, runtime, spec.name, None))
        model = current_model.set(
            SamplingModel(ctx) if caps is not None and caps.sampling is not None else None)
        try:
            await runtime.service()  # open the store for the plugin's memory operations
            return await guard(lambda: maybe_await(fn(*args, **kwargs)))
        finally:
            current_model.reset(model)
            current_call.reset(call)

    tool.__name__ = spec.name
    tool.__doc__ = fn.__doc__
    tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints.get("return", signature.return_annotation))
    tool.__annotations__ = {p.name: p.annotation for p in params}
    if "return" in hints:
        tool.__annotations__["return"] = hints["return"]
    return tool


def _annotations(hints: Any) -> ToolAnnotations | None:
    """Plugins give hints as a dict (title, read_only, destructive, idempotent, open_world)."""
    if hints is None or isinstance(hints, ToolAnnotations):
        return hints
    return ToolAnnotations(
        title=hints.get("title"), read_only_hint=hints.get("read_only"),
        destructive_hint=hints.get("destructive"), idempotent_hint=hints.get("idempotent"),
        open_world_hint=hints.get("open_world", False),
    )


def install_plugin_tools(server: MCPServer[Any], runtime: Runtime) -> list[str]:
    """Add every plugin tool to `server`; names taken by habitus's own tools are refused."""
    reserved = [t.name for t in server._tool_manager.list_tools()]
    names = []
    for spec in runtime.plugins.tools(reserved=reserved):
        try:
            server.add_tool(_wrap(spec, runtime), name=spec.name, description=spec.description,
                            annotations=_annotations(spec.annotations))
            names.append(spec.name)
        except Exception as exc:
            runtime.plugins._record(spec.plugin, "register_tools", exc)
    runtime.plugin_tools = names  # type: ignore[attr-defined]
    return names


def reload_plugin_tools(server: MCPServer[Any], runtime: Runtime) -> list[str]:
    """Remove the plugin tools and add them again from the plugins loaded now."""
    for name in getattr(runtime, "plugin_tools", []):
        try:
            server.remove_tool(name)
        except Exception:
            log.debug("tool %s was already gone", name)
    return install_plugin_tools(server, runtime)


async def watch_plugins(server: MCPServer[Any], runtime: Runtime, stop_event: Any = None,
                        notify: Callable[[], None] | None = None) -> None:
    """Reload folder plugins as their files change, replacing their tools (runs while serving);
    `notify` then tells the client its tool list changed."""

    async def changed(names: list[str]) -> None:
        tools = reload_plugin_tools(server, runtime)
        log.warning("plugins reloaded (%s); tools: %s", ", ".join(names), ", ".join(tools))
        if notify is not None:
            notify()

    await runtime.plugins.watch(changed, stop_event=stop_event)
