"""The habitus core: the memory service and the values it speaks in; no MCP here.

The names below load on first use, so that a light module of the core (`endpoint`, `config`)
can be imported without the models and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Settings": "config",
    "EmbedderUnavailable": "errors",
    "HabitusError": "errors",
    "InvalidInput": "errors",
    "NotFound": "errors",
    "StoreError": "errors",
    "CallContext": "models",
    "ForgetResult": "models",
    "LinkResult": "models",
    "Memory": "models",
    "NewMemory": "models",
    "RecallHit": "models",
    "RecallResult": "models",
    "ReflectBundle": "models",
    "RememberResult": "models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'habitus.core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
