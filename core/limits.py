"""Every size the core bounds, in one place: the requests declare them on their fields
(`requests`), and the checks of `validation` enforce them on what reaches the pipelines."""

from __future__ import annotations

__all__ = ["LIMITS"]

LIMITS = {
    "content_chars": 32_000,
    "parts": 16,  # longer content in a batch is stored in parts of content_chars, this many at most
    "query_chars": 2_000,
    "tags": 32,
    "tag_chars": 64,
    "id_chars": 64,
    "ids": 1_000,
    "sources": 100,  # ids a new memory derives from, or supersedes
    "links": 50,  # edges a new memory asks for
    "anchors": 20,
    "anchor_chars": 1_000,
    "recall_limit": 100,
    "token_budget": 200_000,
    "note_chars": 2_000,
    "metadata_chars": 64_000,
}
