"""Register the habitus MCP server in an assistant's configuration file.

`plan_install` computes the whole change without touching the disk (a dry run is a plan that is
never applied); `apply_install` writes it atomically. Edits are textual (see `jsonc`), so the
user's other servers, settings, comments and layout survive, and installing twice changes nothing.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import secrets
import shutil
import stat
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from habitus.base.errors import HabitusError, InvalidInput, JSONCEditError
from habitus.clients.formats import CLIENTS, ClientFormat, Scope, resolve_client
from habitus.clients.jsonc import loads, set_member

__all__ = [
    "Transport", "InstallPlan", "plan_install", "apply_install", "default_server_command",
    "read_config", "write_atomically",
]

logger = logging.getLogger(__name__)

Transport = Literal["stdio", "http"]


@dataclass(frozen=True, kw_only=True)
class InstallPlan:
    """Everything `apply_install` will do, computed up front so it can be shown or skipped."""

    client: str
    """Canonical client name."""
    scope: Scope
    path: Path
    """The configuration file to write."""
    name: str
    """Server name the entry is registered under."""
    transport: Transport
    entry: dict[str, Any]
    """The server entry as it will appear in the file."""
    previous_entry: Any
    """What was registered under `name` before (None when nothing was)."""
    existed: bool
    """Whether the file existed."""
    old_text: str | None
    """The file's text when planned (None when it did not exist)."""
    new_text: str
    """The file's full text after the install."""

    @property
    def changed(self) -> bool:
        """Whether applying the plan writes anything."""
        return self.new_text != self.old_text

    @property
    def replaced(self) -> bool:
        """Whether a different entry already registered under `name` is being replaced."""
        return self.previous_entry is not None and self.previous_entry != self.entry

    def diff(self) -> str:
        """A unified diff of the file from before to after (empty when nothing changes)."""
        before = (self.old_text or "").splitlines(keepends=True)
        after = self.new_text.splitlines(keepends=True)
        source = str(self.path) if self.existed else "/dev/null"
        return "".join(difflib.unified_diff(before, after, source, str(self.path)))


def _build_entry(
    fmt: ClientFormat,
    *,
    command: str | None,
    args: Sequence[str],
    env: Mapping[str, str] | None,
    url: str | None,
    headers: Mapping[str, str] | None,
) -> tuple[Transport, dict[str, Any]]:
    """Validate the launch options and build the client's entry for them."""
    if url is None:
        if headers:
            raise InvalidInput("headers only apply to a server registered by URL")
        if not command:
            raise InvalidInput("give the command that starts the server, or a URL")
        return "stdio", fmt.stdio_entry(command, args, env or {})
    if command or args or env:
        raise InvalidInput("give either a command (stdio) or a URL (HTTP), not both")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the URL must start with http:// or https://, got {url!r}")
    return "http", fmt.http_entry(url, headers)


def read_config(path: Path) -> str | None:
    """The file's text with line endings kept and any BOM dropped; None if it does not exist."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            return file.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason}); fix or move it") from None
    except OSError as exc:
        raise HabitusError(f"cannot read {path}: {exc.strerror or exc}") from None


def _render(
    fmt: ClientFormat, path: Path, text: str | None, name: str, entry: dict[str, Any]
) -> tuple[str, Any]:
    """The file's new text with `entry` registered under `name`, and the entry it replaces.

    A missing file becomes a fresh document; a file that already holds `entry` is kept as is.
    """
    if text is None:
        document = {fmt.servers_key: {name: entry}}
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n", None
    try:
        document = loads(text, default={})
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix it or move it aside, then install again"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} does not hold a JSON object; fix it or move it aside")
    servers = document.get(fmt.servers_key)
    if servers is not None and not isinstance(servers, dict):
        raise InvalidInput(
            f'"{fmt.servers_key}" in {path} is a {type(servers).__name__}, not an object; '
            "fix it, then install again"
        )
    previous = (servers or {}).get(name)
    if previous == entry:
        return text, previous
    try:
        return set_member(text, (fmt.servers_key, name), entry), previous
    except JSONCEditError as exc:
        raise HabitusError(
            f"could not edit {path} safely ({exc}); nothing was written. Add this entry under "
            f'"{fmt.servers_key}" by hand: {json.dumps({name: entry})}'
        ) from None


def plan_install(
    client: str,
    *,
    name: str = "habitus",
    command: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    scope: Scope = "user",
    project_dir: Path | None = None,
    home: Path | None = None,
    platform: str | None = None,
) -> InstallPlan:
    """Work out how to register a server in `client`'s config, reading but never writing.

    Pass `command`/`args`/`env` for a stdio server, or `url` (and optional `headers`) for a
    streamable-HTTP one. `home` and `platform` default to this machine; with `home` given, the
    environment (`APPDATA`, `XDG_CONFIG_HOME`) is ignored. Raises `InvalidInput` for an unknown
    client, an unsupported scope or transport, or a malformed existing file, and `HabitusError`
    when the file cannot be read.
    """
    fmt = resolve_client(client)
    if not name.strip():
        raise InvalidInput("the server name must not be empty")
    path = fmt.config_path(scope, project_dir=project_dir, home=home, platform=platform)
    transport, entry = _build_entry(
        fmt, command=command, args=args, env=env, url=url, headers=headers
    )
    old_text = read_config(path)
    new_text, previous = _render(fmt, path, old_text, name, entry)
    return InstallPlan(
        client=fmt.name,
        scope=scope,
        path=path,
        name=name,
        transport=transport,
        entry=entry,
        previous_entry=previous,
        existed=old_text is not None,
        old_text=old_text,
        new_text=new_text,
    )


def write_atomically(path: Path, text: str) -> None:
    """Replace the file behind `path` with `text` in one step, keeping its permission bits.

    Symlinks are followed so a dotfile link keeps pointing at its (now updated) target.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def apply_install(plan: InstallPlan) -> None:
    """Write the planned file, creating its directory.

    If the file changed since it was planned (a client rewrote it meanwhile), the entry is merged
    into the current text instead, so nothing the client wrote is lost.
    """
    current = read_config(plan.path)
    text = plan.new_text
    if current != plan.old_text:
        logger.info("%s changed since the install was planned; merging again", plan.path)
        fmt = CLIENTS[plan.client]
        text, _ = _render(fmt, plan.path, current, plan.name, plan.entry)
    if text == current:
        logger.info("%s already registers %r; nothing to write", plan.path, plan.name)
        return
    try:
        write_atomically(plan.path, text)
    except OSError as exc:
        raise HabitusError(f"cannot write {plan.path}: {exc.strerror or exc}") from None
    logger.info("registered %r in %s", plan.name, plan.path)


def _habitus_executable() -> str | None:
    """Absolute path of the `habitus` script of the running installation, else the one on PATH.

    The running installation comes first so the registered server is the same version as the
    installer, even when it was started from an unactivated virtual environment.
    """
    own_dirs = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    own_path = os.pathsep.join(directory for directory in own_dirs if directory)
    found = (own_path and shutil.which("habitus", path=own_path)) or shutil.which("habitus")
    return os.path.abspath(found) if found else None


def default_server_command(db: str | os.PathLike[str] | None = None) -> tuple[str, list[str]]:
    """The absolute command and arguments that start `habitus serve` over stdio.

    Stdio hosts start servers with a bare environment, so nothing may depend on PATH or the
    current directory: the executable and the optional database path are made absolute.
    """
    executable = _habitus_executable()
    if executable is not None:
        command, args = executable, []
    else:
        command, args = os.path.abspath(sys.executable), ["-m", "habitus.cli"]
    if db is not None:
        location = str(db)
        if "://" not in location:
            location = str(Path(location).expanduser().resolve())
        args += ["--db", location]
    args.append("serve")
    return command, args
