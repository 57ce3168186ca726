"""Text helpers shared by writes and searches: normalising, hashing and code-aware terms.

Developers remember identifiers, paths and error strings. The lexical index reads a derived
column in which `getUserName` also appears as `get user name` and `src/server/config.py` as
`src server config py config.py`, so that either spelling finds the memory while the exact
identifier, present too, still scores highest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "normalize",
    "content_hash",
    "identifier_parts",
    "search_text",
    "embedding_text",
    "context_line",
    "metadata_terms",
    "speaker_of",
    "with_tags",
    "preview",
    "metadata_dict",
    "own_text",
]

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


#: Metadata keys naming who said or did something; their value leads the embedded text too.
SPEAKER_KEYS = ("speaker", "author", "user", "who")
# Metadata values longer than this are not indexed (they are payloads, not names or labels).
_META_CHARS = 120
# Each neighbour contributes at most this many characters to a memory's context.
CONTEXT_CHARS = 400


def speaker_of(metadata: Mapping[str, Any] | None) -> str:
    """Who a memory's metadata says spoke or acted, or ''."""
    for key in SPEAKER_KEYS:
        value = (metadata or {}).get(key)
        if isinstance(value, str) and value.strip():
            return normalize(value)[:_META_CHARS]
    return ""


def metadata_terms(metadata: Mapping[str, Any] | None) -> list[str]:
    """Short string values of a memory's metadata (speaker, file, command…), to be searchable."""
    terms = []
    for key, value in (metadata or {}).items():
        if key == "habitus" or key.startswith("_"):
            continue
        if isinstance(value, str) and 0 < len(value.strip()) <= _META_CHARS:
            terms.append(normalize(value))
    return list(dict.fromkeys(terms))


def embedding_text(content: str, metadata: Mapping[str, Any] | None = None) -> str:
    """What the embedder reads: the content, led by its speaker when there is one."""
    who = speaker_of(metadata)
    return f"{who}: {content}" if who else content


def context_line(content: str, metadata: Mapping[str, Any] | None = None) -> str:
    """One neighbour as it appears in another memory's context: speaker and (clipped) content."""
    text = normalize(embedding_text(content, metadata))
    return text if len(text) <= CONTEXT_CHARS else text[:CONTEXT_CHARS].rsplit(" ", 1)[0] + " …"


def search_text(
    content: str,
    tags: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    context: Iterable[str] = (),
) -> str:
    """The lexical index's view of a memory: content, split identifiers, file names, tags,
    short metadata values (speaker…) and, for episodes, the neighbouring episodes' lines."""
    extra: list[str] = []
    for token in _TOKEN.findall(content):
        # A plain ASCII word (lower, upper or title case) is one part: no split to try.
        if not (token.isascii() and token.isalpha()
                and (token.islower() or token.isupper() or token.istitle())):
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
    terms = metadata_terms(metadata)
    if terms:
        pieces.append(" ".join(terms))
    pieces.extend(line for line in context if line)
    return "\n".join(pieces)


def with_tags(text: str, tags: Iterable[str]) -> str:
    """A stored search text with the tags it lacks appended (keeps its context and metadata)."""
    words = set(text.split())
    missing = [t for t in tags if t not in words]
    return f"{text}\n{' '.join(missing)}" if missing else text


def preview(text: str, words: int = 12) -> str:
    """The first few words of a memory, for previews and logs."""
    parts = normalize(text).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def metadata_dict(value: Any) -> dict[str, Any]:
    """A row's metadata (stored as a JSON string) as a dict; {} when absent or malformed."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def own_text(row: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> str:
    """What a stored memory itself says: its search text without the neighbours' lines;
    `metadata` is the row's, when it is already parsed."""
    if metadata is None:
        metadata = metadata_dict(row.get("metadata"))
    return search_text(row["content"], row.get("tags") or [], metadata)
