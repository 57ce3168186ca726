"""Ids of memories, journal rows and operations: 26 characters, time-sortable and random."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_id"]

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id() -> str:
    """A new id in the ULID layout (48 bits of milliseconds, 80 random), lower-case."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))
