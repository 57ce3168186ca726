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
from habitus.core.requests import LinkRequest
from habitus.core.trust import redaction
from habitus.core.validation import check_ids

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["link"]


async def link(
    store: Store, journal: Journal, request: LinkRequest, ctx: CallContext, *,
    redact_secrets: bool = True,
) -> LinkResult:
    """The typed edge `request` asks for between two live memories, checked; `supersedes` also
    makes the target an old version of the source."""
    source, target = check_ids([request.source])[0], check_ids([request.target])[0]
    if source == target:
        raise InvalidInput("a memory cannot be linked to itself")
    relation, note = request.relation, request.note
    if redact_secrets:
        note, _ = redaction.redact(note)
    await require_live(store, [source, target])
    with operation():
        result = await add_link(store, journal, source, target, relation, note, 1.0, ctx)
        if relation == "supersedes":
            await supersede(store, journal, source, [target], ctx, add_links=False)
    return result
