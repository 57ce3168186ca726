"""Errors raised by habitus, one tree for every layer (the store included: this module
depends on nothing).

    HabitusError                 base of everything habitus raises on purpose
     ├── InvalidInput            the caller asked for something malformed or out of bounds
     │    ├── HookInputError     a lifecycle hook's input is not an event habitus can use
     │    └── JSONCEditError     a client's configuration file cannot be edited as asked
     ├── NotFound                an id that names no (live) memory
     ├── StoreError              the store could not be opened, read or written
     ├── EmbedderUnavailable     the embedding model could not be loaded
     └── ModelUnavailable        the configured language model could not answer

Messages say what failed and what to do next; the server turns them into `isError` tool
results and the CLI into clean one-line errors. The store turns LanceDB's own errors into
`StoreError` at its edge.
"""

from __future__ import annotations

__all__ = ["HabitusError", "InvalidInput", "HookInputError", "JSONCEditError", "NotFound",
           "StoreError", "EmbedderUnavailable", "ModelUnavailable"]


class HabitusError(Exception):
    """Base class of every error habitus raises on purpose."""


class InvalidInput(HabitusError, ValueError):
    """The caller's input is malformed or out of bounds."""


class HookInputError(InvalidInput):
    """A lifecycle hook's input is not an event habitus can use."""


class JSONCEditError(InvalidInput):
    """A member could not be set: the path runs through a non-object, or the edit misfired."""


class NotFound(HabitusError, LookupError):
    """An id names no live memory."""


class StoreError(HabitusError):
    """The store could not be opened, read or written."""


class EmbedderUnavailable(HabitusError):
    """The embedding model could not be loaded; lexical search still works."""


class ModelUnavailable(HabitusError):
    """The configured language model could not answer (unreachable, slow, refused, garbled)."""
