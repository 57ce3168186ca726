"""What the full stdio server answers to a client's first requests, saved so it can be given
before that server has loaded.

A manifest holds, for each protocol version the server speaks, the exact result text the
server sends for `initialize` (handshake era), `server/discover` (2026-07-28 era) and the
listing requests (`tools/list`, `resources/list`, …). What a server answers depends on the
habitus and MCP SDK versions and on the plugins loaded (they add tools), so each manifest is
filed under a key made of those, read from the installed distributions and the plugin folders
without importing any of them:

- the package ships one for the built-in plugins (`manifest.json` beside this module, rebuilt
  by `python -m habitus.server.recorder`; a test keeps it equal to what the server answers);
- the server files one per key in habitus's cache directory whenever what it answers differs
  from the manifest it started with, so other plugin sets start as fast from the next start on.

Standard library only: this module runs before the MCP SDK is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from habitus.base.dirs import cache_dir, plugins_dir

__all__ = [
    "FORMAT",
    "HANDSHAKE_METHODS",
    "MODERN_METHODS",
    "SHIPPED",
    "Manifest",
    "cache_file",
    "current_key",
    "find_manifest",
    "plugin_folders",
    "save_manifest",
]

log = logging.getLogger("habitus.server")

FORMAT = 1
SHIPPED = Path(__file__).with_name("manifest.json")
# The requests whose answers are kept, per era; a request the server refuses is left out.
HANDSHAKE_METHODS = ("initialize", "ping", "tools/list", "prompts/list", "resources/list",
                     "resources/templates/list")
MODERN_METHODS = ("server/discover", "tools/list", "prompts/list", "resources/list",
                  "resources/templates/list")
_PLUGIN_GROUP = "habitus.plugins"  # the entry-point group plugins.manager loads
_BUILTIN_ONLY = ("builtin", "none", "off")  # HABITUS_PLUGINS values that load no other plugin


@dataclass(frozen=True)
class Manifest:
    """The answers of one server: `answers[version][method]` is the exact result text."""

    key: dict[str, Any]
    handshake_versions: tuple[str, ...]
    latest_handshake: str
    modern_versions: tuple[str, ...]
    answers: dict[str, dict[str, str]]

    def to_json(self) -> str:
        """The file form: each distinct result once, referred to by its index."""
        index: dict[str, int] = {}
        refs = {}
        for version, methods in self.answers.items():
            refs[version] = {m: index.setdefault(text, len(index)) for m, text in methods.items()}
        results = list(index)
        data = {"key": self.key, "handshake_versions": list(self.handshake_versions),
                "latest_handshake": self.latest_handshake,
                "modern_versions": list(self.modern_versions), "answers": refs,
                "results": results}
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse the file form; ValueError when it is not a manifest of this format."""
        try:
            data = json.loads(text)
            results = [_result(r) for r in data["results"]]
            answers = {version: {method: results[_index(i)] for method, i in methods.items()}
                       for version, methods in data["answers"].items()}
            manifest = cls(key=dict(data["key"]),
                           handshake_versions=tuple(map(_text, data["handshake_versions"])),
                           latest_handshake=_text(data["latest_handshake"]),
                           modern_versions=tuple(map(_text, data["modern_versions"])),
                           answers=answers)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a manifest: {exc!r}") from None
        if manifest.key.get("format") != FORMAT:
            raise ValueError(f"manifest format {manifest.key.get('format')!r}, not {FORMAT}")
        return manifest


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, found {type(value).__name__}")
    return value


def _result(value: Any) -> str:
    """A result text, checked to be a JSON object: it is written to clients as it is."""
    if not isinstance(json.loads(_text(value)), dict):
        raise TypeError("a result is not a JSON object")
    return value


def _index(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise IndexError(f"bad result index {value!r}")
    return value


def _distributions() -> dict[str, tuple[str, Path]]:
    """Installed distributions on sys.path, first found wins: normalised name → (version,
    metadata folder), read from the folder names (`name-version.dist-info`)."""
    found: dict[str, tuple[str, Path]] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            dist, _, version = stem.partition("-")
            if version:  # a bare `name.egg-info` of a source tree says no version
                key = dist.lower().replace("-", "_").replace(".", "_")
                found.setdefault(key, (version.partition("-")[0], Path(entry or ".") / name))
    return found


def plugin_folders(project_root: Path | None) -> list[Path]:
    """The folders plugins are loaded from, as `PluginManager.from_environment` lists them."""
    folders = [plugins_dir()]
    if project_root:
        folders.append(Path(project_root) / ".habitus" / "plugins")
    return folders


def _folder_listing(folder: Path) -> list[list[Any]]:
    """Every file that may be a plugin in `folder`, with its size and change time."""
    listing: list[list[Any]] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return listing
    for entry in entries:
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            files = sorted(entry.rglob("*.py"))
        else:
            files = [entry] if entry.suffix == ".py" else []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            listing.append([str(path), stat.st_size, stat.st_mtime_ns])
    return listing


def _entry_points(dists: dict[str, tuple[str, Path]]) -> list[list[str]]:
    """The `habitus.plugins` entry-point sections of the installed distributions."""
    found = []
    for name, (version, folder) in sorted(dists.items()):
        try:
            text = (folder / "entry_points.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        section, lines = None, []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped.strip("[]").strip()
            elif section == _PLUGIN_GROUP and stripped:
                lines.append(stripped)
        if lines:
            found.append([name, version, *lines])
    return found


def _plugin_set(project_root: Path | None, dists: dict[str, tuple[str, Path]]) -> str:
    """`builtin` when only the built-in plugins load (with no configuration), else a digest of
    everything that could change the plugins' tools."""
    config = sorted((k, v) for k, v in os.environ.items() if k.startswith("HABITUS_PLUGIN_"))
    parts: dict[str, Any] = {}
    if config:
        parts["config"] = config
    if os.environ.get("HABITUS_PLUGINS", "").strip().lower() not in _BUILTIN_ONLY:
        entry_points = _entry_points(dists)
        folders = [listing for f in plugin_folders(project_root) if (listing := _folder_listing(f))]
        if entry_points:
            parts["entry_points"] = entry_points
        if folders:
            parts["folders"] = folders
    if not parts:
        return "builtin"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def current_key(project_root: Path | None) -> dict[str, Any]:
    """The key of the manifest this process's server would produce."""
    dists = _distributions()
    return {"format": FORMAT, "habitus": dists.get("habitus", ("?",))[0],
            "mcp": dists.get("mcp", ("?",))[0], "plugins": _plugin_set(project_root, dists)}


def cache_file(key: dict[str, Any]) -> Path:
    """Where the manifest of `key` is filed: `$HABITUS_CACHE_DIR/stdio`, else the `stdio`
    folder of habitus's user cache directory."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir() / "stdio" / f"{digest}.json"


def _read(path: Path) -> Manifest | None:
    """The manifest in `path`; None when there is none or it cannot be read (an unreadable
    file in the cache is removed: the server files a new one)."""
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the start-up manifest %s: %s", path, exc)
        if path != SHIPPED:
            with contextlib.suppress(OSError):
                path.unlink()
        return None


def find_manifest(key: dict[str, Any]) -> Manifest | None:
    """The manifest filed under `key`: the cached one, else the shipped one."""
    for path in (cache_file(key), SHIPPED):
        manifest = _read(path)
        if manifest is not None and manifest.key == key:
            return manifest
    return None


def save_manifest(manifest: Manifest, path: Path) -> None:
    """Write `manifest` to `path` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(partial, path)
