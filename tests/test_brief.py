"""`habitus compile`: the project's strongest memories written into an instruction file
(real store, real embedder, a real git repository for the code anchors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from mcp import Client

from habitus.cli import cli
from habitus.core.brief import BEGIN, END, build_brief, merge_brief
from habitus.core.config import Settings
from habitus.core.models import CallContext
from habitus.core.project.scope import Scope
from habitus.core.service import MemoryService
from habitus.plugins.manager import PluginManager
from habitus.server.app import build_server
from habitus.server.runtime import Runtime

from .test_anchors import git

pytestmark = pytest.mark.anyio

SCOPE = "repo:example.com/acme/app"


async def test_the_brief_holds_current_lasting_knowledge_of_the_project(
    service: MemoryService, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "deploy.sh").write_text("kubectl apply -f k8s/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    ctx = CallContext(project_scope=SCOPE, workdir=str(repo))

    async def remember(text: str, **kw: object) -> str:
        return (await service.remember(text, ctx=ctx, **kw)).id  # type: ignore[arg-type]

    tests = await remember("Run just test before pushing; CI runs the same command",
                           tags=["testing"], importance=0.9)
    lint = await remember("We lint with ruff, line length 100", tags=["style"])
    old = await remember("The API listens on port 8080", tags=["config"])
    new = await remember("The API listens on port 9090 since the proxy change",
                         tags=["config"], supersedes=[old])
    episode = await remember("Yesterday the deploy failed twice", kind="episodic")
    forgotten = await remember("Releases are cut on Fridays")
    await service.forget([forgotten], ctx=ctx)
    other = await service.remember("Another project's convention",
                                   ctx=CallContext(project_scope="repo:example.com/acme/other"))
    stale = await remember("deploy.sh applies every manifest in k8s/", anchors=["deploy.sh"])
    (repo / "deploy.sh").write_text("helm upgrade app ./chart\n")

    brief = await build_brief(service.store, ctx=ctx)
    assert brief.scope == SCOPE and brief.text.startswith(BEGIN) and brief.text.endswith(END)
    assert brief.ids[0] == tests  # the most important first
    assert set(brief.ids) == {tests, lint, new}
    assert not {old, episode, forgotten, other.id, stale} & set(brief.ids)
    assert brief.stale == 1 and brief.omitted == 0
    assert "### testing\n- Run just test before pushing" in brief.text
    assert "port 9090" in brief.text and "port 8080" not in brief.text

    with_episodes = await build_brief(service.store, kinds=("semantic", "episodic"), ctx=ctx)
    assert episode in with_episodes.ids


async def test_the_budget_bounds_the_brief(service: MemoryService) -> None:
    ctx = CallContext(project_scope=SCOPE)
    for i in range(60):
        await service.remember(f"Convention {i}: module m{i} owns table t{i} and its migrations "
                               f"under db/m{i}", ctx=ctx, dedup=False)
    brief = await build_brief(service.store, budget=300, ctx=ctx)
    assert brief.tokens <= 300 and brief.omitted > 0 and len(brief.ids) + brief.omitted == 60


@pytest.mark.fast
def test_merging_keeps_the_rest_of_the_file() -> None:
    block = f"{BEGIN}\n## Project memory\n- one\n{END}"
    first = merge_brief("# Notes\n\nHand-written.\n", block)
    assert first == f"# Notes\n\nHand-written.\n\n{block}\n"
    assert merge_brief(first, block) == first  # a rerun changes nothing
    changed = merge_brief(first + "\nMore notes after.\n", block.replace("one", "two"))
    assert "- two" in changed and "- one" not in changed
    assert changed.startswith("# Notes\n\nHand-written.")
    assert changed.endswith("More notes after.\n")
    rule = merge_brief(None, block, cursor_rule=True)
    assert rule.startswith("---\ndescription:") and "alwaysApply: true" in rule


def test_compile_writes_the_file_and_refreshes_it(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "store")
    env = {"HABITUS_SCOPE": SCOPE}
    for text in ("Migrations run with alembic upgrade head", "Tests need Docker running"):
        assert runner.invoke(cli, ["--db", db, "remember", text], env=env).exit_code == 0
    target = tmp_path / "AGENTS.md"
    target.write_text("# Agents\n\nOur own instructions.\n")
    result = runner.invoke(cli, ["--db", db, "compile", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert "wrote 2 memories" in result.output
    written = target.read_text()
    assert written.startswith("# Agents\n\nOur own instructions.\n")
    assert "- Migrations run with alembic upgrade head" in written

    runner.invoke(cli, ["--db", db, "compile", str(target)], env=env)
    assert target.read_text() == written  # nothing new, nothing changed
    runner.invoke(cli, ["--db", db, "remember", "Deploys go through Argo"], env=env)
    runner.invoke(cli, ["--db", db, "compile", str(target)], env=env)
    assert "- Deploys go through Argo" in target.read_text()
    assert target.read_text().count(BEGIN) == 1

    dry = runner.invoke(cli, ["--db", db, "compile", str(tmp_path / "CLAUDE.md"), "--dry-run"],
                        env=env)
    assert dry.exit_code == 0 and BEGIN in dry.output
    assert not (tmp_path / "CLAUDE.md").exists()
    bad = runner.invoke(cli, ["--db", db, "compile", "--kinds", "dreams"], env=env)
    assert bad.exit_code != 0 and "unknown kind" in bad.output


async def test_the_brief_is_a_resource(tmp_path: Path) -> None:
    scope = Scope(id=SCOPE, kind="repo", root=None)
    runtime = Runtime(Settings(db=str(tmp_path / "store"), embedder="minilm"), scope,
                      plugins=PluginManager(entry_points=()))
    async with Client(build_server(runtime)) as client:
        stored = await client.call_tool(
            "remember", {"content": "Use pnpm, never npm, in this repo"})
        resource = await client.read_resource("memory://brief")
        text = resource.contents[0].text  # type: ignore[union-attr]
        # Written by an assistant: held out of the brief until a person confirms it.
        assert text.startswith(BEGIN) and "pnpm" not in text
        service = await runtime.service()
        await service.confirm([stored.structured_content["id"]])
        resource = await client.read_resource("memory://brief")
        text = resource.contents[0].text  # type: ignore[union-attr]
        assert text.startswith(BEGIN) and "- Use pnpm, never npm, in this repo" in text
