"""MCP tools whose parameters are a request's fields.

`from_request(body)` turns `async def body(request: SomeRequest, ctx: Context, …) -> Result`
into the function the SDK registers: one parameter per field the request offers over MCP, with
the field's type, bounds, default and description, then the body's own parameters (the
context, values resolved by the SDK). The tool's input schema is therefore the request's, and
the SDK checks the arguments against it before the call; the call builds the request from them.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import Field
from pydantic.fields import FieldInfo

from habitus.core.requests import Cli, NotOn, Request

__all__ = ["from_request", "parameter_type"]

Body = Callable[..., Awaitable[Any]]


def parameter_type(field: FieldInfo) -> Any:
    """A request field as a tool parameter's annotation: its type with its constraints and
    description (the markers for other surfaces left out)."""
    constraints = [m for m in field.metadata if not isinstance(m, NotOn | Cli)]
    return Annotated[(field.annotation, *constraints, Field(description=field.description))]


def from_request(body: Body) -> Body:
    """`body` as a tool taking its request's fields as parameters (see the module)."""
    hints = typing.get_type_hints(body, include_extras=True)
    first, *rest = inspect.signature(body).parameters.values()
    request_type: type[Request] = hints[first.name]
    fields = request_type.fields_on("mcp")
    params = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=parameter_type(field),
            default=inspect.Parameter.empty if field.is_required()
            else field.get_default(call_default_factory=True),
        )
        for name, field in fields.items()
    ]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
               for p in rest]

    async def tool(**arguments: Any) -> Any:
        options = {name: arguments.pop(name) for name in fields}
        return await body(request_type(**options), **arguments)

    tool.__name__ = tool.__qualname__ = body.__name__
    tool.__doc__ = body.__doc__
    tool.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        params, return_annotation=hints["return"])
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": hints["return"]}
    return tool
