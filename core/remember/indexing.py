"""Remember, write stage: what a new memory carries into the indexes.

Each new row's `search_text` gets its short metadata values (such as the speaker) and, for an
episode written in a session, a window of its neighbours — the previous and the next episode of
the same scope and session, each as "speaker: text". Episodes are retrieved with their temporal
neighbours: a turn that answers a question is found through the question's words. The window of
the last stored episode of that session is extended with the first new one, so single writes
build the same windows as batches. Once the store is large enough, an ANN index is built in the
background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from habitus.core.text.terms import context_line, metadata_dict, search_text

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = ["index_rows"]

log = logging.getLogger("habitus.core")

# Neighbours on each side that an episode carries in its search text.
WINDOW = 1


async def index_rows(store: Store, rows: list[dict[str, Any]]) -> None:
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
                store, scope, session, rows[members[0]], lines[members[0]], context[members[0]]
            )
        except Exception:  # the window is an aid to search; never fail a write for it
            log.warning("could not extend the previous episode's window", exc_info=True)
    for i, r in enumerate(rows):
        r["search_text"] = search_text(
            r["content"], r.get("tags") or [], metadata_dict(r.get("metadata")), context[i]
        )
    _schedule_vector_index(store)


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
    store: Store,
    scope: str,
    session: str,
    first: dict[str, Any],
    line: str,
    window: list[str],
) -> None:
    """Join a batch to the episodes already stored for its session (the one just before it)."""
    m = store.where.memories
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
