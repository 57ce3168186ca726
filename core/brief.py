"""A project's lasting knowledge compiled into the instruction files assistants already read
(`AGENTS.md`, `CLAUDE.md`, `.cursor/rules/*.mdc`, `.github/copilot-instructions.md`).

Assistants read those files at the start of every session without calling a tool, so a brief of
the project's strongest conventions, decisions and facts there informs even a session that never
calls `recall`. The brief sits between two markers: the rest of the file stays the user's, and a
rerun replaces only the brief. It depends on nothing but the memories (no timestamp), so when
they have not changed neither does the file, and a team's diff shows only what was learnt.
What goes in: current (not superseded, not forgotten) memories of one scope and of the kinds
asked for, whose code anchors still hold, strongest first (importance, use and the forgetting
curve), grouped by their first tag, within a token budget; where two branches hold different
values of a fact, the caller's branch's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from habitus.base.errors import InvalidInput
from habitus.core import decay
from habitus.core.browse import SHOWN
from habitus.core.meta import branch_of, meta_of
from habitus.core.models import CallContext
from habitus.core.project.anchors import check_anchor
from habitus.core.project.scope import validate_scope
from habitus.core.recall.access import with_uses
from habitus.core.text.tokens import count_many, count_tokens
from habitus.core.trust.policy import verdict_of
from habitus.core.validation import check_kinds

if TYPE_CHECKING:
    from habitus.store import Store

__all__ = [
    "Brief", "Standing", "standing", "is_stale", "build_brief", "merge_brief", "BEGIN", "END",
]

BEGIN = "<!-- habitus:begin (written by `habitus compile`; edits inside are replaced) -->"
END = "<!-- habitus:end -->"
DEFAULT_BUDGET = 1500
MAX_BUDGET = 20_000
LINE_CHARS = 400  # a memory longer than this is cut, with an ellipsis
UNTAGGED = "general"
CURSOR_RULE = "---\ndescription: Project memory compiled by habitus\nalwaysApply: true\n---\n\n"
_BEGIN = re.compile(r"<!-- habitus:begin\b.*?-->", re.S)


class Brief(BaseModel):
    """The compiled block and what went into it."""

    scope: str
    text: str = Field(description="The block, markers included.")
    ids: list[str] = Field(description="The memories in it, in order.")
    tokens: int
    omitted: int = Field(description="Memories left out by the token budget.")
    stale: int = Field(description="Memories left out because their code anchor changed.")
    held: int = Field(0, description="Memories held out until a person confirms them: written "
                      "by an assistant or captured from tools, or suspicious.")


def _score(row: dict[str, Any], now: datetime) -> float:
    importance = float(row["importance"] if row["importance"] is not None else 0.5)
    uses = int(row["access_count"] or 0)
    return (0.5 + importance) * (0.5 + decay.strength(row, now)) * (1.0 + math.log1p(uses))


def _inert(text: str) -> str:
    """`text` unable to open or close an HTML comment, so no memory can end the block (or hide
    text in the file): `<!--` and `-->` are written as entities, which Markdown shows as is."""
    return text.replace("<!--", "&lt;!--").replace("-->", "--&gt;")


def _line(content: str) -> str:
    text = " ".join(content.split())
    text = text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1].rstrip() + "…"
    return _inert(text)


def is_stale(row: dict[str, Any], workdir: str | None) -> bool:
    """Whether a code anchor of the memory no longer holds in `workdir`."""
    anchors = meta_of(row)[1].get("anchors") or []
    return any(check_anchor(a, workdir) for a in anchors if isinstance(a, dict))


async def _overruled(
    store: Store, rows: list[dict[str, Any]], branch: str
) -> set[str]:
    """Memories written on another branch that contradict one written on `branch`: a branch's
    brief states its own value of a fact."""
    if not branch:
        return set()
    written = {r["id"]: branch_of(r) for r in rows}
    edges = await store.find_links(store.where.links.eq("relation", "contradicts"), limit=100_000)
    out: set[str] = set()
    for edge in edges:
        ends = (edge["source"], edge["target"])
        if all(end in written for end in ends):
            for mine, other in (ends, ends[::-1]):
                if written[mine] == branch and written[other] != branch:
                    out.add(other)
    return out


@dataclass
class Standing:
    """What a project holds as current: memories strongest first, and how many were left out."""

    rows: list[dict[str, Any]]
    stale: int  # left out: their code anchor changed, or another branch's value of a fact


async def standing(
    store: Store, scope_id: str, kinds: list[str], ctx: CallContext,
    keep: Callable[[dict[str, Any]], bool] = lambda row: True,
) -> Standing:
    """Current memories of `scope_id` and `kinds` that `keep` accepts, whose anchors hold in
    `ctx.workdir` and that no memory of `ctx.branch` contradicts, strongest first."""
    m = store.where.memories
    rows = await store.scan(
        m.is_null("deleted_at") & m.is_null("valid_until") & m.eq("scope", scope_id)
        & m.isin("kind", kinds), columns=SHOWN,
    )
    now = datetime.now(UTC)
    overruled = await _overruled(store, rows, ctx.branch)
    rows = await with_uses(store, [r for r in rows if keep(r)])
    workdir = ctx.workdir or None
    fresh = [r for r in rows if not is_stale(r, workdir) and r["id"] not in overruled]
    fresh.sort(key=lambda r: (-_score(r, now), r["id"]))
    return Standing(fresh, len(rows) - len(fresh))


async def build_brief(
    store: Store,
    *,
    scope: str | None = None,
    kinds: tuple[str, ...] = ("semantic",),
    budget: int = DEFAULT_BUDGET,
    ctx: CallContext | None = None,
) -> Brief:
    """The brief of `scope` (default: the project's), within `budget` tokens."""
    ctx = ctx or CallContext()
    scope_id = validate_scope(scope) if scope else ctx.project_scope
    if not 100 <= budget <= MAX_BUDGET:
        raise InvalidInput(f"budget must be between 100 and {MAX_BUDGET} tokens")
    wanted = check_kinds(kinds) or ["semantic"]
    held = 0

    def keep(row: dict[str, Any]) -> bool:
        nonlocal held
        ok = verdict_of(row).own
        held += not ok
        return ok

    found = await standing(store, scope_id, wanted, ctx, keep)
    fresh = found.rows
    lines = [_line(r["content"]) for r in fresh]
    heading = (f"## Project memory\n\nWhat habitus remembers for `{_inert(scope_id)}`, strongest "
               "first: only memories a person wrote or confirmed. Recall more with the `recall` "
               "tool.\n")
    used = count_tokens(f"{BEGIN}\n{heading}\n{END}")
    kept: list[int] = []
    for i, tokens in enumerate(count_many([f"- {line}" for line in lines])):
        if used + tokens + 4 > budget:  # 4: a group heading's share
            continue
        kept.append(i)
        used += tokens + 4
    groups: dict[str, list[int]] = {}
    for i in kept:
        tags = fresh[i]["tags"] or []
        groups.setdefault(tags[0] if tags else UNTAGGED, []).append(i)
    body = [f"### {_inert(' '.join(name.split()))}\n" + "\n".join(f"- {lines[i]}" for i in members)
            for name, members in groups.items()]
    if not body:
        body = ["No lasting memories for this project yet."]
    text = "\n".join([BEGIN, heading, "\n\n".join(body), END])
    return Brief(
        scope=scope_id, text=text, ids=[fresh[i]["id"] for g in groups.values() for i in g],
        tokens=count_tokens(text), omitted=len(fresh) - len(kept), stale=found.stale,
        held=held,
    )


def merge_brief(existing: str | None, block: str, *, cursor_rule: bool = False) -> str:
    """`existing` file text with its brief replaced by `block` (added at the end when it has
    none); a new Cursor rule file starts with the front matter that applies it always. The old
    brief runs from its begin marker to the last end marker before any other brief, so copies
    an older version let escape past its end are replaced with it."""
    if existing is None or not existing.strip():
        return (CURSOR_RULE if cursor_rule else "") + block + "\n"
    begin = _BEGIN.search(existing)
    if begin:
        after = _BEGIN.search(existing, begin.end())
        end = existing.rfind(END, begin.end(), after.start() if after else len(existing))
        if end != -1:
            return existing[:begin.start()] + block + existing[end + len(END):]
    return existing.rstrip("\n") + "\n\n" + block + "\n"
