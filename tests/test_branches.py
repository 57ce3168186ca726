"""Branches: memories record the branch they were written on; a fact changed on one branch does
not replace it on the others, and recall prefers the caller's branch (real store, real git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from habitus.core.brief import build_brief
from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.project.git import current_branch
from habitus.core.project.scope import Scope
from habitus.core.service import MemoryService
from habitus.plugins.manager import PluginManager
from habitus.server.app import build_server
from habitus.server.runtime import Runtime

from .test_anchors import git

pytestmark = pytest.mark.anyio

SCOPE = "repo:example.com/acme/api"
MAIN = CallContext(project_scope=SCOPE, branch="main")
FEATURE = CallContext(project_scope=SCOPE, branch="feature/proxy")
QUESTION = "which port does the API listen on"


OTHER_FACTS = [
    "Migrations run with alembic upgrade head",
    "The frontend is built with Vite and served by nginx",
    "Feature flags live in config/flags.yaml",
    "Integration tests need Docker running",
    "Logs are shipped to Loki through promtail",
    "The worker pool size defaults to eight",
]


async def test_a_fact_changed_on_a_branch_still_holds_elsewhere(service: MemoryService) -> None:
    for fact in OTHER_FACTS:
        await service.remember(fact, ctx=MAIN)
    main = await service.remember("The API listens on port 8080", ctx=MAIN)
    feature = await service.remember("The API listens on port 9090", ctx=FEATURE)
    assert feature.status == "created" and feature.supersedes == []  # not across branches
    assert feature.contradicts == [main.id]  # the conflict is kept, as a typed link
    (edge,) = [e for e in await service.links_of(feature.id) if e.relation == "contradicts"]
    assert (edge.source, edge.target) == (feature.id, main.id)

    on_main = await service.recall(QUESTION, ctx=MAIN)
    on_feature = await service.recall(QUESTION, ctx=FEATURE)
    assert on_main.memories[0].id == main.id and on_main.memories[0].branch == "main"
    assert on_feature.memories[0].id == feature.id
    assert on_feature.memories[0].branch == "feature/proxy"

    # On the same branch a new value does replace the old one.
    again = await service.remember("The API listens on port 7070", ctx=MAIN)
    assert again.supersedes == [main.id] and again.detected
    assert (await service.recall(QUESTION, ctx=MAIN)).memories[0].id == again.id

    brief_main = (await build_brief(service.store, ctx=MAIN)).text
    brief_feature = (await build_brief(service.store, ctx=FEATURE)).text
    assert "port 7070" in brief_main and "port 9090" not in brief_main
    assert "port 9090" in brief_feature and "port 7070" not in brief_feature

    shared = await service.remember("Ports are configured in config/api.toml", scope="global",
                                    ctx=MAIN)
    assert (await service.get(shared.id)).metadata.get("habitus", {}).get("branch") is None


@pytest.mark.fast
def test_the_branch_is_read_from_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "README.md").write_text("hello\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    assert current_branch(repo / "src") == "main"
    git(repo, "checkout", "-q", "-b", "feature/x")
    assert current_branch(repo) == "feature/x"
    git(repo, "checkout", "-q", "--detach")
    assert current_branch(repo) is None
    assert current_branch(tmp_path) is None and current_branch("") is None


async def test_the_server_records_the_branch_checked_out_at_each_call(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("hello\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    runtime = Runtime(Settings(db=str(tmp_path / "store"), embedder="minilm"),
                      Scope(id=SCOPE, kind="repo", root=repo),
                      plugins=PluginManager(entry_points=()))
    async with Client(build_server(runtime)) as client:
        first = await client.call_tool("remember", {"content": "Deploys run from main"})
        git(repo, "checkout", "-q", "-b", "release")
        second = await client.call_tool("remember", {"content": "Release builds pin Node 20"})
        found = await client.call_tool("recall", {"query": "deploys release builds node"})
    branches = {m["id"]: m["branch"] for m in found.structured_content["memories"]}
    assert branches[first.structured_content["id"]] == "main"
    assert branches[second.structured_content["id"]] == "release"
