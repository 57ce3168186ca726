"""Run-together names split into words: `soapbar` → `soap bar`, `desklamp` → `desk lamp`.

Simulators and codebases glue words together (`garbagecan`, `getusername`); a person asking for
"the garbage can" does not. Splitting against the English whole-word vocabulary of the embedding
model's tokenizer (shipped with habitus) lets both the lexical and the vector search see the
words. A name is split only when it is not itself a word and every piece has at least three
letters, so `pencil` stays `pencil` and `ladle` is not cut into `lad le`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["split_compound", "spoken"]

_MIN_PIECE = 3
_MAX_PIECES = 4


@cache
def _vocabulary() -> frozenset[str]:
    try:
        text = resources.files("habitus.core").joinpath("assets/minilm-tokenizer.json").read_text(
            "utf-8"
        )
        vocab = json.loads(text)["model"]["vocab"]
    except (OSError, ValueError, KeyError):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and w.islower())


@cache
def _segment(word: str) -> tuple[str, ...] | None:
    words = _vocabulary()
    best: tuple[str, ...] | None = (word,) if word in words else None
    for cut in range(_MIN_PIECE, len(word) - _MIN_PIECE + 1):
        head = word[:cut]
        if head not in words:
            continue
        rest = _segment(word[cut:])
        if rest is None or len(rest) + 1 > _MAX_PIECES:
            continue
        candidate = (head, *rest)
        if best is None or len(candidate) < len(best):
            best = candidate
    return best


def split_compound(name: str) -> list[str]:
    """The words of a run-together lower-case name; `[name]` for a word or an unsplittable name."""
    if not name.isalpha() or not name.islower() or name in _vocabulary():
        return [name]
    pieces = _segment(name)
    return list(pieces) if pieces else [name]


def spoken(name: str) -> str:
    """`soapbar` → `soapbar (soap bar)`; a plain word stays as it is."""
    words = split_compound(name)
    return name if len(words) == 1 else f"{name} ({' '.join(words)})"
