"""The habitus core: the memory service and the values it speaks in; no MCP here."""

from .config import Settings
from .errors import EmbedderUnavailable, HabitusError, InvalidInput, NotFound, StoreError
from .models import (
    CallContext,
    ForgetResult,
    LinkResult,
    Memory,
    NewMemory,
    RecallHit,
    RecallResult,
    ReflectBundle,
    RememberResult,
)

__all__ = [
    "CallContext",
    "EmbedderUnavailable",
    "ForgetResult",
    "HabitusError",
    "InvalidInput",
    "LinkResult",
    "Memory",
    "NewMemory",
    "NotFound",
    "RecallHit",
    "RecallResult",
    "ReflectBundle",
    "RememberResult",
    "Settings",
    "StoreError",
]
