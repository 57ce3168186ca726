"""The `habitus` command: serve the MCP server, and script the memory from a shell.

Every command that prints data takes `--json`. Errors are one clean line; set
`HABITUS_DEBUG=1` for tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel

from habitus.core.config import Settings, default_db_path
from habitus.core.errors import HabitusError
from habitus.core.models import KINDS, RELATIONS, CallContext

__all__ = ["main", "cli"]

T = TypeVar("T")


class State:
    """Options of the group, handed to every command."""

    def __init__(self, db: str, embedder: str) -> None:
        self.settings = Settings(db=db, embedder=embedder)

    def context(self) -> CallContext:
        from habitus.core.scope import detect_scope

        scope = detect_scope()
        return CallContext(
            project_scope=scope.id,
            client="cli",
            tool="cli",
            workdir=str(scope.root) if scope.root else os.getcwd(),
            branch=scope.branch or "",
        )


pass_state = click.make_pass_decorator(State)


def run_service(state: State, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the service with the plugins' hooks, run `fn(service)`, close it; habitus errors
    become one-line click errors (`HABITUS_DEBUG=1` shows the traceback)."""
    return run_with_plugins(state.settings, lambda service, _plugins: fn(service))


def load_plugins() -> Any:
    """The plugin manager for this directory: built-ins, entry points and plugin folders."""
    from habitus.core.scope import detect_scope
    from habitus.plugins.manager import PluginManager

    return PluginManager.from_environment(detect_scope().root).load()


def run_with_plugins(
    settings: Settings, fn: Callable[[Any, Any], Awaitable[T]], plugins: Any = None
) -> T:
    """Open the service with `plugins` (default: `load_plugins()`), run `fn(service, plugins)`."""
    import anyio

    from habitus.core.service import MemoryService

    plugins = plugins or load_plugins()

    async def main() -> T:
        service = await MemoryService.open(settings)
        service.hooks = plugins

        async def get() -> Any:
            return service

        plugins.bind(get)
        try:
            return await fn(service, plugins)
        finally:
            await service.close()

    try:
        return anyio.run(main, backend="asyncio")
    except HabitusError as exc:
        if os.environ.get("HABITUS_DEBUG"):
            raise
        raise click.ClickException(str(exc)) from exc


def emit(value: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print `value` as JSON or through `human`."""
    if as_json:
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        if isinstance(data, list):
            data = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in data]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(human(value))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
scope_option = click.option("--scope", help="Scope id; default: this project (+ global for reads).")
kind_choice = click.Choice(KINDS)


def split_tags(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="habitus")
@click.option(
    "--db",
    envvar="HABITUS_DB",
    default=default_db_path,
    show_default="user data dir",
    help="Store location: a directory, or an s3:// / gs:// / az:// / db:// URI.",
)
@click.option(
    "--embedder",
    envvar="HABITUS_EMBEDDER",
    default="minilm",
    show_default=True,
    help="Embedding model: minilm (offline) or none (lexical only).",
)
@click.pass_context
def cli(ctx: click.Context, db: str, embedder: str) -> None:
    """habitus: long-term memory for coding assistants, over MCP."""
    ctx.obj = State(db, embedder)


@cli.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "sse", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for assistants that spawn habitus; sse or http to listen.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@pass_state
def serve(state: State, transport: str, host: str, port: int) -> None:
    """Run the MCP server."""
    from habitus.server import serve as run

    run(state.settings, transport, host, port)  # type: ignore[arg-type]


@cli.command()
@click.argument("text")
@click.option("--kind", type=kind_choice, default="semantic", show_default=True)
@click.option("--tags", help="Comma-separated tags.")
@scope_option
@click.option("--importance", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--derived-from", multiple=True, help="Id this memory was distilled from.")
@click.option(
    "--supersedes", multiple=True, help="Id of an older version this replaces (kept as history)."
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
    ctx = state.context()
    result = run_service(
        state,
        lambda s: s.remember(
            text,
            kind=kind,
            tags=split_tags(tags),
            scope=scope,
            importance=importance,
            derived_from=list(derived_from),
            supersedes=list(supersedes),
            anchors=list(anchors),
            dedup=not no_dedup,
            ctx=ctx,
        ),
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


@cli.command()
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
@click.option("--as-of", type=click.DateTime(), help="Answer from the memory as it was then (UTC).")
@click.option("--history", "include_history", is_flag=True, help="Include superseded versions.")
@click.option("--follow-links", is_flag=True, help="Add linked memories of the top results.")
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
    as_json: bool,
) -> None:
    """Search memories for QUERY."""
    ctx = state.context()
    result = run_service(
        state,
        lambda s: s.recall(
            query,
            kinds=list(kinds) or None,
            tags=split_tags(tags) or None,
            scope=scope,
            since=since,
            until=until,
            limit=limit,
            token_budget=budget,
            as_of=as_of,
            include_history=include_history,
            follow_links=follow_links,
            ctx=ctx,
        ),
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
        lines.append(f"-- {len(r.memories)} shown, {r.omitted} left out, {r.tokens_used} tokens")
        lines.extend(f"warning: {w}" for w in r.warnings)
        return "\n".join(lines)

    emit(result, as_json, human)


@cli.command()
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
            out.append(f"== consolidations ({r.mode}, {'dry run' if r.dry_run else 'written'}):")
            for a in r.actions:
                head = f"  {a.action}" + (f" -> {a.id}" if a.id else "")
                out.append(
                    f"{head} from {', '.join(a.sources)}" + (f" ({a.reason})" if a.reason else "")
                )
                out.extend(f"    {line}" for line in a.content.splitlines())
        out.append(r.instructions)
        return "\n".join(out)

    emit(result, as_json, human)


@cli.command()
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

    --purge erases the content from the store and every old version on disk; it cannot be undone.
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


@cli.command()
@click.argument("source")
@click.argument("target")
@click.option("--relation", type=click.Choice(RELATIONS), default="related_to", show_default=True)
@click.option("--note", default="")
@json_option
@pass_state
def link(state: State, source: str, target: str, relation: str, note: str, as_json: bool) -> None:
    """Link memory SOURCE to TARGET with a typed relation."""
    ctx = state.context()
    result = run_service(state, lambda s: s.link(source, target, relation, note, ctx=ctx))
    emit(
        result,
        as_json,
        lambda r: f"{r.source} -{r.relation}-> {r.target}" + ("" if r.created else " (merged)"),
    )


@cli.command()
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


@cli.command()
@click.argument("operation", required=False)
@click.option("--list", "list_ops", is_flag=True, help="List recent operations instead.")
@json_option
@pass_state
def undo(state: State, operation: str | None, list_ops: bool, as_json: bool) -> None:
    """Revert the last operation, or OPERATION (an id from --list). Erasures cannot be undone."""
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


@cli.command()
@json_option
@pass_state
def stats(state: State, as_json: bool) -> None:
    """Counts of memories by kind and scope, and where they live."""
    result = run_service(state, lambda s: s.stats())
    emit(result, as_json, lambda r: "\n".join(f"{k}: {v}" for k, v in r.model_dump().items()))


@cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--with-deleted", is_flag=True, help="Include soft-deleted memories.")
@json_option
@pass_state
def export_(state: State, file: Path, with_deleted: bool, as_json: bool) -> None:
    """Write every memory and link to FILE as JSON Lines ('-' for standard output)."""
    from habitus.core.transfer import export_jsonl

    result = run_service(state, lambda s: export_jsonl(s, file, with_deleted=with_deleted))
    emit(result, as_json, lambda r: f"exported {r['memories']} memories, {r['links']} links")


@cli.command()
@click.option("--apply", is_flag=True, help="Replace them (default: only count them).")
@json_option
@pass_state
def scrub(state: State, apply: bool, as_json: bool) -> None:
    """Find secrets already stored (before redaction, or with HABITUS_REDACT_SECRETS=0) in
    memories, link notes and the journal; with --apply, replace them everywhere, erasing the
    old versions that hold them (undo cannot reach back past a scrub)."""
    ctx = state.context()
    result = run_service(state, lambda s: s.scrub_secrets(apply=apply, ctx=ctx))

    def human(r: dict[str, Any]) -> str:
        found = f"{r['memories']} memories, {r['links']} link notes, {r['journal']} journal rows"
        if not r["kinds"]:
            return "no secrets found"
        kinds = ", ".join(r["kinds"])
        if r["applied"]:
            return f"replaced secrets ({kinds}) in {found}; old versions erased"
        return f"secrets ({kinds}) in {found}; run with --apply to replace them"

    emit(result, as_json, human)


@cli.command("compile")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), default="AGENTS.md")
@click.option("--scope", help="Scope to compile (default: the current project).")
@click.option("--kinds", default="semantic", show_default=True,
              help="Comma-separated kinds of memory to include.")
@click.option("--budget", type=click.IntRange(100, 20_000), default=1500, show_default=True,
              help="At most this many tokens.")
@click.option("--dry-run", is_flag=True, help="Print the brief; write nothing.")
@json_option
@pass_state
def compile_(state: State, file: Path, scope: str | None, kinds: str, budget: int,
             dry_run: bool, as_json: bool) -> None:
    """Write the project's strongest memories into FILE (AGENTS.md by default; CLAUDE.md, a
    Cursor .mdc rule, .github/copilot-instructions.md...) between habitus markers, leaving the
    rest of the file as it is; rerun to refresh. Review it before committing: what is in the
    file becomes instructions to your assistant."""
    from habitus.core.brief import build_brief, merge_brief

    ctx = state.context()
    wanted = tuple(k.strip() for k in kinds.split(",") if k.strip())
    brief = run_service(state, lambda s: build_brief(s.store, scope=scope, kinds=wanted,
                                                     budget=budget, ctx=ctx))
    if dry_run:
        emit(brief, as_json, lambda b: b.text)
        return
    existing = file.read_text("utf-8") if file.is_file() else None
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(merge_brief(existing, brief.text, cursor_rule=file.suffix == ".mdc"), "utf-8")
    emit(brief, as_json, lambda b: (
        f"wrote {len(b.ids)} memories ({b.tokens} tokens) of {b.scope} to {file}"
        + (f"; {b.omitted} left out by the budget" if b.omitted else "")
        + (f"; {b.stale} left out as stale" if b.stale else "")))


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_state
def import_(state: State, file: Path, as_json: bool) -> None:
    """Read memories from FILE (a habitus export, or the reference memory server's JSONL)."""
    from habitus.core.transfer import import_jsonl

    ctx = state.context()
    result = run_service(state, lambda s: import_jsonl(s, file, ctx=ctx))
    emit(
        result,
        as_json,
        lambda r: f"imported {r['created']} new, {r['reinforced']} reinforced, {r['links']} links",
    )


@cli.command()
@json_option
@pass_state
def doctor(state: State, as_json: bool) -> None:
    """Check the store and the embedder, and say where the data lives."""
    from habitus.core.doctor import diagnose

    report = run_service(state, diagnose)
    emit(
        report,
        as_json,
        lambda r: "\n".join(
            f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in r["checks"]
        ),
    )
    if not all(c["ok"] for c in report["checks"]):
        sys.exit(1)


@cli.command()
@click.argument("client")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Register for this project only (where the client supports it).",
)
@click.option("--url", help="Register a running HTTP server at this URL instead of stdio.")
@click.option("--name", default="habitus", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--print", "print_only", is_flag=True, help="Print the resulting file; write nothing."
)
@json_option
@pass_state
def install(
    state: State,
    client: str,
    project_dir: Path | None,
    url: str | None,
    name: str,
    dry_run: bool,
    print_only: bool,
    as_json: bool,
) -> None:
    """Register habitus in CLIENT's MCP configuration (claude-desktop, claude-code, cursor,
    vscode, windsurf, zed)."""
    from habitus.clients import apply_install, default_server_command, plan_install

    command, args = default_server_command(state.settings.db)
    try:
        plan = plan_install(
            client,
            name=name,
            command=command,
            args=args,
            url=url,
            scope="project" if project_dir else "user",
            project_dir=project_dir,
        )
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    if print_only:
        click.echo(plan.new_text)
        return
    if not dry_run and plan.changed:
        apply_install(plan)
    verb = "would write" if dry_run else ("wrote" if plan.changed else "already registered in")
    emit(
        {
            "client": plan.client,
            "path": str(plan.path),
            "changed": plan.changed,
            "written": plan.changed and not dry_run,
            "entry": plan.entry,
        },
        as_json,
        lambda r: f"{verb} {r['path']}",
    )


def main() -> None:
    """Entry point of the `habitus` command."""
    from habitus.core.logs import configure_logging

    configure_logging()
    cli(prog_name="habitus")


from habitus.cli.plugin_commands import register as _register_plugin_commands  # noqa: E402

_register_plugin_commands(cli)

from habitus.cli.eval_commands import register as _register_eval_commands  # noqa: E402

_register_eval_commands(cli)

from habitus.cli.reindex_commands import register as _register_reindex_commands  # noqa: E402

_register_reindex_commands(cli)
