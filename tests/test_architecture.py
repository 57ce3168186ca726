"""Layering, enforced: base → store → core → server / CLI; only the server speaks MCP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# folder → imports it must never make (prefixes)
FORBIDDEN = {
    "base": ("mcp", "click", "lancedb", "pyarrow", "habitus.store", "habitus.core",
             "habitus.server", "habitus.cli", "habitus.plugins", "habitus.clients",
             "habitus.lifecycle", "habitus.web"),
    "store": (
        "mcp",
        "click",
        "habitus.server",
        "habitus.cli",
        "habitus.plugins",
        "habitus.clients",
        "habitus.core",
        "habitus.lifecycle",
        "habitus.web",
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


@pytest.mark.fast
@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layers_do_not_reach_upwards(folder: str) -> None:
    offences = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[folder]):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "\n".join(offences)


@pytest.mark.fast
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
    "base", "store", "core", "server", "cli", "clients", "plugins", "lifecycle", "web",
    "evaluation",
)


@pytest.mark.fast
def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the walk found the package's modules"
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]], "the check can fail"
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


@pytest.mark.fast
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


# What the store once handed out: its tables, writer, caches and one-letter predicate builders.
FORMER_STORE_INTERNALS = frozenset(
    {"memories", "links", "journal", "uses", "writer", "vectors", "rows", "m", "l", "j", "u"})
# The store's own unit tests look inside it (its caches' hits and misses, the writer's
# compaction threshold), as its modules do.
STORE_UNIT_TESTS = ("tests/test_store.py", "tests/test_rows.py", "tests/test_vectors.py")


def _names_a_store(node: ast.expr) -> bool:
    """Whether an expression ends in a store's name: `store`, `self.store`, `service._store`."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name.lower().endswith("store")


def store_internals_read(source: str) -> list[tuple[int, str]]:
    """(line, expression) of each attribute of a store that `source` reaches which is private
    (`_…`, not a dunder such as a module's `__all__`) or one of the store's former public
    internals."""
    return sorted(
        (node.lineno, ast.unparse(node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and _names_a_store(node.value)
        and (node.attr.startswith("_") and not node.attr.endswith("__")
             or node.attr in FORMER_STORE_INTERNALS)
    )


def test_nothing_outside_the_store_reaches_inside_it() -> None:
    """The store is closed: outside `store/` its tables, writer and caches are never touched,
    whatever the annotations say (`Any` hides nothing from this check)."""
    assert store_internals_read(
        "service.store.writer.flush()\nstore._rows.clear()\nx = self._store.m\n"
        "store.where.memories.eq('id', 1)\nhits.memories\n"
    ) == [(1, "service.store.writer"), (2, "store._rows"), (3, "self._store.m")], (
        "the check can fail")
    paths = [p for folder in (*PACKAGE_FOLDERS, "bench", "tests") if folder != "store"
             for p in sorted((ROOT / folder).rglob("*.py"))
             if "node_modules" not in p.parts
             and str(p.relative_to(ROOT)) not in STORE_UNIT_TESTS]
    assert len(paths) > 100, "the walk found the modules"
    offences = [f"{path.relative_to(ROOT)}:{line}: {expression}"
                for path in paths
                for line, expression in store_internals_read(path.read_text(encoding="utf-8"))]
    assert not offences, "\n".join(offences)


def test_the_store_exports_its_public_surface() -> None:
    """`habitus.store` exports the store, its predicates and the shapes its operations take and
    return; the store's attributes are its operations, nothing of its insides."""
    import habitus.store
    from habitus.store import Store

    assert habitus.store.__all__ == ["Store", "Predicate", "Where", "TablePredicates", "Rewrite",
                                     "EmbeddingColumns", "SCHEMA_VERSION", "Probe", "probe"]
    assert all(hasattr(habitus.store, name) for name in habitus.store.__all__)
    public = {name for name in dir(Store) if not name.startswith("_")}
    assert public == {
        # opening and the vectors' model
        "open", "close", "uri", "dimension", "embedding_model", "refresh_embedding",
        "where", "flush", "table_versions", "cache_bytes", "commit_stats",
        # reading
        "scan", "get_memories", "count", "fetch", "warm_rows", "forget_cached_rows",
        "lexical_search", "vector_search", "known_hashes", "nearest_ids", "similarities",
        "ann_worthwhile",
        # writing
        "add_memories", "update_memories", "replace_memories", "delete_memories",
        # passages
        "add_passages", "passage_ids", "reset_passages", "memory_texts",
        # links, journal and uses
        "add_links", "update_link", "find_links", "delete_links",
        "append_journal", "read_journal", "append_uses", "uses_of",
        # indexes and maintenance
        "has_vector_index", "maybe_index_vectors", "compact", "fragments", "table_counts",
        "rewrite_tables", "vacuum_journal",
        # re-embedding
        "embedding_columns", "finish_swap", "discard_staged", "stage_vectors", "unstaged",
        "put_staged", "swap_staged", "lacking_vectors", "put_vectors", "unlabel_vectors",
        "memory_ids", "adopt_embedding",
    }


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


@pytest.mark.fast
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
