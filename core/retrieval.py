"""The search behind `recall`, and what a memory carries into the indexes when it is written.

Search (`search`): the query's time expression is parsed (`timeparse`); the lexical leg (BM25
over `search_text`) and the vector leg (cosine over the embedded text) run concurrently with the
query's embedding; when the query names a period, both legs run a second time restricted to it,
so memories of that period are candidates even when the words match better elsewhere. The legs
are fused by `ranking.fuse` (normalised scores, priors, time boost, de-duplication).

Writing (`index_rows`): each new row's `search_text` gets its short metadata values (such as
the speaker) and, for an episode written in a session, a window of its neighbours — the previous
and the next episode of the same scope and session, each as "speaker: text". Episodes are
retrieved with their temporal neighbours: a turn that answers a question is found through the
question's words. The window of the last stored episode of that session is extended with the
first new one, so single writes build the same windows as batches.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .ranking import DEFAULT_WEIGHTS, Candidate, Weights, fuse
from .text import context_line, metadata_dict, search_text, stem
from .timeparse import parse_time, strip_time

if TYPE_CHECKING:
    from habitus.store import Predicate

    from .service import MemoryService

__all__ = ["LEGS", "search", "index_rows"]

log = logging.getLogger("habitus.core.retrieval")

LEGS = ("lexical", "vector")
# Matches that need a one-letter correction count this much of their BM25 score.
FUZZY_DISCOUNT = 0.5
# Candidates read from the typo-tolerant query.
FUZZY_DEPTH = 20
_WORD = re.compile(r"[a-z0-9]+")
_COMMON = frozenset(
    [
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "were",
        "was",
        "been",
        "being",
        "with",
        "from",
        "into",
        "about",
        "that",
        "this",
        "these",
        "those",
        "there",
        "their",
        "they",
        "them",
        "then",
        "than",
        "your",
        "yours",
        "will",
        "would",
        "could",
        "should",
        "shall",
        "might",
        "must",
        "also",
        "just",
        "like",
        "some",
        "more",
        "most",
        "other",
    ]
)
# Neighbours on each side that an episode carries in its search text.
WINDOW = 1
# What each leg reads of a hit: what ranking (`ranking.fuse`, `decay.rank_factor`, the
# near-copy check), history and `MemoryService._hit` use. Not `search_text`, `derived_from`
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


async def search(
    service: MemoryService,
    query: str,
    where: Predicate,
    depth: int,
    legs: Sequence[str] | None = None,
    *,
    weights: Weights | None = None,
    now: datetime | None = None,
    branch: str = "",
) -> tuple[list[Candidate], str]:
    """Run the legs and fuse them: ranked candidates, and which legs ran (`branch`: the
    caller's git branch, preferred in the ranking)."""
    weights = weights or getattr(service, "weights", None) or DEFAULT_WEIGHTS
    use = set(legs or LEGS)
    unknown = use - set(LEGS)
    if unknown:
        from .errors import InvalidInput

        raise InvalidInput(f"unknown search leg {sorted(unknown)[0]!r}; use {', '.join(LEGS)}")
    now = now or datetime.now(UTC)
    period = parse_time(query, now)
    text = strip_time(query, period)
    store = service.store
    started = time.perf_counter()

    async def lexical_leg() -> list[dict[str, Any]]:
        if "lexical" not in use:
            return []
        runs = [_lexical(store, text, where, depth)]
        if period is not None:
            runs.append(_lexical(store, text, where & _within(store, period), depth))
        return [row for rows in await asyncio.gather(*runs) for row in rows]

    async def vector_leg() -> tuple[list[dict[str, Any]], bool]:
        if "vector" not in use:
            return [], False
        # Counting the rows the filter keeps (only when an ANN index exists) overlaps the
        # query's embedding.
        vectors, ann = await asyncio.gather(service._embed([query]), store.ann_worthwhile(where))
        if vectors is None:
            return [], False
        runs = [store.vector_search(vectors[0], where, depth, columns=COLUMNS, exact=not ann)]
        if period is not None:
            within = where & _within(store, period)
            runs.append(
                store.vector_search(vectors[0], within, depth, columns=COLUMNS, exact=not ann)
            )
        return [row for rows in await asyncio.gather(*runs) for row in rows], True

    lexical, (vector, vectors_ran) = await asyncio.gather(lexical_leg(), vector_leg())
    ranked = fuse(lexical, vector, now=now, weights=weights, period=period, query=text,
                  branch=branch)
    log.debug(
        "search %r: %d lexical, %d vector, %d fused in %.1f ms",
        query,
        len(lexical),
        len(vector),
        len(ranked),
        1000 * (time.perf_counter() - started),
    )
    ran_lexical = "lexical" in use
    mode = "hybrid" if vectors_ran and ran_lexical else ("vector" if vectors_ran else "lexical")
    return ranked, mode


async def _lexical(store: Any, text: str, where: Predicate, depth: int) -> list[dict[str, Any]]:
    """BM25 for the query and its split identifiers; a word none of the matches contains (a typo,
    or a word the memories spell differently) is retried with one edit, at a discount."""
    terms = search_text(text)  # `getUserName` also asks for get, user, name; paths their file
    exact = await store.lexical_search(terms, where, depth, columns=LEXICAL_COLUMNS)
    words = {
        word
        for row in exact
        for word in _WORD.findall((row.get("search_text") or "").lower())
    }
    seen = {word[:n] for word in words for n in range(4, len(word) + 1)}
    missing = [
        w
        for w in dict.fromkeys(_WORD.findall(text.lower()))
        # A word the best matches contain in another form was matched by BM25's stemming.
        if len(w) >= 4 and stem(w) not in seen and w not in _COMMON
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


def _within(store: Any, period: Any) -> Predicate:
    m = store.m
    return m.ge("created_at", period.start) & m.lt("created_at", period.end)


# --- writing ------------------------------------------------------------------------------


async def index_rows(service: MemoryService, rows: list[dict[str, Any]]) -> None:
    """Fill each new row's `search_text`, with neighbour windows for episodes of a session."""
    lines = [context_line(r["content"], metadata_dict(r.get("metadata"))) for r in rows]
    context: list[list[str]] = [[] for _ in rows]
    sessions: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if r.get("kind") == "episodic" and r.get("session"):
            sessions.setdefault((r["scope"], r["session"]), []).append(i)
    for (scope, session), members in sessions.items():
        members.sort(key=lambda i: rows[i]["created_at"])
        for pos, i in enumerate(members):
            before = members[max(0, pos - WINDOW) : pos]
            after = members[pos + 1 : pos + 1 + WINDOW]
            context[i] = [lines[j] for j in before] + [lines[j] for j in after]
        try:
            await _link_to_stored(
                service, scope, session, rows[members[0]], lines[members[0]], context[members[0]]
            )
        except Exception:  # the window is an aid to search; never fail a write for it
            log.warning("could not extend the previous episode's window", exc_info=True)
    for i, r in enumerate(rows):
        r["search_text"] = search_text(
            r["content"], r.get("tags") or [], metadata_dict(r.get("metadata")), context[i]
        )
    _schedule_vector_index(service.store)


_index_checks: dict[int, float] = {}
_index_tasks: set[asyncio.Task[Any]] = set()
# Seconds between two checks of whether the store has grown enough for an ANN index.
INDEX_CHECK_EVERY = 60.0


def _schedule_vector_index(store: Any) -> None:
    """Now and then, in the background, build the ANN index once the store is large enough."""
    if getattr(store, "_vector_index", True) or not hasattr(store, "maybe_index_vectors"):
        return
    now = time.monotonic()
    if now - _index_checks.get(id(store), -INDEX_CHECK_EVERY) < INDEX_CHECK_EVERY:
        return
    _index_checks[id(store)] = now

    async def run() -> None:
        try:
            await store.maybe_index_vectors()
        except Exception:
            log.warning("could not build the vector index", exc_info=True)

    task = asyncio.get_running_loop().create_task(run())
    _index_tasks.add(task)
    task.add_done_callback(_index_tasks.discard)


async def _link_to_stored(
    service: MemoryService,
    scope: str,
    session: str,
    first: dict[str, Any],
    line: str,
    window: list[str],
) -> None:
    """Join a batch to the episodes already stored for its session (the one just before it)."""
    store = service.store
    m = store.m
    where = (
        m.is_null("deleted_at")
        & m.eq("scope", scope)
        & m.eq("session", session)
        & m.eq("kind", "episodic")
        & m.lt("created_at", first["created_at"])
    )
    rows = await store.scan(
        where, columns=["id", "content", "metadata", "created_at", "search_text"]
    )
    if not rows:
        return
    previous = max(rows, key=lambda r: r["created_at"])
    window.insert(0, context_line(previous["content"], metadata_dict(previous["metadata"])))
    text = previous["search_text"] or ""
    if line not in text:
        await store.update_memories(m.eq("id", previous["id"]), {"search_text": f"{text}\n{line}"})
