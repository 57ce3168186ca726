"""`habitus eval locomo`: the recall benchmark, run through the same `recall` the server uses."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Any

import click

__all__ = ["register"]


@click.group(name="eval")
def eval_group() -> None:
    """Measure habitus on public benchmarks."""


@eval_group.command(name="locomo")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False),
    help="A LoCoMo-format JSON file (e.g. ../shared/data/locomo/locomo10.json).",
)
@click.option(
    "--store",
    "store",
    type=click.Path(file_okay=False),
    help="Build the benchmark store here and keep it (default: a temporary directory).",
)
@click.option(
    "--limit", "conversations", type=click.IntRange(1), help="Only the first N conversations."
)
@click.option(
    "--runs",
    default="full,lexical,vector",
    show_default=True,
    help="Comma-separated configurations: full, lexical, vector.",
)
@click.option(
    "--turn-by-turn",
    is_flag=True,
    help="Store one remember call per turn ('Speaker: text'), as an assistant would over MCP, "
    "and count turns superseded by later ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def locomo(
    ctx: click.Context,
    data: str,
    store: str | None,
    conversations: int | None,
    runs: str,
    turn_by_turn: bool,
    as_json: bool,
) -> None:
    """Turn-level recall@k, NDCG@10 and MRR on LoCoMo, full ranking beside each single leg.

    Every turn is stored as an episodic memory (one scope per conversation, dated by its
    session) with remember_many, and every question with evidence is asked with recall.
    The store is separate from your memories; it is deleted afterwards unless --store is given.
    """
    import anyio

    from habitus.base.errors import HabitusError
    from habitus.core.config import Settings
    from habitus.core.service import MemoryService
    from habitus.evaluation.locomo import DEFAULT_RUNS, evaluate, format_report, load_locomo

    chosen: dict[str, tuple[str, ...] | None] = {}
    for name in (r.strip() for r in runs.split(",") if r.strip()):
        if name not in DEFAULT_RUNS:
            raise click.BadParameter(f"unknown run {name!r}; use {', '.join(DEFAULT_RUNS)}")
        chosen[name] = DEFAULT_RUNS[name]
    embedder = getattr(ctx.obj, "settings", None)
    embedder_name = embedder.embedder if embedder is not None else "minilm"
    try:
        convs = load_locomo(data)
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    if conversations:
        convs = convs[:conversations]
    folder = store or tempfile.mkdtemp(prefix="habitus-locomo-")
    if store and os.path.exists(store) and os.listdir(store):
        raise click.ClickException(
            f"{store} is not empty; give a new folder for the benchmark store"
        )

    def progress(name: str, run: dict[str, Any]) -> None:
        o = run["overall"]
        click.echo(
            f"{name}: R@5 {o.get('recall@5', 0):.1f}  R@10 {o.get('recall@10', 0):.1f}", err=True
        )

    async def main() -> dict[str, Any]:
        service = await MemoryService.open(Settings(db=folder, embedder=embedder_name))
        try:
            return await evaluate(service, convs, runs=chosen, progress=progress,
                                  turn_by_turn=turn_by_turn)
        finally:
            await service.close()

    try:
        report = anyio.run(main, backend="asyncio")
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if not store:
            shutil.rmtree(folder, ignore_errors=True)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_report(report))
    sys.stdout.flush()


def register(cli: click.Group) -> None:
    """Add `eval locomo` to the `habitus` group's `eval` group (shared with other benchmarks)."""
    group = cli.commands.get("eval")
    if isinstance(group, click.Group):
        group.add_command(locomo)
    else:
        cli.add_command(eval_group)
