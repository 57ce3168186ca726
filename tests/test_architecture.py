"""Layering, enforced: store → core → server / CLI; only the server speaks MCP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# folder → imports it must never make (prefixes)
FORBIDDEN = {
    "store": (
        "mcp",
        "click",
        "habitus.server",
        "habitus.cli",
        "habitus.plugins",
        "habitus.clients",
        "habitus.core.service",
        "habitus.core.models",
    ),
    "core": ("mcp", "click", "habitus.server", "habitus.cli", "habitus.clients"),
    "clients": ("mcp", "lancedb", "habitus.store", "habitus.server", "habitus.core.service"),
    "plugins": ("habitus.store", "habitus.server", "habitus.cli"),
    "lifecycle": ("mcp", "click", "habitus.store", "habitus.server", "habitus.cli",
                  "habitus.clients"),
    "web": ("mcp", "click", "habitus.store", "habitus.server", "habitus.cli", "habitus.clients",
            "habitus.lifecycle"),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    package = "habitus." + ".".join(path.relative_to(ROOT).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layers_do_not_reach_upwards(folder: str) -> None:
    offences = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[folder]):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "\n".join(offences)


def test_only_the_server_and_plugin_tools_import_mcp() -> None:
    users = sorted(
        str(path.relative_to(ROOT))
        for folder in ("core", "store", "clients", "cli")
        for path in (ROOT / folder).rglob("*.py")
        if any(n == "mcp" or n.startswith("mcp.") for n in imports(path))
    )
    assert users == []


def test_nothing_prints_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import habitus.core.service, habitus.server, habitus.cli, habitus.clients, "
        "habitus.store, habitus.plugins"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == ""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["habitus", *parts])


def import_graph() -> dict[str, set[str]]:
    """Each module of the package → the package's modules it imports (anywhere in the file,
    type-checking and function-level imports included: the layout must not loop either)."""
    paths = [p for folder in PACKAGE_FOLDERS for p in sorted((ROOT / folder).rglob("*.py"))]
    modules = {_module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                submodules = {f"{base}.{alias.name}" for alias in node.names}
                if node.module or not submodules <= modules.keys():
                    targets.add(base)  # (`from . import a, b` of submodules: only a and b)
                targets.update(submodules)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


PACKAGE_FOLDERS = (
    "store", "core", "server", "cli", "clients", "plugins", "lifecycle", "web",
)


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the walk found the package's modules"
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]], "the check can fail"
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_nothing_outside_core_imports_a_private_name_of_it() -> None:
    offences = []
    for folder in ("server", "cli", "clients", "plugins", "store"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "habitus.core"
                ):
                    offences += [f"{path.relative_to(ROOT)} imports {node.module}.{a.name}"
                                 for a in node.names if a.name.startswith("_")]
    assert not offences, "\n".join(offences)


def test_the_command_line_starts_without_heavy_imports() -> None:
    """`habitus --help` (and every command until it runs) loads no storage, model or protocol
    library: a shell command starts in tens of milliseconds."""
    import subprocess
    import sys

    code = (
        "import sys, habitus.cli\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(habitus.cli.cli, ['--help']).exit_code == 0\n"
        "heavy = ('lancedb', 'pyarrow', 'numpy', 'onnxruntime', 'pydantic', 'mcp', 'tiktoken',\n"
        "         'habitus.store', 'habitus.core.service', 'habitus.core.models')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_stdio_front_starts_without_heavy_imports() -> None:
    """`habitus serve` over stdio answers the handshake from its front, which loads neither the
    MCP SDK nor anything else heavy: they load behind it, in a background thread."""
    import subprocess
    import sys

    code = (
        "import sys, habitus.cli.app, habitus.server.front\n"
        "heavy = ('mcp', 'mcp_types', 'pydantic', 'anyio', 'asyncio', 'lancedb', 'numpy',\n"
        "         'importlib.metadata', 'habitus.server.serve',\n"
        "         'habitus.server.app', 'habitus.core.service', 'habitus.plugins.manager')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_opening_the_store_skips_the_namespace_rest_client_until_it_is_used() -> None:
    """LanceDB's REST namespace client (~0.8 s of pydantic at import) is not loaded by a local
    store, and still works, whole, for whoever asks for one of its names."""
    import subprocess
    import sys

    code = (
        "import sys, tempfile, asyncio\n"
        "from habitus.store import Store\n"
        "async def main():\n"
        "    with tempfile.TemporaryDirectory() as tmp:\n"
        "        store = await Store.open(tmp, dimension=4)\n"
        "        await store.count()\n"
        "        await store.close()\n"
        "asyncio.run(main())\n"
        "api = 'lance_namespace_urllib3_client.api'\n"
        "print(sorted(m for m in sys.modules if m.startswith(api)))\n"
        "from lance_namespace_urllib3_client import ApiClient, TableApi\n"
        "print(ApiClient.__name__, TableApi.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "ApiClient TableApi"]


def test_the_lazy_command_table_names_every_command_where_it_is_defined() -> None:
    import importlib

    import click

    from habitus.cli.app import COMMANDS

    found: dict[str, set[str]] = {}
    for module in sorted({m for modules in COMMANDS.values() for m in modules}):
        group = click.Group()
        importlib.import_module(f"habitus.cli.{module}").register(group)
        for name in group.commands:
            found.setdefault(name, set()).add(module)
    assert {name: set(modules) for name, modules in COMMANDS.items()} == found
    modules = {p.stem for p in (ROOT / "cli").glob("*_commands.py")}
    assert modules == {m for ms in COMMANDS.values() for m in ms}, "a command module is missing"
