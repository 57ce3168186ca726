"""Reflection tiers and consolidation: who drafts, what is proposed, what is written.

`reflect` gathers evidence (near-duplicates, a topic, recent episodes, stale memories), then
drafts consolidated memories with the best helper available, in this order:

1. ``sampling`` — the client's own model, through MCP sampling (the server passes its draft in);
2. ``model`` — a configured OpenAI-compatible endpoint (`reflection.llm`, `HABITUS_LLM_*`);
3. ``assistant`` — nobody: the evidence bundle goes back to the calling assistant, which writes
   the conclusions itself with remember(derived_from=…);
4. ``rule-based`` — with `consolidate`, when no model drafted anything usable: LLM-free merges of
   near-duplicates (every distinct sentence kept) and dated summaries of related episodes.

With `consolidate`, each drafted memory becomes a `ConsolidationAction` whose `sources` are the
ids it derives from; unless `dry_run`, it is written with remember(derived_from=sources), so a
`derived_from` link joins it to every source. Sources are never deleted, archived or superseded.
Distillation depth is bounded (`dedup.MAX_GENERATION`): memory distilled from distilled memory
degrades (self-consuming collapse), so such actions are skipped with the reason, and memories
already consolidated are not consolidated again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from habitus.base.errors import HabitusError
from habitus.core.history.journal import operation
from habitus.core.meta import meta_of
from habitus.core.models import CallContext, ConsolidationAction, ReflectBundle, RememberResult
from habitus.core.reflection.llm import ChatModel
from habitus.core.remember.dedup import MAX_GENERATION
from habitus.core.validation import LIMITS

if TYPE_CHECKING:
    from habitus.store import Store

# The service's `remember`, which consolidations are written with.
RememberFn = Callable[..., Awaitable[RememberResult]]

__all__ = [
    "run",
    "draft_prompt",
    "parse_draft",
    "rule_based",
    "merge_text",
    "split_sentences",
    "DRAFT_SYSTEM",
    "RELATED_EPISODES",
]

log = logging.getLogger("habitus.core")

# Mean cosine similarity to a cluster's members above which an episode joins it.
RELATED_EPISODES = 0.5
# Characters of each memory shown to a model, and of the evidence in all.
PROMPT_MEMORY_CHARS = 2_000
PROMPT_EVIDENCE_CHARS = 60_000
KEY_LINE_CHARS = 200
MAX_DRAFT_TOKENS = 1_200

DRAFT_SYSTEM = "You consolidate an engineering assistant's long-term memory."

_DRAFT_FORMAT = """\
Write the consolidated memories. Rules:
- One memory per line, in the form: - <memory> [from: <id>, <id>]
- Each memory is self-contained (a fact, decision, convention, lesson or procedure) and keeps
  every distinct detail of its sources (numbers, names, paths, reasons).
- Cite only ids from the evidence; a line without ids is ignored.
- Write only what the evidence supports; if sources contradict each other, say so.
- Write nothing else: no preamble, no headings."""


# --- the tiers -----------------------------------------------------------------------------


async def run(
    store: Store,
    remember: RememberFn,
    bundle: ReflectBundle,
    *,
    llm: ChatModel | None,
    llm_error: str | None,
    draft: str | None,
    use_model: bool,
    consolidate: bool,
    dry_run: bool,
    ctx: CallContext,
) -> ReflectBundle:
    """Fill `bundle.draft`, `mode` and (with `consolidate`) `actions`; apply unless `dry_run`."""
    bundle.dry_run = dry_run or not consolidate
    if use_model and llm is None and llm_error:
        bundle.warnings.append(f"configured model ignored: {llm_error}")
    if draft and draft.strip():
        bundle.draft, bundle.mode = draft.strip(), "sampling"
    elif use_model and llm is not None and bundle.groups:
        try:
            bundle.draft = await llm.complete(
                draft_prompt(bundle), system=DRAFT_SYSTEM, max_tokens=MAX_DRAFT_TOKENS
            )
            bundle.mode = "model"
        except HabitusError as exc:
            log.warning("configured model unavailable for reflect: %s", exc)
            bundle.warnings.append(
                f"configured model unavailable ({exc}); "
                + ("used rule-based consolidation instead" if consolidate
                   else "the evidence is returned for you to consolidate")
            )
    if not consolidate:
        if bundle.mode not in ("sampling", "model"):
            bundle.mode = "assistant"
        return bundle

    actions: list[ConsolidationAction] = []
    if bundle.draft:
        actions = parse_draft(bundle.draft, _known_ids(bundle))
        if not actions:
            bundle.warnings.append(
                f"the {bundle.mode} draft cited no memory id of the evidence; "
                "used rule-based consolidation instead"
            )
    if not actions:
        bundle.mode = "rule-based"
        actions = await rule_based(store, bundle)
    rows = await _rows(store, [i for a in actions for i in a.sources])
    for action in actions:
        _vet(action, rows)
    bundle.actions.extend(actions)
    if not dry_run:
        await _apply(remember, actions, rows, bundle.mode, ctx)
        written = [a.id for a in actions if a.id]
        bundle.instructions = (
            f"Applied: {len(written)} consolidation(s) written"
            + (f" ({', '.join(written)})" if written else "")
            + ", each linked derived_from to its sources; no source was deleted.\n\n"
            + bundle.instructions.replace("nothing has been changed yet", "nothing else changed")
        )
    elif actions:
        bundle.instructions = (
            f"Dry run: {sum(a.action != 'skip' for a in actions)} consolidation(s) planned, "
            "nothing written. Call again with dry_run=false (CLI: --apply) to write them "
            "(sources are kept and linked with derived_from).\n\n" + bundle.instructions
        )
    return bundle


def _known_ids(bundle: ReflectBundle) -> dict[str, str]:
    return {m.id.lower(): m.id for g in bundle.groups for m in g.memories}


async def _rows(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    wanted = list(dict.fromkeys(ids))
    rows: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        for row in await store.get_memories(wanted[start:start + 500]):
            rows[row["id"]] = row
    return rows


def generation(row: dict[str, Any]) -> int:
    """How many distillations separate this memory from raw experience (0 = raw)."""
    try:
        return int(meta_of(row)[1].get("generation", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _vet(action: ConsolidationAction, rows: dict[str, dict[str, Any]]) -> None:
    """Turn an action that must not be written into a skip, saying why."""
    if action.action == "skip":
        return
    gone = [i for i in action.sources if i not in rows or rows[i]["deleted_at"] is not None]
    if gone:
        action.action, action.reason = "skip", f"source {gone[0]} is no longer a live memory"
        return
    deepest = max(action.sources, key=lambda i: generation(rows[i]))
    depth = generation(rows[deepest])
    if depth + 1 > MAX_GENERATION:
        origins = list(dict.fromkeys(rows[deepest]["derived_from"] or []))
        action.action = "skip"
        action.reason = (
            f"refused: {deepest} is already distilled {depth} time(s) and the limit is "
            f"{MAX_GENERATION} (self-consuming collapse); consolidate from the memories it was "
            f"derived from instead ({', '.join(origins[:10]) or 'see its derived_from'})"
        )
        return
    same = [i for i in action.sources if _key(rows[i]["content"]) == _key(action.content)]
    if same:
        action.action = "skip"
        action.reason = (f"{same[0]} already says all of it: nothing new to write (forget the "
                         "other sources if they are redundant)")


async def _apply(
    remember: RememberFn,
    actions: list[ConsolidationAction],
    rows: dict[str, dict[str, Any]],
    tier: str,
    ctx: CallContext,
) -> None:
    """Write each planned consolidation as one undoable operation; never touch the sources."""
    with operation():
        for action in actions:
            if action.action == "skip":
                continue
            sources = [rows[i] for i in action.sources]
            scopes = {r["scope"] for r in sources}
            tags = list(dict.fromkeys(t for r in sources for t in (r["tags"] or [])))
            try:
                result = await remember(
                    action.content,
                    kind=action.kind,
                    tags=tags[: LIMITS["tags"]],
                    scope=scopes.pop() if len(scopes) == 1 else None,
                    importance=max(float(r["importance"] or 0) for r in sources),
                    derived_from=action.sources,
                    metadata={"habitus": {"consolidation": action.action, "reflected_by": tier}},
                    # Never absorbed into, nor superseding, the sources it consolidates.
                    dedup=False,
                    ctx=ctx.model_copy(update={"source": "consolidated"}),
                )
            except HabitusError as exc:
                action.action, action.reason = "skip", f"not written: {exc}"
                continue
            action.id = result.id
            if result.status == "reinforced":
                action.reason = (action.reason + "; " if action.reason else "") + (
                    "the same memory already existed and was reinforced")


# --- prompts and drafts --------------------------------------------------------------------


def draft_prompt(bundle: ReflectBundle) -> str:
    """The request a model answers to draft consolidations of `bundle`'s evidence."""
    evidence: list[dict[str, Any]] = []
    used = 0
    for group in bundle.groups:
        memories = []
        for m in group.memories:
            text = m.content[:PROMPT_MEMORY_CHARS]
            used += len(text)
            if used > PROMPT_EVIDENCE_CHARS:
                break
            memories.append({"id": m.id, "kind": m.kind, "date": f"{m.created_at:%Y-%m-%d}",
                             "content": text})
        if memories:
            evidence.append(
                {"reason": group.reason, "summary": group.summary, "memories": memories})
    return (
        f"{_DRAFT_FORMAT}\n\nWhat to consolidate:\n{bundle.instructions}\n\n"
        f"Evidence (JSON):\n{json.dumps(evidence, ensure_ascii=False)}"
    )


_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+")
_KIND = re.compile(r"^\s*[\[(]?\s*(semantic|procedural|episodic)\s*[\])]?\s*[:\-–—]?\s+", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{6,64}")
_BRACKET = re.compile(r"[\[(]([^\[\]()]*)[\])]")
_LABEL = re.compile(
    r"[\s,;:–—-]*(?:\b(?:derived[ _]from|from|ids?|sources?|based on)\b\s*:?)?[\s,;:–—-]*$",
    re.I,
)


def parse_draft(draft: str, known: dict[str, str]) -> list[ConsolidationAction]:
    """Consolidations in a model's draft, read leniently: one memory per line or bullet (or a
    JSON list of {content, ids}), each with the ids it cites; lines citing no known id are
    dropped. `known` maps lower-cased ids to ids."""
    items = _json_items(draft)
    if items is None:
        items = []
        for line in draft.splitlines():
            line = _BULLET.sub("", line).strip()
            cited = [known[t.lower()] for t in _TOKEN.findall(line) if t.lower() in known]
            if not cited:
                continue
            content = _BRACKET.sub(
                lambda m: "" if any(t.lower() in known for t in _TOKEN.findall(m.group(1)))
                else m.group(0), line)
            content = _TOKEN.sub(lambda m: "" if m.group(0).lower() in known else m.group(0),
                                 content)
            items.append((content, cited))
    actions: list[ConsolidationAction] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for content, cited in items:
        kind = "semantic"
        found = _KIND.match(content)
        if found:
            kind, content = found.group(1).lower(), content[found.end():]
        content = re.sub(r"\s{2,}", " ", _LABEL.sub("", content.strip())).strip(" \t-–—:;,*")
        sources = list(dict.fromkeys(cited))
        if not content or not sources or (content, tuple(sources)) in seen:
            continue
        seen.add((content, tuple(sources)))
        actions.append(ConsolidationAction(
            action="distil", sources=sources, content=content, kind=kind,  # type: ignore[arg-type]
            reason="drafted by a model from the cited memories",
        ))
    return actions


def _json_items(draft: str) -> list[tuple[str, list[str]]] | None:
    """A draft written as JSON: [{"content": …, "ids"|"sources"|"derived_from": […]}, …]."""
    text = draft.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    if not text.startswith("["):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    items = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        content = entry.get("content") or entry.get("memory") or ""
        ids = entry.get("ids") or entry.get("sources") or entry.get("derived_from") or []
        if isinstance(content, str) and isinstance(ids, list):
            items.append((content, [str(i) for i in ids]))
    return items


# --- LLM-free consolidation ----------------------------------------------------------------


async def rule_based(store: Store, bundle: ReflectBundle) -> list[ConsolidationAction]:
    """Merges of near-duplicate groups and dated summaries of related recent episodes."""
    dup_groups = [[m.id for m in g.memories]
                  for g in bundle.groups if g.reason == "near_duplicates"]
    episode_ids = [m.id for g in bundle.groups if g.reason == "recent_episodes" for m in g.memories]
    rows = await _rows(store, [i for g in dup_groups for i in g] + episode_ids)
    live = {i: r for i, r in rows.items() if r["deleted_at"] is None}
    actions: list[ConsolidationAction] = []
    merged: set[frozenset[str]] = set()
    for ids in dup_groups:
        members = [live[i] for i in dict.fromkeys(ids) if i in live]
        sources, covering = _sources(members)
        if covering:
            actions.append(_covered(members, covering))
            continue
        if len(sources) < 2:
            continue
        merged.add(frozenset(r["id"] for r in sources))
        actions.append(ConsolidationAction(
            action="merge",
            sources=[r["id"] for r in sources],
            content=merge_text([r["content"] for r in sources]),
            kind=_common_kind(sources),  # type: ignore[arg-type]
            reason=f"{len(sources)} near-duplicates merged; every distinct sentence kept",
        ))
    episodes = [live[i] for i in dict.fromkeys(episode_ids) if i in live]
    for cluster in _clusters(episodes):
        sources, covering = _sources(cluster)
        if covering:
            actions.append(_covered(cluster, covering))
            continue
        if len(sources) < 2 or frozenset(r["id"] for r in sources) in merged:
            continue
        actions.append(ConsolidationAction(
            action="group",
            sources=[r["id"] for r in sources],
            content=episode_summary(sources),
            kind="episodic",
            reason=f"{len(sources)} related episodes summarised with their dates",
        ))
    await _skip_done(store, actions)
    return actions


async def _skip_done(store: Store, actions: list[ConsolidationAction]) -> None:
    """Skip a merge or group that an existing consolidation already covers entirely."""
    wanted = list({i for a in actions if a.action != "skip" for i in a.sources})
    if not wanted:
        return
    m = store.where.memories
    existing = await store.scan(
        m.is_null("deleted_at") & m.has_any("derived_from", wanted[:1_000]),
        columns=["id", "derived_from"],
    )
    for action in actions:
        if action.action == "skip":
            continue
        done = [r["id"] for r in existing
                if r["id"] not in action.sources and set(action.sources) <= set(r["derived_from"])]
        if done:
            action.action, action.reason = "skip", f"already consolidated into {', '.join(done)}"


def _sources(members: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The members a consolidation should derive from, oldest first — raw experience preferred
    — and, when an existing consolidation already covers them all, its ids instead."""
    ids = {r["id"] for r in members}
    # Consolidations whose sources are all here: derive from those sources instead.
    redundant = [r for r in members if r["derived_from"] and set(r["derived_from"]) <= ids]
    rest = [r for r in members if r not in redundant]
    # Members another remaining member was already derived from add nothing to it.
    covered_by_rest = {i for r in rest for i in (r["derived_from"] or [])}
    sources = [r for r in rest if r["id"] not in covered_by_rest]
    covered = {i for r in redundant for i in r["derived_from"]}
    consolidations = [r["id"] for r in members
                      if r["derived_from"] and set(r["derived_from"]) & ids]
    if consolidations and (len(sources) < 2 or all(r["id"] in covered for r in sources)):
        return [], consolidations
    sources.sort(key=lambda r: r["created_at"])
    return sources, []


def _covered(members: list[dict[str, Any]], covering: list[str]) -> ConsolidationAction:
    return ConsolidationAction(
        action="skip",
        sources=[r["id"] for r in members],
        content="",
        kind=_common_kind(members),  # type: ignore[arg-type]
        reason=f"already consolidated into {', '.join(covering)}",
    )


def _common_kind(rows: list[dict[str, Any]]) -> str:
    kinds = {r["kind"] for r in rows}
    return kinds.pop() if len(kinds) == 1 else "semantic"


def _clusters(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Related episodes, oldest first: each joins the cluster it is most similar to on average
    (cosine ≥ RELATED_EPISODES), else starts its own. Deterministic."""
    rows = sorted((r for r in rows if r.get("vector") is not None), key=lambda r: r["created_at"])
    if len(rows) < 2:
        return []
    matrix = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    sims = matrix @ matrix.T
    clusters: list[list[int]] = []
    for i in range(len(rows)):
        best, best_sim = None, RELATED_EPISODES
        for c, members in enumerate(clusters):
            sim = float(np.mean(sims[i, members]))
            if sim >= best_sim:
                best, best_sim = c, sim
        if best is None:
            clusters.append([i])
        else:
            clusters[best].append(i)
    return [[rows[i] for i in c] for c in clusters if len(c) >= 2]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of `text`, stripped, in order."""
    out = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


# Words (with inner dots, slashes, dashes: versions, paths) and meaningful symbols (< > = + …);
# soft punctuation (.,;:!?'"()[]) and case do not make two sentences different.
_WORDS = re.compile(r"\w+(?:[.:/'`-]\w+)*|[^\w\s.,;:!?'\"()\[\]]")


def _key(sentence: str) -> str:
    return " ".join(_WORDS.findall(sentence.casefold()))


def merge_text(texts: Sequence[str]) -> str:
    """One text keeping every distinct sentence of `texts`, in order of first appearance;
    a sentence contained in another is dropped (the longer one keeps its place)."""
    kept: list[str] = []
    keys: list[str] = []
    for text in texts:
        for sentence in split_sentences(text):
            key = _key(sentence)
            if not key or any(f" {key} " in f" {k} " for k in keys):
                continue
            inside = [j for j, k in enumerate(keys) if f" {k} " in f" {key} "]
            if inside:
                kept[inside[0]], keys[inside[0]] = sentence, key
                for j in reversed(inside[1:]):
                    del kept[j], keys[j]
            else:
                kept.append(sentence)
                keys.append(key)
    if any("\n" in t.strip() for t in texts):
        return "\n".join(kept)
    if len(kept) == 1:
        return kept[0]
    return " ".join(s if s[-1] in ".!?:;" else s + "." for s in kept)


def episode_summary(rows: list[dict[str, Any]]) -> str:
    """A dated list of the key line of each episode, oldest first."""
    rows = sorted(rows, key=lambda r: r["created_at"])
    first, last = rows[0]["created_at"], rows[-1]["created_at"]
    span = f"{first:%Y-%m-%d}"
    if last.date() != first.date():
        span += f" to {last:%Y-%m-%d}"
    lines = [f"{len(rows)} related episodes, {span}:"]
    for r in rows:
        line = " ".join(r["content"].split())
        if len(line) > KEY_LINE_CHARS:  # too long for one line: its first sentence
            sentences = split_sentences(r["content"])
            line = sentences[0] if sentences else line
        if len(line) > KEY_LINE_CHARS:
            line = line[: KEY_LINE_CHARS - 1].rstrip() + "…"
        lines.append(f"- {r['created_at']:%Y-%m-%d}: {line}")
    return "\n".join(lines)
