"""Commands whose arguments and options are a request's fields (see `habitus.core.requests`).

A field becomes a positional argument when it is required (or says `Cli(argument=True)`), else
an option `--field-name` of its type: a flag for a boolean (`--x/--no-x` when it defaults to
true), a choice for a literal, a range for a bounded number, a date for a time, repeatable for
a list; its description is the help. `Cli(...)` beside a field's type spells it otherwise;
`NotOn("cli", ...)` leaves it out.

What the fields say of their parameters is kept in `parameters.json`, made from the requests by
`python -m habitus.cli.options` (a test keeps it equal to them): a command answered by a server
then starts without loading the request models, and sends the values for the server to check.
The callback of a command gets the built request, or, for one a server may answer
(`served=True`), its `Fields` to build when the command runs here.
"""

from __future__ import annotations

import datetime
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from .common import Fields, split_tags

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from habitus.core.requests import Request

__all__ = ["RequestCommand", "table", "TABLE_FILE"]

TABLE_FILE = Path(__file__).with_name("parameters.json")
_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float}


class RequestCommand(click.Command):
    """A command taking the request of `operation`: its fields' parameters come first, then
    the command's own (`--json`…); the callback receives `request`: the built request, or its
    `Fields` when `served`."""

    def __init__(self, *args: Any, operation: str, served: bool = False, **kwargs: Any) -> None:
        self.operation = operation
        self.served = served
        self._params: list[click.Parameter] | None = None
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def params(self) -> list[click.Parameter]:
        if self._params is None:
            self._params = [_parameter(spec) for spec in _specs(self.operation)] + self._own
        return self._params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._own, self._params = value, None

    def invoke(self, ctx: click.Context) -> Any:
        fields = self.fields_of(ctx.params)
        ctx.params["request"] = fields if self.served else fields.build()
        return super().invoke(ctx)

    def fields_of(self, params: dict[str, Any]) -> Fields:
        """The fields' values taken out of what click parsed (`params`): those given, not
        their defaults."""
        values = {}
        for spec in _specs(self.operation):
            value = _value(spec, params.pop(spec["name"]))
            if value is not None and not ("default" in spec and value == spec["default"]):
                values[spec["name"]] = value
        return Fields(self.operation, values)

    def request_of(self, params: dict[str, Any]) -> Request:
        """The request from what click parsed, its fields' values taken out of `params`."""
        return self.fields_of(params).build()


@cache
def _table() -> dict[str, list[dict[str, Any]]]:
    return dict(json.loads(TABLE_FILE.read_text(encoding="utf-8")))


def _specs(operation: str) -> list[dict[str, Any]]:
    return _table()[operation]


def _parameter(spec: dict[str, Any]) -> click.Parameter:
    """The click argument or option a table entry describes."""
    name, kind = spec["name"], _click_type(spec)
    if spec["argument"]:
        return click.Argument([name], type=kind, nargs=-1 if spec["many"] else 1,
                              required=spec["required"])
    if spec["kind"] == "bool":
        return click.Option([spec["flag"], name], is_flag=True, default=spec["default"],
                            show_default="/" in spec["flag"], help=spec["help"])
    repeated = spec["many"] and not spec["comma_separated"]
    return click.Option(
        [spec["flag"], name], type=str if spec["comma_separated"] else kind,
        multiple=repeated, default=None if spec["many"] else spec["default"],
        show_default=not spec["many"] and spec["default"] not in (None, ""), help=spec["help"])


def _click_type(spec: dict[str, Any]) -> click.ParamType | type:
    """The click type of one value: a choice, a bounded number, a date, or text."""
    if spec.get("choices"):
        return click.Choice(spec["choices"])
    bounds = spec.get("range")
    if bounds:
        ranged = click.IntRange if spec["kind"] == "int" else click.FloatRange
        return ranged(bounds["min"], bounds["max"], min_open=bounds["min_open"],
                      max_open=bounds["max_open"])
    if spec["kind"] == "datetime":
        return click.DateTime()
    return _TYPES.get(spec["kind"], str)


def _value(spec: dict[str, Any], value: Any) -> Any:
    """What click parsed, as the request's field takes it (None: leave the default)."""
    if spec["comma_separated"]:
        return split_tags(value) or None
    if isinstance(value, tuple):
        return list(value) or None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


# --- the table, made from the requests -------------------------------------------------------


def table() -> dict[str, list[dict[str, Any]]]:
    """Every request's command-line parameters, as `parameters.json` keeps them."""
    from habitus.core.requests import REQUESTS

    return {operation: [_spec(name, field) for name, field in request.fields_on("cli").items()]
            for operation, request in REQUESTS.items()}


def _spec(name: str, field: FieldInfo) -> dict[str, Any]:
    from habitus.core.requests import Cli, marker

    cli = marker(field, Cli) or Cli()
    kind, many = _shape(field.annotation)
    spec: dict[str, Any] = {"name": name, "kind": _kind_name(kind), "many": many,
                            "required": field.is_required(),
                            "argument": field.is_required() or cli.argument,
                            "comma_separated": cli.comma_separated}
    if spec["argument"]:
        return {**spec, **_bounds(kind, field)}
    dashed = name.replace("_", "-")
    default = field.get_default(call_default_factory=True)
    if kind is bool:
        flag = cli.flag or (f"--{dashed}/--no-{dashed}" if default else f"--{dashed}")
        return {**spec, "flag": flag, "default": default, "help": _help(name, field, cli, False)}
    repeated = many and not cli.comma_separated
    return {**spec, **_bounds(kind, field), "flag": cli.flag or f"--{dashed}",
            "default": default if isinstance(default, (str, int, float, bool)) or default is None
            else None, "help": _help(name, field, cli, repeated)}


def _help(name: str, field: FieldInfo, cli: Any, many: bool) -> str | None:
    """The option's help: its description (or the command line's own), saying how a list is
    given."""
    text = cli.help or field.description
    if cli.comma_separated:
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


def _kind_name(kind: Any) -> str:
    if typing.get_origin(kind) is Literal:
        return "str"
    names = {str: "str", int: "int", float: "float", bool: "bool", datetime.datetime: "datetime"}
    if kind not in names:
        raise TypeError(f"{kind!r} has no command-line form: mark the field NotOn('cli', why=...)")
    return names[kind]


def _bounds(kind: Any, field: FieldInfo) -> dict[str, Any]:
    """A literal's choices, or a bounded number's range."""
    if typing.get_origin(kind) is Literal:
        return {"choices": list(typing.get_args(kind))}
    bounds = {key: getattr(m, key) for m in field.metadata
              for key in ("ge", "gt", "le", "lt") if hasattr(m, key)}
    if kind in (int, float) and bounds:
        return {"range": {"min": bounds.get("ge", bounds.get("gt")),
                          "max": bounds.get("le", bounds.get("lt")),
                          "min_open": "gt" in bounds, "max_open": "lt" in bounds}}
    return {}


if __name__ == "__main__":
    TABLE_FILE.write_text(json.dumps(table(), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    print(f"wrote {TABLE_FILE}")
