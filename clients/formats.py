"""Where each supported assistant keeps its MCP server list, and what an entry looks like.

One declarative `ClientFormat` per client; `install.py` turns them into file edits. Paths are
computed for any platform, so a test (or a dry run) can ask for the macOS path on Linux.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from habitus.base.errors import InvalidInput

__all__ = [
    "Base",
    "Platform",
    "Scope",
    "SCOPES",
    "PathSpec",
    "ClientFormat",
    "CLIENTS",
    "resolve_client",
    "normalize_platform",
]

Scope = Literal["user", "project"]
"""`user`: the client's per-user file; `project`: a file inside a project directory."""

SCOPES: tuple[Scope, ...] = ("user", "project")

Platform = Literal["linux", "macos", "windows"]

Base = Literal["home", "app-data", "project"]
"""Directory a config path is relative to. `app-data` is where Electron apps keep settings:
`~/Library/Application Support` (macOS), `%APPDATA%` (Windows), `$XDG_CONFIG_HOME` or
`~/.config` (Linux)."""

PathSpec = tuple[Base, str]
"""A base directory and a `/`-separated path below it."""

_PLATFORMS: tuple[Platform, ...] = ("linux", "macos", "windows")
_PLATFORM_NAMES: Mapping[str, Platform] = {
    "linux": "linux",
    "macos": "macos",
    "darwin": "macos",
    "windows": "windows",
    "win32": "windows",
    "cygwin": "windows",
}


def normalize_platform(platform: str | None = None) -> Platform:
    """Map `sys.platform`-style or friendly names to a `Platform`; None means this machine.

    An explicit unknown name is an error; an unknown `sys.platform` (a BSD, say) counts as Linux,
    since those systems follow the same XDG layout.
    """
    if platform is None:
        return _PLATFORM_NAMES.get(sys.platform, "linux")
    key = platform.strip().lower()
    if key.startswith("linux"):
        return "linux"
    if key not in _PLATFORM_NAMES:
        raise InvalidInput(f"unknown platform {platform!r}; use one of: {', '.join(_PLATFORMS)}")
    return _PLATFORM_NAMES[key]


def _everywhere(base: Base, path: str) -> Mapping[Platform, PathSpec]:
    """The same location on every platform."""
    return {platform: (base, path) for platform in _PLATFORMS}


def _base_dir(
    base: Base, platform: Platform, *, home: Path | None, project_dir: Path | None
) -> Path:
    """Resolve a `Base` to a directory.

    With an explicit `home` everything derives from it and the environment is ignored, so tests
    and dry runs are hermetic; otherwise `APPDATA` and `XDG_CONFIG_HOME` are honoured.
    """
    if base == "project":
        return Path(project_dir if project_dir is not None else Path.cwd()).expanduser().absolute()
    explicit = home is not None
    home_dir = Path(home).expanduser().absolute() if home is not None else Path.home()
    if base == "home":
        return home_dir
    if platform == "macos":
        return home_dir / "Library" / "Application Support"
    variable = "APPDATA" if platform == "windows" else "XDG_CONFIG_HOME"
    from_env = "" if explicit else os.environ.get(variable, "")
    if from_env and Path(from_env).is_absolute():
        return Path(from_env)
    return home_dir / ("AppData/Roaming" if platform == "windows" else ".config")


@dataclass(frozen=True, kw_only=True)
class ClientFormat:
    """How one assistant registers MCP servers: where its file lives and how entries look."""

    name: str
    """Canonical client name, as typed after `habitus install`."""
    title: str
    """Human-readable name for messages."""
    aliases: tuple[str, ...] = ()
    paths: Mapping[Scope, Mapping[Platform, PathSpec]]
    """Config file per supported scope and platform."""
    servers_key: str
    """Top-level key of the object that maps server names to entries."""
    stdio_type: str | None = None
    """Value of `"type"` in a stdio entry, or None when the client wants no `type` there."""
    http_url_key: str | None = None
    """Key carrying the URL of a remote (HTTP) entry; None when the file cannot hold one."""
    http_type: str | None = None
    """Value of `"type"` in an HTTP entry, or None when the client wants no `type` there."""

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """Scopes this client supports, in a stable order."""
        return tuple(scope for scope in SCOPES if scope in self.paths)

    @property
    def supports_http(self) -> bool:
        """Whether the config file can register a server by URL."""
        return self.http_url_key is not None

    def config_path(
        self,
        scope: str = "user",
        *,
        project_dir: Path | None = None,
        home: Path | None = None,
        platform: str | None = None,
    ) -> Path:
        """Path of the config file for `scope`; `project_dir` defaults to the current directory."""
        if scope not in SCOPES:
            raise InvalidInput(f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}")
        if scope not in self.paths:
            supported = ", ".join(self.scopes)
            raise InvalidInput(
                f"{self.title} has no {scope}-scope configuration; supported scope(s): {supported}"
            )
        os_name = normalize_platform(platform)
        base, relative = self.paths[scope][os_name]
        directory = _base_dir(base, os_name, home=home, project_dir=project_dir)
        return directory.joinpath(*relative.split("/"))

    def stdio_entry(
        self, command: str, args: Sequence[str], env: Mapping[str, str]
    ) -> dict[str, Any]:
        """The entry that makes the client launch `command args` with `env` over stdio."""
        entry: dict[str, Any] = {} if self.stdio_type is None else {"type": self.stdio_type}
        entry.update(command=command, args=list(args), env=dict(env))
        return entry

    def http_entry(self, url: str, headers: Mapping[str, str] | None) -> dict[str, Any]:
        """The entry that makes the client connect to `url` over streamable HTTP."""
        if self.http_url_key is None:
            raise InvalidInput(
                f"{self.title} only registers local (stdio) servers in its configuration file; "
                "omit the URL to register habitus over stdio"
            )
        entry: dict[str, Any] = {} if self.http_type is None else {"type": self.http_type}
        entry[self.http_url_key] = url
        if headers:
            entry["headers"] = dict(headers)
        return entry


_FORMATS: tuple[ClientFormat, ...] = (
    ClientFormat(
        name="claude-desktop",
        title="Claude Desktop",
        paths={"user": _everywhere("app-data", "Claude/claude_desktop_config.json")},
        servers_key="mcpServers",
    ),
    ClientFormat(
        name="claude-code",
        title="Claude Code",
        paths={
            "user": _everywhere("home", ".claude.json"),
            "project": _everywhere("project", ".mcp.json"),
        },
        servers_key="mcpServers",
        stdio_type="stdio",
        http_url_key="url",
        http_type="http",
    ),
    ClientFormat(
        name="cursor",
        title="Cursor",
        paths={
            "user": _everywhere("home", ".cursor/mcp.json"),
            "project": _everywhere("project", ".cursor/mcp.json"),
        },
        servers_key="mcpServers",
        http_url_key="url",
    ),
    ClientFormat(
        name="vscode",
        title="VS Code",
        aliases=("vs-code", "code"),
        paths={
            "user": _everywhere("app-data", "Code/User/mcp.json"),
            "project": _everywhere("project", ".vscode/mcp.json"),
        },
        servers_key="servers",
        stdio_type="stdio",
        http_url_key="url",
        http_type="http",
    ),
    ClientFormat(
        name="windsurf",
        title="Windsurf",
        paths={"user": _everywhere("home", ".codeium/windsurf/mcp_config.json")},
        servers_key="mcpServers",
        http_url_key="serverUrl",
    ),
    ClientFormat(
        name="zed",
        title="Zed",
        paths={
            "user": {
                "linux": ("app-data", "zed/settings.json"),
                "macos": ("home", ".config/zed/settings.json"),
                "windows": ("app-data", "Zed/settings.json"),
            },
            "project": _everywhere("project", ".zed/settings.json"),
        },
        servers_key="context_servers",
        http_url_key="url",
    ),
)

CLIENTS: Mapping[str, ClientFormat] = MappingProxyType({fmt.name: fmt for fmt in _FORMATS})
"""Every supported client by canonical name."""

_BY_ALIAS: Mapping[str, ClientFormat] = {
    alias: fmt for fmt in _FORMATS for alias in (fmt.name, *fmt.aliases)
}


def resolve_client(client: str) -> ClientFormat:
    """Find a client by canonical name or alias (case-insensitive, `_` taken as `-`)."""
    fmt = _BY_ALIAS.get(client.strip().lower().replace("_", "-"))
    if fmt is None:
        known = ", ".join(
            f"{f.name} (also {', '.join(f.aliases)})" if f.aliases else f.name for f in _FORMATS
        )
        raise InvalidInput(f"unknown client {client!r}; known clients: {known}")
    return fmt
