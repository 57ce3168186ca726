"""Recall, stage 3: the legs of a search fused into one ranking, with the priors applied.

Each leg gives a ranked list of rows with a raw score: BM25 (`_score`, higher is better) for the
lexical leg, cosine distance (`_distance`, lower is better) for the vector leg. Scores are
normalised within the query — BM25 by the best BM25 score, cosine similarity between the
weakest and the strongest candidate of the leg — and added with per-leg weights. Unlike
reciprocal-rank fusion, this keeps *how much* better a match is: on conversational data a
strong BM25 match should not be outvoted by a mediocre dense neighbour (plain RRF of BM25 and
MiniLM scores below BM25 alone on LoCoMo).

A memory's own words (`text.own_text`: its content, split identifiers, tags and short metadata,
not the neighbouring episodes its search text carries) then weigh in: the share of the query's
words, weighted by how rare they are among the candidates, that the memory itself contains.
BM25 cannot tell whether a match came from a memory or from its neighbours' lines; this does
(as field weights in BM25F), and it lifts every LoCoMo category by one to two points.

The fused relevance is then nudged by importance, recency, memory strength (`decay`) and the
time a query names (`timeparse`), and near-identical memories are kept from filling the top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from habitus.core.decay import rank_factor
from habitus.core.meta import branch_of
from habitus.core.text.terms import metadata_dict, own_text, search_text
from habitus.core.text.words import word_stems

__all__ = ["Candidate", "Weights", "fuse", "diversify", "DEFAULT_WEIGHTS"]

RRF_K = 60.0
# Memories longer than this have their own words read afresh at each recall, not kept.
OWN_WORDS_CACHED_CHARS = 4_000


@dataclass(frozen=True)
class Weights:
    """How the legs and the priors weigh in; one object so ablations can vary any of them."""

    lexical: float = 1.0
    vector: float = 0.4
    #: Multiplier for memories inside the period a query names ("last week", "in May 2023").
    time_boost: float = 0.5
    importance: float = 0.1
    recency: float = 0.05
    half_life_days: float = 90.0
    #: How much a memory's own words matching the query's rare words can add to its relevance.
    own_words: float = 0.3
    #: Score multiplier for a memory written on another git branch than the caller's.
    other_branch: float = 0.85
    #: Cosine similarity above which a lower-ranked memory counts as a near-copy of a higher one.
    duplicate_similarity: float = 0.97
    #: Score multiplier applied to near-copies (they move down, they do not disappear).
    duplicate_penalty: float = 0.5
    #: "score" (normalised score fusion) or "rrf" (reciprocal-rank fusion, for comparison).
    method: str = "score"


DEFAULT_WEIGHTS = Weights()


@dataclass
class Candidate:
    """One memory found by at least one leg, with what each leg said about it."""

    row: dict[str, Any]
    lexical_rank: int | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    lexical_score: float | None = None
    relevance: float = 0.0
    in_period: bool = False
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """The row's metadata, parsed once: its own words and its branch both read it."""
        return metadata_dict(self.row.get("metadata"))


def _collect(
    lexical: Sequence[dict[str, Any]], vector: Sequence[dict[str, Any]]
) -> dict[str, Candidate]:
    found: dict[str, Candidate] = {}
    for rank, row in enumerate(lexical):
        cand = found.setdefault(row["id"], Candidate(row))
        if cand.lexical_rank is None:
            cand.lexical_rank = rank
            cand.lexical_score = float(row.get("_score") or 0.0)
    for rank, row in enumerate(vector):
        cand = found.setdefault(row["id"], Candidate(row))
        if cand.vector_rank is None:
            cand.vector_rank = rank
            cand.similarity = 1.0 - float(row.get("_distance", 1.0))
    return found


def fuse(
    lexical: Sequence[dict[str, Any]],
    vector: Sequence[dict[str, Any]],
    *,
    now: datetime,
    weights: Weights = DEFAULT_WEIGHTS,
    period: Any = None,
    lexical_weight: float | None = None,
    vector_weight: float | None = None,
    query: str = "",
    branch: str = "",
) -> list[Candidate]:
    """Rank the union of the legs, best first. `period` is a `timeparse.TimeRange` or None;
    `query` (without its time expression) is matched against each memory's own words; a
    memory written on another branch than `branch` (the caller's) counts a little less."""
    wl = weights.lexical if lexical_weight is None else lexical_weight
    wv = weights.vector if vector_weight is None else vector_weight
    if not lexical:
        wv = 1.0 if vector else wv
    if not vector:
        wl = 1.0
    found = _collect(lexical, vector)
    if weights.method == "rrf":
        best = (wl if lexical else 0.0) + (wv if vector else 0.0)
        for cand in found.values():
            rel = 0.0
            if cand.lexical_rank is not None:
                rel += wl * (RRF_K + 1) / (RRF_K + 1 + cand.lexical_rank)
            if cand.vector_rank is not None:
                rel += wv * (RRF_K + 1) / (RRF_K + 1 + cand.vector_rank)
            cand.relevance = rel / best if best else 0.0
    else:
        top_lex = max((c.lexical_score or 0.0 for c in found.values()), default=0.0)
        sims = [c.similarity for c in found.values() if c.similarity is not None]
        hi, lo = (max(sims), min(sims)) if sims else (1.0, 0.0)
        span = hi - lo
        for cand in found.values():
            lex = (cand.lexical_score or 0.0) / top_lex if top_lex > 0 else 0.0
            vec = 0.0
            if cand.similarity is not None:
                vec = (cand.similarity - lo) / span if span > 1e-6 else 1.0
            cand.parts = {"lexical": lex, "vector": vec}
            cand.relevance = (wl * lex + wv * vec) / (wl + wv if lexical and vector else 1.0)
    if query and weights.own_words:
        _weigh_own_words(list(found.values()), query, weights.own_words)
    for cand in found.values():
        row = cand.row
        importance = float(row.get("importance") or 0.5)
        age_days = max(0.0, (now - row["created_at"]).total_seconds() / 86400)
        recency = math.exp(-math.log(2) * age_days / weights.half_life_days)
        prior = 1.0 - weights.importance - weights.recency
        prior += weights.importance * importance + weights.recency * recency
        if branch and branch_of(row, cand.metadata) not in (None, branch):
            prior *= weights.other_branch
        boost = 1.0
        if period is not None and row["created_at"] in period:
            cand.in_period = True
            boost += weights.time_boost
        cand.score = cand.relevance * prior * boost * rank_factor(row, now)
    ranked = sorted(found.values(), key=lambda c: c.score, reverse=True)
    return diversify(ranked, weights)


def _weigh_own_words(cands: list[Candidate], query: str, weight: float) -> None:
    """Raise each candidate's relevance by up to `weight` × the idf-weighted share of the
    query's words that the memory itself contains (idf over the candidates)."""
    wanted = word_stems(query)
    if not wanted or not cands:
        return
    owns = [_own_stems(c) for c in cands]
    n = len(cands)
    idf = {}
    for term in wanted:
        df = sum(1 for words in owns if term in words)
        idf[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    total = sum(idf.values())
    for cand, words in zip(cands, owns, strict=True):
        share = sum(w for term, w in idf.items() if term in words) / total
        cand.parts["own_words"] = share
        cand.relevance *= 1 + weight * share


def _own_stems(cand: Candidate) -> frozenset[str]:
    row = cand.row
    metadata = row.get("metadata")
    if isinstance(metadata, str) and len(row["content"]) <= OWN_WORDS_CACHED_CHARS:
        return _cached_own_stems(row["content"], tuple(row.get("tags") or ()), metadata)
    return frozenset(word_stems(own_text(row, cand.metadata)))


@lru_cache(maxsize=4096)
def _cached_own_stems(content: str, tags: tuple[str, ...], metadata: str) -> frozenset[str]:
    """The stems of a memory's own words, kept for the memories recall meets again and again
    (bounded: 4,096 memories of at most `OWN_WORDS_CACHED_CHARS` characters)."""
    return frozenset(word_stems(search_text(content, list(tags), metadata_dict(metadata))))


def diversify(
    ranked: list[Candidate], weights: Weights = DEFAULT_WEIGHTS, window: int = 50
) -> list[Candidate]:
    """Demote memories that nearly repeat a better-ranked one, so copies do not fill the top."""
    head = [c for c in ranked[:window] if c.row.get("vector") is not None]
    if len(head) < 2 or weights.duplicate_penalty >= 1.0:
        return ranked
    matrix = np.asarray([c.row["vector"] for c in head], dtype=np.float32)
    sims = matrix @ matrix.T
    # Only a current memory can push a copy down: an outdated version (valid_until set) ranked
    # above its successor must not bury the successor — history ranking deals with versions.
    current = np.asarray([c.row.get("valid_until") is None for c in head])
    demoted = False
    for i in range(1, len(head)):
        above = sims[i, :i][current[:i]]
        if above.size and float(above.max()) >= weights.duplicate_similarity:
            head[i].score *= weights.duplicate_penalty
            demoted = True
    if not demoted:
        return ranked
    return sorted(ranked, key=lambda c: c.score, reverse=True)
