"""The memory commands: remember, recall, reflect, forget, link, confirm, history and undo.

Each takes its operation's request: the arguments and options are the request's fields
(`options.RequestCommand`), and the command prints what the service answers."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .common import Fields, State, call, emit, json_option, pass_state, run_service
from .options import RequestCommand

if TYPE_CHECKING:
    from habitus.core.requests import (
        ConfirmRequest,
        ForgetRequest,
        HistoryRequest,
        LinkRequest,
        ReflectRequest,
        UndoRequest,
    )

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the memory commands to the `habitus` group."""

    @group.command(cls=RequestCommand, operation="remember", served=True)
    @json_option
    @pass_state
    def remember(state: State, request: Fields, as_json: bool) -> None:
        """Store CONTENT as a memory ('-' reads standard input)."""
        if request.values.get("content") == "-":
            request.values["content"] = sys.stdin.read()
        result = call(state, "remember", request)

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

    @group.command(cls=RequestCommand, operation="recall", served=True)
    @json_option
    @pass_state
    def recall(state: State, request: Fields, as_json: bool) -> None:
        """Search memories for QUERY."""
        result = call(state, "recall", request)

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

    @group.command(cls=RequestCommand, operation="reflect")
    @json_option
    @pass_state
    def reflect(state: State, request: ReflectRequest, as_json: bool) -> None:
        """Gather memories worth consolidating; with --consolidate --apply, write consolidations."""
        if not request.dry_run:  # --apply writes the consolidations it plans
            request = request.model_copy(update={"consolidate": True})
        ctx = state.context()
        result = run_service(state, lambda s: s.reflect(request, ctx=ctx), embeds=True)

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

    @group.command(cls=RequestCommand, operation="forget")
    @json_option
    @pass_state
    def forget(state: State, request: ForgetRequest, as_json: bool) -> None:
        """Forget memories by id (soft delete unless --purge), or preview a --query or --decayed.

        --purge erases the content from the store and every old version on disk; it cannot be
        undone.
        """
        ctx = state.context()
        result = run_service(state, lambda s: s.forget(request, ctx=ctx))
        if request.restore:
            emit({"restored": result.ids}, as_json, lambda r: f"restored {len(r['restored'])}")
            return

        def human(r: Any) -> str:
            verb = "would forget" if r.dry_run else ("erased" if r.purged else "forgot")
            lines = [f"{verb} {r.count}"] + [
                f"  {i}  {p}" for i, p in zip(r.ids, r.previews, strict=False)
            ]
            return "\n".join(lines)

        emit(result, as_json, human)

    @group.command(cls=RequestCommand, operation="link")
    @json_option
    @pass_state
    def link(state: State, request: LinkRequest, as_json: bool) -> None:
        """Link memory SOURCE to TARGET with a typed relation."""
        ctx = state.context()
        result = run_service(state, lambda s: s.link(request, ctx=ctx))
        emit(
            result,
            as_json,
            lambda r: f"{r.source} -{r.relation}-> {r.target}" + ("" if r.created else " (merged)"),
        )

    @group.command(cls=RequestCommand, operation="confirm")
    @json_option
    @pass_state
    def confirm(state: State, request: ConfirmRequest, as_json: bool) -> None:
        """Vouch for memories IDS: trusted from now on (the brief, compiled files) even if a
        tool wrote them or they were flagged suspicious. Undo reverts it."""
        ctx = state.context()
        result = run_service(state, lambda s: s.confirm(request, ctx=ctx))
        emit(result, as_json, lambda r: "\n".join(f"confirmed {m.id}  {m.content[:70]}" for m in r))

    @group.command(cls=RequestCommand, operation="history")
    @json_option
    @pass_state
    def history(state: State, request: HistoryRequest, as_json: bool) -> None:
        """Show how the fact MEMORY_ID belongs to changed over time, oldest version first."""
        result = run_service(state, lambda s: s.history(request))

        def human(r: Any) -> str:
            lines = []
            for v in r.versions:
                until = f" → {v.valid_until:%Y-%m-%d %H:%M}" if v.valid_until else ""
                lines.append(
                    f"{v.created_at:%Y-%m-%d %H:%M}{until}  {v.status:<10} {v.id}\n    {v.content}"
                )
            return "\n".join(lines)

        emit(result, as_json, human)

    @group.command(cls=RequestCommand, operation="undo")
    @click.option("--list", "list_ops", is_flag=True, help="List recent operations instead.")
    @json_option
    @pass_state
    def undo(state: State, request: UndoRequest, list_ops: bool, as_json: bool) -> None:
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
        result = run_service(state, lambda s: s.undo(request, ctx=ctx))
        emit(
            result,
            as_json,
            lambda r: f"undid {r.operation} ({', '.join(r.ops)}) on {len(r.ids)} memories",
        )
