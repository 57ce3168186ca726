"""Provenance and trust: where a memory came from, whether its content tries to instruct the
model, and a person's confirmation.

Whatever is stored is read back into a model that can run commands, and `compile` writes it into
files assistants follow. So every memory records its source — `user` (the CLI or the web view),
`assistant` (an MCP tool call), `hook` (captured by lifecycle hooks), `captured` (tool
output), `imported`, `distilled`, `consolidated` — and content that addresses the model (an
override attempt, a role claim, a command to fetch and run code or to destroy data, an order to
send secrets away) is
flagged `suspicious` with the reason when it is written. Such memories are kept and found, but
held out of the brief and `compile` until a person confirms them; only memories a person wrote
or confirmed are trusted with those.

The patterns are about what text *asks the model to do*, not about commands as such: a note that
`rm -rf node_modules` fixes a build, or that deploys run `kubectl apply -f k8s/`, is ordinary.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from habitus.core.meta import meta_of, with_meta
from habitus.core.trust.instructions import findings

__all__ = ["Source", "SOURCES", "TRUSTED_SOURCES", "suspicion", "stamp"]

Source = Literal["user", "assistant", "hook", "captured", "imported", "distilled",
                 "consolidated"]
SOURCES: tuple[str, ...] = ("user", "assistant", "hook", "captured", "imported", "distilled",
                            "consolidated")
# Sources whose memories reach instruction files (the brief, `compile`) without confirmation.
TRUSTED_SOURCES = frozenset({"user"})

@lru_cache(maxsize=8192)
def suspicion(text: str) -> str | None:
    """Why `text` reads as instructions to the model rather than knowledge (None: it does not):
    the reasons `instructions.findings` gives, each once."""
    reasons = dict.fromkeys(f.reason for f in findings(text))
    return "; ".join(reasons) or None


def stamp(metadata: str, content: str, source: str, author: str = "") -> str:
    """A new memory's metadata with its provenance: always the caller's source, never one the
    content carries (an import records the source its file claims as `claimed_source`, for
    information only); the person whose server wrote it (`author`, never the caller's claim:
    an import keeps the one its file names as `claimed_author`); whether its content is
    suspicious; a confirmation is never taken from the caller (only `confirm` gives it)."""
    meta, section = meta_of({"metadata": metadata})
    claimed = section.pop("source", None)
    section.pop("claimed_source", None)
    if source == "imported" and claimed and claimed != source:
        section["claimed_source"] = str(claimed)[:64]
    claimed_author = section.pop("author", None)
    section.pop("claimed_author", None)
    if source == "imported" and claimed_author and claimed_author != author:
        section["claimed_author"] = str(claimed_author)[:200]
    if author:
        section["author"] = author
    if source != "user":  # the default, not written out
        section["source"] = source
    section.pop("confirmed", None)
    section.pop("suspicious", None)
    reason = suspicion(content)
    if reason:
        section["suspicious"] = reason
    return with_meta(meta)
