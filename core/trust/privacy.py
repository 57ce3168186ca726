"""Privacy, applied once where content enters: what a person marked private is dropped and
secrets are redacted before anything is stored, cached, spooled, sent or logged.

Every way in goes through here — `remember` (content and metadata at any depth), hook events,
transcripts and trajectories (so a procedure distilled from them never sees a key), the
session-start cache — so no path can keep what another path removes.

- `<private>…</private>` sections are removed (an unclosed tag hides the rest of the text);
- secrets are replaced with `[redacted: kind]` markers (see `redaction`);
- long texts are shortened by `bound`, private sections first and between words, so that a
  cut never leaves half a private section or half a key where no rule can recognise it.

Standard library only: the hook entry point imports this before it knows it has work.
"""

from __future__ import annotations

import re

from habitus.core.trust.redaction import MARKER, assigned_kind, redact, secret_name

__all__ = ["PRIVATE", "MAX_DEPTH", "bound", "clean_text", "clean_data", "strip_private",
           "has_private"]

PRIVATE = "private text"  # what `clean_text` reports when it removed a private section
MAX_DEPTH = 32  # deeper JSON than this is cut off: nothing legitimate nests so far
_PRIVATE = re.compile(r"<private>.*?(?:</private>|\Z)", re.S | re.I)


def has_private(text: str) -> bool:
    """Whether `text` holds a section marked private."""
    return "<" in text and _PRIVATE.search(text) is not None


def strip_private(text: str) -> str:
    """`text` without what the user marked private."""
    return _PRIVATE.sub("", text) if "<" in text else text


def bound(text: str, limit: int) -> str:
    """`text` without private sections, shortened to about `limit` characters if longer: its
    head (two thirds) and its tail, where results usually are, cut between words."""
    text = strip_private(text)
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit} characters omitted ...]\n"
    if limit < 4 * len(marker):
        return _word_cut(text[: limit + 1], head=True)
    keep = limit - len(marker)
    head = _word_cut(text[: keep * 2 // 3 + 1], head=True)
    tail = _word_cut(text[len(text) - (keep - keep * 2 // 3) - 1 :], head=False)
    return head + marker + tail


def _word_cut(piece: str, *, head: bool) -> str:
    """`piece` less the word its cut went through (the one character beyond the cut says
    whether it did), unless that would take more than a quarter of it."""
    if head:
        at = max(piece.rfind(" "), piece.rfind("\n"), piece.rfind("\t"))
        return piece[:at] if at >= len(piece) * 3 // 4 else piece[:-1]
    found = [i for i in (piece.find(" "), piece.find("\n"), piece.find("\t")) if i >= 0]
    at = min(found) if found else -1
    return piece[at + 1 :] if 0 <= at <= len(piece) // 4 else piece[1:]


def clean_text(text: str, *, secrets: bool = True) -> tuple[str, list[str]]:
    """`text` without private sections and (unless `secrets` is False) with its secrets
    redacted; what was taken out (`PRIVATE` and the kinds of secret)."""
    private = [PRIVATE] if has_private(text) else []
    text = strip_private(text)
    if not secrets:
        return text, private
    text, kinds = redact(text)
    return text, sorted({*private, *kinds})


def clean_data(
    value: object, *, secrets: bool = True, limit: int | None = None
) -> tuple[object, list[str]]:
    """`clean_text` over every string of a JSON-like value (dicts, lists, tuples), keys
    included, each first `bound` to `limit` characters when given; a string held under a key
    that names a secret (`{"password": "…"}`) is one."""
    found: set[str] = set()

    def text(item: str) -> str:
        cleaned, kinds = clean_text(bound(item, limit) if limit else item, secrets=secrets)
        found.update(kinds)
        return cleaned

    def walk(item: object, depth: int) -> object:
        if isinstance(item, str):
            return text(item)
        if depth >= MAX_DEPTH:
            return None
        if isinstance(item, dict):
            return {(text(k) if isinstance(k, str) else k): held(k, v, depth)
                    for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v, depth + 1) for v in item]
        return item

    def held(key: object, item: object, depth: int) -> object:
        if secrets and isinstance(key, str) and isinstance(item, str) and secret_name(key):
            kind = assigned_kind(key, strip_private(item), quoted=True)
            if kind is not None:
                found.add(kind)
                return MARKER.format(kind=kind)
        return walk(item, depth + 1)

    return walk(value, 0), sorted(found)
