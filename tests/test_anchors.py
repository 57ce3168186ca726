"""Code anchors on a real git repository: change the code, the affected memories turn stale."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from habitus.base.errors import InvalidInput
from habitus.core.models import CallContext

from .memtools import open_service

pytestmark = pytest.mark.anyio

APP = '''\
import os


def create_app(config):
    """Build the app."""
    app = {"config": config}
    return app


class Store:
    def open(self, path):
        return path

    def close(self):
        return None
'''
UTIL = "def slugify(text):\n    return text.lower().replace(' ', '-')\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
            "PATH": "/usr/bin:/bin",
            "HOME": str(repo),
        },
    )


async def test_changed_code_makes_memories_stale(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text(APP)
    (repo / "src" / "util.py").write_text(UTIL)
    (repo / "README.md").write_text("line one\nline two\nline three\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    ctx = CallContext(project_scope="repo:example.com/acme/anchors", workdir=str(repo))
    service = await open_service(tmp_path / "store")
    try:

        async def anchored(text: str, anchor: str) -> str:
            return (await service.remember(text, anchors=[anchor], ctx=ctx)).id

        ids = {
            "symbol_changed": await anchored(
                "create_app stores the config in a dict", "src/app.py::create_app"
            ),
            "method_kept": await anchored(
                "Store.close does nothing yet", "src/app.py::Store.close"
            ),
            "symbol_removed": await anchored(
                "Store.open returns the path unchanged", "src/app.py::Store.open"
            ),
            "file_removed": await anchored("slugify lower-cases and dashes spaces", "src/util.py"),
            "lines_moved": await anchored("the readme's second line says two", "README.md:2-2"),
            "lines_changed": await anchored("the readme's third line says three", "README.md:3-3"),
        }
        plain = (await service.remember("the CI runs on every push", ctx=ctx)).id
        memory = await service.get(ids["symbol_changed"])
        anchor = memory.metadata["habitus"]["anchors"][0]
        assert anchor["path"] == "src/app.py" and anchor["symbol"] == "create_app"
        assert len(anchor["commit"]) == 40 and anchor["hash"]

        fresh = await service.recall("create_app Store slugify readme CI", limit=20, ctx=ctx)
        assert not any(h.stale for h in fresh.memories)

        # Change the code: edit create_app's body, drop Store.open, delete util.py,
        # insert a line above the readme (moves line 2), change line 3.
        (repo / "src" / "app.py").write_text(
            APP.replace('{"config": config}', '{"config": config, "debug": False}').replace(
                "    def open(self, path):\n        return path\n\n", ""
            )
        )
        (repo / "src" / "util.py").unlink()
        (repo / "README.md").write_text("new first line\nline one\nline two\nline 3 changed\n")
        git(repo, "commit", "-qam", "change")

        found = await service.recall("create_app Store slugify readme CI", limit=20, ctx=ctx)
        status = {h.id: (h.stale, h.stale_reason) for h in found.memories}
        assert set(status) >= set(ids.values()) | {plain}
        print("\nstaleness:", {name: status[i] for name, i in ids.items()})
        assert status[ids["symbol_changed"]][0] and "changed" in status[ids["symbol_changed"]][1]
        assert status[ids["symbol_removed"]] == (True, "symbol Store.open missing")
        assert status[ids["file_removed"]] == (True, "file src/util.py is gone")
        assert status[ids["lines_changed"]][0]
        assert not status[ids["method_kept"]][0]
        assert not status[ids["lines_moved"]][0]  # moved, not changed
        assert not status[plain][0]

        bundle = await service.reflect(ctx=ctx)
        stale = next(g for g in bundle.groups if g.reason == "stale")
        assert {m.id for m in stale.memories} == {
            ids[k] for k in ("symbol_changed", "symbol_removed", "file_removed", "lines_changed")
        }

        with pytest.raises(InvalidInput, match="missing"):
            await service.remember("nope", anchors=["src/app.py::no_such_function"], ctx=ctx)
        with pytest.raises(InvalidInput, match="inside"):
            await service.remember("nope", anchors=["../etc/passwd"], ctx=ctx)
    finally:
        await service.close()
