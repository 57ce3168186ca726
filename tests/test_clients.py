"""Tests for `habitus.clients`: registering habitus in each assistant's configuration file.

Everything runs on real files below `tmp_path`, with `home=` and `project_dir=` pointed there.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

import habitus.clients
from habitus.base.errors import InvalidInput, JSONCEditError
from habitus.clients import (
    CLIENTS,
    InstallPlan,
    apply_install,
    default_server_command,
    jsonc,
    plan_install,
    resolve_client,
)

pytestmark = pytest.mark.fast

COMMAND = "/opt/habitus/bin/habitus"
ARGS = ["serve", "--db", "/data/habitus.db"]
URL = "http://127.0.0.1:8765/mcp"

PROJECT_CLIENTS = ["claude-code", "cursor", "vscode", "zed"]
HTTP_CLIENTS = ["claude-code", "cursor", "vscode", "windsurf", "zed"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path


def install(client: str, home: Path, **options: object) -> InstallPlan:
    """Plan and apply a stdio install (unless options say otherwise) and return the plan."""
    options.setdefault("command", None if "url" in options else COMMAND)
    options.setdefault("args", () if "url" in options else ARGS)
    plan = plan_install(client, home=home, platform="linux", **options)  # type: ignore[arg-type]
    apply_install(plan)
    return plan


def servers(path: Path, client: str) -> dict[str, object]:
    """The server map of `client`'s file at `path`, read with the JSONC reader."""
    return jsonc.loads(path.read_text(encoding="utf-8"))[CLIENTS[client].servers_key]


def assert_only_added(before: str, after: str) -> None:
    """Check that `after` is `before` plus inserted lines (and a comma ending one old line)."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "replace":
            assert i2 - i1 == 1, f"lines changed: {old[i1:i2]}"
            code, separator, comment = old[i1].partition(" //")
            commaed = (old[i1] + ",", f"{code},{separator}{comment}")
            assert new[j1] in commaed, f"line changed: {old[i1]!r}"
        else:
            assert tag in ("equal", "insert"), f"lines removed: {old[i1:i2]}"


# --- paths ---------------------------------------------------------------------------------

PATHS = [
    ("claude-desktop", "user", "linux", "home/.config/Claude/claude_desktop_config.json"),
    (
        "claude-desktop",
        "user",
        "macos",
        "home/Library/Application Support/Claude/claude_desktop_config.json",
    ),
    ("claude-desktop", "user", "windows", "home/AppData/Roaming/Claude/claude_desktop_config.json"),
    ("claude-code", "user", "linux", "home/.claude.json"),
    ("claude-code", "user", "windows", "home/.claude.json"),
    ("claude-code", "project", "macos", "project/.mcp.json"),
    ("cursor", "user", "macos", "home/.cursor/mcp.json"),
    ("cursor", "project", "linux", "project/.cursor/mcp.json"),
    ("vscode", "user", "linux", "home/.config/Code/User/mcp.json"),
    ("vscode", "user", "macos", "home/Library/Application Support/Code/User/mcp.json"),
    ("vscode", "user", "windows", "home/AppData/Roaming/Code/User/mcp.json"),
    ("vscode", "project", "windows", "project/.vscode/mcp.json"),
    ("windsurf", "user", "linux", "home/.codeium/windsurf/mcp_config.json"),
    ("windsurf", "user", "windows", "home/.codeium/windsurf/mcp_config.json"),
    ("zed", "user", "linux", "home/.config/zed/settings.json"),
    ("zed", "user", "macos", "home/.config/zed/settings.json"),
    ("zed", "user", "windows", "home/AppData/Roaming/Zed/settings.json"),
    ("zed", "project", "linux", "project/.zed/settings.json"),
]


@pytest.mark.parametrize(("client", "scope", "platform", "expected"), PATHS)
def test_config_paths(
    client: str, scope: str, platform: str, expected: str, tmp_path: Path, home: Path, project: Path
) -> None:
    plan = plan_install(
        client,
        command=COMMAND,
        scope=scope,  # type: ignore[arg-type]
        home=home,
        project_dir=project,
        platform=platform,
    )
    assert plan.path == tmp_path.joinpath(*expected.split("/"))


def test_environment_is_honoured_without_explicit_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert CLIENTS["zed"].config_path("user", platform="linux") == (
        tmp_path / "xdg" / "zed" / "settings.json"
    )
    assert CLIENTS["vscode"].config_path("user", platform="win32") == (
        tmp_path / "roaming" / "Code" / "User" / "mcp.json"
    )


def test_explicit_home_ignores_environment(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = CLIENTS["claude-desktop"].config_path("user", home=home, platform="linux")
    assert path == home / ".config" / "Claude" / "claude_desktop_config.json"


def test_project_dir_defaults_to_cwd(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert CLIENTS["cursor"].config_path("project") == project / ".cursor" / "mcp.json"


# --- fresh installs ------------------------------------------------------------------------

EXPECTED_STDIO = {
    "claude-desktop": {"command": COMMAND, "args": ARGS, "env": {"HABITUS_LOG": "info"}},
    "claude-code": {
        "type": "stdio",
        "command": COMMAND,
        "args": ARGS,
        "env": {"HABITUS_LOG": "info"},
    },
    "cursor": {"command": COMMAND, "args": ARGS, "env": {"HABITUS_LOG": "info"}},
    "vscode": {"type": "stdio", "command": COMMAND, "args": ARGS, "env": {"HABITUS_LOG": "info"}},
    "windsurf": {"command": COMMAND, "args": ARGS, "env": {"HABITUS_LOG": "info"}},
    "zed": {"command": COMMAND, "args": ARGS, "env": {"HABITUS_LOG": "info"}},
}

EXPECTED_HTTP = {
    "claude-code": {"type": "http", "url": URL},
    "cursor": {"url": URL},
    "vscode": {"type": "http", "url": URL},
    "windsurf": {"serverUrl": URL},
    "zed": {"url": URL},
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_stdio_install_user_scope(client: str, home: Path) -> None:
    plan = install(client, home, env={"HABITUS_LOG": "info"})
    assert plan.existed is False and plan.changed is True and plan.replaced is False
    assert plan.transport == "stdio"
    assert plan.entry == EXPECTED_STDIO[client]
    text = plan.path.read_text(encoding="utf-8")
    assert text == plan.new_text
    top = CLIENTS[client].servers_key
    assert json.loads(text) == {top: {"habitus": EXPECTED_STDIO[client]}}


@pytest.mark.parametrize("client", PROJECT_CLIENTS)
def test_stdio_install_project_scope(client: str, home: Path, project: Path) -> None:
    plan = install(client, home, scope="project", project_dir=project)
    assert plan.path.is_relative_to(project)
    assert servers(plan.path, client)["habitus"]["command"] == COMMAND
    assert not any(home.iterdir()), "a project install must not touch the home directory"


@pytest.mark.parametrize(
    ("client", "scope"),
    [(client, scope) for client in HTTP_CLIENTS for scope in CLIENTS[client].scopes],
)
def test_http_install(client: str, scope: str, home: Path, project: Path) -> None:
    plan = install(client, home, url=URL, scope=scope, project_dir=project)
    assert plan.transport == "http"
    assert plan.entry == EXPECTED_HTTP[client]
    assert json.loads(plan.path.read_text(encoding="utf-8")) == {
        CLIENTS[client].servers_key: {"habitus": EXPECTED_HTTP[client]}
    }


def test_http_headers_and_custom_name(home: Path) -> None:
    headers = {"Authorization": "Bearer secret"}
    plan = install("cursor", home, url=URL, headers=headers, name="memory")
    assert servers(plan.path, "cursor") == {"memory": {"url": URL, "headers": headers}}


def test_claude_desktop_refuses_http(home: Path) -> None:
    with pytest.raises(InvalidInput, match="stdio"):
        plan_install("claude-desktop", url=URL, home=home)


# --- validation ----------------------------------------------------------------------------


def test_unknown_client_lists_known_ones(home: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_install("emacs", command=COMMAND, home=home)
    message = str(caught.value)
    assert "'emacs'" in message
    for name in CLIENTS:
        assert name in message
    assert "vs-code" in message


@pytest.mark.parametrize("alias", ["vscode", "vs-code", "code", "VSCode", " Code "])
def test_vscode_aliases(alias: str) -> None:
    assert resolve_client(alias).name == "vscode"


def test_underscore_spelling() -> None:
    assert resolve_client("claude_code").name == "claude-code"


@pytest.mark.parametrize("client", ["claude-desktop", "windsurf"])
def test_user_only_clients_refuse_project_scope(client: str, home: Path, project: Path) -> None:
    with pytest.raises(InvalidInput, match="supported scope\\(s\\): user$"):
        plan_install(client, command=COMMAND, scope="project", project_dir=project, home=home)


def test_unknown_scope(home: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown scope 'local'; use one of: user, project"):
        plan_install("claude-code", command=COMMAND, scope="local", home=home)  # type: ignore[arg-type]


def test_unknown_platform(home: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown platform 'beos'"):
        plan_install("cursor", command=COMMAND, home=home, platform="beos")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give the command"),
        ({"command": COMMAND, "url": URL}, "not both"),
        ({"url": URL, "env": {"A": "1"}}, "not both"),
        ({"command": COMMAND, "headers": {"A": "1"}}, "headers only apply"),
        ({"url": "ftp://example.com/mcp"}, "http:// or https://"),
        ({"command": COMMAND, "name": " "}, "name must not be empty"),
    ],
)
def test_invalid_options(options: dict[str, object], message: str, home: Path) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_install("cursor", home=home, **options)  # type: ignore[arg-type]


# --- dry runs, idempotence, replacement ----------------------------------------------------


def test_plan_without_apply_writes_nothing(home: Path, project: Path) -> None:
    plan = plan_install("vscode", command=COMMAND, scope="project", project_dir=project, home=home)
    assert plan.changed and not plan.existed and plan.old_text is None
    assert not plan.path.parent.exists()
    assert plan.diff().startswith("--- /dev/null\n+++ ")

    existing = project / ".mcp.json"
    original = '{"mcpServers": {"other": {"command": "x"}}}'
    existing.write_text(original, encoding="utf-8")
    plan = plan_install(
        "claude-code", command=COMMAND, scope="project", project_dir=project, home=home
    )
    assert plan.changed and plan.existed
    assert existing.read_text(encoding="utf-8") == original


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_installing_twice_changes_nothing(client: str, home: Path) -> None:
    first = install(client, home)
    written = first.path.read_bytes()
    second = install(client, home)
    assert second.existed and not second.changed and not second.replaced
    assert second.new_text == second.old_text
    assert second.previous_entry == first.entry
    assert second.diff() == ""
    assert first.path.read_bytes() == written


def test_a_different_entry_is_replaced(home: Path) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    old = {"command": "/old/habitus", "args": ["serve"]}
    path.write_text(
        json.dumps({"mcpServers": {"habitus": old, "other": {"command": "o"}}}, indent=2),
        encoding="utf-8",
    )
    plan = install("cursor", home)
    assert plan.replaced and plan.previous_entry == old
    assert json.loads(path.read_text(encoding="utf-8"))["mcpServers"] == {
        "habitus": EXPECTED_STDIO["cursor"] | {"env": {}},
        "other": {"command": "o"},
    }


def test_switching_to_http_replaces_the_stdio_entry(home: Path) -> None:
    install("vscode", home)
    plan = install("vscode", home, url=URL)
    assert plan.replaced and plan.previous_entry["type"] == "stdio"
    assert servers(plan.path, "vscode") == {"habitus": {"type": "http", "url": URL}}


# --- merging into existing files -----------------------------------------------------------

ZED_SETTINGS = """\
// Zed settings
//
// For information on how to configure Zed, see the Zed
// documentation: https://zed.dev/docs/configuring-zed
{
  "theme": {
    "mode": "system",
    "light": "One Light",
    "dark": "One Dark" /* the good one */
  },
  "ui_font_size": 16,
  "buffer_font_family": "Zed Plex Mono — “quoted”",
  "context_servers": {
    // the GitHub server, added by hand
    "github": {
      "command": "/usr/local/bin/github-mcp",
      "args": ["stdio"],
      "env": {"GITHUB_TOKEN": "ghp_x//not-a-comment"},
    }, // trailing comma above and here
  },
  "vim_mode": true, // keep me
}
"""


def test_zed_settings_with_comments_keep_everything(home: Path) -> None:
    path = home / ".config" / "zed" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(ZED_SETTINGS, encoding="utf-8")

    plan = install("zed", home)

    text = path.read_text(encoding="utf-8")
    assert_only_added(ZED_SETTINGS, text)
    settings = jsonc.loads(text)
    assert settings["theme"] == {"mode": "system", "light": "One Light", "dark": "One Dark"}
    assert settings["ui_font_size"] == 16 and settings["vim_mode"] is True
    assert settings["buffer_font_family"] == "Zed Plex Mono — “quoted”"
    assert settings["context_servers"]["github"]["env"] == {"GITHUB_TOKEN": "ghp_x//not-a-comment"}
    assert settings["context_servers"]["habitus"] == plan.entry
    assert '    "habitus": {\n      "command": ' in text, "indented like its neighbours"
    assert not install("zed", home).changed


VSCODE_MCP = """\
{
\t// Inputs prompt for secrets so they stay out of this file.
\t"inputs": [
\t\t{
\t\t\t"type": "promptString",
\t\t\t"id": "api-key",
\t\t\t"description": "API key",
\t\t\t"password": true,
\t\t},
\t],
\t"servers": {
\t\t/* a remote server */
\t\t"docs": {
\t\t\t"type": "http",
\t\t\t"url": "https://example.com/mcp",
\t\t\t"headers": {"Authorization": "Bearer ${input:api-key}"}
\t\t}
\t}
}
"""


def test_vscode_mcp_json_with_comments_and_inputs(project: Path, home: Path) -> None:
    path = project / ".vscode" / "mcp.json"
    path.parent.mkdir()
    path.write_text(VSCODE_MCP, encoding="utf-8")

    plan = install("vscode", home, scope="project", project_dir=project)

    text = path.read_text(encoding="utf-8")
    assert_only_added(VSCODE_MCP, text)
    assert "\t\t/* a remote server */\n" in text
    assert '\t\t},\n\t\t"habitus": {\n\t\t\t"type": "stdio",' in text, "tabs kept"
    config = jsonc.loads(text)
    assert config["inputs"][0]["id"] == "api-key"
    assert config["servers"]["docs"]["url"] == "https://example.com/mcp"
    assert config["servers"]["habitus"] == plan.entry


def test_claude_code_user_file_keeps_other_state(home: Path) -> None:
    state = {
        "numStartups": 42,
        "projects": {"/srv/app": {"mcpServers": {"local": {"command": "l"}}, "history": []}},
        "mcpServers": {"fetch": {"type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"]}},
        "theme": "dark",
    }
    path = home / ".claude.json"
    original = json.dumps(state, indent=2)
    path.write_text(original, encoding="utf-8")

    plan = install("claude-code", home)

    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == state | {"mcpServers": state["mcpServers"] | {"habitus": plan.entry}}
    assert_only_added(original, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("", None),
        ("   \n", None),
        ("{}", None),
        ('{"mcpServers": null}', None),
        ('{"mcpServers": {}}', '{"mcpServers": {"habitus": ENTRY}}'),
        ('{"theme": "x"}', '{"theme": "x", "mcpServers": {"habitus": ENTRY}}'),
        ('{"mcpServers": {"a": {"command": "a"},}}', None),
    ],
)
def test_small_and_single_line_files(original: str, expected: str | None, home: Path) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text(original, encoding="utf-8")
    plan = install("cursor", home)
    text = path.read_text(encoding="utf-8")
    if expected is not None:
        assert text == expected.replace("ENTRY", json.dumps(plan.entry))
    before = jsonc.loads(original, default={})
    assert jsonc.loads(text) == before | {
        "mcpServers": (before.get("mcpServers") or {}) | {"habitus": plan.entry}
    }


def test_comment_only_file_keeps_its_comments(home: Path) -> None:
    path = home / ".config" / "zed" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("// nothing here yet\n", encoding="utf-8")
    plan = install("zed", home)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("// nothing here yet\n{")
    assert jsonc.loads(text) == {"context_servers": {"habitus": plan.entry}}


def test_crlf_line_endings_are_kept(home: Path) -> None:
    path = home / ".codeium" / "windsurf" / "mcp_config.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{\r\n  "mcpServers": {\r\n    "a": {"command": "a"}\r\n  }\r\n}\r\n')
    install("windsurf", home)
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert set(json.loads(raw)["mcpServers"]) == {"a", "habitus"}


def test_utf8_bom_is_accepted(home: Path) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_bytes('\ufeff{"mcpServers": {"a": {"command": "a"}}}'.encode())
    install("cursor", home)
    assert set(json.loads(path.read_text(encoding="utf-8-sig"))["mcpServers"]) == {"a", "habitus"}


def test_file_changed_after_planning_is_merged_again(home: Path) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"mcpServers": {}}', encoding="utf-8")
    plan = plan_install("cursor", command=COMMAND, home=home)
    path.write_text('{"mcpServers": {"late": {"command": "l"}}, "x": 1}', encoding="utf-8")
    apply_install(plan)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {"mcpServers": {"late": {"command": "l"}, "habitus": plan.entry}, "x": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"mcpServers": {"a": }', "line 1, column 22"),
        ('{\n  "mcpServers": {}\n  "x": 1\n}', "line 3, column 3: Expecting ',' delimiter"),
        ("/* unterminated", "Unterminated comment"),
        ("[1, 2]", "does not hold a JSON object"),
        ('{"mcpServers": []}', '"mcpServers" in .* is a list, not an object'),
    ],
)
def test_broken_files_are_refused_and_left_alone(content: str, message: str, home: Path) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        plan_install("cursor", command=COMMAND, home=home)
    assert path.read_text(encoding="utf-8") == content


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_permissions_are_kept(home: Path) -> None:
    path = home / ".claude.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o600)
    install("claude-code", home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in home.iterdir()] == [".claude.json"], "no temporary file left"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlinked_config_is_updated_in_place(tmp_path: Path, home: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "cursor-mcp.json"
    real.write_text('{"mcpServers": {}}', encoding="utf-8")
    link = home / ".cursor" / "mcp.json"
    link.parent.mkdir()
    link.symlink_to(real)
    install("cursor", home)
    assert link.is_symlink()
    assert "habitus" in json.loads(real.read_text(encoding="utf-8"))["mcpServers"]


# --- the JSONC reader ----------------------------------------------------------------------


def test_jsonc_loads() -> None:
    text = """
    // line comment
    {
      "url": "http://example.com/*not a comment*/", /* block
      comment */ "list": [1, 2, 3,],
      "nested": {"a": null, "b": [true, false],},
      "escaped": "quote \\" // still a string",
    }
    """
    assert jsonc.loads(text) == {
        "url": "http://example.com/*not a comment*/",
        "list": [1, 2, 3],
        "nested": {"a": None, "b": [True, False]},
        "escaped": 'quote " // still a string',
    }


@pytest.mark.parametrize("text", ["", "// only a comment", "{} extra", "[1,,2]", "{,}", "NaN"])
def test_jsonc_loads_rejects(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonc.loads(text)


def test_jsonc_loads_default_for_empty_text() -> None:
    assert jsonc.loads(" /* nothing */ ", default={}) == {}


def test_jsonc_set_member_refuses_non_objects() -> None:
    with pytest.raises(JSONCEditError, match="a.b is a int, not an object"):
        jsonc.set_member('{"a": {"b": 1}}', ("a", "b", "c"), 2)
    with pytest.raises(JSONCEditError, match="not an object"):
        jsonc.set_member("[]", ("a",), 1)


def test_jsonc_set_member_creates_nested_objects() -> None:
    text = '{\n  "a": { /* empty */ }\n}'
    result = jsonc.set_member(text, ("a", "b", "c"), [1])
    assert "/* empty */" in result
    assert jsonc.loads(result) == {"a": {"b": {"c": [1]}}}


# --- the server command and the public surface ---------------------------------------------


def test_default_server_command_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command, args = default_server_command()
    assert os.path.isabs(command) and Path(command).exists()
    assert args == ["serve"] or args == ["-m", "habitus.cli", "serve"]
    command_with_db, args_with_db = default_server_command("memories/habitus.db")
    assert command_with_db == command
    db = str((tmp_path / "memories" / "habitus.db").resolve())
    assert args_with_db == [*args[:-1], "--db", db, "serve"]
    assert default_server_command("s3://bucket/habitus")[1][-3:] == [
        "--db",
        "s3://bucket/habitus",
        "serve",
    ]


def test_public_api() -> None:
    assert sorted(habitus.clients.__all__) == [
        "CLIENTS",
        "ClientFormat",
        "InstallPlan",
        "Platform",
        "SCOPES",
        "Scope",
        "Transport",
        "apply_install",
        "default_server_command",
        "plan_install",
        "resolve_client",
    ]
    assert list(CLIENTS) == ["claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "zed"]
