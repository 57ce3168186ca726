"""Finding the right procedure for a new task (Memp's "retrieve" step), on top of recall.

Recall ranks procedures by their whole text (task, key facts, workflow, steps), so a procedure
whose steps happen to share words with the query can outrank one that does the same *task*.
Memp retrieves by similarity of the new task to the stored task and by the task's key facts; the
built-in plugin's `rerank_recall` does both on recall's candidates:

- **task similarity**: the cosine between the query and the procedure's task description (its
  task and what its type means, see `TYPE_DESCRIPTIONS`), with the embedder recall uses;
- **recall's own score** (normalised by the best), with a smaller weight;
- **key terms**: the share of the query's terms (weighted by how rare they are among the
  candidates) that the procedure has. Run-together names count as their words and as a whole
  (`desk lamp` matches `desklamp` fully, `phone` matches `cellphone` half). The place a task
  acts on (the words after in/on/into/onto/to) weighs more, since it decides the procedure more
  than the object does ("put X in the drawer" is done like any other put-in-drawer task), and
  it is matched by role: fully by the procedure's `destination`, partly by the other `places`
  its trajectory searched, opened or used (a task that cleans at the sink basin has been to the
  sink), not by a word of the task that names something else (the `desk` of `desklamp`). A
  procedure without these roles (an older one, a coding one) matches it in its description.
  Terms that tell the candidates' task types apart (in the descriptions of some of their types,
  not most: `clean`, `chill`, `fix`) weigh more as well: what is done to the object decides the
  procedure more than which object it is ("chill an apple" is done like "cool a tomato").

Nothing here knows a domain: the task types' words and the roles come from the distiller, and a
query with no term in any description falls back to task similarity and recall's order.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from habitus.core.text.words import STOP_WORDS, stem
from habitus.plugins.procedural.distill import TYPE_DESCRIPTIONS
from habitus.plugins.procedural.words import split_compound

__all__ = ["task_description", "key_terms", "query_terms", "rerank_procedures"]

# How much each signal weighs. Recall's score (whole text: key facts, workflow, steps) keeps a
# say: a coding task's query often names *how* ("an affine cipher"), which only the steps hold.
TASK_WEIGHT = 1.0
KEY_WEIGHT = 1.0
RECALL_WEIGHT = 0.15
PLACE_WEIGHT = 4.0  # a term naming where the task acts (after in/on/into/onto/to)
PIECE_MATCH = 0.5  # a query word that is one piece of a run-together name
PLACE_SEEN = 0.5  # a place term among the places searched, opened or used, not the destination
TYPE_TERM_WEIGHT = 3.0  # a term naming the kind of task (in some task types' descriptions only)
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


def key_terms(text: str) -> dict[str, float]:
    """The terms of a task description and how fully each is there: words and run-together
    names 1, the pieces of a run-together name `PIECE_MATCH`."""
    terms: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        terms[stem(word)] = 1.0
        pieces = split_compound(word)
        if len(pieces) > 1:
            for piece in pieces:
                terms.setdefault(stem(piece), PIECE_MATCH)
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
        if word in STOP_WORDS:
            i += 1
            continue
        term, width = stem(word), 1
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


def _type_terms(procedures: list[dict[str, Any]]) -> set[str]:
    """The terms that tell the candidates' task types apart: in the descriptions of some of
    their types but of fewer than half (`clean`, `chill`, `fix`; not `put` or `object`)."""
    types = {str(p.get("task_type") or "") for p in procedures} & TYPE_DESCRIPTIONS.keys()
    counts: dict[str, int] = {}
    for kind in types:
        for term, full in key_terms(TYPE_DESCRIPTIONS[kind]).items():
            if full == 1.0:
                counts[term] = counts.get(term, 0) + 1
    return {term for term, count in counts.items() if 2 * count < len(types)}


def _roles(procedure: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]] | None:
    """The key terms of a procedure's destination and of the other places its trajectory
    searched, opened or used; None when the distiller recorded neither."""
    destination = str(procedure.get("destination") or "")
    places = [str(p) for p in procedure.get("places") or []]
    if not destination and not places:
        return None
    return key_terms(destination), key_terms(" ".join(places))


def _match(term: str, place: bool, description: dict[str, float],
           roles: tuple[dict[str, float], dict[str, float]] | None) -> float:
    """How fully a procedure has a query term: a place term by role when the procedure has
    roles, any other term (and a place term otherwise) in its description."""
    if not place or roles is None:
        return description.get(term, 0.0)
    destination, places = roles
    return max(destination.get(term, 0.0), PLACE_SEEN * places.get(term, 0.0))


async def rerank_procedures(query: str, hits: list[Any], embed: Embed | None = None) -> list[Any]:
    """`hits` (recall hits of procedural memories, best first) reordered by task similarity and
    key terms, recall's score breaking ties. A hit without a stored procedure is judged by the
    start of its text."""
    if len(hits) < 2:
        return hits
    procedures = [(h.metadata or {}).get("procedure") or {} for h in hits]
    procedures = [p if isinstance(p, dict) else {} for p in procedures]
    descriptions = [
        task_description(p) if p.get("task") else h.content[:300]
        for p, h in zip(procedures, hits, strict=True)
    ]
    terms = [key_terms(d) for d in descriptions]
    roles = [_roles(p) for p in procedures]
    known = {t for ts in terms for t, full in ts.items() if full == 1.0}
    known |= {t for r in roles if r for ts in r for t, full in ts.items() if full == 1.0}
    wanted = query_terms(query, known)
    kinds = _type_terms(procedures)
    n = len(hits)
    weights: dict[str, float] = {}
    matches: dict[str, list[float]] = {}
    for term, weight in wanted.items():
        place = weight == PLACE_WEIGHT  # `query_terms` gives a place term that weight
        matches[term] = [_match(term, place, terms[i], roles[i]) for i in range(n)]
        df = sum(1 for m in matches[term] if m > 0)
        if not place and term in kinds:
            weight *= TYPE_TERM_WEIGHT
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
        key = sum(w * matches[t][i] for t, w in weights.items()) / total
        score = TASK_WEIGHT * cosines[i] + KEY_WEIGHT * key + RECALL_WEIGHT * hit.score / top
        scored.append((score, -i, hit))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return [hit for _, _, hit in scored]
