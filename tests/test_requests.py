"""Every option of each operation's request reaches every surface: the MCP tool's input
schema, the command's arguments and options, and the HTTP API, unless the field declares it
leaves one out (`NotOn`). A field added to a request fails here until each surface takes it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest
from mcp import Client
from pydantic.fields import FieldInfo

from habitus.base.endpoint import post_json
from habitus.base.errors import InvalidInput
from habitus.cli import cli
from habitus.cli.options import RequestCommand
from habitus.core.config import Settings
from habitus.core.project.scope import Scope
from habitus.core.requests import REQUESTS, Cli, NotOn, RecallRequest, marker
from habitus.server import Runtime, build_server
from habitus.server.api_route import OPERATIONS

from .servers import http_server

pytestmark = pytest.mark.anyio

TOKEN = "test-token-requests-0123456789"


def hidden(field: FieldInfo) -> frozenset[str]:
    found = marker(field, NotOn)
    return found.surfaces if found else frozenset()


def test_every_field_left_out_of_a_surface_says_why() -> None:
    for request in REQUESTS.values():
        for name, field in request.model_fields.items():
            found = marker(field, NotOn)
            if found is not None:
                assert found.surfaces and found.why.strip(), (request.__name__, name)


async def test_every_mcp_field_is_a_tool_parameter(db_path: Path) -> None:
    runtime = Runtime(Settings(db=str(db_path)), Scope(id="repo:example.com/a/b", kind="repo",
                                                       root=None))
    try:
        async with Client(build_server(runtime)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    finally:
        await runtime.close()
    served = tools.keys() & REQUESTS.keys()
    assert served == {"remember", "recall", "reflect", "forget", "link"}
    for name in served:
        request, schema = REQUESTS[name], tools[name].input_schema
        fields = request.fields_on("mcp")
        assert list(schema["properties"]) == list(fields), name
        assert schema.get("required", []) == [n for n, f in fields.items() if f.is_required()]
        for field_name, field in fields.items():
            assert schema["properties"][field_name].get("description") == field.description
        for field_name, field in request.model_fields.items():
            assert ("mcp" in hidden(field)) == (field_name not in schema["properties"])


def command(name: str) -> RequestCommand:
    found = cli.get_command(click.Context(cli), name)
    assert isinstance(found, RequestCommand) and found.operation == name, name
    return found


def sample(param: click.Parameter, field: FieldInfo) -> tuple[list[str], Any]:
    """Command-line words for `param` and the value the request should hold from them: not
    the field's default, so that a word lost on the way shows."""
    default = field.get_default(call_default_factory=True)
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        if param.secondary_opts and default is True:
            return [param.secondary_opts[0]], False
        return [param.opts[0]], True
    if isinstance(kind, click.Choice):
        values = [v for v in kind.choices if v != default][:2]
    elif isinstance(kind, click.IntRange):
        values = [(kind.min or 0) + 2]
    elif isinstance(kind, click.FloatRange):
        values = [0.25]
    elif isinstance(kind, click.DateTime):
        return [param.opts[0], "2026-01-02"], datetime(2026, 1, 2)
    else:
        values = ["a1", "b2"]
    spelled = marker(field, Cli)
    many = param.multiple or param.nargs == -1 or bool(spelled and spelled.comma_separated)
    if not many:
        values = values[:1]
    if isinstance(param, click.Argument):
        words = [str(v) for v in values]
    elif param.multiple:
        words = [w for v in values for w in (param.opts[0], str(v))]
    else:  # one word: a single value, or a comma-separated list
        words = [param.opts[0], ",".join(str(v) for v in values)]
    return words, values if many else values[0]


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_every_cli_field_is_a_command_line_parameter_and_reaches_the_request(
    operation: str,
) -> None:
    cmd, request = command(operation), REQUESTS[operation]
    ctx = click.Context(cmd)
    params = {p.name: p for p in cmd.get_params(ctx)}
    fields = request.fields_on("cli")
    assert [n for n in params if n in request.model_fields] == list(fields), operation
    for name, field in request.model_fields.items():
        assert ("cli" in hidden(field)) == (name not in params), (operation, name)
    words, expected = [], {}
    for name, field in fields.items():
        more, expected[name] = sample(params[name], field)
        words += more
    parsed = cmd.make_context(operation, words)
    built = cmd.request_of(parsed.params)
    assert {name: getattr(built, name) for name in fields} == expected, (operation, words)
    assert all(name not in parsed.params for name in fields)


def test_a_command_line_value_the_request_refuses_is_one_clean_error() -> None:
    cmd = command("recall")
    parsed = cmd.make_context("recall", ["x", "--tags", ",".join(str(i) for i in range(40))])
    with pytest.raises(click.ClickException, match="at most 32 tags, got 40"):
        cmd.request_of(parsed.params)


def test_requests_refuse_unknown_options_and_name_the_wrong_one() -> None:
    with pytest.raises(InvalidInput, match="unknown option 'limitt'"):
        RecallRequest(query="x", limitt=5)
    with pytest.raises(InvalidInput, match="unknown kinds\\[0\\] 'dream'"):
        RecallRequest.of("x", kinds=["dream"])
    with pytest.raises(InvalidInput, match="query is given twice"):
        RecallRequest.of("x", query="y")
    assert RecallRequest.of("x", limit=5) == RecallRequest(query="x", limit=5)


REQUIRED: dict[str, dict[str, Any]] = {
    "recall": {"query": "webhook retries"},
    "remember": {"content": "The payments service retries webhooks five times"},
}


async def test_the_http_api_takes_every_field_of_its_requests(db_path: Path) -> None:
    served = {op: request for op, request in OPERATIONS.items() if request is not None}
    assert served.keys() == REQUIRED.keys()
    with http_server(db_path, env={"HABITUS_TOKEN": TOKEN, "HABITUS_EMBEDDER": "none"}) as url:
        base = url.rsplit("/", 1)[0]
        for operation, request in served.items():
            args = request(**REQUIRED[operation]).model_dump(mode="json")
            assert args.keys() == request.model_fields.keys()
            status, answer = post_json(base, f"/api/{operation}", {"args": args, "ctx": {}},
                                       token=TOKEN, timeout=60)
            assert status == 200, (operation, answer)
            status, answer = post_json(base, f"/api/{operation}",
                                       {"args": {**args, "surprise": 1}}, token=TOKEN, timeout=60)
            assert status == 400 and "unknown option 'surprise'" in answer["error"], answer


def test_the_command_line_table_is_made_from_the_requests() -> None:
    """`cli/parameters.json` (what a served command reads instead of the request models) says
    what the requests say: rebuild it with `python -m habitus.cli.options`."""
    import json

    from habitus.cli.options import TABLE_FILE, table

    assert json.loads(TABLE_FILE.read_text(encoding="utf-8")) == json.loads(
        json.dumps(table())), "cli/parameters.json is out of date: python -m habitus.cli.options"


def test_a_served_command_loads_no_request_model() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom habitus.cli.app import cli\n"
            "cmd = cli.get_command(None, 'recall')\n"
            "ctx = cmd.make_context('recall', ['x', '--limit', '3'])\n"
            "fields = cmd.fields_of(ctx.params)\n"
            "assert fields.values == {'query': 'x', 'limit': 3}, fields.values\n"
            "print('pydantic' in sys.modules, 'habitus.core.requests' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
