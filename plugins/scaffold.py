"""`habitus plugins new NAME`: a working folder plugin with its own test."""

from __future__ import annotations

import re
from pathlib import Path

from habitus.base.errors import InvalidInput

__all__ = ["PLUGIN_TEMPLATE", "TEST_TEMPLATE", "scaffold"]

PLUGIN_TEMPLATE = '''"""{name}: a habitus plugin (see docs/plugins.md for every hook)."""

from habitus.plugins import hookimpl


@hookimpl
def enrich_memory(memory):
    """Tag memories that mention TODO so they can be found with tags=["todo"]."""
    if "todo" in memory.content.lower() and "todo" not in memory.tags:
        return memory.model_copy(update={{"tags": [*memory.tags, "todo"]}})
    return None


@hookimpl
def register_tools(register, context):
    async def {func}_count_tokens(text: str) -> int:
        """How many tokens a text takes."""
        return context.count_tokens(text)

    register({func}_count_tokens)
'''

TEST_TEMPLATE = '''"""Tests of the {name} plugin: run with `python -m pytest {test_file}`."""

import asyncio
from pathlib import Path

from habitus.core.models import NewMemory
from habitus.plugins.manager import PluginManager

HERE = Path(__file__).parent.parent  # the plugin folder


def test_{func}_loads_and_tags_todos():
    manager = PluginManager(builtins=False, folders=[HERE]).load()
    assert "{name}" in manager.infos, manager.failures
    enriched = asyncio.run(manager.enrich_memories([NewMemory(content="TODO: rotate keys")], None))
    assert "todo" in enriched[0].tags
    tools = manager.tools()
    assert [t.name for t in tools] == ["{func}_count_tokens"]
    assert asyncio.run(tools[0].fn("hello world")) > 0
    assert not manager.failures
'''


def scaffold(name: str, folder: str | Path) -> list[Path]:
    """Write `NAME.py` and `test_NAME.py` into `folder`; refuses to overwrite."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        raise InvalidInput(f"plugin name {name!r}: use lower-case letters, digits and _")
    folder = Path(folder)
    plugin, test = folder / f"{name}.py", folder / "tests" / f"test_{name}.py"
    for path in (plugin, test):
        if path.exists():
            raise InvalidInput(f"{path} already exists; choose another name or remove it")
    test.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text(PLUGIN_TEMPLATE.format(name=name, func=name), "utf-8")
    test.write_text(TEST_TEMPLATE.format(name=name, func=name, test_file=test), "utf-8")
    return [plugin, test]
