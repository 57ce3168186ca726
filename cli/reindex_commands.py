"""`habitus reindex --embedder X`: re-embed every memory with another model, online."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

__all__ = ["register"]


@click.command(name="reindex")
@click.option(
    "--embedder",
    "target",
    required=True,
    help="The new embedding model: minilm, none, fastembed[:MODEL], "
    "sentence-transformers[:MODEL], openai[:MODEL], ollama[:MODEL] or a plugin's.",
)
@click.option(
    "--batch", "batch", type=click.IntRange(1, 10_000), default=256, show_default=True,
    help="Memories embedded and committed per batch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def reindex(ctx: click.Context, target: str, batch: int, as_json: bool) -> None:
    """Re-embed every memory with another model, without taking the store offline.

    Search keeps using the old vectors until the new ones are complete; the switch is one
    commit. Interrupted? Run the same command again: it resumes. Afterwards, start the server
    with the same --embedder (or HABITUS_EMBEDDER); servers still on the old model fall back
    to lexical search, loudly, until restarted.
    """
    import anyio

    from habitus.base.errors import HabitusError
    from habitus.core.config import Settings
    from habitus.core.embedding.embedders import load_embedder
    from habitus.core.maintenance.reindex import reindex as run_reindex
    from habitus.store import Store

    state = ctx.obj
    settings: Settings = getattr(state, "settings", None) or Settings()
    if settings.is_local and not os.path.isdir(settings.resolved_db()):
        raise click.ClickException(f"no store at {settings.resolved_db()}")

    def progress(done: int, total: int) -> None:
        if not as_json:
            click.echo(f"\rembedded {done}/{total}", err=True, nl=False)

    async def main() -> dict[str, Any]:
        embedder = load_embedder(target)
        store = await Store.open(
            settings.resolved_db(),
            dimension=embedder.dimension if embedder else 384,
            embedding_model=embedder.model_id if embedder else "",
            storage_options=settings.resolved_storage_options(),
        )
        try:
            result = await run_reindex(store, embedder, batch_size=batch, on_batch=progress,
                                       client="cli")
            return result.as_dict()
        finally:
            await store.close()

    try:
        report = anyio.run(main, backend="asyncio")
    except HabitusError as exc:
        if os.environ.get("HABITUS_DEBUG"):
            raise
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        if report["batches"]:
            click.echo("", err=True)
        click.echo(
            f"reindexed {report['rows_after']} memories: {report['from_model'] or 'no model'} → "
            f"{report['to_model'] or 'no model'} ({report['dimension']}-d), "
            f"{report['embedded']} embedded, {report['repaired']} repaired, "
            f"in {report['seconds']:.1f}s"
            + (" (resumed)" if report["resumed"] else "")
        )
        if report["to_model"] and os.environ.get("HABITUS_EMBEDDER", target) != target:
            click.echo(f"now serve with --embedder {target} (or HABITUS_EMBEDDER={target})")
    sys.stdout.flush()


def register(cli: click.Group) -> None:
    """Add `reindex` to the `habitus` group."""
    cli.add_command(reindex)
