"""The MCP server: a thin adapter from MCP tools and resources to the memory service.

`habitus.server.serve.serve` runs it on a transport. The names below load on first use: the
stdio front (`habitus.server.front`) starts without importing the MCP SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["INSTRUCTIONS", "Runtime", "build_server"]

_HOMES = {"INSTRUCTIONS": "app", "build_server": "app", "Runtime": "runtime"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
