"""The plugin system: loading from entry points and folders, isolation, duplicate names,
hot reload, plugin tools over MCP, and the `plugins new` scaffold."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from mcp import Client

from habitus.cli import cli
from habitus.core.config import Settings
from habitus.core.models import CallContext, NewMemory
from habitus.core.project.scope import Scope
from habitus.plugins import hookimpl
from habitus.plugins.manager import PluginManager
from habitus.server.app import build_server
from habitus.server.plugin_tools import reload_plugin_tools
from habitus.server.runtime import Runtime

pytestmark = pytest.mark.anyio


class _EntryPoint:
    """What `importlib.metadata` yields for an installed plugin."""

    def __init__(self, name: str, obj: Any) -> None:
        self.name, self.value, self._obj = name, f"tests:{name}", obj

    def load(self) -> Any:
        return self._obj


class Tagger:
    @hookimpl
    def enrich_memory(self, memory: NewMemory) -> NewMemory:
        return memory.model_copy(update={"tags": [*memory.tags, "tagged"]})


class Broken:
    @hookimpl
    def enrich_memory(self, memory: NewMemory) -> NewMemory:
        raise RuntimeError("plugin bug")

    @hookimpl
    def rerank_recall(self, query: str, result: Any) -> Any:
        raise RuntimeError("rerank bug")


def _tool_plugin(tool: str) -> Any:
    class ToolPlugin:
        @hookimpl
        def register_tools(self, register: Any) -> None:
            async def shout(text: str) -> str:
                """Upper-case a text."""
                return text.upper()

            register(shout, name=tool)

    return ToolPlugin()


def _write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body), "utf-8")
    return path


def _runtime(tmp_path: Path, manager: PluginManager) -> Runtime:
    scope = Scope(id="repo:example.com/acme/app", kind="repo", root=None)
    return Runtime(Settings(db=str(tmp_path / "store"), embedder="minilm"), scope, plugins=manager)


async def test_entry_point_plugins_enrich_and_a_failing_one_is_isolated(tmp_path: Path) -> None:
    from habitus.core.service import MemoryService

    manager = PluginManager(builtins=False, entry_points=[
        _EntryPoint("tagger", Tagger()), _EntryPoint("broken", Broken())]).load()
    assert {i["name"]: i["origin"] for i in manager.listing()} == {
        "tagger": "entry point", "broken": "entry point"}
    service = await MemoryService.open(Settings(db=str(tmp_path / "s"), embedder="minilm"))
    service.hooks = manager
    try:
        ctx = CallContext(project_scope="global")
        stored = await service.remember("the build uses uv", ctx=ctx)
        memory = await service.get(stored.id)
        assert "tagged" in memory.tags  # the working plugin ran; the write was not lost
        found = await service.recall("build", ctx=ctx)
        assert [h.id for h in found.memories] == [stored.id]
        assert any("broken" in w and "rerank bug" in w for w in found.warnings)
    finally:
        await service.close()
    failures = {(e.plugin, e.where) for e in manager.failures}
    assert ("broken", "enrich_memory") in failures and ("broken", "rerank_recall") in failures


def test_import_error_and_duplicate_plugin_names_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    _write(folder, "bad", "import does_not_exist_anywhere\n")
    _write(folder, "procedural", "x = 1\n")  # the built-in's name
    manager = PluginManager(folders=[folder]).load()
    rows = {r["name"]: r for r in manager.listing()}
    assert rows["procedural"]["origin"] == "builtin"
    assert "does_not_exist_anywhere" in rows["bad"]["errors"][0]
    assert any("procedural" in e.message and "refused" in e.message for e in manager.failures)


async def test_duplicate_tool_names_are_refused_naming_both_plugins(tmp_path: Path) -> None:
    manager = PluginManager(builtins=False, entry_points=[
        _EntryPoint("first", _tool_plugin("shout")), _EntryPoint("second", _tool_plugin("shout")),
        _EntryPoint("thief", _tool_plugin("recall"))]).load()
    runtime = _runtime(tmp_path, manager)
    async with Client(build_server(runtime)) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names.count("shout") == 1 and names.count("recall") == 1
        result = await client.call_tool("shout", {"text": "hi"})
        assert result.structured_content == {"result": "HI"}
    messages = [e.message for e in manager.failures]
    assert any("'shout'" in m and "'first'" in m and "'second'" in m for m in messages)
    assert any("'recall'" in m and "'thief'" in m and "'habitus'" in m for m in messages)
    await runtime.close()


async def test_folder_plugin_hot_reload_replaces_its_tool(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    body = '''
        from habitus.plugins import hookimpl

        @hookimpl
        def register_tools(register):
            async def greet(name: str) -> str:
                """Say hello."""
                return "{greeting}, " + name

            register(greet)
        '''
    path = _write(folder, "greeter", body.replace("{greeting}", "hello"))
    manager = PluginManager(builtins=False, folders=[folder]).load()
    runtime = _runtime(tmp_path, manager)
    server = build_server(runtime)
    async with Client(server) as client:
        assert (await client.call_tool("greet", {"name": "ann"})).structured_content == {
            "result": "hello, ann"}

        reloaded = anyio.Event()

        async def on_change(names: list[str]) -> None:
            reload_plugin_tools(server, runtime)
            reloaded.set()

        stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lambda: manager.watch(on_change, stop_event=stop))
            new = textwrap.dedent(body.replace("{greeting}", "bonjour"))
            with anyio.fail_after(10):  # written again until the watcher, starting, sees it
                while not reloaded.is_set():
                    path.write_text(new, "utf-8")  # the same text reloads once, not again
                    with anyio.move_on_after(0.5):
                        await reloaded.wait()
            # A new version that fails to import keeps the previous one running.
            path.write_text("this is not python\n", "utf-8")
            with anyio.fail_after(10):
                while not any(e.plugin == "greeter" for e in manager.failures):
                    await anyio.sleep(0.05)
            stop.set()
        result = await client.call_tool("greet", {"name": "ann"})
        assert result.structured_content == {"result": "bonjour, ann"}
    assert manager.infos["greeter"].version == 2
    await runtime.close()


def test_plugins_list_and_scaffold_passes_its_own_test(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "userplugins"
    monkeypatch.setenv("HABITUS_PLUGINS_DIR", str(folder))
    runner = CliRunner()
    made = runner.invoke(cli, ["plugins", "new", "notes_helper"])
    assert made.exit_code == 0, made.output
    assert (folder / "notes_helper.py").is_file()
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"notes_helper"' in listed.output and '"procedural"' in listed.output
    test = folder / "tests" / "test_notes_helper.py"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(test)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    again = runner.invoke(cli, ["plugins", "new", "notes_helper"])
    assert again.exit_code != 0 and "already exists" in again.output
