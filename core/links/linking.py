"""Linking at a caller's request: a typed edge between two live memories, checked and
journaled; a `supersedes` edge also makes the target an old version of the source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from habitus.base.errors import InvalidInput
from habitus.core.filters import require_live
from habitus.core.history.journal import Journal, operation
from habitus.core.history.versions import supersede
from habitus.core.links.edges import add_link
from habitus.core.models import CallContext, LinkResult
from habitus.core.trust import redaction
from habitus.core.validation import LIMITS, check_ids, check_relation

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["link"]


async def link(
    store: Store, journal: Journal, source: str, target: str, relation: str, note: str,
    weight: float, ctx: CallContext, *, redact_secrets: bool = True,
) -> LinkResult:
    """A typed edge a caller asked for between two live memories, checked; `supersedes` also
    makes the target an old version of the source."""
    source, target = check_ids([source])[0], check_ids([target])[0]
    if source == target:
        raise InvalidInput("a memory cannot be linked to itself")
    check_relation(relation)
    if len(note) > LIMITS["note_chars"]:
        raise InvalidInput(f"note is longer than {LIMITS['note_chars']} characters")
    if redact_secrets:
        note, _ = redaction.redact(note)
    if not 0.0 <= weight <= 1.0:
        raise InvalidInput("weight must be between 0 and 1")
    await require_live(store, [source, target])
    with operation():
        result = await add_link(store, journal, source, target, relation, note, weight, ctx)
        if relation == "supersedes":
            await supersede(store, journal, source, [target], ctx, add_links=False)
    return result
