"""Recall, stage 2: the search legs — BM25 over each memory's search text and cosine over its
embedding (and a long memory's later passages) — run together, each a second time within the
period the query names, so memories of that period are candidates even when the words match
better elsewhere."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from habitus.core.embedding.encoder import Encoder
from habitus.core.recall.query import RecallQuery
from habitus.core.text.terms import search_text
from habitus.core.text.words import STOP_WORDS, stem

if TYPE_CHECKING:
    from habitus.store import Predicate, Store

__all__ = ["Legs", "run_legs", "COLUMNS"]

# A long memory's later passages count as matches this much less similar than its first
# window (its own vector): the head of a memory says what it is about, and a long memory has
# many passages to match by chance. LongMemEval dev (22 questions, vector leg alone): the best
# passage unmargined lost 4.7 MRR and 4.6 recall_all@5 to the first window alone; with 0.1 it
# loses nothing, and a passage far closer than the head still finds its memory.
PASSAGE_MARGIN = 0.1
# Matches that need a one-letter correction count this much of their BM25 score.
FUZZY_DISCOUNT = 0.5
# Candidates read from the typo-tolerant query.
FUZZY_DEPTH = 20
_WORD = re.compile(r"[a-z0-9]+")
# What each leg reads of a hit: what ranking (`ranking.fuse`, `decay.rank_factor`, the
# near-copy check), history and `views.hit_of` use. Not `search_text`, `derived_from`
# and the other bookkeeping columns (the lexical leg reads `search_text` for its typo check).
COLUMNS = (
    "id",
    "kind",
    "scope",
    "content",
    "tags",
    "importance",
    "created_at",
    "updated_at",
    "last_access",
    "access_count",
    "valid_until",
    "metadata",
    "vector",
)
LEXICAL_COLUMNS = (*COLUMNS, "search_text")


@dataclass
class Legs:
    """What each leg found (rows with `_score` or `_distance`), and which legs ran."""

    lexical: list[dict[str, Any]]
    vector: list[dict[str, Any]]
    mode: str  # "hybrid", "lexical" or "vector"


async def run_legs(store: Store, encoder: Encoder, query: RecallQuery) -> Legs:
    """Both legs of `query`, concurrently with the query's embedding."""

    async def lexical_leg() -> list[dict[str, Any]]:
        if "lexical" not in query.legs:
            return []
        runs = [_lexical(store, query.terms, query.where, query.depth)]
        if query.period is not None:
            runs.append(_lexical(store, query.terms, _within(store, query), query.depth))
        return [row for rows in await asyncio.gather(*runs) for row in rows]

    async def vector_leg() -> tuple[list[dict[str, Any]], bool]:
        if "vector" not in query.legs:
            return [], False
        # Counting the rows the filter keeps (only when an ANN index exists) overlaps the
        # query's embedding.
        vectors, ann = await asyncio.gather(
            encoder.embed([query.text]), store.ann_worthwhile(query.where)
        )
        if vectors is None:
            return [], False
        wheres = [query.where] + ([_within(store, query)] if query.period is not None else [])
        runs = [
            store.vector_search(vectors[0], where, query.depth, columns=COLUMNS, exact=not ann,
                                scopes=query.scopes, passage_margin=PASSAGE_MARGIN)
            for where in wheres
        ]
        return [row for rows in await asyncio.gather(*runs) for row in rows], True

    lexical, (vector, vectors_ran) = await asyncio.gather(lexical_leg(), vector_leg())
    ran_lexical = "lexical" in query.legs
    mode = "hybrid" if vectors_ran and ran_lexical else ("vector" if vectors_ran else "lexical")
    return Legs(lexical, vector, mode)


async def _lexical(store: Store, text: str, where: Predicate, depth: int) -> list[dict[str, Any]]:
    """BM25 for the query and its split identifiers; a word none of the matches contains (a typo,
    or a word the memories spell differently) is retried with one edit, at a discount."""
    terms = search_text(text)  # `getUserName` also asks for get, user, name; paths their file
    exact = await store.lexical_search(terms, where, depth, columns=LEXICAL_COLUMNS)
    matched = "\n".join(row.get("search_text") or "" for row in exact).lower()
    missing = [
        w
        for w in dict.fromkeys(_WORD.findall(text.lower()))
        # A word the best matches contain in another form was matched by BM25's stemming.
        if len(w) >= 4 and w not in STOP_WORDS and not _contains_stem(stem(w), matched)
    ]
    if not missing:
        return exact
    fuzzy = await store.lexical_search(
        " ".join(missing), where, FUZZY_DEPTH, fuzziness=1, columns=LEXICAL_COLUMNS
    )
    top = max((float(r.get("_score") or 0.0) for r in exact), default=0.0)
    known = {r["id"]: r for r in exact}
    for row in fuzzy:
        # Discounted, and never above the best exact match: the exact spelling still wins.
        score = float(row.get("_score") or 0.0) * FUZZY_DISCOUNT
        if top:
            score = min(score, top * FUZZY_DISCOUNT)
        if row["id"] in known:
            known[row["id"]]["_score"] = float(known[row["id"]].get("_score") or 0.0) + score
        else:
            row["_score"] = score
            known[row["id"]] = row
    return sorted(known.values(), key=lambda r: -float(r.get("_score") or 0.0))[:depth]


def _contains_stem(target: str, text: str) -> bool:
    """Whether some word of `text` (lower case) has the stem `target`: only the words sharing
    its first letters (a stem keeps its word's head) are stemmed."""
    head = re.escape(target[:3])
    return any(stem(w) == target for w in re.findall(rf"(?<![a-z0-9]){head}[a-z0-9]*", text))


def _within(store: Store, query: RecallQuery) -> Predicate:
    """The query's filter, narrowed to the period it names."""
    assert query.period is not None
    m = store.where.memories
    return query.where & m.ge("created_at", query.period.start) & m.lt(
        "created_at", query.period.end
    )
