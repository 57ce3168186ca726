"""`habitus eval locomo` and `habitus eval longmemeval`: recall benchmarks, run through the
same `recall` the server uses."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

import click

__all__ = ["register"]


@click.group(name="eval")
def eval_group() -> None:
    """Measure habitus on public benchmarks."""


def _embedder_name(ctx: click.Context) -> str:
    settings = getattr(ctx.obj, "settings", None)
    return settings.embedder if settings is not None else "minilm"


def _kept_mapping(store: str | None, load: Callable[[str], Any]) -> Any:
    """What an earlier run kept in `store` (None: nothing, or no `store`); a folder that holds
    something else is refused."""
    mapping = load(store) if store and os.path.isdir(store) else None
    if store and mapping is None and os.path.isdir(store) and os.listdir(store):
        raise click.ClickException(
            f"{store} is not empty and holds no earlier run; give a new folder for the "
            "benchmark store"
        )
    return mapping


def _run_benchmark(
    folder: str, keep: bool, embedder: str,
    measure: Callable[[Any], Awaitable[dict[str, Any]]],
    format_report: Callable[[dict[str, Any]], str], as_json: bool,
) -> None:
    """Open a service on the benchmark store in `folder`, `measure` with it, print the report
    (as JSON with `as_json`); the folder is removed afterwards unless `keep`."""
    import anyio

    from habitus.base.errors import HabitusError
    from habitus.core.config import Settings
    from habitus.core.service import MemoryService

    async def main() -> dict[str, Any]:
        service = await MemoryService.open(Settings(db=folder, embedder=embedder))
        try:
            return await measure(service)
        finally:
            await service.close()

    try:
        report = anyio.run(main, backend="asyncio")
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
    sys.stdout.flush()


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
    help="Build the benchmark store here and keep it (default: a temporary directory); a "
    "folder kept by an earlier run over the same conversations is reused without ingesting.",
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
    from habitus.base.errors import HabitusError
    from habitus.evaluation.locomo import (
        DEFAULT_RUNS,
        evaluate,
        format_report,
        load_locomo,
        load_mapping,
        save_mapping,
    )

    chosen: dict[str, tuple[str, ...] | None] = {}
    for name in (r.strip() for r in runs.split(",") if r.strip()):
        if name not in DEFAULT_RUNS:
            raise click.BadParameter(f"unknown run {name!r}; use {', '.join(DEFAULT_RUNS)}")
        chosen[name] = DEFAULT_RUNS[name]
    try:
        convs = load_locomo(data)
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    if conversations:
        convs = convs[:conversations]
    mapping = _kept_mapping(store, load_mapping)
    if mapping is not None and turn_by_turn:
        raise click.ClickException("--turn-by-turn builds its own store; give a new folder")
    if mapping is not None and any(c.scope not in mapping for c in convs):
        raise click.ClickException(f"{store} holds another selection of conversations")
    folder = store or tempfile.mkdtemp(prefix="habitus-locomo-")

    def progress(name: str, run: dict[str, Any]) -> None:
        o = run["overall"]
        click.echo(
            f"{name}: R@5 {o.get('recall@5', 0):.1f}  R@10 {o.get('recall@10', 0):.1f}", err=True
        )

    async def measure(service: Any) -> dict[str, Any]:
        return await evaluate(
            service, convs, runs=chosen, progress=progress, turn_by_turn=turn_by_turn,
            mapping=mapping,
            ingested=(lambda built: save_mapping(store, built)) if store else None,
        )

    _run_benchmark(folder, bool(store), _embedder_name(ctx), measure, format_report, as_json)


@eval_group.command(name="longmemeval")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False),
    help="LongMemEval in LoCoMo's format, JSON or .json.gz "
    "(e.g. ../shared/data/longmemeval/longmemeval_s_dev50.json.gz).",
)
@click.option(
    "--store",
    "store",
    type=click.Path(file_okay=False),
    help="Build the benchmark store here and keep it; a folder kept by an earlier run over "
    "the same questions is reused without ingesting again.",
)
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions chosen.")
@click.option("--every", type=click.IntRange(1), default=1, show_default=True,
              help="Every Nth question (2: the first, third, fifth…).")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="Start at this question (with --every 2, 1 takes the other half).")
@click.option(
    "--runs",
    default="full,bm25",
    show_default=True,
    help="Comma-separated configurations: full, lexical, vector (habitus) and bm25 (a plain "
    "BM25 over the same turns).",
)
@click.option("--wall-clock", is_flag=True,
              help="Ask every question at the current time instead of at its own date.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def longmemeval(
    ctx: click.Context,
    data: str,
    store: str | None,
    limit: int | None,
    every: int,
    offset: int,
    runs: str,
    wall_clock: bool,
    as_json: bool,
) -> None:
    """Turn-level recall@k and session-level recall_any@k / recall_all@k on LongMemEval,
    per question type, beside BM25 over the same turns.

    Each question's haystack is stored in its own scope (episodic memories dated by their
    session, one remember_many per session), and the question is asked with recall at its own
    date (time expressions and recency count from it). The store
    is separate from your memories; it is deleted afterwards unless --store is given.
    """
    from habitus.base.errors import HabitusError
    from habitus.evaluation.longmemeval import (
        RUNS,
        evaluate,
        format_report,
        load_longmemeval,
        load_mapping,
        save_mapping,
    )

    chosen = [r.strip() for r in runs.split(",") if r.strip()]
    for name in chosen:
        if name not in RUNS:
            raise click.BadParameter(f"unknown run {name!r}; use {', '.join(RUNS)}")
    try:
        convs = load_longmemeval(data)[offset::every][:limit]
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    mapping = _kept_mapping(store, load_mapping)
    folder = store or tempfile.mkdtemp(prefix="habitus-longmemeval-")

    def ingest_progress(done: int, turns: int, seconds: float) -> None:
        click.echo(f"ingest: {done}/{len(convs)} haystacks, {turns} turns, {seconds:.0f} s "
                   f"({turns / max(seconds, 1e-9):.1f} turns/s)", err=True)

    def progress(name: str, run: dict[str, Any]) -> None:
        o = run["overall"]
        click.echo(f"{name}: R@10 {o['turn@10']:.1f}  any@5 {o['any@5']:.1f}  "
                   f"all@5 {o['all@5']:.1f}", err=True)

    async def measure(service: Any) -> dict[str, Any]:
        return await evaluate(
            service, convs, runs=chosen, mapping=mapping, progress=progress,
            ingest_progress=ingest_progress,
            ingested=(lambda built: save_mapping(store, built)) if store else None,
            dated=not wall_clock,
        )

    _run_benchmark(folder, bool(store), _embedder_name(ctx), measure, format_report, as_json)


def register(cli: click.Group) -> None:
    """Add `eval locomo` and `eval longmemeval` to the `habitus` group's `eval` group (shared
    with other benchmarks)."""
    group = cli.commands.get("eval")
    if isinstance(group, click.Group):
        group.add_command(locomo)
        group.add_command(longmemeval)
    else:
        cli.add_command(eval_group)
