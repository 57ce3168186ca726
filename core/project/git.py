"""Git, read in one place: the working tree holding a directory, its branch, its remote and
its HEAD commit, read straight from the files (``.git``, ``gitdir:`` files, ``commondir``,
``config``, ``HEAD``, refs) — fast enough for a hook and never blocking on a process, and
working where git is not installed — and, by running git, the files changed lately.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Repo", "find_repo", "read_branch", "current_branch", "remote_url", "head_commit",
           "user_identity", "changed_files"]

logger = logging.getLogger(__name__)

_CONFIG_HEADER_RE = re.compile(r'\[([A-Za-z0-9.-]+)(?:[ \t]+"((?:[^"\\\n]|\\[^\n])*)")?[ \t]*\]')
_CONFIG_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*(=?)")
_CONFIG_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


@dataclass(frozen=True)
class Repo:
    """Where one working tree of a git repository keeps its metadata."""

    worktree: Path
    gitdir: Path
    """This working tree's own git dir, holding its HEAD."""
    commondir: Path
    """The git dir shared by all worktrees, holding the config."""


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


def find_repo(start: Path) -> Repo | None:
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
            return Repo(worktree=directory, gitdir=gitdir, commondir=commondir)
    return None


def read_branch(gitdir: Path) -> str | None:
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
        repo = find_repo(Path(directory).resolve())
    except OSError:
        return None
    return read_branch(repo.gitdir) if repo is not None else None


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


def remote_url(commondir: Path) -> str | None:
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


def _config_files(directory: Path | None) -> list[Path]:
    """The config files git reads for a command run in `directory`, lowest precedence first:
    the user's (``$XDG_CONFIG_HOME/git/config``, then ``~/.gitconfig``, or
    ``$GIT_CONFIG_GLOBAL``) and the repository's."""
    given = os.environ.get("GIT_CONFIG_GLOBAL")
    if given:
        files = [Path(given).expanduser()]
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        files = [Path(xdg) / "git" / "config", Path.home() / ".gitconfig"]
    repo = None
    if directory is not None:
        try:
            repo = find_repo(directory.resolve())
        except OSError:
            repo = None
    if repo is not None:
        files.append(repo.commondir / "config")
    return files


def user_identity(directory: Path | None = None) -> str | None:
    """The git user as ``Name <email>`` (or whichever of the two is set) for a commit made in
    `directory`, read from the user's and the repository's config files (``include`` directives
    are not followed); None when git names nobody."""
    found: dict[str, str] = {}
    for path in _config_files(directory):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for section, subsection, key, value in _parse_config(text):
            if section == "user" and subsection is None and key in ("name", "email"):
                found[key] = (value or "").strip()
    name, email = found.get("name", ""), found.get("email", "")
    if name and email:
        return f"{name} <{email}>"
    return name or (f"<{email}>" if email else None)


def head_commit(worktree: Path | str) -> str | None:
    """The commit checked out in the working tree at `worktree` (read from HEAD, the branch's
    ref file or ``packed-refs``); None outside git or on an unborn branch."""
    repo = find_repo(Path(worktree).resolve())
    if repo is None:
        return None
    try:
        head = (repo.gitdir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        for folder in (repo.gitdir, repo.commondir):
            path = folder / ref
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace").strip() or None
        packed = repo.commondir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
                commit, _, name = line.partition(" ")
                if name.strip() == ref:
                    return commit
    except OSError as exc:
        logger.debug("cannot read HEAD of %s: %s", worktree, exc)
    return None


def changed_files(workdir: str, limit: int = 30) -> list[str]:
    """Files changed in the working tree and the last commits of `workdir` (by running git),
    newest first; [] where git cannot tell."""
    if not workdir:
        return []
    found: list[str] = []
    for args in (["status", "--porcelain"], ["log", "-n", "10", "--name-only", "--format="]):
        try:
            out = subprocess.run(["git", "-C", workdir, *args], capture_output=True, text=True,
                                 timeout=2, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return found
        for line in out.splitlines():
            path = line[3:] if args[0] == "status" else line
            path = path.strip()
            if path and path not in found:
                found.append(path)
    return found[:limit]
