"""Finding the right procedure for a new task (Memp's "retrieve" step), on top of recall.

Recall ranks procedures by their whole text (task, key facts, workflow, steps), so a procedure
whose steps happen to share words with the query can outrank one that does the same *task*.
Memp retrieves by similarity of the new task to the stored task and by the task's key facts; the
built-in plugin's `rerank_recall` does both on recall's candidates:

- **task similarity**: the cosine between the query and the procedure's task description (its
  task and what its type means, see `TYPE_DESCRIPTIONS`), with the embedder recall uses;
- **recall's own score** (normalised by the best), with a smaller weight;
- **key terms**: the share of the query's terms (weighted by how rare they are among the
  candidates) found in the task description. Run-together names count as their words and as a
  whole (`desk lamp` matches `desklamp` fully, `phone` matches `cellphone` half), and the place a
  task acts on (the words after in/on/into/onto/to) weighs more, since it decides the procedure
  more than the object does ("put X in the drawer" is done like any other put-in-drawer task).

Nothing here knows a domain: the task types' words come from the distiller, and a query with no
term in any description falls back to task similarity and recall's order.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from habitus.plugins.procedural.distill import TYPE_DESCRIPTIONS
from habitus.plugins.procedural.words import split_compound

__all__ = ["task_description", "key_terms", "query_terms", "rerank_procedures"]

# How much each signal weighs. Recall's score (whole text: key facts, workflow, steps) keeps a
# say: a coding task's query often names *how* ("an affine cipher"), which only the steps hold.
TASK_WEIGHT = 1.0
KEY_WEIGHT = 1.0
RECALL_WEIGHT = 0.3
PLACE_WEIGHT = 1.5  # a term naming where the task acts (after in/on/into/onto/to)
PIECE_MATCH = 0.5  # a query word that is one piece of a run-together name
_STOP_WORDS = (
    "a an the some any it its them this that these those and or then while to in on into onto "
    "of with for from at by is are be do does i me my we our you your please"
)
_STOP = frozenset(_STOP_WORDS.split())
_PLACE = frozenset({"in", "on", "into", "onto", "to"})
_WORD = re.compile(r"[a-z0-9]+")
_CACHE_SIZE = 4096
_vectors: OrderedDict[str, Any] = OrderedDict()

Embed = Callable[[Sequence[str]], Awaitable[Any]]


def task_description(procedure: dict[str, Any]) -> str:
    """A stored procedure's task and what its type means: what task similarity compares."""
    task = str(procedure.get("task") or "")
    described = TYPE_DESCRIPTIONS.get(str(procedure.get("task_type") or ""))
    return f"{task} ({described})" if described else task


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def key_terms(text: str) -> dict[str, float]:
    """The terms of a task description and how fully each is there: words and run-together
    names 1, the pieces of a run-together name `PIECE_MATCH`."""
    terms: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        terms[_stem(word)] = 1.0
        pieces = split_compound(word)
        if len(pieces) > 1:
            for piece in pieces:
                terms.setdefault(_stem(piece), PIECE_MATCH)
    return terms


def query_terms(query: str, known: set[str] | frozenset[str] = frozenset()) -> dict[str, float]:
    """The query's terms with their weights: words written apart that form a known run-together
    name (`desk lamp` → `desklamp`) are one term; the terms right after in/on/into/onto/to name
    the place the task acts on and weigh `PLACE_WEIGHT`."""
    words = _WORD.findall(query.lower())
    terms: dict[str, float] = {}
    place = False
    place_left = 0
    i = 0
    while i < len(words):
        word = words[i]
        if word in _PLACE:
            place, place_left = True, 2
            i += 1
            continue
        if word in _STOP:
            i += 1
            continue
        term, width = _stem(word), 1
        for n in (3, 2):
            joined = "".join(words[i : i + n])
            if i + n <= len(words) and joined in known:
                term, width = joined, n
                break
        weight = PLACE_WEIGHT if place and place_left > 0 else 1.0
        terms[term] = max(terms.get(term, 0.0), weight)
        place_left -= 1
        if place_left <= 0:
            place = False
        i += width
    return terms


async def _task_vectors(texts: list[str], embed: Embed | None) -> list[Any] | None:
    """Vectors of the task descriptions, cached by text (procedures come back query after
    query); None without an embedder."""
    if embed is None:
        return None
    missing = list(dict.fromkeys(t for t in texts if t not in _vectors))
    if missing:
        try:
            vectors = await embed(missing)
        except Exception:  # no service bound, the embedder failed: key terms still work
            return None
        if vectors is None:
            return None
        for text, vector in zip(missing, vectors, strict=True):
            _vectors[text] = vector
            if len(_vectors) > _CACHE_SIZE:
                _vectors.popitem(last=False)
    found = []
    for text in texts:
        _vectors.move_to_end(text)
        found.append(_vectors[text])
    return found


async def rerank_procedures(query: str, hits: list[Any], embed: Embed | None = None) -> list[Any]:
    """`hits` (recall hits of procedural memories, best first) reordered by task similarity and
    key terms, recall's score breaking ties. A hit without a stored procedure is judged by the
    start of its text."""
    if len(hits) < 2:
        return hits
    procedures = [(h.metadata or {}).get("procedure") or {} for h in hits]
    descriptions = [
        task_description(p) if isinstance(p, dict) and p.get("task") else h.content[:300]
        for p, h in zip(procedures, hits, strict=True)
    ]
    terms = [key_terms(d) for d in descriptions]
    known = {t for ts in terms for t, full in ts.items() if full == 1.0}
    wanted = query_terms(query, known)
    n = len(hits)
    weights = {}
    for term, weight in wanted.items():
        df = sum(1 for ts in terms if term in ts)
        weights[term] = weight * math.log(1 + (n - df + 0.5) / (df + 0.5))
    total = sum(weights.values()) or 1.0
    cosines: list[float] = [0.0] * n
    vectors = await _task_vectors([query, *descriptions], embed)
    if vectors is not None:
        q = vectors[0]
        cosines = [float(q @ v) for v in vectors[1:]]
    top = max((h.score for h in hits), default=0.0) or 1.0
    scored = []
    for i, hit in enumerate(hits):
        key = sum(w * terms[i].get(t, 0.0) for t, w in weights.items()) / total
        score = TASK_WEIGHT * cosines[i] + KEY_WEIGHT * key + RECALL_WEIGHT * hit.score / top
        scored.append((score, -i, hit))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return [hit for _, _, hit in scored]
