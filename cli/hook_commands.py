"""Memory that happens by itself: `habitus hook EVENT` for an assistant's lifecycle hooks, and
`habitus daemon start|stop|status` for the background server that answers them at once.

`habitus hook` normally starts without click at all (see `habitus.cli.main`); the command here
serves `--help` and calls made after group options such as `--db`.
"""

from __future__ import annotations

import sys

import click

from .common import State, emit, json_option, pass_state

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the lifecycle commands to the `habitus` group."""

    @group.command(context_settings={"ignore_unknown_options": True})
    @click.argument("event", required=False)
    @pass_state
    def hook(state: State, event: str | None) -> None:
        """Handle one lifecycle hook EVENT of an assistant (SessionStart, UserPromptSubmit,
        PostToolUse, PostToolUseFailure, Stop, PreCompact, SessionEnd): the event's JSON on
        standard input, context for the model on standard output. Always exits 0."""
        from habitus.lifecycle.entry import main

        sys.exit(main(["--db", state.settings.resolved_db(), *([event] if event else [])]))

    @group.group()
    def daemon() -> None:
        """A background server for the store: hooks and the CLI answer through it at once."""

    @daemon.command()
    @click.option("--idle-exit", default=3600, show_default=True, type=click.IntRange(10),
                  help="Leave after this many seconds without a request.")
    @json_option
    @pass_state
    def start(state: State, idle_exit: int, as_json: bool) -> None:
        """Start one (unless one runs) and wait until it answers."""
        from habitus.lifecycle import daemon as background

        db = state.settings.resolved_db()
        found = background.start(db, idle=idle_exit)
        if found is None:
            raise click.ClickException(
                f"the server did not start; see {background.log_file(db)}")
        emit(found, as_json, lambda e: f"running at {e['url']} (pid {e['pid']})")

    @daemon.command()
    @pass_state
    def stop(state: State) -> None:
        """Stop the server running for the store."""
        from habitus.lifecycle import daemon as background

        stopped = background.stop(state.settings.resolved_db())
        click.echo("stopped" if stopped else "no server runs for this store")

    @daemon.command()
    @json_option
    @pass_state
    def status(state: State, as_json: bool) -> None:
        """Whether a server runs for the store, and where."""
        from habitus.base import endpoint

        found = endpoint.find(state.settings.resolved_db())
        emit(found or {}, as_json,
             lambda e: f"running at {e['url']} (pid {e['pid']})" if e else "not running")
