"""Commands whose arguments and options are a request's fields (see `habitus.core.requests`).

A field becomes a positional argument when it is required (or says `Cli(argument=True)`), else
an option `--field-name` of its type: a flag for a boolean (`--x/--no-x` when it defaults to
true), a choice for a literal, a range for a bounded number, a date for a time, repeatable for
a list; its description is the help. `Cli(...)` beside a field's type spells it otherwise;
`NotOn("cli", ...)` leaves it out. The parameters are built the first time click needs them,
so listing the commands loads no models; the command's callback gets the built request.
"""

from __future__ import annotations

import datetime
import types
import typing
from typing import TYPE_CHECKING, Any, Literal

import click

from .common import one_line_errors, split_tags

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from habitus.core.requests import Cli, Request

__all__ = ["RequestCommand", "parameter"]


class RequestCommand(click.Command):
    """A command taking the request of `operation`: its fields' parameters come first, then
    the command's own (`--json`…); the callback receives `request` instead of the fields."""

    def __init__(self, *args: Any, operation: str, **kwargs: Any) -> None:
        self.operation = operation
        self._params: list[click.Parameter] | None = None
        super().__init__(*args, **kwargs)

    @property
    def request_type(self) -> type[Request]:
        from habitus.core.requests import REQUESTS

        return REQUESTS[self.operation]

    @property  # type: ignore[override]
    def params(self) -> list[click.Parameter]:
        if self._params is None:
            fields = self.request_type.fields_on("cli")
            self._params = [parameter(n, f) for n, f in fields.items()] + self._own
        return self._params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._own, self._params = value, None

    def invoke(self, ctx: click.Context) -> Any:
        ctx.params["request"] = self.request_of(ctx.params)
        return super().invoke(ctx)

    def request_of(self, params: dict[str, Any]) -> Request:
        """The request from what click parsed, its fields' values taken out of `params`."""
        fields = self.request_type.fields_on("cli")
        values = {name: _field_value(field, params.pop(name)) for name, field in fields.items()}
        with one_line_errors():
            return self.request_type(
                **{name: value for name, value in values.items() if value is not None})


def parameter(name: str, field: FieldInfo) -> click.Parameter:
    """The click argument or option of a request field."""
    from habitus.core.requests import Cli, marker

    spec = marker(field, Cli) or Cli()
    kind, many = _shape(field.annotation)
    if field.is_required() or spec.argument:
        return click.Argument([name], type=_click_type(kind, field), nargs=-1 if many else 1,
                              required=field.is_required())
    dashed = name.replace("_", "-")
    default = field.get_default(call_default_factory=True)
    if kind is bool:
        declared = spec.flag or (f"--{dashed}/--no-{dashed}" if default else f"--{dashed}")
        return click.Option([declared, name], is_flag=True, default=default,
                            show_default="/" in declared, help=_help(name, field, spec, many=False))
    repeated = many and not spec.comma_separated
    return click.Option(
        [spec.flag or f"--{dashed}", name],
        type=str if spec.comma_separated else _click_type(kind, field),
        multiple=repeated,
        default=None if many else default,
        show_default=not many and default not in (None, ""),
        help=_help(name, field, spec, many=repeated),
    )


def _help(name: str, field: FieldInfo, spec: Cli, *, many: bool) -> str | None:
    """The option's help: its description (or the command line's own), saying how a list is
    given."""
    text = spec.help or field.description
    if spec.comma_separated:
        return f"{text} Comma-separated." if text else f"Comma-separated {name}."
    if many:
        return f"{text} Repeatable." if text else "Repeatable."
    return text


def _shape(annotation: Any) -> tuple[Any, bool]:
    """A field's type as (the type of one value, whether it is a list), without None and
    constraints."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    many = typing.get_origin(annotation) is list
    if many:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, many


def _click_type(kind: Any, field: FieldInfo) -> click.ParamType | type:
    """The click type of one value: a choice, a bounded number, a date, or text."""
    bounds = {key: getattr(m, key) for m in field.metadata
              for key in ("ge", "gt", "le", "lt") if hasattr(m, key)}
    if typing.get_origin(kind) is Literal:
        return click.Choice(typing.get_args(kind))
    if kind in (int, float) and bounds:
        ranged = click.IntRange if kind is int else click.FloatRange
        return ranged(
            bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt")),
            min_open="gt" in bounds, max_open="lt" in bounds,
        )
    if kind is datetime.datetime:
        return click.DateTime()
    if kind in (str, int, float):
        return kind
    raise TypeError(f"{kind!r} has no command-line form: mark the field NotOn('cli', why=...)")


def _field_value(field: FieldInfo, value: Any) -> Any:
    """What click parsed, as the request's field takes it (None: leave the default)."""
    from habitus.core.requests import Cli, marker

    spec = marker(field, Cli) or Cli()
    if spec.comma_separated:
        return split_tags(value) or None
    if isinstance(value, tuple):
        return list(value) or None
    return value
