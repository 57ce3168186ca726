"""The `habitus` command group: serve the MCP server, and script the memory from a shell.

Every command that prints data takes `--json`. Each group of commands lives in its own module
(`memory_commands`, `store_commands`, `server_commands`, `hook_commands`, `plugin_commands`,
`eval_commands`, `reindex_commands`), loaded when one of its commands runs: a command answered
by a running server starts in tens of milliseconds.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from habitus.base.errors import InvalidInput
from habitus.core.config import default_db_path
from habitus.core.storage_options import storage_option

from .common import State

__all__ = ["main", "cli", "COMMANDS"]

# Each command → the modules that define it (`eval` gathers subcommands from two).
COMMANDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("install", "serve", "token", "ui"), ("server_commands",)),
    **dict.fromkeys(("daemon", "hook"), ("hook_commands",)),
    **dict.fromkeys(("confirm", "forget", "history", "link", "recall", "reflect", "remember",
                     "undo"), ("memory_commands",)),
    **dict.fromkeys(("compile", "doctor", "export", "import", "scrub", "stats"),
                    ("store_commands",)),
    **dict.fromkeys(("distill", "plugins", "watch"), ("plugin_commands",)),
    "eval": ("plugin_commands", "eval_commands"),
    "reindex": ("reindex_commands",),
}


class LazyGroup(click.Group):
    """Loads a command's module only when the command is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, modules: tuple[str, ...]) -> None:
        for name in modules:
            if name not in self._loaded:
                self._loaded.add(name)
                importlib.import_module(f"habitus.cli.{name}").register(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(COMMANDS.get(cmd_name, ()))
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda _ctx, _param, value: _storage_options(value),
    help="Object storage: an option for LanceDB (credentials, endpoint, region...), "
    "repeatable; added to HABITUS_STORAGE_OPTIONS.",
)
@click.option(
    "--author",
    help="Who this person is, recorded with every memory written (default: HABITUS_AUTHOR, "
    "else the git user).",
)
@click.pass_context
def cli(
    ctx: click.Context, db: str, embedder: str, storage_options: dict[str, str],
    author: str | None,
) -> None:
    """habitus: long-term memory for coding assistants, over MCP."""
    ctx.obj = State(db, embedder, storage_options=storage_options, author=author)


def _storage_options(values: tuple[str, ...]) -> dict[str, str]:
    """`--storage-option KEY=VALUE` pairs as a dict (a malformed one is a usage error)."""
    try:
        return dict(storage_option(v) for v in values)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint="--storage-option") from None


def main() -> None:
    """Entry point of the `habitus` command."""
    from habitus.base.logs import configure_logging

    configure_logging()
    cli(prog_name="habitus")
