"""Remember, before anything else: content longer than one memory holds, as linked parts.

A memory holds at most `LIMITS["content_chars"]` characters. Longer content (a pasted
document, a long log in an import or a conversation) is cut into parts at the best boundary
before the bound — a blank line, else a line break, else a sentence end, else a space — each part
a memory of its own, the later ones linked `part_of` the first. Privacy runs on the whole text
first, so no cut leaves half of a secret or of a private section. Content longer than
`LIMITS["parts"]` parts is refused alone: the other memories of the batch are stored, and its
result says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from habitus.core.limits import LIMITS
from habitus.core.models import NewMemory

__all__ = ["Plan", "plan_parts", "split_text", "longest"]

# Where a part may end, best first: a blank line, a line break, a sentence end, a space.
_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?…]\s"),
               re.compile(r"\s"))


def longest() -> int:
    """The most characters a content may have to be stored at all, in parts."""
    return LIMITS["content_chars"] * LIMITS["parts"]


def split_text(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, each cut at the best boundary in the
    second half of its window (a cut mid-word only where there is no space at all)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > size:
        window = rest[:size]
        cut = size
        for boundary in _BOUNDARIES:
            ends = [m.end() for m in boundary.finditer(window, size // 2)]
            if ends:
                cut = ends[-1]
                break
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


@dataclass
class Plan:
    """The items a batch becomes: for each item given, the positions of its parts among
    `items` (one position for an item that fits), or why it is refused."""

    items: list[NewMemory] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # item given → reason


def plan_parts(items: list[NewMemory], *, split: bool = True) -> Plan:
    """Split each item whose (already cleaned) content is over the bound into parts; refuse
    the ones that would need more than `LIMITS["parts"]`. Without `split`, every item stays
    whole (validation refuses what is too long)."""
    size, most = LIMITS["content_chars"], LIMITS["parts"]
    plan = Plan()
    for index, item in enumerate(items):
        content = item.content
        if not split or not isinstance(content, str) or len(content.strip()) <= size:
            plan.positions.append([len(plan.items)])
            plan.items.append(item)
            continue
        pieces = split_text(content, size) if len(content) <= longest() else []
        if not pieces or len(pieces) > most:
            plan.positions.append([])
            plan.refused[index] = (
                f"content has {len(content)} characters, more than {most} memories of "
                f"{size} hold; store the essentials or split it before storing"
            )
            continue
        plan.positions.append(list(range(len(plan.items), len(plan.items) + len(pieces))))
        plan.items += [item.model_copy(update={"content": piece}) for piece in pieces]
    return plan
