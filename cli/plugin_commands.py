"""CLI commands of the plugin system and of procedural memory:

    habitus plugins list | new NAME
    habitus distill FILE... [--format F] [--dry-run]
    habitus watch [--dir ~/.claude/projects]
    habitus eval procedures --data DIR [--json]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import click

from habitus.base.errors import HabitusError

__all__ = ["register"]

T = TypeVar("T")
CLAUDE_PROJECTS = Path("~/.claude/projects").expanduser()


async def _distill(manager: Any, trajectory: Any) -> list[Any]:
    from habitus.plugins.procedural import distill

    found = await manager.call("distill_trajectory", firstresult=True, trajectory=trajectory)
    return list(found) if found else [distill(trajectory)]


def register(cli: click.Group) -> None:
    """Add the plugin and procedural-memory commands to the `habitus` group."""
    from habitus.cli.common import (
        State,
        emit,
        json_option,
        load_plugins,
        pass_state,
        run_with_plugins,
        scope_option,
    )

    @cli.group()
    def plugins() -> None:
        """Plugins: what is loaded, and a scaffold for a new one."""

    @plugins.command("list")
    @json_option
    def plugins_list(as_json: bool) -> None:
        """Show the plugins loaded, where from, their hooks and errors."""
        rows = load_plugins().listing()

        def human(rows: list[dict[str, Any]]) -> str:
            out = []
            for r in rows:
                out.append(f"{r['name']:<20} {r['origin']:<12} {r['location']}")
                if r["hooks"]:
                    out.append(f"    hooks: {', '.join(r['hooks'])}")
                out.extend(f"    error: {e}" for e in r["errors"])
            return "\n".join(out) or "no plugins"

        emit(rows, as_json, human)

    @plugins.command("new")
    @click.argument("name")
    @click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
                  help="Where to write it; default: the user plugin folder.")
    @click.option("--project", is_flag=True, help="Write it to ./.habitus/plugins instead.")
    @json_option
    def plugins_new(name: str, folder: Path | None, project: bool, as_json: bool) -> None:
        """Scaffold a working plugin NAME and its test."""
        from habitus.base.dirs import plugins_dir
        from habitus.plugins.scaffold import scaffold

        target = folder or (Path(".habitus/plugins") if project else plugins_dir())
        try:
            written = scaffold(name, target)
        except HabitusError as exc:
            raise click.ClickException(str(exc)) from exc
        emit({"plugin": str(written[0]), "test": str(written[1])}, as_json,
             lambda r: f"wrote {r['plugin']}\nwrote {r['test']}\n"
             f"test it: python -m pytest {r['test']}")

    @cli.command()
    @click.argument("files", nargs=-1, required=True,
                    type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["swe-agent", "alfworld", "claude-code",
                                                        "habitus"]),
                  help="Trajectory format; default: detected from each file.")
    @click.option("--dry-run", is_flag=True, help="Print the procedures; store nothing.")
    @scope_option
    @json_option
    @pass_state
    def distill(state: State, files: tuple[Path, ...], fmt: str | None, dry_run: bool,
                scope: str | None, as_json: bool) -> None:
        """Distil trajectory FILES into procedures and store them as procedural memories."""
        from habitus.plugins.procedural import read_trajectories
        from habitus.plugins.procedural.memory import store_procedures

        try:
            trajectories = [t for f in files for t in read_trajectories(f, fmt)]
        except HabitusError as exc:
            raise click.ClickException(str(exc)) from exc
        ctx = state.context()

        async def work(service: Any, manager: Any) -> list[dict[str, Any]]:
            out = []
            for t in trajectories:
                procedures = await _distill(manager, t)
                ids: list[str | None] = [None] * len(procedures)
                if not dry_run:
                    results = await store_procedures(service, procedures, scope=scope, ctx=ctx)
                    ids = [r.id for r in results] + ids[len(results):]
                out.extend({"trajectory": t.id, "id": i, "steps": f"{len(t.steps)} → "
                            f"{len(p.steps)}", "procedure": p.render()}
                           for p, i in zip(procedures, ids, strict=True))
            return out

        if dry_run:
            import anyio

            manager = load_plugins()
            rows = anyio.run(lambda: work(None, manager), backend="asyncio")
        else:
            rows = run_with_plugins(state.settings, work)
        emit(rows, as_json, lambda rs: "\n\n".join(
            f"# {r['trajectory']} ({r['steps']} steps){' → ' + r['id'] if r['id'] else ''}\n"
            f"{r['procedure']}" for r in rs))

    @cli.command()
    @click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
                  default=CLAUDE_PROJECTS, show_default="~/.claude/projects",
                  help="Folder of Claude Code session transcripts (*.jsonl).")
    @click.option("--idle", type=click.FloatRange(0), default=60.0, show_default=True,
                  help="Ingest a session once it has not changed for this many seconds.")
    @click.option("--once", is_flag=True, help="Ingest what is there now, then stop.")
    @scope_option
    @pass_state
    def watch(state: State, folder: Path, idle: float, once: bool, scope: str | None) -> None:
        """Distil Claude Code sessions into procedures as they are written."""
        from habitus.plugins.procedural.watch import watch_sessions

        if not folder.is_dir():
            raise click.ClickException(f"{folder} is not a folder; pass --dir")
        ctx = state.context()
        state_file = Path(state.settings.resolved_db()).parent / "watch-state.json" \
            if state.settings.is_local else None

        async def work(service: Any, manager: Any) -> int:
            async def distiller(t: Any) -> list[Any]:
                return await _distill(manager, t)

            return await watch_sessions(service, folder, distiller=distiller, idle=idle,
                                        once=once, scope=scope, ctx=ctx, state_file=state_file,
                                        echo=click.echo)

        count = run_with_plugins(state.settings, work)
        click.echo(f"ingested {count} sessions")

    eval_group = cli.commands.get("eval")
    if not isinstance(eval_group, click.Group):  # shared with other evaluation commands

        @cli.group("eval")
        def eval_group() -> None:
            """Evaluations on public data sets."""

    @eval_group.command("procedures")
    @click.option("--data", type=click.Path(file_okay=False, path_type=Path),
                  envvar="HABITUS_DATA_DIR", required=True,
                  help="The ALFWorld folder (trajectories.json, queries.json) or its parent.")
    @click.option("--no-loo", is_flag=True, help="Skip the leave-one-out check.")
    @click.option("--limit", type=click.IntRange(1), help="Only the first N trajectories.")
    @json_option
    @pass_state
    def eval_procedures(state: State, data: Path, no_loo: bool, limit: int | None,
                        as_json: bool) -> None:
        """Distil the ALFWorld trajectories and measure procedure retrieval (P@1, MAP,
        NDCG@10, leave-one-out), in a throw-away store, through the server's recall."""
        import tempfile

        from habitus.core.config import Settings
        from habitus.evaluation.procedures import evaluate_procedures, format_report
        from habitus.plugins.manager import PluginManager

        with tempfile.TemporaryDirectory(prefix="habitus-eval-") as tmp:
            settings = Settings(db=str(Path(tmp) / "store"), embedder=state.settings.embedder)
            manager = PluginManager(entry_points=()).load()  # the built-in plugins, as served
            report = run_with_plugins(settings, lambda s, _m: evaluate_procedures(
                s, data, leave_one_out=not no_loo, limit=limit), plugins=manager)
        if as_json:
            click.echo(json.dumps(report, indent=2, default=str))
        else:
            click.echo(format_report(report))

