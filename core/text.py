"""Text helpers shared by writes and searches: normalising, hashing and code-aware terms.

Developers remember identifiers, paths and error strings. The lexical index reads a derived
column in which `getUserName` also appears as `get user name` and `src/server/config.py` as
`src server config py config.py`, so that either spelling finds the memory while the exact
identifier, present too, still scores highest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["normalize", "content_hash", "identifier_parts", "search_text", "preview"]

_SPACE = re.compile(r"\s+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TOKEN = re.compile(r"[A-Za-z0-9_./\\:-]+")


def normalize(text: str) -> str:
    """Whitespace folded and ends stripped: the form that is hashed for duplicate detection."""
    return _SPACE.sub(" ", text).strip()


def content_hash(text: str) -> str:
    """Stable hash of the normalised, case-folded content."""
    return hashlib.sha256(normalize(text).casefold().encode("utf-8")).hexdigest()


def identifier_parts(token: str) -> list[str]:
    """Words inside one identifier or path: `parseHTTPResponse_v2` → parse, HTTP, Response, v, 2."""
    return _CAMEL.findall(token)


def search_text(content: str, tags: Iterable[str] = ()) -> str:
    """The lexical index's view of a memory: content, split identifiers, file names and tags."""
    extra: list[str] = []
    for token in _TOKEN.findall(content):
        parts = identifier_parts(token)
        if len(parts) > 1:
            extra.append(" ".join(parts))
        if "/" in token or "\\" in token:
            extra.append(re.split(r"[/\\]", token.rstrip("/\\"))[-1])
    tags = list(tags)
    pieces = [content]
    if extra:
        pieces.append(" ".join(dict.fromkeys(extra)))
    if tags:
        pieces.append(" ".join(tags))
    return "\n".join(pieces)


def preview(text: str, words: int = 12) -> str:
    """The first few words of a memory, for previews and logs."""
    parts = normalize(text).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")
