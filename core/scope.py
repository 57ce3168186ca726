"""Project scopes: which project a memory belongs to, worked out automatically.

Memories are stored per scope and recall searches the project scope plus `global`. The project
scope is found by these rules, first match wins (`resolve_scope` applies them all):

0. ``HABITUS_SCOPE``: an explicit scope (anything `validate_scope` accepts) overrides detection.
1. MCP roots: the first ``file://`` root that is a local directory, then rule 2 or 3 on it.
2. The git repository containing the directory: ``repo:<identity>``, where the identity is the
   normalised URL of its remote (``origin``, else the first remote in config order), or, with no
   remote, the path of the repository's common git dir. Every clone and worktree of one
   repository therefore shares an id, and different repositories get different ids.
3. Otherwise the directory itself: ``dir:<absolute resolved path>``.

``global`` is the scope shared by every project.

Git metadata is read straight from the files (``.git``, ``gitdir:`` files, ``commondir``,
``config``, ``HEAD``), never by running git, which may not be installed. Not supported:
``include``/``includeIf`` in git config, ``url.<base>.insteadOf`` rewrites and ssh host aliases
from ``~/.ssh/config``; a remote spelled through one of these gets its own id.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import InvalidInput

__all__ = [
    "GLOBAL",
    "GLOBAL_ID",
    "MAX_SCOPE_LENGTH",
    "SCOPE_ENV_VAR",
    "Scope",
    "current_branch",
    "ScopeKind",
    "detect_scope",
    "normalize_remote",
    "resolve_scope",
    "scope_from_roots",
    "validate_scope",
]

logger = logging.getLogger(__name__)

ScopeKind = Literal["repo", "dir", "global"]

SCOPE_ENV_VAR = "HABITUS_SCOPE"
"""Environment variable holding an explicit scope that overrides detection."""

GLOBAL_ID = "global"
"""The id of the scope shared by every project."""

MAX_SCOPE_LENGTH = 256
"""Longest scope string `validate_scope` accepts, before and after canonicalisation."""

# Alternative hostnames that serve the same repositories as the canonical host.
_HOST_ALIASES = {
    "ssh.github.com": "github.com",
    "www.github.com": "github.com",
    "altssh.gitlab.com": "gitlab.com",
    "altssh.bitbucket.org": "bitbucket.org",
}
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE_RE = re.compile(r"[A-Za-z]:[\\/]")
_BARE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_CONFIG_HEADER_RE = re.compile(r'\[([A-Za-z0-9.-]+)(?:[ \t]+"((?:[^"\\\n]|\\[^\n])*)")?[ \t]*\]')
_CONFIG_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*(=?)")
_CONFIG_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


@dataclass(frozen=True)
class Scope:
    """A project scope: the id memories are stored under, and where it was found."""

    id: str
    """``repo:github.com/org/repo``, ``repo:/path/of/repo``, ``dir:/abs/path`` or ``global``."""
    kind: ScopeKind
    root: Path | None
    """The working tree root (repo) or the directory (dir); None for global and overrides."""
    branch: str | None = None
    """The checked-out branch of a repo scope; None when HEAD is detached or unknown."""
    label: str = ""
    """A short human name, e.g. ``org/repo`` or the directory name."""


GLOBAL = Scope(id=GLOBAL_ID, kind="global", root=None, label=GLOBAL_ID)


# --- remote URLs ---------------------------------------------------------------------------


def _remote_form(text: str) -> Literal["url", "path", "scp", "bare"]:
    """How git reads a remote: URL, absolute local path, scp-like ``host:path``, or neither."""
    if _SCHEME_RE.match(text):
        return "url"
    if _DRIVE_RE.match(text) or text.startswith(("/", "\\")):
        return "path"
    head, colon, _ = text.partition(":")
    if colon and "/" not in head:
        return "scp"
    return "bare"


def _normalize_local(path: str) -> str:
    """A local repository path with forward slashes and no ``.git`` suffix or trailing slash."""
    text = posixpath.normpath(path.replace("\\", "/"))
    if text.lower().endswith(".git"):
        text = text[:-4]
    return text.rstrip("/") or "/"


def _normalize_hosted(host: str, path: str) -> str:
    """``host/seg/seg`` in lower case, without empty segments or a ``.git`` suffix."""
    host = host.lower()
    segments = [s.lower() for s in path.split("/") if s]
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][:-4]
        if not segments[-1]:
            segments.pop()
    parts = [_HOST_ALIASES.get(host, host), *segments] if host else segments
    if not parts:
        raise InvalidInput(f"git remote URL {path!r} names no host or path")
    return "/".join(parts)


def normalize_remote(url: str) -> str:
    """The identity of a git remote URL, equal for every spelling of one repository.

    ``git@github.com:Org/Repo.git``, ``ssh://git@github.com:22/org/repo``,
    ``https://user:token@github.com/org/repo.git/`` and ``git://github.com/org/repo`` all give
    ``github.com/org/repo``: credentials, ports, ``.git`` and extra slashes are dropped and the
    result is lower-cased, since the common hosts treat owner and repository names without
    regard to case. Local paths and ``file://`` URLs give the path with forward slashes and no
    ``.git`` suffix, case kept (``/srv/git/Repo.git`` gives ``/srv/git/Repo``). Text that is
    none of these is taken as an identity already (``github.com/org/repo``), so the function
    is idempotent. Raises InvalidInput for an empty or unparseable URL.
    """
    text = url.strip()
    if not text:
        raise InvalidInput("git remote URL is empty")
    form = _remote_form(text)
    if form == "path":
        return _normalize_local(text)
    if form == "scp":
        userhost, _, path = text.partition(":")
        return _normalize_hosted(userhost.rpartition("@")[2], path)
    if form == "bare":
        return _normalize_hosted("", text)
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError as exc:
        raise InvalidInput(f"cannot parse git remote URL {text!r}: {exc}") from exc
    if parts.scheme.lower() == "file":
        return _normalize_local(_url_path(parts.path))
    return _normalize_hosted(host, unquote(parts.path))


def _label(identity: str) -> str:
    """A short name for an identity: ``org/repo`` for a hosted one, else the last path part."""
    if _remote_form(identity) == "path":
        return PurePosixPath(identity).name or identity
    segments = identity.split("/")
    return "/".join(segments[1:][-2:]) or identity


# --- git metadata --------------------------------------------------------------------------


@dataclass(frozen=True)
class _GitRepo:
    """Where one working tree of a git repository keeps its metadata."""

    worktree: Path
    gitdir: Path
    """This working tree's own git dir, holding its HEAD."""
    commondir: Path
    """The git dir shared by all worktrees, holding the config."""


def _url_path(path: str) -> str:
    """The local path of a file URL's path (`urllib.request`, which converts it, costs more to
    import than detecting the scope takes, so it is loaded only for a file URL)."""
    from urllib.request import url2pathname

    return str(url2pathname(path))


def _gitdir_at(directory: Path) -> Path | None:
    """The git dir of a working tree rooted at `directory`, if ``directory/.git`` names one."""
    dotgit = directory / ".git"
    try:
        if dotgit.is_dir():
            gitdir = dotgit.resolve()
        elif dotgit.is_file():
            lines = dotgit.read_text(encoding="utf-8", errors="replace").splitlines()
            first = lines[0].strip() if lines else ""
            if not first.startswith("gitdir:"):
                return None
            gitdir = (directory / first.removeprefix("gitdir:").strip()).resolve()
        else:
            return None
        return gitdir if (gitdir / "HEAD").is_file() else None
    except OSError as exc:
        logger.debug("cannot read %s: %s", dotgit, exc)
        return None


def _find_repo(start: Path) -> _GitRepo | None:
    """The git working tree containing `start` (a resolved path), walking up like git does."""
    for directory in (start, *start.parents):
        gitdir = _gitdir_at(directory)
        if gitdir is not None:
            try:
                common = (gitdir / "commondir").read_text(encoding="utf-8", errors="replace")
            except OSError:
                common = ""
            common = common.strip()
            commondir = (gitdir / common).resolve() if common else gitdir
            return _GitRepo(worktree=directory, gitdir=gitdir, commondir=commondir)
    return None


def _read_branch(gitdir: Path) -> str | None:
    """The branch HEAD points at (``main`` for ``ref: refs/heads/main``); None when detached."""
    try:
        head = (gitdir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return None
    return head.removeprefix("ref:").strip().removeprefix("refs/heads/") or None


def current_branch(directory: Path | str | None) -> str | None:
    """The branch checked out in the git working tree holding `directory`, read now (it changes
    while a server runs); None outside git or when HEAD is detached."""
    if not directory:
        return None
    try:
        repo = _find_repo(Path(directory).resolve())
    except OSError:
        return None
    return _read_branch(repo.gitdir) if repo is not None else None


def _line_end(text: str, pos: int) -> int:
    """The position just past the end of the line holding `pos`."""
    end = text.find("\n", pos)
    return len(text) if end < 0 else end + 1


def _parse_config_value(text: str, pos: int) -> tuple[str | None, int]:
    """Read a git config value starting at `pos`, as git does; None if it is malformed.

    Quotes are removed, ``\\`` escapes and line continuations applied, ``#``/``;`` comments
    outside quotes dropped, and whitespace outside quotes trimmed at the ends.
    """
    out: list[str] = []
    quoted = comment = False
    spaces = 0
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "\n":
            break
        if comment:
            continue
        if ch.isspace() and not quoted:
            if out:  # leading whitespace is dropped, inner runs kept as spaces
                spaces += 1
            continue
        if ch in "#;" and not quoted:
            comment = True
            continue
        if spaces:
            out.append(" " * spaces)
            spaces = 0
        if ch == "\\":
            escaped = text[pos : pos + 1]
            pos += 1
            if escaped == "\n":
                continue
            if escaped not in _CONFIG_ESCAPES:
                return None, _line_end(text, pos - 1)
            out.append(_CONFIG_ESCAPES[escaped])
        elif ch == '"':
            quoted = not quoted
        else:
            out.append(ch)
    return (None if quoted else "".join(out)), pos


def _parse_config(text: str) -> list[tuple[str, str | None, str, str | None]]:
    """The entries of a git config file as (section, subsection, key, value), in file order.

    Section and key names are lower-cased (git treats them without case), subsections keep
    theirs; a key with no ``=`` has value None (git's implicit true). Malformed lines are
    skipped rather than failing the whole file.
    """
    text = text.replace("\r\n", "\n")
    entries: list[tuple[str, str | None, str, str | None]] = []
    section: str | None = None
    subsection: str | None = None
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch.isspace():
            pos += 1
        elif ch in "#;":
            pos = _line_end(text, pos)
        elif ch == "[":
            header = _CONFIG_HEADER_RE.match(text, pos)
            if header is None:
                section = None
                pos = _line_end(text, pos)
                continue
            section, subsection = header.group(1).lower(), header.group(2)
            if subsection is not None:
                subsection = re.sub(r"\\(.)", r"\1", subsection)
            elif "." in section:
                section, _, subsection = section.partition(".")
            pos = header.end()
        else:
            key = _CONFIG_KEY_RE.match(text, pos)
            if key is None:
                pos = _line_end(text, pos)
                continue
            value: str | None = None
            if key.group(2):
                value, pos = _parse_config_value(text, key.end())
                if value is None:
                    continue
            else:
                pos = _line_end(text, key.end())
            if section is not None:
                entries.append((section, subsection, key.group(1).lower(), value))
    return entries


def _remote_url(commondir: Path) -> str | None:
    """The URL of the repository's ``origin`` remote, else of its first remote with a URL."""
    try:
        text = (commondir / "config").read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        logger.debug("cannot read git config in %s: %s", commondir, exc)
        return None
    urls: dict[str, str] = {}
    for section, subsection, key, value in _parse_config(text):
        if section == "remote" and subsection is not None and key == "url" and value:
            urls.setdefault(subsection, value)
    return urls.get("origin") or next(iter(urls.values()), None)


def _repo_identity(repo: _GitRepo) -> str:
    """The identity shared by every clone and worktree: the remote, else the common git dir."""
    url = _remote_url(repo.commondir)
    if url is not None:
        if _remote_form(url.strip()) in ("path", "bare"):
            # A local remote: resolve it (relative ones against the main working tree) so
            # that it matches the identity of that repository when it has no remote itself.
            base = repo.commondir.parent if repo.commondir.name == ".git" else repo.commondir
            url = (base / url.strip()).resolve().as_posix()
        try:
            return normalize_remote(url)
        except InvalidInput as exc:
            logger.warning("ignoring git remote of %s: %s", repo.worktree, exc)
    return _normalize_local(repo.commondir.as_posix())


# --- scopes --------------------------------------------------------------------------------


def _detect_in(directory: Path) -> Scope:
    """Rules 2 and 3 for one directory: its git repository, else the directory itself."""
    path = directory.expanduser().resolve()
    if path.is_file():
        path = path.parent
    repo = _find_repo(path)
    if repo is None:
        posix = path.as_posix()
        scope = Scope(id=f"dir:{posix}", kind="dir", root=path, label=_label(posix))
    else:
        identity = _repo_identity(repo)
        scope = Scope(
            id=f"repo:{identity}",
            kind="repo",
            root=repo.worktree,
            branch=_read_branch(repo.gitdir),
            label=_label(identity),
        )
    logger.debug("scope of %s is %s", directory, scope.id)
    return scope


def _scope_from_id(scope_id: str) -> Scope:
    """A Scope for a canonical id given explicitly (nothing detected, so no branch)."""
    if scope_id == GLOBAL_ID:
        return GLOBAL
    kind, _, rest = scope_id.partition(":")
    if kind == "dir":
        return Scope(id=scope_id, kind="dir", root=Path(rest), label=_label(rest))
    return Scope(id=scope_id, kind="repo", root=None, label=_label(rest))


def _detect_directory(directory: Path | str | None) -> Scope:
    """Rules 2 and 3 for `directory`, or the current directory; GLOBAL if that is gone."""
    if directory is None:
        try:
            directory = Path.cwd()
        except OSError as exc:
            logger.warning("cannot read the current directory (%s); using the global scope", exc)
            return GLOBAL
    return _detect_in(Path(directory))


def _env_override() -> Scope | None:
    """The scope set by ``HABITUS_SCOPE``, if set; raises InvalidInput if it is not valid."""
    value = os.environ.get(SCOPE_ENV_VAR, "")
    if not value.strip():
        return None
    try:
        return _scope_from_id(validate_scope(value))
    except InvalidInput as exc:
        raise InvalidInput(f"{SCOPE_ENV_VAR}={value!r} is not a valid scope: {exc}") from exc


def _local_dir(uri: str) -> Path | None:
    """The local directory a ``file://`` URI names, or None for anything else."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        return None
    if parts.scheme.lower() != "file" or parts.netloc.lower() not in ("", "localhost"):
        return None
    path = Path(_url_path(parts.path))
    try:
        return path if path.is_dir() else None
    except OSError:
        return None


def detect_scope(directory: Path | str | None = None) -> Scope:
    """The project scope of `directory` (default: the current directory), by rules 0, 2 and 3.

    A non-empty ``HABITUS_SCOPE`` environment variable wins over detection: it holds any
    scope `validate_scope` accepts (``global``, ``repo:...``, ``dir:/abs/path`` or a project
    name) and is returned with no branch and, for repo scopes, no root; an invalid value
    raises InvalidInput rather than silently storing memories elsewhere. A file path is taken
    as its directory. Falls back to GLOBAL only when the current directory is gone.
    """
    override = _env_override()
    return override if override is not None else _detect_directory(directory)


def scope_from_roots(roots: Sequence[str]) -> Scope | None:
    """Rule 1: the scope of the first MCP root that is a local directory, or None if none is.

    Roots are ``file://`` URIs (pass ``str(root.uri)``), percent-encoded as URIs are; other
    schemes, remote hosts and paths that are not existing directories are skipped. Does not
    consult ``HABITUS_SCOPE``; `resolve_scope` applies the full rule order.
    """
    for uri in roots:
        directory = _local_dir(uri)
        if directory is not None:
            return _detect_in(directory)
        logger.debug("skipping MCP root %r: not a local directory", uri)
    return None


def resolve_scope(roots: Sequence[str] | None = None, directory: Path | str | None = None) -> Scope:
    """The project scope by the full rule order: ``HABITUS_SCOPE``, MCP roots, the directory."""
    override = _env_override()
    if override is not None:
        return override
    from_roots = scope_from_roots(roots) if roots else None
    return from_roots if from_roots is not None else _detect_directory(directory)


def validate_scope(value: str) -> str:
    """Check a user-supplied scope and return its canonical id; raise InvalidInput if invalid.

    Accepted forms: ``global`` (any case); ``repo:<remote URL or identity>``, normalised with
    `normalize_remote` so any spelling of a remote matches the detected id; ``dir:<absolute
    path>``; or a bare project name of letters, digits, ``.``, ``_`` and ``-`` such as
    ``project-x``, which maps to ``repo:project-x`` (lower-cased). Detected identities always
    contain a ``/``, so a named project never collides with a detected one. Surrounding
    whitespace is ignored; empty values, control or invisible format characters, and values
    longer than MAX_SCOPE_LENGTH are rejected.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"scope must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidInput(
            "scope is empty; use 'global', 'repo:<remote>', 'dir:<absolute path>' or a name"
        )
    if len(text) > MAX_SCOPE_LENGTH:
        raise InvalidInput(f"scope is longer than {MAX_SCOPE_LENGTH} characters")
    for ch in text:
        if unicodedata.category(ch).startswith(("C", "Zl", "Zp")):
            raise InvalidInput(f"scope contains the control character U+{ord(ch):04X}")
    if text.lower() == GLOBAL_ID:
        return GLOBAL_ID
    prefix, colon, rest = text.partition(":")
    if not colon:
        if not _BARE_NAME_RE.fullmatch(text.lower()):
            raise InvalidInput(
                f"scope name {text!r} may hold only letters, digits, '.', '_' and '-'; "
                "use 'repo:<remote>' or 'dir:<absolute path>' for anything else"
            )
        scope_id = f"repo:{text.lower()}"
    elif prefix.lower() == "repo":
        scope_id = f"repo:{normalize_remote(rest)}"
    elif prefix.lower() == "dir":
        path = rest.strip()
        if not (path.startswith("/") or _DRIVE_RE.match(path)):
            raise InvalidInput(f"'dir:' scope needs an absolute path, got {path!r}")
        scope_id = f"dir:{posixpath.normpath(path)}"
    else:
        raise InvalidInput(
            f"unknown scope kind {prefix!r}; use 'global', 'repo:...', 'dir:...' or a name"
        )
    if len(scope_id) > MAX_SCOPE_LENGTH:
        raise InvalidInput(f"scope is longer than {MAX_SCOPE_LENGTH} characters")
    return scope_id
