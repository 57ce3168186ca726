"""Git read from its files agrees with git itself: the HEAD commit (loose, packed, detached,
in a worktree, unborn), the branch, the remote chosen from a config as git parses it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from habitus.core.project import git

pytestmark = pytest.mark.fast


def run(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a",
                           *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def test_head_commit_agrees_with_git(repo: Path, tmp_path: Path) -> None:
    assert git.head_commit(repo) is None  # unborn: no commit yet
    run(repo, "commit", "-q", "--allow-empty", "-m", "one")
    (repo / "sub").mkdir()
    assert git.head_commit(repo / "sub") == run(repo, "rev-parse", "HEAD")
    run(repo, "pack-refs", "--all")  # the branch now lives in packed-refs only
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git.head_commit(repo) == run(repo, "rev-parse", "HEAD")
    first = run(repo, "rev-parse", "HEAD")
    run(repo, "commit", "-q", "--allow-empty", "-m", "two")
    assert git.head_commit(repo) == run(repo, "rev-parse", "HEAD") != first
    run(repo, "checkout", "-q", first)  # detached
    assert git.head_commit(repo) == first and git.current_branch(repo) is None
    run(repo, "checkout", "-q", "main")
    tree = tmp_path / "tree"
    run(repo, "worktree", "add", "-q", "-b", "side", str(tree))
    run(tree, "commit", "-q", "--allow-empty", "-m", "on side")
    assert git.head_commit(tree) == run(tree, "rev-parse", "HEAD") != git.head_commit(repo)
    assert git.current_branch(tree) == "side" and git.current_branch(repo) == "main"
    assert git.head_commit(tmp_path) is None


def test_the_remote_is_read_as_git_reads_the_config(repo: Path) -> None:
    config = repo / ".git" / "config"
    config.write_text(config.read_text() + (
        '[remote "upstream"]\n\turl = https://example.com/up/stream.git\n'
        '[Remote "origin"] ; a comment\n'
        '\tURL = "git@example.com:acme/"\\\n"app.git" # continued, quoted\n'
        "[remote.legacy]\n\turl = /srv/legacy\n"))
    assert run(repo, "config", "remote.origin.url") == git.remote_url(repo / ".git")
    assert git.remote_url(repo / ".git") == "git@example.com:acme/app.git"
    config.write_text('[remote "upstream"]\n\turl = https://example.com/up/stream.git\n')
    assert git.remote_url(repo / ".git") == "https://example.com/up/stream.git"
    config.write_text('[remote "origin"]\n\turl = "unterminated\n[core]\n\tbare = false\n')
    assert git.remote_url(repo / ".git") is None  # a malformed value is skipped, not guessed


def test_changed_files_lists_the_working_tree_then_recent_commits(repo: Path) -> None:
    (repo / "a.py").write_text("a\n")
    run(repo, "add", "a.py")
    run(repo, "commit", "-q", "-m", "a")
    (repo / "b.py").write_text("b\n")
    assert git.changed_files(str(repo)) == ["b.py", "a.py"]
    assert git.changed_files("") == [] and git.changed_files(str(repo / "nowhere")) == []
