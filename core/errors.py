"""Errors raised by habitus.

    HabitusError                 base of everything habitus raises on purpose
     ├── InvalidInput            the caller asked for something malformed or out of bounds
     ├── NotFound                an id that names no (live) memory
     ├── StoreError              the store could not be opened, read or written
     └── EmbedderUnavailable     the embedding model could not be loaded

Messages say what failed and what to do next; the server turns them into `isError` tool
results and the CLI into clean one-line errors.
"""

from __future__ import annotations

__all__ = ["HabitusError", "InvalidInput", "NotFound", "StoreError", "EmbedderUnavailable"]


class HabitusError(Exception):
    """Base class of every error habitus raises on purpose."""


class InvalidInput(HabitusError, ValueError):
    """The caller's input is malformed or out of bounds."""


class NotFound(HabitusError, LookupError):
    """An id names no live memory."""


class StoreError(HabitusError):
    """The store could not be opened, read or written."""


class EmbedderUnavailable(HabitusError):
    """The embedding model could not be loaded; lexical search still works."""
