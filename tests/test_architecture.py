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
