"""The memory commands: remember, recall, reflect, forget, link, history and undo."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from habitus.core.kinds import RELATIONS

from .common import (
    State,
    call,
    emit,
    json_option,
    kind_choice,
    pass_state,
    run_service,
    scope_option,
    split_tags,
)

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the memory commands to the `habitus` group."""

    @group.command()
    @click.argument("text")
    @click.option("--kind", type=kind_choice, default="semantic", show_default=True)
    @click.option("--tags", help="Comma-separated tags.")
    @scope_option
    @click.option("--importance", type=click.FloatRange(0, 1), default=0.5, show_default=True)
    @click.option("--derived-from", multiple=True, help="Id this memory was distilled from.")
    @click.option(
        "--supersedes",
        multiple=True,
        help="Id of an older version this replaces (kept as history).",
    )
    @click.option(
        "--anchor",
        "anchors",
        multiple=True,
        help="Code it is about: path, path::symbol or path:10-20 (repeatable).",
    )
    @click.option(
        "--no-dedup", is_flag=True, help="Store as is: no near-duplicate or new-version detection."
    )
    @json_option
    @pass_state
    def remember(
        state: State,
        text: str,
        kind: str,
        tags: str | None,
        scope: str | None,
        importance: float,
        derived_from: tuple[str, ...],
        supersedes: tuple[str, ...],
        anchors: tuple[str, ...],
        no_dedup: bool,
        as_json: bool,
    ) -> None:
        """Store TEXT as a memory ('-' reads standard input)."""
        if text == "-":
            text = sys.stdin.read()
        result = call(
            state, "remember", content=text, kind=kind, tags=split_tags(tags), scope=scope,
            importance=importance, derived_from=list(derived_from), supersedes=list(supersedes),
            anchors=list(anchors), dedup=not no_dedup,
        )

        def human(r: Any) -> str:
            line = f"{r.status} {r.id} ({r.kind}, {r.scope})"
            if r.absorbed_by:
                line += f" — near-duplicate absorbed by {r.absorbed_by} (similarity {r.similarity})"
            if r.supersedes:
                line += f" — supersedes {', '.join(r.supersedes)}" + (
                    " (detected)" if r.detected else ""
                )
            if r.related:
                line += f" — linked to {', '.join(r.related)}"
            if r.redacted:
                line += f" — secrets replaced before storing: {', '.join(r.redacted)}"
            return line

        emit(result, as_json, human)

    @group.command()
    @click.argument("query")
    @click.option(
        "--kind", "kinds", type=kind_choice, multiple=True, help="Only this kind (repeatable)."
    )
    @click.option("--tags", help="Only memories with any of these comma-separated tags.")
    @scope_option
    @click.option("--since", type=click.DateTime(), help="Stored at or after this time.")
    @click.option("--until", type=click.DateTime(), help="Stored before this time.")
    @click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
    @click.option("--budget", type=click.IntRange(1, 200_000), help="Token budget for the results.")
    @click.option(
        "--as-of", type=click.DateTime(), help="Answer from the memory as it was then (UTC)."
    )
    @click.option("--history", "include_history", is_flag=True, help="Include superseded versions.")
    @click.option("--follow-links", is_flag=True, help="Add linked memories of the top results.")
    @click.option("--now", type=click.DateTime(),
                  help="Ask as at this time (UTC): 'last week' and recency count from it.")
    @json_option
    @pass_state
    def recall(
        state: State,
        query: str,
        kinds: tuple[str, ...],
        tags: str | None,
        scope: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        budget: int | None,
        as_of: datetime | None,
        include_history: bool,
        follow_links: bool,
        now: datetime | None,
        as_json: bool,
    ) -> None:
        """Search memories for QUERY."""
        result = call(
            state, "recall", query=query, kinds=list(kinds) or None,
            tags=split_tags(tags) or None, scope=scope, since=since, until=until, limit=limit,
            token_budget=budget, as_of=as_of, include_history=include_history,
            follow_links=follow_links, now=now,
        )

        def marks(h: Any) -> str:
            out = []
            if h.stale:
                out.append(f"STALE: {h.stale_reason}")
            if h.superseded_by:
                out.append(f"old version, superseded by {h.superseded_by}")
            elif h.supersedes:
                out.append(f"older versions exist: habitus history {h.id}")
            if h.via:
                out.append(f"linked from {h.via}")
            return "".join(f"\n    ({m})" for m in out)

        def human(r: Any) -> str:
            lines = [
                f"{h.score:.3f}  {h.id}  [{h.kind}, {h.scope}, {h.age}]\n    {h.content}{marks(h)}"
                for h in r.memories
            ]
            lines.append(
                f"-- {len(r.memories)} shown, {r.omitted} left out, {r.tokens_used} tokens"
            )
            lines.extend(f"warning: {w}" for w in r.warnings)
            return "\n".join(lines)

        emit(result, as_json, human)

    @group.command()
    @scope_option
    @click.option("--topic", help="Gather memories about this topic too.")
    @click.option("--since", type=click.DateTime(), help="Recent episodes since (default: 7 days).")
    @click.option(
        "--consolidate",
        is_flag=True,
        help="Plan consolidations: the configured model's "
        "draft, else LLM-free merges of near-duplicates and summaries of related episodes.",
    )
    @click.option(
        "--apply/--dry-run",
        "apply",
        default=False,
        show_default=True,
        help="Write the planned consolidations (implies --consolidate) or only show them. "
        "Sources are never deleted.",
    )
    @click.option(
        "--model/--no-model",
        "use_model",
        default=True,
        show_default=True,
        help="Draft with the configured model (HABITUS_LLM_URL, HABITUS_LLM_MODEL) if set.",
    )
    @json_option
    @pass_state
    def reflect(
        state: State,
        scope: str | None,
        topic: str | None,
        since: datetime | None,
        consolidate: bool,
        apply: bool,
        use_model: bool,
        as_json: bool,
    ) -> None:
        """Gather memories worth consolidating; with --consolidate --apply, write consolidations."""
        ctx = state.context()
        result = run_service(
            state,
            lambda s: s.reflect(
                scope=scope,
                topic=topic,
                since=since,
                consolidate=consolidate or apply,
                dry_run=not apply,
                use_model=use_model,
                ctx=ctx,
            ),
            embeds=True,
        )

        def human(r: Any) -> str:
            out = []
            for g in r.groups:
                out.append(f"== {g.reason}: {g.summary}")
                out.extend(f"  {m.id}  {m.content}" for m in g.memories)
            out.extend(f"warning: {w}" for w in r.warnings)
            if r.draft:
                out.append(f"== draft ({r.mode}):\n{r.draft}")
            if r.actions:
                out.append(
                    f"== consolidations ({r.mode}, {'dry run' if r.dry_run else 'written'}):"
                )
                for a in r.actions:
                    head = f"  {a.action}" + (f" -> {a.id}" if a.id else "")
                    out.append(
                        f"{head} from {', '.join(a.sources)}"
                        + (f" ({a.reason})" if a.reason else "")
                    )
                    out.extend(f"    {line}" for line in a.content.splitlines())
            out.append(r.instructions)
            return "\n".join(out)

        emit(result, as_json, human)

    @group.command()
    @click.argument("ids", nargs=-1)
    @click.option("--query", help="Forget what this search finds (previewed unless --yes).")
    @scope_option
    @click.option("--purge", is_flag=True, help="Erase for good instead of soft delete.")
    @click.option("--dry-run", is_flag=True, help="Only show what would be forgotten.")
    @click.option("--yes", is_flag=True, help="With --query: forget without a preview.")
    @click.option("--restore", is_flag=True, help="Undo the soft delete of IDS.")
    @click.option(
        "--decayed",
        is_flag=True,
        help="Archive memories whose strength has faded (previewed unless --yes).",
    )
    @click.option(
        "--threshold",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.1,
        show_default=True,
        help="With --decayed: strength below which to archive.",
    )
    @json_option
    @pass_state
    def forget(
        state: State,
        ids: tuple[str, ...],
        query: str | None,
        scope: str | None,
        purge: bool,
        dry_run: bool,
        yes: bool,
        restore: bool,
        decayed: bool,
        threshold: float,
        as_json: bool,
    ) -> None:
        """Forget memories by id (soft delete unless --purge), or preview a --query or --decayed.

        --purge erases the content from the store and every old version on disk; it cannot be
        undone.
        """
        ctx = state.context()
        if restore:
            restored = run_service(state, lambda s: s.restore(list(ids), ctx=ctx))
            emit({"restored": restored}, as_json, lambda r: f"restored {len(r['restored'])}")
            return
        dry: bool | None = True if dry_run else (False if yes else None)
        result = run_service(
            state,
            lambda s: s.forget(
                list(ids) or None,
                query=query,
                scope=scope,
                purge=purge,
                dry_run=dry,
                decayed=decayed,
                threshold=threshold,
                ctx=ctx,
            ),
        )

        def human(r: Any) -> str:
            verb = "would forget" if r.dry_run else ("erased" if r.purged else "forgot")
            lines = [f"{verb} {r.count}"] + [
                f"  {i}  {p}" for i, p in zip(r.ids, r.previews, strict=False)
            ]
            return "\n".join(lines)

        emit(result, as_json, human)

    @group.command()
    @click.argument("source")
    @click.argument("target")
    @click.option(
        "--relation", type=click.Choice(RELATIONS), default="related_to", show_default=True
    )
    @click.option("--note", default="")
    @json_option
    @pass_state
    def link(
        state: State, source: str, target: str, relation: str, note: str, as_json: bool
    ) -> None:
        """Link memory SOURCE to TARGET with a typed relation."""
        ctx = state.context()
        result = run_service(state, lambda s: s.link(source, target, relation, note, ctx=ctx))
        emit(
            result,
            as_json,
            lambda r: f"{r.source} -{r.relation}-> {r.target}" + ("" if r.created else " (merged)"),
        )

    @group.command()
    @click.argument("ids", nargs=-1, required=True)
    @json_option
    @pass_state
    def confirm(state: State, ids: tuple[str, ...], as_json: bool) -> None:
        """Vouch for memories IDS: trusted from now on (the brief, compiled files) even if a
        tool wrote them or they were flagged suspicious. Undo reverts it."""
        ctx = state.context()
        result = run_service(state, lambda s: s.confirm(list(ids), ctx=ctx))
        emit(result, as_json, lambda r: "\n".join(f"confirmed {m.id}  {m.content[:70]}" for m in r))

    @group.command()
    @click.argument("memory_id")
    @json_option
    @pass_state
    def history(state: State, memory_id: str, as_json: bool) -> None:
        """Show how the fact MEMORY_ID belongs to changed over time, oldest version first."""
        result = run_service(state, lambda s: s.history(memory_id))

        def human(r: Any) -> str:
            lines = []
            for v in r.versions:
                until = f" → {v.valid_until:%Y-%m-%d %H:%M}" if v.valid_until else ""
                lines.append(
                    f"{v.created_at:%Y-%m-%d %H:%M}{until}  {v.status:<10} {v.id}\n    {v.content}"
                )
            return "\n".join(lines)

        emit(result, as_json, human)

    @group.command()
    @click.argument("operation", required=False)
    @click.option("--list", "list_ops", is_flag=True, help="List recent operations instead.")
    @json_option
    @pass_state
    def undo(state: State, operation: str | None, list_ops: bool, as_json: bool) -> None:
        """Revert the last operation, or OPERATION (an id from --list).

        Erasures cannot be undone."""
        if list_ops:
            ops = run_service(state, lambda s: s.operations(limit=20))
            emit(
                ops,
                as_json,
                lambda r: "\n".join(
                    f"{o.at:%Y-%m-%d %H:%M:%S}  {o.id}  {o.op:<10} {', '.join(o.ids[:3])}"
                    + (" …" if len(o.ids) > 3 else "")
                    for o in r
                ),
            )
            return
        ctx = state.context()
        result = run_service(state, lambda s: s.undo(operation, ctx=ctx))
        emit(
            result,
            as_json,
            lambda r: f"undid {r.operation} ({', '.join(r.ops)}) on {len(r.ids)} memories",
        )
