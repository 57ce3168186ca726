"""Serving and registering: `habitus serve`, and `habitus install CLIENT` for assistants."""

from __future__ import annotations

from pathlib import Path

import click

from habitus.core.errors import HabitusError

from .common import State, emit, json_option, pass_state

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the serving commands to the `habitus` group."""

    @group.command()
    @click.option(
        "--transport",
        type=click.Choice(["stdio", "sse", "http"]),
        default="stdio",
        show_default=True,
        help="stdio for assistants that spawn habitus; sse or http to listen.",
    )
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
    @click.option(
        "--allow-host",
        "allow_hosts",
        multiple=True,
        help="Beyond loopback: another name clients may reach this server by (repeatable).",
    )
    @pass_state
    def serve(
        state: State, transport: str, host: str, port: int, allow_hosts: tuple[str, ...]
    ) -> None:
        """Run the MCP server.

        Beyond 127.0.0.1 every request needs the access token (`habitus token`)."""
        from habitus.server import serve as run

        run(state.settings, transport, host, port, allow_hosts)  # type: ignore[arg-type]

    @group.command()
    def token() -> None:
        """Print the access token that requests to a server listening beyond this machine
        must carry (Authorization: Bearer TOKEN); created on first use, readable only by you."""
        from habitus.core.access_token import access_token

        click.echo(access_token())

    @group.command()
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
