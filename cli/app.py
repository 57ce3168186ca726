"""The `habitus` command group: serve the MCP server, and script the memory from a shell.

Every command that prints data takes `--json`. Each group of commands lives in its own module
(`memory_commands`, `store_commands`, `server_commands`, `hook_commands`, `plugin_commands`,
`eval_commands`, `reindex_commands`) and is added to the group here.
"""

from __future__ import annotations

import click

from habitus.core.config import default_db_path

from . import (
    eval_commands,
    hook_commands,
    memory_commands,
    plugin_commands,
    reindex_commands,
    server_commands,
    store_commands,
)
from .common import State

__all__ = ["main", "cli"]


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


for _commands in (server_commands, hook_commands, memory_commands, store_commands,
                  plugin_commands, eval_commands, reindex_commands):
    _commands.register(cli)


def main() -> None:
    """Entry point of the `habitus` command."""
    from habitus.core.logs import configure_logging

    configure_logging()
    cli(prog_name="habitus")
