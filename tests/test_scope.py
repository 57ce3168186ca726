"""Project scopes: remote normalisation, git discovery on real repositories, roots, overrides."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput
from habitus.core.project.scope import (
    GLOBAL,
    SCOPE_ENV_VAR,
    Scope,
    detect_scope,
    normalize_remote,
    resolve_scope,
    scope_from_roots,
    validate_scope,
)

pytestmark = pytest.mark.fast

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a HABITUS_SCOPE from the developer's environment out of the tests."""
    monkeypatch.delenv(SCOPE_ENV_VAR, raising=False)


def git(cwd: Path, *args: str) -> None:
    """Run git in `cwd`, isolated from the user's and the system's git configuration."""
    assert GIT is not None
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }
    cmd = [GIT, "-c", "init.defaultBranch=main", *args]
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)


def new_repo(path: Path, remote: str | None = None) -> Path:
    """A git repository at `path` with one commit and, optionally, an `origin` remote."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    git(path, "commit", "-q", "--allow-empty", "-m", "init")
    if remote is not None:
        git(path, "remote", "add", "origin", remote)
    return path


def fake_repo(path: Path, config: str, head: str = "ref: refs/heads/dev\n") -> Path:
    """A hand-made `.git` directory holding just HEAD and config (no git needed)."""
    gitdir = path / ".git"
    gitdir.mkdir(parents=True)
    (gitdir / "HEAD").write_text(head)
    (gitdir / "config").write_text(config)
    return path


# --- normalize_remote ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:Org/Repo.git", "github.com/org/repo"),
        ("ssh://git@github.com:22/org/repo", "github.com/org/repo"),
        ("https://user:token@github.com/org/repo.git/", "github.com/org/repo"),
        ("git://github.com/org/repo.git", "github.com/org/repo"),
        ("http://GitHub.com/Org/Repo", "github.com/org/repo"),
        ("git+ssh://git@github.com/org/repo.git", "github.com/org/repo"),
        ("ssh://git@ssh.github.com:443/org/repo.git", "github.com/org/repo"),
        ("  https://github.com/org/repo  ", "github.com/org/repo"),
        ("https://github.com/org/my%20repo", "github.com/org/my repo"),
        ("https://gitlab.com/group/sub/project.git", "gitlab.com/group/sub/project"),
        ("https://git.example.com:8443/a//b/", "git.example.com/a/b"),
        ("git@git.example.com:/srv/git/project.git", "git.example.com/srv/git/project"),
        ("file:///srv/git/Project.git", "/srv/git/Project"),
        ("/srv/git/Project.git/", "/srv/git/Project"),
        ("/home/u/proj/.git", "/home/u/proj"),
        ("C:\\repos\\Project.git", "C:/repos/Project"),
        ("github.com/org/repo", "github.com/org/repo"),
    ],
)
def test_normalize_remote(url: str, expected: str) -> None:
    assert normalize_remote(url) == expected
    assert normalize_remote(expected) == expected  # idempotent


@pytest.mark.parametrize("url", ["", "   ", "https:///", "https://[broken/x"])
def test_normalize_remote_rejects_empty_or_unparseable(url: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_remote(url)


# --- real git repositories -----------------------------------------------------------------


@needs_git
def test_repo_with_origin(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "main", "git@github.com:Org/Repo.git")
    scope = detect_scope(repo)
    assert scope == Scope(
        id="repo:github.com/org/repo",
        kind="repo",
        root=repo.resolve(),
        branch="main",
        label="org/repo",
    )


@needs_git
def test_clone_with_other_url_spelling_shares_id(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "main", "git@github.com:Org/Repo.git")
    git(tmp_path, "clone", "-q", str(repo), "clone")
    clone = tmp_path / "clone"
    git(clone, "remote", "set-url", "origin", "https://me:tok@github.com/org/repo.git/")
    assert detect_scope(clone).id == detect_scope(repo).id == "repo:github.com/org/repo"
    assert detect_scope(clone).root == clone.resolve()


@needs_git
def test_clones_of_a_local_bare_repo_share_id(tmp_path: Path) -> None:
    seed = new_repo(tmp_path / "seed")
    git(tmp_path, "clone", "-q", "--bare", str(seed), "server.git")
    git(tmp_path, "clone", "-q", "server.git", "a")
    git(tmp_path, "clone", "-q", "server.git", "b")
    expected = f"repo:{(tmp_path / 'server').resolve().as_posix()}"
    assert detect_scope(tmp_path / "a").id == detect_scope(tmp_path / "b").id == expected


@needs_git
def test_worktree_shares_id_with_its_own_root_and_branch(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "main", "https://github.com/org/repo")
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"))
    main, worktree = detect_scope(repo), detect_scope(tmp_path / "wt")
    assert worktree.id == main.id == "repo:github.com/org/repo"
    assert worktree.root == (tmp_path / "wt").resolve() != main.root
    assert (worktree.branch, main.branch) == ("feature", "main")


@needs_git
def test_subdirectory_belongs_to_its_repo(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "main", "git@github.com:org/repo.git")
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    (sub / "mod.py").write_text("")
    assert detect_scope(sub) == detect_scope(repo)
    assert detect_scope(sub / "mod.py") == detect_scope(repo)  # a file counts as its dir


@needs_git
def test_different_repos_differ(tmp_path: Path) -> None:
    one = new_repo(tmp_path / "one", "git@github.com:org/one.git")
    two = new_repo(tmp_path / "two", "git@github.com:org/two.git")
    local = new_repo(tmp_path / "local")
    ids = {detect_scope(p).id for p in (one, two, local)}
    assert len(ids) == 3


@needs_git
def test_repo_without_remote_shares_id_with_worktree_and_clone(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "solo")
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "wt"))
    git(tmp_path, "clone", "-q", str(repo), "clone")
    scope = detect_scope(repo)
    assert scope.id == f"repo:{repo.resolve().as_posix()}"
    assert scope.label == "solo"
    assert detect_scope(tmp_path / "wt").id == scope.id
    assert detect_scope(tmp_path / "wt").branch is None  # detached HEAD
    assert detect_scope(tmp_path / "clone").id == scope.id


@needs_git
def test_detect_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path / "main", "git@github.com:org/repo.git")
    monkeypatch.chdir(repo)
    assert detect_scope() == detect_scope(repo)


# --- hand-made git metadata ----------------------------------------------------------------


def test_config_parsing_prefers_origin(tmp_path: Path) -> None:
    config = """\
[core]
\tbare = false
; a comment
# another
[remote "upstream"]   # trailing comment
\turl = "https://github.com/Up/Stream.git" ; comment
[Remote "origin"]
\tfetch = +refs/heads/*:refs/remotes/origin/*
\tURL = git@github.com:org/"repo".git   # quoted part
"""
    scope = detect_scope(fake_repo(tmp_path / "r", config))
    assert (scope.id, scope.branch) == ("repo:github.com/org/repo", "dev")


def test_config_without_origin_uses_first_remote_with_url(tmp_path: Path) -> None:
    config = """\
[remote "pushonly"]
\tpushurl = git@github.com:org/push.git
[remote.upstream]
\turl = https://github.com/org/\\
first.git
[remote "fork"]
\turl = https://github.com/me/fork.git
"""
    assert detect_scope(fake_repo(tmp_path / "r", config)).id == "repo:github.com/org/first"


def test_malformed_config_falls_back_to_git_dir(tmp_path: Path) -> None:
    config = '[broken\n\turl = x\n[remote "origin"]\n\turl = "unterminated\n\turl = bad\\q\n'
    repo = fake_repo(tmp_path / "r", config, head="0123456789abcdef0123456789abcdef01234567\n")
    scope = detect_scope(repo)
    assert scope.id == f"repo:{repo.resolve().as_posix()}"
    assert scope.branch is None


def test_gitdir_file_with_relative_path(tmp_path: Path) -> None:
    """A submodule's `.git` is a file pointing into the superproject's git dir."""
    fake_repo(tmp_path / "super", '[remote "origin"]\n\turl = git@github.com:org/super\n')
    modules = tmp_path / "super" / ".git" / "modules" / "sub"
    modules.mkdir(parents=True)
    (modules / "HEAD").write_text("ref: refs/heads/trunk\n")
    (modules / "config").write_text('[remote "origin"]\n\turl = git@github.com:org/sub.git\n')
    sub = tmp_path / "super" / "sub"
    sub.mkdir()
    (sub / ".git").write_text("gitdir: ../.git/modules/sub\n")
    scope = detect_scope(sub)
    assert (scope.id, scope.root, scope.branch) == (
        "repo:github.com/org/sub",
        sub.resolve(),
        "trunk",
    )


def test_plain_directory(tmp_path: Path) -> None:
    if any((p / ".git").exists() for p in tmp_path.resolve().parents):
        pytest.skip("the temporary directory is inside a git repository")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert detect_scope(plain) == Scope(
        id=f"dir:{plain.resolve().as_posix()}", kind="dir", root=plain.resolve(), label="plain"
    )


# --- MCP roots and the override ------------------------------------------------------------


def test_roots_skip_non_local_and_decode_percent_encoding(tmp_path: Path) -> None:
    folder = tmp_path / "my project ü"
    folder.mkdir()
    roots = [
        "https://example.com/project",
        "file://otherhost/srv/project",
        (tmp_path / "missing").as_uri(),
        folder.as_uri(),  # percent-encoded: my%20project%20%C3%BC
    ]
    assert "%20" in roots[-1]
    scope = scope_from_roots(roots)
    assert scope is not None
    assert scope.root == folder.resolve()
    assert scope == detect_scope(folder)


def test_roots_with_no_local_directory(tmp_path: Path) -> None:
    assert scope_from_roots([]) is None
    assert scope_from_roots(["https://example.com/x", (tmp_path / "nope").as_uri()]) is None


def test_resolve_scope_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cwd = tmp_path / "root", tmp_path / "cwd"
    root.mkdir()
    cwd.mkdir()
    assert resolve_scope([root.as_uri()], cwd) == detect_scope(root)
    assert resolve_scope(["https://example.com/x"], cwd) == detect_scope(cwd)
    assert resolve_scope(None, cwd) == detect_scope(cwd)
    monkeypatch.setenv(SCOPE_ENV_VAR, "pinned")
    assert resolve_scope([root.as_uri()], cwd).id == "repo:pinned"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Project-X", Scope(id="repo:project-x", kind="repo", root=None, label="project-x")),
        ("global", GLOBAL),
        (
            "repo:git@github.com:Org/Repo.git",
            Scope("repo:github.com/org/repo", "repo", None, label="org/repo"),
        ),
        ("dir:/srv/x/", Scope(id="dir:/srv/x", kind="dir", root=Path("/srv/x"), label="x")),
    ],
)
def test_env_override(
    value: str, expected: Scope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCOPE_ENV_VAR, value)
    assert detect_scope(tmp_path) == expected


def test_env_override_blank_is_ignored_and_invalid_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCOPE_ENV_VAR, "  ")
    assert detect_scope(tmp_path).kind == "dir"
    monkeypatch.setenv(SCOPE_ENV_VAR, "bad scope!")
    with pytest.raises(InvalidInput, match=SCOPE_ENV_VAR):
        detect_scope(tmp_path)


# --- validate_scope ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("global", "global"),
        (" GLOBAL ", "global"),
        ("project-x", "repo:project-x"),
        ("My_Project.v2", "repo:my_project.v2"),
        ("repo:git@github.com:Org/Repo.git", "repo:github.com/org/repo"),
        ("repo:github.com/org/repo", "repo:github.com/org/repo"),
        ("Repo:https://github.com/Org/Repo", "repo:github.com/org/repo"),
        ("repo:/srv/git/Repo.git", "repo:/srv/git/Repo"),
        ("dir:/srv/x/", "dir:/srv/x"),
        ("dir:/srv/with space", "dir:/srv/with space"),
        ("dir:C:/Users/x", "dir:C:/Users/x"),
    ],
)
def test_validate_scope_accepts(value: str, expected: str) -> None:
    assert validate_scope(value) == expected
    assert validate_scope(expected) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "x" * 257,
        "repo:" + "x" * 252,  # canonical id too long
        "proj\nx",
        "proj\x00",
        "proj\u202ex",  # invisible bidi override
        "repo:",
        "repo:  ",
        "dir:relative/path",
        "dir:",
        "foo:bar",
        "has space",
        "org/repo",
        "-leading-dash",
    ],
)
def test_validate_scope_rejects(value: str) -> None:
    with pytest.raises(InvalidInput):
        validate_scope(value)


def test_validate_scope_rejects_non_strings() -> None:
    with pytest.raises(InvalidInput):
        validate_scope(None)  # type: ignore[arg-type]


@needs_git
def test_detected_ids_round_trip_through_validate(tmp_path: Path) -> None:
    hosted = new_repo(tmp_path / "hosted", "git@github.com:org/repo.git")
    local = new_repo(tmp_path / "local")
    for directory in (hosted, local, tmp_path):
        scope_id = detect_scope(directory).id
        assert validate_scope(scope_id) == scope_id
