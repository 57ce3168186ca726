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

Git metadata is read by `core.project.git`, from the files. Not supported:
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

from habitus.base.errors import InvalidInput
from habitus.core.project import git

__all__ = [
    "GLOBAL",
    "GLOBAL_ID",
    "MAX_SCOPE_LENGTH",
    "SCOPE_ENV_VAR",
    "Scope",
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


def _url_path(path: str) -> str:
    """The local path of a file URL's path (`urllib.request`, which converts it, costs more to
    import than detecting the scope takes, so it is loaded only for a file URL)."""
    from urllib.request import url2pathname

    return str(url2pathname(path))


def _repo_identity(repo: git.Repo) -> str:
    """The identity shared by every clone and worktree: the remote, else the common git dir."""
    url = git.remote_url(repo.commondir)
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
    repo = git.find_repo(path)
    if repo is None:
        posix = path.as_posix()
        scope = Scope(id=f"dir:{posix}", kind="dir", root=path, label=_label(posix))
    else:
        identity = _repo_identity(repo)
        scope = Scope(
            id=f"repo:{identity}",
            kind="repo",
            root=repo.worktree,
            branch=git.read_branch(repo.gitdir),
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
