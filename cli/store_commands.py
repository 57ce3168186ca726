"""The store commands: stats, doctor, export, import, scrub and compile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import State, call, emit, json_option, pass_state, run_service

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the store commands to the `habitus` group."""

    @group.command()
    @json_option
    @pass_state
    def stats(state: State, as_json: bool) -> None:
        """Counts of memories by kind and scope, and where they live."""
        result = call(state, "stats")
        emit(result, as_json, lambda r: "\n".join(f"{k}: {v}" for k, v in r.model_dump().items()))

    @group.command("export")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--with-deleted", is_flag=True, help="Include soft-deleted memories.")
    @json_option
    @pass_state
    def export_(state: State, file: Path, with_deleted: bool, as_json: bool) -> None:
        """Write every memory and link to FILE as JSON Lines ('-' for standard output)."""
        from habitus.core.maintenance.transfer import export_jsonl

        result = run_service(
            state, lambda s: export_jsonl(s.store, file, with_deleted=with_deleted))
        emit(result, as_json, lambda r: f"exported {r['memories']} memories, {r['links']} links")

    @group.command()
    @click.option("--apply", is_flag=True, help="Replace them (default: only count them).")
    @json_option
    @pass_state
    def scrub(state: State, apply: bool, as_json: bool) -> None:
        """Find secrets and private text already stored (before redaction, or with
        HABITUS_REDACT_SECRETS=0) in memories, link notes, the journal and the files hooks keep
        (session-start contexts, spool, daemon log); with --apply, replace them everywhere,
        erasing the old versions that hold them (undo cannot reach back past a scrub)."""
        from habitus.lifecycle.files import scrub_files

        ctx = state.context()
        result = run_service(state, lambda s: s.scrub_secrets(apply=apply, ctx=ctx))
        files = scrub_files(state.settings.resolved_db(), apply=apply)
        result = {**result, "files": len(files["files"]),
                  "kinds": sorted({*result["kinds"], *files["kinds"]}),
                  "applied": result["applied"] or files["applied"]}

        def human(r: dict[str, Any]) -> str:
            found = (
                f"{r['memories']} memories, {r['links']} link notes, {r['journal']} journal rows,"
                f" {r['files']} cached files"
            )
            if not r["kinds"]:
                return "no secrets or private text found"
            kinds = ", ".join(r["kinds"])
            if r["applied"]:
                return f"replaced secrets ({kinds}) in {found}; old versions erased"
            return f"secrets ({kinds}) in {found}; run with --apply to replace them"

        emit(result, as_json, human)

    @group.command("compile")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path), default="AGENTS.md")
    @click.option("--scope", help="Scope to compile (default: the current project).")
    @click.option(
        "--kinds",
        default="semantic",
        show_default=True,
        help="Comma-separated kinds of memory to include.",
    )
    @click.option(
        "--budget",
        type=click.IntRange(100, 20_000),
        default=1500,
        show_default=True,
        help="At most this many tokens.",
    )
    @click.option("--dry-run", is_flag=True, help="Print the brief; write nothing.")
    @json_option
    @pass_state
    def compile_(
        state: State,
        file: Path,
        scope: str | None,
        kinds: str,
        budget: int,
        dry_run: bool,
        as_json: bool,
    ) -> None:
        """Write the project's strongest memories into FILE (AGENTS.md by default; CLAUDE.md, a
        Cursor .mdc rule, .github/copilot-instructions.md...) between habitus markers, leaving the
        rest of the file as it is; rerun to refresh. Review it before committing: what is in the
        file becomes instructions to your assistant."""
        from habitus.core.brief import build_brief, merge_brief

        ctx = state.context()
        wanted = tuple(k.strip() for k in kinds.split(",") if k.strip())
        brief = run_service(
            state, lambda s: build_brief(s.store, scope=scope, kinds=wanted, budget=budget, ctx=ctx)
        )
        if dry_run:
            emit(brief, as_json, lambda b: b.text)
            return
        existing = file.read_text("utf-8") if file.is_file() else None
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(
            merge_brief(existing, brief.text, cursor_rule=file.suffix == ".mdc"), "utf-8"
        )
        emit(
            brief,
            as_json,
            lambda b: (
                f"wrote {len(b.ids)} memories ({b.tokens} tokens) of {b.scope} to {file}"
                + (f"; {b.omitted} left out by the budget" if b.omitted else "")
                + (f"; {b.stale} left out as stale" if b.stale else "")
                + (f"; {b.held} held out until you confirm them (habitus reflect lists them, "
                   "habitus confirm ID)" if b.held else "")
            ),
        )

    @group.command("import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @json_option
    @pass_state
    def import_(state: State, file: Path, as_json: bool) -> None:
        """Read memories from FILE (a habitus export, or the reference memory server's JSONL)."""
        from habitus.core.maintenance.transfer import import_jsonl

        ctx = state.context()
        result = run_service(state, lambda s: import_jsonl(s, file, ctx=ctx))
        emit(
            result,
            as_json,
            lambda r: "\n".join([
                f"imported {r['created']} new, {r['reinforced']} reinforced, {r['links']} links"
                + (f", {r['refused']} refused:" if r["refused"] else ""), *r["errors"]]),
        )

    @group.command()
    @json_option
    @pass_state
    def doctor(state: State, as_json: bool) -> None:
        """Check the store (reachable, readable, writable: what is missing, in one line) and
        the embedder, and say where the data lives."""
        import anyio

        from habitus.core.maintenance.doctor import diagnose, reach

        first = anyio.run(reach, state.settings, backend="asyncio")
        if all(c["ok"] for c in first):
            report = run_service(state, diagnose)
            report["checks"] = first + report["checks"]
        else:  # not opened: the store's own errors would only repeat the first failure
            report = {"path": state.settings.resolved_db(), "checks": first}
        emit(
            report,
            as_json,
            lambda r: "\n".join(
                f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" for c in r["checks"]
            ),
        )
        if not all(c["ok"] for c in report["checks"]):
            sys.exit(1)
